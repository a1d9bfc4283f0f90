//! The HTTP front end (`server` feature): hyper 1 on a multi-threaded tokio runtime, a thin
//! layer over [`RulePack`] and [`AuditLog`] that faces hostile networks.
//!
//! - Every request body is limited while it is read, on every route, with or without a key: a
//!   declared `Content-Length` over the limit is answered 413 unread, a chunked body is cut off
//!   at the limit with 413, and the connection is closed either way.
//! - Timeouts for the request head (also while a keep-alive connection idles) and for the body;
//!   a cap on open connections; a cap on the head's size (431); malformed requests get 400
//!   from hyper. Each connection is its own task, so a panic fails that connection only.
//! - Requests are served concurrently on all cores; records waiting together share one write
//!   and one `fsync` (group commit, by a leader among the waiting requests: see `writer`).
//! - Shutdown (SIGTERM, SIGINT, or the end of stdin when asked): stop accepting, let requests in
//!   flight finish within a grace period (every acknowledged record is durable already).
//! - The audit key comes from `JIMINI_AUDIT_KEY` or a key file created (mode 0600) on first
//!   start; `GET /v1/audit/head` tells a monitor the durable head; `GET /metrics` is for
//!   Prometheus.
//!
//! - `GET /health` is liveness (the process answers); `GET /ready` is readiness (a decision can
//!   be made and logged now): 503 with the reason while the audit log is out of space or
//!   stopped (see `writer`).
//!
//! **Architecture Invariant:** `POST /v1/evaluate` answers with a decision only after the
//! decision's audit record is durable; if the record cannot be written the client gets a 503
//! with `Retry-After` (out of space: nothing was written, it may be retried) or a 500.
//! The chain stays one line of records: only the one leader appends, under the log's lock.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    AUTHORIZATION, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, RETRY_AFTER,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{Semaphore, oneshot};

use crate::audit::{self, AuditKey, AuditLog, AuditRecord, Head, Pending, RequestInfo};
use crate::build_info::BUILD_INFO;
use crate::rules::RulePack;

mod http;
mod metrics;
mod writer;

use http::*;
use metrics::Metrics;
use writer::*;

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
    /// Open connections one client address may hold (0: no limit), so that one client's idle
    /// or trickling connections cannot take every slot.
    pub max_connections_per_client: usize,
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
            max_connections_per_client: 64,
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
    /// Rotate the audit log once its current file holds this many bytes (SIGHUP rotates too).
    pub audit_rotate_bytes: Option<u64>,
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
        let listener = listen(&config.bind)
            .map_err(|err| format!("cannot listen on {}: {err}", config.bind))?;
        let metrics = Arc::new(Metrics::default());
        let audit = AuditWriter::new(log, Arc::clone(&metrics), config.audit_rotate_bytes);
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
            listener, state, ..
        } = self;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)
                .map_err(|err| format!("cannot listen: {err}"))?;
            serve(listener, Arc::clone(&state), shutdown()).await;
            drop(state);
            Ok::<(), String>(())
        })?;
        // Every request has been answered: each acknowledged record is durable.
        drop(runtime);
        Ok(())
    }
}

async fn serve(listener: tokio::net::TcpListener, state: Arc<State>, shutdown: impl Future) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(state.limits.max_connections));
    let per_client = Arc::new(Mutex::new(HashMap::<IpAddr, usize>::new()));
    rotate_on_sighup(&state);
    state.audit.watch_space();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.limits.header_timeout)
        .max_buf_size(state.limits.max_header_bytes.max(8192));
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = stream;
        // Over a client's share, or the cap: close at once rather than queue behind idle or
        // trickling clients.
        let Some(share) = ClientShare::take(&per_client, peer.ip(), &state.limits) else {
            state.metrics.connection_refused("per_client");
            continue;
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            state.metrics.connection_refused("capacity");
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
            drop((slot, share));
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

/// SIGHUP rotates the audit log (after the records queued before it), as operators and
/// logrotate expect of a daemon.
fn rotate_on_sighup(state: &Arc<State>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            eprintln!("jimini-server: cannot watch SIGHUP: the audit log rotates by size only");
            return;
        };
        let state = Arc::downgrade(state);
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match state.upgrade() {
                    Some(state) => state.audit.rotate().await,
                    None => break,
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = state;
}

/// The listening socket, with a backlog deep enough that a burst of connections (a client
/// re-opening thousands of idle ones, which are closed at accept) does not drop other
/// clients' handshakes while the accept loop catches up; std's backlog is 128.
fn listen(bind: &str) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let addr = std::net::ToSocketAddrs::to_socket_addrs(bind)?
        .next()
        .ok_or_else(|| std::io::Error::other("the address resolves to nothing"))?;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// The listen backlog (the kernel caps it at `net.core.somaxconn`, 4096 on Linux 5.4+).
const LISTEN_BACKLOG: i32 = 4096;

/// One open connection of a client address, counted while it lives.
struct ClientShare {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl ClientShare {
    /// A share for `ip`, or `None` when it holds its limit already.
    fn take(
        counts: &Arc<Mutex<HashMap<IpAddr, usize>>>,
        ip: IpAddr,
        limits: &Limits,
    ) -> Option<ClientShare> {
        let mut map = counts.lock().unwrap_or_else(|e| e.into_inner());
        let held = map.entry(ip).or_insert(0);
        if limits.max_connections_per_client != 0 && *held >= limits.max_connections_per_client {
            return None;
        }
        *held += 1;
        Some(ClientShare {
            counts: Arc::clone(counts),
            ip,
        })
    }
}

impl Drop for ClientShare {
    fn drop(&mut self) {
        let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = map.get_mut(&self.ip) {
            *held -= 1;
            if *held == 0 {
                map.remove(&self.ip);
            }
        }
    }
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
