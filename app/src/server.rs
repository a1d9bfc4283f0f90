//! The HTTP front end (`server` feature): hyper 1 on a multi-threaded tokio runtime, a thin
//! layer over [`RulePack`] and [`AuditLog`] that faces hostile networks.
//!
//! - Every request body is limited while it is read, on every route, with or without a key: a
//!   declared `Content-Length` over the limit is answered 413 unread, a chunked body is cut off
//!   at the limit with 413, and the connection is closed either way.
//! - Timeouts for the request head (also while a keep-alive connection idles) and for the body;
//!   a cap on open connections; a cap on the head's size (431); malformed requests get 400
//!   from hyper. Each connection is its own task, so a panic fails that connection only.
//! - Requests are served concurrently on all cores; the audit log has one writer thread that
//!   commits every record waiting for it with one write and one `fsync` (group commit).
//! - Shutdown (SIGTERM, SIGINT, or the end of stdin when asked): stop accepting, let requests in
//!   flight finish within a grace period, then make every acknowledged record durable.
//! - The audit key comes from `JIMINI_AUDIT_KEY` or a key file created (mode 0600) on first
//!   start; `GET /v1/audit/head` tells a monitor the durable head; `GET /metrics` is for
//!   Prometheus.
//!
//! **Architecture Invariant:** `POST /v1/evaluate` answers with a decision only after the
//! decision's audit record is durable; if the record cannot be written the client gets a 500.
//! The chain stays one line of records: only the writer thread appends.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{Semaphore, oneshot};

use crate::audit::{self, AuditKey, AuditLog, AuditRecord, Head, Pending, RequestInfo};
use crate::build_info::BUILD_INFO;
use crate::rules::RulePack;

mod metrics;
use metrics::Metrics;

pub const DEFAULT_BIND: &str = "127.0.0.1:9000";
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
pub const API_KEY_VAR: &str = "JIMINI_API_KEY";

/// How much a client may take: the defaults suit a gateway that decides in microseconds.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// To send the request head; also how long a keep-alive connection may idle.
    pub header_timeout: Duration,
    /// To send the body once the head is in.
    pub body_timeout: Duration,
    /// Open connections at once; more are closed at accept.
    pub max_connections: usize,
    /// The read buffer, which bounds the request head (larger heads get 431).
    pub max_header_bytes: usize,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_header_bytes: 16 * 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Where the audit key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// The secret itself, from `JIMINI_AUDIT_KEY`.
    Secret(String),
    /// A key file; created with a fresh secret (mode 0600) if there is none yet.
    File(PathBuf),
}

pub struct Config {
    pub bind: String,
    pub rules: RulePack,
    pub audit_log: PathBuf,
    pub audit_key: KeySource,
    pub limits: Limits,
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

/// What every request reads.
struct State {
    rules: RulePack,
    expected_authorization: Vec<u8>,
    shadow: bool,
    limits: Limits,
    audit: AuditWriter,
    audit_key: AuditKey,
    metrics: Arc<Metrics>,
}

pub struct Server {
    listener: std::net::TcpListener,
    state: Arc<State>,
    writer: std::thread::JoinHandle<()>,
    notes: Vec<String>,
}

impl Server {
    /// Opens (and locks) the audit log and binds the listener; nothing is served yet.
    pub fn bind(config: Config) -> Result<Server, String> {
        if config.api_key.is_empty() {
            return Err(format!(
                "{API_KEY_VAR} is empty: set it to the bearer key clients send"
            ));
        }
        let mut notes = Vec::new();
        // A new key file is written only once the log has accepted the new key.
        let (key, new_key_file) = match &config.audit_key {
            KeySource::Secret(secret) => (AuditKey::from_secret(secret)?, None),
            KeySource::File(path) if path.exists() => (audit::read_key_file(path)?, None),
            KeySource::File(path) => {
                let secret = AuditKey::generate_secret()
                    .map_err(|err| format!("cannot make an audit key: {err}"))?;
                (AuditKey::from_secret(&secret)?, Some((path, secret)))
            }
        };
        let (log, torn) = AuditLog::open(&config.audit_log, key.clone()).map_err(|err| {
            let fresh_key = match &new_key_file {
                Some((path, _)) => format!(
                    "\n(there was no key file at {}, so a new key was tried: restore the key \
                     file the log was written with)",
                    path.display()
                ),
                None => String::new(),
            };
            format!(
                "{err}{fresh_key}\nrun `jimini-admin audit verify` on it, or point --audit-log at \
                 a new file"
            )
        })?;
        if let Some((path, secret)) = new_key_file {
            audit::create_key_file(path, &secret)?;
            notes.push(format!(
                "created the audit key file {} (mode 0600): keep a copy elsewhere, \
                 `jimini-admin audit verify --key` needs it",
                path.display()
            ));
        }
        if let Some(torn) = torn {
            notes.push(format!(
                "the audit log ended in a torn line ({} bytes from a crash during a write, never \
                 acknowledged); moved it to {}",
                torn.bytes,
                torn.moved_to.display()
            ));
        }
        let listener = std::net::TcpListener::bind(&config.bind)
            .map_err(|err| format!("cannot listen on {}: {err}", config.bind))?;
        listener
            .set_nonblocking(true)
            .map_err(|err| format!("cannot listen on {}: {err}", config.bind))?;
        let metrics = Arc::new(Metrics::default());
        let (audit, writer) = AuditWriter::start(log, Arc::clone(&metrics));
        Ok(Server {
            listener,
            state: Arc::new(State {
                rules: config.rules,
                expected_authorization: format!("Bearer {}", config.api_key).into_bytes(),
                shadow: config.shadow,
                limits: config.limits,
                audit,
                audit_key: key,
                metrics,
            }),
            writer,
            notes,
        })
    }

    /// What the start found worth telling the operator (a new key file, a torn line).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until `shutdown` completes, then drains: no new connections, requests in flight
    /// finish within the grace period, and every acknowledged record is durable on return.
    pub fn run<F>(self, shutdown: impl FnOnce() -> F) -> Result<(), String>
    where
        F: Future<Output = ()>,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|err| format!("cannot start the runtime: {err}"))?;
        let Server {
            listener,
            state,
            writer,
            ..
        } = self;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)
                .map_err(|err| format!("cannot listen: {err}"))?;
            serve(listener, Arc::clone(&state), shutdown()).await;
            drop(state);
            Ok::<(), String>(())
        })?;
        // The last sender is gone with the state: the writer commits what is queued and ends.
        writer
            .join()
            .map_err(|_| "the audit writer panicked".to_owned())
    }
}

async fn serve(listener: tokio::net::TcpListener, state: Arc<State>, shutdown: impl Future) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(state.limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.limits.header_timeout)
        .max_buf_size(state.limits.max_header_bytes.max(8192));
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Over the cap: close at once rather than queue behind idle or trickling clients.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue;
        };
        let state = Arc::clone(&state);
        let service = hyper::service::service_fn(move |request| {
            let state = Arc::clone(&state);
            async move { Ok::<_, Infallible>(handle(&state, request).await) }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Client errors (resets, timeouts, malformed requests) end only this connection.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    let grace = state.limits.shutdown_grace;
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!(
            "jimini-server: requests still running after {}s were cut off",
            grace.as_secs()
        );
    }
}

type Answer = Response<Full<Bytes>>;

fn json_response(status: StatusCode, body: serde_json::Value) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, message: impl Into<String>) -> Answer {
    json_response(status, json!({ "error": message.into() }))
}

/// Every route: its path, the one method it answers, and its name in the metrics.
const ROUTES: [(&str, Method, &str); 5] = [
    ("/health", Method::GET, "health"),
    ("/version", Method::GET, "version"),
    ("/metrics", Method::GET, "metrics"),
    ("/v1/evaluate", Method::POST, "evaluate"),
    ("/v1/audit/head", Method::GET, "audit_head"),
];

async fn handle(state: &State, request: Request<Incoming>) -> Answer {
    let route = ROUTES
        .iter()
        .find(|(path, _, _)| *path == request.uri().path());
    let response = route_request(state, request, route).await;
    let name = route.map_or("other", |(_, _, name)| name);
    state.metrics.request(name, response.status().as_u16());
    response
}

async fn route_request(
    state: &State,
    request: Request<Incoming>,
    route: Option<&(&str, Method, &str)>,
) -> Answer {
    let limit = state.limits.max_body_bytes;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large(limit);
    }
    let Some((_, method, name)) = route else {
        return error(StatusCode::NOT_FOUND, "not found");
    };
    if request.method() != method {
        return error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    match *name {
        "health" => json_response(StatusCode::OK, json!({ "status": "ok" })),
        "version" => json_response(StatusCode::OK, json!(BUILD_INFO)),
        "metrics" => {
            let mut response = Response::new(Full::new(Bytes::from(state.metrics.encode())));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(metrics::CONTENT_TYPE),
            );
            response
        }
        "evaluate" => evaluate(state, request).await,
        "audit_head" if !authorized(state, &request) => unauthorized(),
        "audit_head" => json_response(StatusCode::OK, json!(state.audit.head())),
        _ => error(StatusCode::NOT_FOUND, "not found"),
    }
}

fn authorized(state: &State, request: &Request<Incoming>) -> bool {
    request
        .headers()
        .get_all(AUTHORIZATION)
        .iter()
        .any(|value| constant_time_eq(value.as_bytes(), &state.expected_authorization))
}

fn unauthorized() -> Answer {
    error(StatusCode::UNAUTHORIZED, "missing or wrong bearer API key")
}

/// 413, and the connection closes: the rest of the body is never read.
fn too_large(limit: usize) -> Answer {
    let mut response = error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("body is larger than {limit} bytes"),
    );
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn evaluate(state: &State, request: Request<Incoming>) -> Answer {
    if !authorized(state, &request) {
        return unauthorized();
    }
    let limit = state.limits.max_body_bytes;
    let body = Limited::new(request.into_body(), limit);
    let body = match tokio::time::timeout(state.limits.body_timeout, body.collect()).await {
        Err(_) => return error(StatusCode::REQUEST_TIMEOUT, "the body took too long"),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => return too_large(limit),
        Ok(Err(err)) => return error(StatusCode::BAD_REQUEST, format!("cannot read body: {err}")),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let parsed: EvaluateRequest = match serde_json::from_slice(&body) {
        Ok(parsed) => parsed,
        Err(err) => return error(StatusCode::BAD_REQUEST, format!("malformed JSON: {err}")),
    };
    let evaluation = state.rules.evaluate(&parsed.text, state.shadow);
    let info = RequestInfo {
        time_unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis() as u64)
            .unwrap_or(0),
        endpoint: parsed.endpoint,
        direction: parsed.direction,
    };
    let pending = Pending::new(&state.audit_key, info, &parsed.text, evaluation.clone());
    match state.audit.append(pending).await {
        Ok(record) => {
            state.metrics.decision(&evaluation);
            json_response(
                StatusCode::OK,
                json!({
                "decision": evaluation.decision,
                "rules_decision": evaluation.rules_decision,
                "shadow": evaluation.shadow,
                "matches": evaluation.matches,
                "audit_seq": record.seq,
                }),
            )
        }
        Err(message) => {
            eprintln!("jimini-server: {message}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "audit log unavailable")
        }
    }
}

type Reply = oneshot::Sender<Result<AuditRecord, String>>;

/// The one writer of the audit log: a thread that takes every record waiting, appends them with
/// one write and one `fsync`, and only then answers each request.
struct AuditWriter {
    queue: std_mpsc::Sender<(Pending, Reply)>,
    /// The last durable record.
    head: Arc<Mutex<Head>>,
}

/// At most this many records share one `fsync`.
const MAX_BATCH: usize = 256;

impl AuditWriter {
    fn start(
        mut log: AuditLog,
        metrics: Arc<Metrics>,
    ) -> (AuditWriter, std::thread::JoinHandle<()>) {
        let (queue, waiting) = std_mpsc::channel::<(Pending, Reply)>();
        let head = Arc::new(Mutex::new(log.head().clone()));
        let durable_head = Arc::clone(&head);
        let thread = std::thread::spawn(move || {
            let mut broken: Option<String> = None;
            while let Ok(first) = waiting.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match waiting.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (records, replies): (Vec<Pending>, Vec<Reply>) = batch.into_iter().unzip();
                let started = Instant::now();
                let result = match &broken {
                    Some(message) => Err(message.clone()),
                    None => log.append_batch(&records).map_err(|err| {
                        // After a failed write the file's tail is unknown: stop appending.
                        let message = format!("cannot write {}: {err}", log.path().display());
                        broken = Some(message.clone());
                        message
                    }),
                };
                match result {
                    Ok(written) => {
                        metrics.audit_commit(written.len(), started.elapsed());
                        *durable_head.lock().unwrap_or_else(|e| e.into_inner()) =
                            log.head().clone();
                        for (reply, record) in replies.into_iter().zip(written) {
                            let _ = reply.send(Ok(record));
                        }
                    }
                    Err(message) => {
                        for reply in replies {
                            let _ = reply.send(Err(message.clone()));
                        }
                    }
                }
            }
        });
        (AuditWriter { queue, head }, thread)
    }

    fn head(&self) -> Head {
        self.head.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn append(&self, pending: Pending) -> Result<AuditRecord, String> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((pending, reply))
            .map_err(|_| "the audit writer has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the audit writer has stopped".to_owned())?
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
