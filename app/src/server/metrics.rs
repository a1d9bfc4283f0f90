//! `GET /metrics`: what an operator of a gateway watches, in the Prometheus text format (0.0.4),
//! encoded by the Prometheus project's own client.
//!
//! Label values come from fixed sets only (known routes, status codes, decisions), so a client
//! sending random paths cannot grow the series without bound.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::rules::Evaluation;

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

/// Why: a fixed set (`per_client`, `capacity`; `no_space`, `stopped`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: &'static str,
    rules_decision: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    decisions: Family<DecisionLabels, Counter>,
    audit_commit_seconds: Histogram,
    audit_fsyncs: Counter,
    audit_records: Counter,
    audit_write_failures: Family<ReasonLabels, Counter>,
    connections_refused: Family<ReasonLabels, Counter>,
    ready: Gauge,
    audit_rotations: Counter,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("jimini");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "decisions",
            "Evaluations, by enforced decision and by what the rules decided (they differ in \
             shadow mode)",
            decisions.clone(),
        );
        // 50 µs to about 1.6 s: an fsync on a fast disk up to a stalled one.
        let audit_commit_seconds = Histogram::new(exponential_buckets(0.00005, 2.0, 16));
        registry.register(
            "audit_commit_seconds",
            "Time to write and fsync one group of audit records",
            audit_commit_seconds.clone(),
        );
        let audit_fsyncs = Counter::default();
        registry.register(
            "audit_fsyncs",
            "Audit log fsyncs (one per group commit)",
            audit_fsyncs.clone(),
        );
        let audit_records = Counter::default();
        registry.register(
            "audit_records",
            "Audit records made durable",
            audit_records.clone(),
        );
        let audit_write_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "audit_write_failures",
            "Audit batches not made durable: no_space (cut off again, retried), stopped (the \
             log takes no more appends)",
            audit_write_failures.clone(),
        );
        let connections_refused = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "connections_refused",
            "Connections closed at accept: per_client (one address holds its share), capacity \
             (the server holds its maximum)",
            connections_refused.clone(),
        );
        let ready: Gauge = Gauge::default();
        ready.set(1);
        registry.register(
            "ready",
            "1 while decisions can be made and logged (GET /ready answers 200), else 0",
            ready.clone(),
        );
        let audit_rotations = Counter::default();
        registry.register(
            "audit_rotations",
            "Audit log files closed and renamed <log>.<first>-<last>",
            audit_rotations.clone(),
        );
        Metrics {
            audit_rotations,
            registry,
            requests,
            decisions,
            audit_commit_seconds,
            audit_fsyncs,
            audit_records,
            audit_write_failures,
            connections_refused,
            ready,
        }
    }
}

impl Metrics {
    pub fn request(&self, route: &'static str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
    }

    pub fn decision(&self, evaluation: &Evaluation) {
        self.decisions
            .get_or_create(&DecisionLabels {
                decision: evaluation.decision.as_str(),
                rules_decision: evaluation.rules_decision.as_str(),
            })
            .inc();
    }

    pub fn audit_commit(&self, records: usize, took: Duration) {
        self.audit_commit_seconds.observe(took.as_secs_f64());
        self.audit_fsyncs.inc();
        self.audit_records.inc_by(records as u64);
    }

    pub fn audit_write_failed(&self, reason: &'static str) {
        self.audit_write_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn connection_refused(&self, reason: &'static str) {
        self.connections_refused
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn audit_rotated(&self) {
        self.audit_rotations.inc();
    }

    pub fn ready(&self, ready: bool) {
        self.ready.set(i64::from(ready));
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
