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

/// What the writer is asked to do.
pub(super) enum Message {
    Append(Pending, Reply),
    /// Close the current file and start a new one (SIGHUP).
    Rotate,
}

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
    pub(super) queue: std_mpsc::Sender<Message>,
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
    /// `rotate_bytes`: rotate once the current file holds this many bytes.
    pub(super) fn start(
        mut log: AuditLog,
        metrics: Arc<Metrics>,
        rotate_bytes: Option<u64>,
    ) -> (AuditWriter, std::thread::JoinHandle<()>) {
        let (queue, waiting) = std_mpsc::channel::<Message>();
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
                let mut batch = Vec::new();
                let mut rotate = false;
                let mut next = Some(first);
                while let Some(message) = next.take() {
                    match message {
                        Message::Append(pending, reply) => batch.push((pending, reply)),
                        Message::Rotate => rotate = true,
                    }
                    if batch.len() < MAX_BATCH {
                        next = waiting.try_recv().ok();
                    }
                }
                let rotate_now = |log: &mut AuditLog| {
                    if let Readiness::Stopped(_) = current() {
                        return;
                    }
                    match log.rotate() {
                        Ok(Some(_)) => metrics.audit_rotated(),
                        Ok(None) => {}
                        // The file stays the current one; appending goes on.
                        Err(err) => eprintln!(
                            "jimini-server: cannot rotate {}: {err}",
                            log.path().display()
                        ),
                    }
                };
                if batch.is_empty() {
                    if rotate {
                        rotate_now(&mut log);
                    }
                    continue;
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
                        if rotate || rotate_bytes.is_some_and(|limit| log.current_len() >= limit) {
                            rotate_now(&mut log);
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

    /// Asks the writer to rotate after what is queued.
    pub(super) fn rotate(&self) {
        let _ = self.queue.send(Message::Rotate);
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
        self.queue
            .send(Message::Append(pending, reply))
            .map_err(|_| stopped())?;
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
