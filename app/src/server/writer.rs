//! The audit log's group commit: records waiting together share one write and one `fsync`,
//! and a request is answered only after its record is durable.
//!
//! Leader and followers, as databases do it: a request queues its record; if nobody is writing,
//! it becomes the leader and writes everything queued (on its own thread, `block_in_place`), so
//! a lone client pays no hand-off to another thread; requests that arrive meanwhile wait for
//! the next batch, which the leader writes too, or, when it has written [`LEADER_BATCHES`]
//! batches and more keep coming, a blocking task it hands the queue to. Only the one leader
//! appends (the log sits behind a mutex), so the chain stays one line of records.
//!
//! The state is the server's readiness: `Ready`; `NoSpace` after a write failed for want of
//! space (the partial write was cut off, the waiting requests got 503 with `Retry-After`; the
//! server probes for space every second and is ready again as soon as a write would fit, or a
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

/// At most this many records share one `fsync`.
pub(super) const MAX_BATCH: usize = 256;
/// Batches a request's task writes as leader before it hands the queue to a blocking task.
const LEADER_BATCHES: usize = 2;
/// How often the server looks for space again while the disk is full.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// What a probe must be able to write: a batch of about 180 records.
const PROBE_BYTES: usize = 64 * 1024;

#[derive(Default)]
struct Queue {
    waiting: Vec<(Pending, Reply)>,
    /// A leader is writing (or about to): new records wait for it.
    leading: bool,
}

struct Shared {
    log: Mutex<AuditLog>,
    queue: Mutex<Queue>,
    head: Mutex<Head>,
    readiness: Mutex<Readiness>,
    metrics: Arc<Metrics>,
    rotate_bytes: Option<u64>,
}

/// The audit log's writer side, shared by every request.
pub(super) struct AuditWriter {
    shared: Arc<Shared>,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl AuditWriter {
    /// `rotate_bytes`: rotate once the current file holds this many bytes.
    pub(super) fn new(log: AuditLog, metrics: Arc<Metrics>, rotate_bytes: Option<u64>) -> Self {
        let head = log.head().clone();
        AuditWriter {
            shared: Arc::new(Shared {
                log: Mutex::new(log),
                queue: Mutex::new(Queue::default()),
                head: Mutex::new(head),
                readiness: Mutex::new(Readiness::Ready),
                metrics,
                rotate_bytes,
            }),
        }
    }

    pub(super) fn head(&self) -> Head {
        locked(&self.shared.head).clone()
    }

    pub(super) fn readiness(&self) -> Readiness {
        locked(&self.shared.readiness).clone()
    }

    pub(super) async fn append(&self, pending: Pending) -> Result<AuditRecord, AppendError> {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut queue = locked(&self.shared.queue);
            queue.waiting.push((pending, reply));
            !std::mem::replace(&mut queue.leading, true)
        };
        if lead {
            let shared = Arc::clone(&self.shared);
            tokio::task::block_in_place(|| lead_batches(&shared, Some(LEADER_BATCHES)));
        }
        answer
            .await
            .map_err(|_| AppendError::Failed("the audit writer has stopped".to_owned()))?
    }

    /// Rotates after the records written so far (SIGHUP, which only Unix has).
    #[cfg(unix)]
    pub(super) async fn rotate(&self) {
        let shared = Arc::clone(&self.shared);
        let _ = tokio::task::spawn_blocking(move || {
            if let Readiness::Stopped(_) = locked(&shared.readiness).clone() {
                return;
            }
            rotate(&shared, &mut locked(&shared.log));
        })
        .await;
    }

    /// While the disk is full, looks for space every second and is ready again when a batch
    /// would fit; ends with the server.
    pub(super) fn watch_space(&self) {
        let shared = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(PROBE_EVERY);
            loop {
                ticks.tick().await;
                let Some(shared) = shared.upgrade() else {
                    break;
                };
                if !matches!(*locked(&shared.readiness), Readiness::NoSpace(_)) {
                    continue;
                }
                let _ = tokio::task::spawn_blocking(move || {
                    let path = locked(&shared.log).path().to_owned();
                    if space_for_a_batch(&path) {
                        let mut readiness = locked(&shared.readiness);
                        if matches!(*readiness, Readiness::NoSpace(_)) {
                            shared.metrics.ready(true);
                            *readiness = Readiness::Ready;
                        }
                    }
                })
                .await;
            }
        });
    }
}

/// Writes what is queued, batch by batch, until the queue is empty; after `limit` batches
/// (a request's own task) the rest goes to a blocking task, so no request waits on others'.
fn lead_batches(shared: &Arc<Shared>, limit: Option<usize>) {
    let mut written = 0;
    loop {
        let batch: Vec<(Pending, Reply)> = {
            let mut queue = locked(&shared.queue);
            if queue.waiting.is_empty() {
                queue.leading = false;
                return;
            }
            if limit.is_some_and(|limit| written >= limit) {
                drop(queue);
                let shared = Arc::clone(shared);
                tokio::task::spawn_blocking(move || lead_batches(&shared, None));
                return;
            }
            let take = queue.waiting.len().min(MAX_BATCH);
            queue.waiting.drain(..take).collect()
        };
        commit(shared, batch);
        written += 1;
    }
}

/// One group commit: one write and one `fsync`, then every reply.
fn commit(shared: &Shared, batch: Vec<(Pending, Reply)>) {
    let (records, replies): (Vec<Pending>, Vec<Reply>) = batch.into_iter().unzip();
    let started = Instant::now();
    let mut log = locked(&shared.log);
    let set = |next: Readiness| {
        shared.metrics.ready(next == Readiness::Ready);
        *locked(&shared.readiness) = next;
    };
    let current = locked(&shared.readiness).clone();
    let result = match &current {
        Readiness::Stopped(message) => Err(AppendError::Failed(message.clone())),
        _ => log.append_batch(&records).map_err(|failure| {
            let message = format!("cannot write {}: {failure}", log.path().display());
            if failure.is_retry() {
                shared.metrics.audit_write_failed("no_space");
                set(Readiness::NoSpace(message.clone()));
                AppendError::Unavailable(message)
            } else {
                shared.metrics.audit_write_failed("stopped");
                set(Readiness::Stopped(message.clone()));
                AppendError::Failed(message)
            }
        }),
    };
    match result {
        Ok(written) => {
            if !matches!(current, Readiness::Ready) {
                set(Readiness::Ready);
            }
            shared
                .metrics
                .audit_commit(written.len(), started.elapsed());
            *locked(&shared.head) = log.head().clone();
            for (reply, record) in replies.into_iter().zip(written) {
                let _ = reply.send(Ok(record));
            }
            if shared
                .rotate_bytes
                .is_some_and(|limit| log.current_len() >= limit)
            {
                rotate(shared, &mut log);
            }
        }
        Err(error) => {
            drop(log);
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

fn rotate(shared: &Shared, log: &mut AuditLog) {
    match log.rotate() {
        Ok(Some(_)) => shared.metrics.audit_rotated(),
        Ok(None) => {}
        // The file stays the current one; appending goes on.
        Err(err) => eprintln!(
            "jimini-server: cannot rotate {}: {err}",
            log.path().display()
        ),
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
