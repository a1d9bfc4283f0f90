//! The one audit writer: a thread that commits every waiting record with one write and one
//! `fsync` (group commit) and only then answers each request.

#![allow(unused_imports)]
use super::*;

pub(super) type Reply = oneshot::Sender<Result<AuditRecord, String>>;

/// The one writer of the audit log: a thread that takes every record waiting, appends them with
/// one write and one `fsync`, and only then answers each request.
pub(super) struct AuditWriter {
    pub(super) queue: std_mpsc::Sender<(Pending, Reply)>,
    /// The last durable record.
    pub(super) head: Arc<Mutex<Head>>,
}

/// At most this many records share one `fsync`.
pub(super) const MAX_BATCH: usize = 256;

impl AuditWriter {
    pub(super) fn start(
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

    pub(super) fn head(&self) -> Head {
        self.head.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(super) async fn append(&self, pending: Pending) -> Result<AuditRecord, String> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((pending, reply))
            .map_err(|_| "the audit writer has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the audit writer has stopped".to_owned())?
    }
}
