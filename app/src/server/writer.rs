//! The one audit writer: a thread that commits every waiting record with one write and one
//! `fsync` (group commit) and only then answers each request.
//!
//! Its state is the server's readiness: `Ready`; `NoSpace` after a write failed for want of
//! space (the partial write was cut off, the waiting requests got 503 with `Retry-After`; the
//! writer probes for space every second and is ready again as soon as a write would fit, or a
//! batch succeeds); `Stopped` after a failed `fsync` or any other failure that leaves the
//! file's tail unknown (no more appends until an operator restarts the server).

#![allow(unused_imports)]
use super::*;

pub(super) type Reply = oneshot::Sender<Result<AuditRecord, AppendError>>;

/// Why a record was not made durable, as the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AppendError {
    /// Out of space: retry later (503 with `Retry-After`).
    Unavailable(String),
    /// The log cannot be appended to (500).
    Failed(String),
}

/// What readiness reports: whether a decision can be made and logged now, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Readiness {
    Ready,
    NoSpace(String),
    Stopped(String),
}

/// The one writer of the audit log: a thread that takes every record waiting, appends them with
/// one write and one `fsync`, and only then answers each request.
pub(super) struct AuditWriter {
    pub(super) queue: std_mpsc::Sender<(Pending, Reply)>,
    /// The last durable record.
    pub(super) head: Arc<Mutex<Head>>,
    pub(super) readiness: Arc<Mutex<Readiness>>,
}

/// At most this many records share one `fsync`.
pub(super) const MAX_BATCH: usize = 256;
/// How often the writer looks for space again while the disk is full.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// What a probe must be able to write: a batch of about 180 records.
const PROBE_BYTES: usize = 64 * 1024;

impl AuditWriter {
    pub(super) fn start(
        mut log: AuditLog,
        metrics: Arc<Metrics>,
    ) -> (AuditWriter, std::thread::JoinHandle<()>) {
        let (queue, waiting) = std_mpsc::channel::<(Pending, Reply)>();
        let head = Arc::new(Mutex::new(log.head().clone()));
        let readiness = Arc::new(Mutex::new(Readiness::Ready));
        let (durable_head, state) = (Arc::clone(&head), Arc::clone(&readiness));
        let thread = std::thread::spawn(move || {
            let set = |next: Readiness| {
                metrics.ready(next == Readiness::Ready);
                *state.lock().unwrap_or_else(|e| e.into_inner()) = next;
            };
            let current = || state.lock().unwrap_or_else(|e| e.into_inner()).clone();
            loop {
                let first = match current() {
                    Readiness::NoSpace(_) => match waiting.recv_timeout(PROBE_EVERY) {
                        Ok(first) => first,
                        Err(std_mpsc::RecvTimeoutError::Timeout) => {
                            if space_for_a_batch(log.path()) {
                                set(Readiness::Ready);
                            }
                            continue;
                        }
                        Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
                    },
                    _ => match waiting.recv() {
                        Ok(first) => first,
                        Err(_) => break,
                    },
                };
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match waiting.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (records, replies): (Vec<Pending>, Vec<Reply>) = batch.into_iter().unzip();
                let started = Instant::now();
                let result = match current() {
                    Readiness::Stopped(message) => Err(AppendError::Failed(message)),
                    _ => log.append_batch(&records).map_err(|failure| {
                        let message = format!("cannot write {}: {failure}", log.path().display());
                        if failure.is_retry() {
                            metrics.audit_write_failed("no_space");
                            set(Readiness::NoSpace(message.clone()));
                            AppendError::Unavailable(message)
                        } else {
                            metrics.audit_write_failed("stopped");
                            set(Readiness::Stopped(message.clone()));
                            AppendError::Failed(message)
                        }
                    }),
                };
                match result {
                    Ok(written) => {
                        if current() != Readiness::Ready {
                            set(Readiness::Ready);
                        }
                        metrics.audit_commit(written.len(), started.elapsed());
                        *durable_head.lock().unwrap_or_else(|e| e.into_inner()) =
                            log.head().clone();
                        for (reply, record) in replies.into_iter().zip(written) {
                            let _ = reply.send(Ok(record));
                        }
                    }
                    Err(error) => {
                        for reply in replies {
                            let _ = reply.send(Err(error.clone()));
                        }
                    }
                }
            }
        });
        (
            AuditWriter {
                queue,
                head,
                readiness,
            },
            thread,
        )
    }

    pub(super) fn head(&self) -> Head {
        self.head.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) fn readiness(&self) -> Readiness {
        self.readiness
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) async fn append(&self, pending: Pending) -> Result<AuditRecord, AppendError> {
        let stopped = || AppendError::Failed("the audit writer has stopped".to_owned());
        let (reply, answer) = oneshot::channel();
        self.queue.send((pending, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Whether a batch would fit beside the log now: written to `<log>.space-probe` (a file only
/// this check makes, removed again at once), since a write is the only portable question.
fn space_for_a_batch(log: &std::path::Path) -> bool {
    let mut name = log.file_name().unwrap_or_default().to_owned();
    name.push(".space-probe");
    let probe = log.with_file_name(name);
    let fits = std::fs::File::create(&probe)
        .and_then(|mut file| {
            std::io::Write::write_all(&mut file, &[0u8; PROBE_BYTES])?;
            file.sync_data()
        })
        .is_ok();
    let _ = std::fs::remove_file(&probe);
    fits
}
