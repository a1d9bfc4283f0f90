//! The HTTP front end (`server` feature): a thin layer over [`RulePack`] and [`AuditLog`].
//!
//! Requests are handled one at a time on the accepting thread. That keeps the audit chain's
//! order equal to the response order without a lock, and is plenty for a policy check that takes
//! microseconds; the `fsync` per decision dominates.
//!
//! **Architecture Invariant:** `POST /v1/evaluate` answers with a decision only after the
//! decision's audit record is durable; if the record cannot be written the client gets a 500.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::json;
use tiny_http::{Header, Method, Request, Response};

use crate::audit::{AuditLog, RequestInfo};
use crate::build_info::BUILD_INFO;
use crate::rules::RulePack;

pub const DEFAULT_BIND: &str = "127.0.0.1:9000";
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
pub const API_KEY_VAR: &str = "JIMINI_API_KEY";

pub struct Config {
    pub bind: String,
    pub rules: RulePack,
    pub audit_log: PathBuf,
    pub max_body_bytes: usize,
    pub api_key: String,
    pub shadow: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateRequest {
    text: String,
    endpoint: Option<String>,
    direction: Option<String>,
}

pub struct Server {
    http: Arc<tiny_http::Server>,
    config: Config,
    audit: AuditLog,
}

/// Stops a running [`Server`] from another thread (a signal handler thread, a test).
#[derive(Clone)]
pub struct ShutdownHandle(Arc<tiny_http::Server>);

impl ShutdownHandle {
    pub fn shutdown(&self) {
        self.0.unblock();
    }
}

impl Server {
    pub fn bind(config: Config) -> Result<Server, String> {
        if config.api_key.is_empty() {
            return Err(format!(
                "{API_KEY_VAR} is empty: set it to the bearer key clients send"
            ));
        }
        let audit = AuditLog::open(&config.audit_log).map_err(|err| {
            format!(
                "{err}\nrun `jimini-admin audit verify` on it, or point --audit-log at a new file"
            )
        })?;
        let http = tiny_http::Server::http(&config.bind)
            .map_err(|err| format!("cannot listen on {}: {err}", config.bind))?;
        Ok(Server {
            http: Arc::new(http),
            config,
            audit,
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.http.server_addr().to_ip()
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(Arc::clone(&self.http))
    }

    /// Serves until [`ShutdownHandle::shutdown`] is called; the request in flight completes.
    pub fn run(mut self) {
        let http = Arc::clone(&self.http);
        for request in http.incoming_requests() {
            self.handle(request);
        }
    }

    fn handle(&mut self, mut request: Request) {
        let (status, body) = match (request.method(), request.url()) {
            (Method::Get, "/health") => (200, json!({ "status": "ok" })),
            (Method::Get, "/version") => (200, json!(BUILD_INFO)),
            (Method::Post, "/v1/evaluate") => self.evaluate(&mut request),
            (_, "/health" | "/version" | "/v1/evaluate") => {
                (405, json!({ "error": "method not allowed" }))
            }
            _ => (404, json!({ "error": "not found" })),
        };
        let content_type = Header::from_bytes("Content-Type", "application/json")
            .expect("a static header is valid");
        let response = Response::from_string(body.to_string())
            .with_status_code(status)
            .with_header(content_type);
        // A client that hung up cannot be answered; nothing else to do.
        let _ = request.respond(response);
    }

    fn evaluate(&mut self, request: &mut Request) -> (u16, serde_json::Value) {
        if !self.authorized(request) {
            return (401, json!({ "error": "missing or wrong bearer API key" }));
        }
        let limit = self.config.max_body_bytes;
        if request.body_length().is_some_and(|length| length > limit) {
            return (
                413,
                json!({ "error": format!("body is larger than {limit} bytes") }),
            );
        }
        let mut body = Vec::new();
        let reader = request.as_reader().take(limit as u64 + 1);
        if let Err(err) = { reader }.read_to_end(&mut body) {
            return (400, json!({ "error": format!("cannot read body: {err}") }));
        }
        if body.len() > limit {
            return (
                413,
                json!({ "error": format!("body is larger than {limit} bytes") }),
            );
        }
        let parsed: EvaluateRequest = match serde_json::from_slice(&body) {
            Ok(parsed) => parsed,
            Err(err) => return (400, json!({ "error": format!("malformed JSON: {err}") })),
        };
        let evaluation = self.config.rules.evaluate(&parsed.text, self.config.shadow);
        let info = RequestInfo {
            time_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|elapsed| elapsed.as_millis() as u64)
                .unwrap_or(0),
            endpoint: parsed.endpoint,
            direction: parsed.direction,
        };
        match self.audit.append(&info, &parsed.text, &evaluation) {
            Ok(record) => (
                200,
                json!({
                    "decision": evaluation.decision,
                    "rules_decision": evaluation.rules_decision,
                    "shadow": evaluation.shadow,
                    "matches": evaluation.matches,
                    "audit_seq": record.seq,
                }),
            ),
            Err(err) => {
                eprintln!(
                    "jimini-server: cannot write {}: {err}",
                    self.audit.path().display()
                );
                (500, json!({ "error": "audit log unavailable" }))
            }
        }
    }

    fn authorized(&self, request: &Request) -> bool {
        let expected = format!("Bearer {}", self.config.api_key);
        request
            .headers()
            .iter()
            .filter(|header| header.field.equiv("Authorization"))
            .any(|header| constant_time_eq(header.value.as_str().as_bytes(), expected.as_bytes()))
    }
}

/// Compares without an early exit, so the response time does not leak how much of a key matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn constant_time_eq_compares_whole_slices() {
        assert!(constant_time_eq(b"Bearer k", b"Bearer k"));
        assert!(!constant_time_eq(b"Bearer k", b"Bearer x"));
        assert!(!constant_time_eq(b"Bearer", b"Bearer k"));
    }
}
