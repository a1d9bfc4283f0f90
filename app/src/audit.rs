//! The hash-chained JSONL audit log.
//!
//! One JSON object per line. Each record carries `prev_sha256`, the SHA-256 (hex) of the exact
//! bytes of the previous line (without its newline); the first record carries 64 zeros. Editing,
//! removing or reordering any record breaks the chain at the next line, which `verify` reports.
//!
//! **Architecture Invariant:** a record is written, flushed and `fsync`ed before the decision it
//! records is returned to the client, so an answered request is always in the log. The raw text
//! is never logged, only its SHA-256 and length.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::{Decision, Evaluation};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    pub seq: u64,
    pub time_unix_ms: u64,
    pub endpoint: Option<String>,
    pub direction: Option<String>,
    pub decision: Decision,
    pub rules_decision: Decision,
    pub shadow: bool,
    pub rule_ids: Vec<String>,
    pub text_sha256: String,
    pub text_len: usize,
    pub prev_sha256: String,
}

/// What the caller knows about a request; the log adds sequence number and chain hash.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub time_unix_ms: u64,
    pub endpoint: Option<String>,
    pub direction: Option<String>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One decision waiting to be logged: everything but its place in the chain.
#[derive(Debug, Clone)]
pub struct Pending {
    pub info: RequestInfo,
    pub text_sha256: String,
    pub text_len: usize,
    pub evaluation: Evaluation,
}

impl Pending {
    pub fn new(info: RequestInfo, text: &str, evaluation: Evaluation) -> Pending {
        Pending {
            info,
            text_sha256: sha256_hex(text.as_bytes()),
            text_len: text.len(),
            evaluation,
        }
    }
}

/// An open audit log, positioned after its last record, held under an exclusive lock.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    next_seq: u64,
    last_hash: String,
}

impl AuditLog {
    /// Opens (or creates) the log and locks it, so that a second writer cannot fork the chain;
    /// an existing log is verified first so that new records never extend a broken chain.
    pub fn open(path: &Path) -> Result<AuditLog, VerifyError> {
        let io_error = |source| VerifyError::Io {
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(VerifyError::Locked {
                    path: path.to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(io_error(err)),
        }
        let summary = verify(path)?;
        Ok(AuditLog {
            path: path.to_owned(),
            file,
            next_seq: summary.records + 1,
            last_hash: summary.last_hash,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and makes it durable before returning.
    pub fn append(
        &mut self,
        info: &RequestInfo,
        text: &str,
        evaluation: &Evaluation,
    ) -> io::Result<AuditRecord> {
        let pending = Pending::new(info.clone(), text, evaluation.clone());
        let mut records = self.append_batch(std::slice::from_ref(&pending))?;
        Ok(records.remove(0))
    }

    /// Appends the records in order with one write and one `fsync` for all of them (group
    /// commit); they are durable when this returns. On an error nothing of the batch counts:
    /// the chain state stays where it was.
    pub fn append_batch(&mut self, batch: &[Pending]) -> io::Result<Vec<AuditRecord>> {
        let mut buffer = Vec::new();
        let mut records = Vec::with_capacity(batch.len());
        let (mut seq, mut last_hash) = (self.next_seq, self.last_hash.clone());
        for pending in batch {
            let record = AuditRecord {
                seq,
                time_unix_ms: pending.info.time_unix_ms,
                endpoint: pending.info.endpoint.clone(),
                direction: pending.info.direction.clone(),
                decision: pending.evaluation.decision,
                rules_decision: pending.evaluation.rules_decision,
                shadow: pending.evaluation.shadow,
                rule_ids: pending
                    .evaluation
                    .matches
                    .iter()
                    .map(|m| m.rule_id.clone())
                    .collect(),
                text_sha256: pending.text_sha256.clone(),
                text_len: pending.text_len,
                prev_sha256: last_hash,
            };
            let line = serde_json::to_string(&record).map_err(io::Error::other)?;
            last_hash = sha256_hex(line.as_bytes());
            buffer.extend_from_slice(line.as_bytes());
            buffer.push(b'\n');
            seq += 1;
            records.push(record);
        }
        self.file.write_all(&buffer)?;
        self.file.flush()?;
        self.file.sync_data()?;
        self.next_seq = seq;
        self.last_hash = last_hash;
        Ok(records)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySummary {
    pub records: u64,
    pub last_hash: String,
}

#[derive(Debug)]
pub enum VerifyError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    /// Another process holds the log's lock.
    Locked {
        path: PathBuf,
    },
    Broken {
        line: u64,
        reason: String,
    },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Io { path, source } => {
                write!(f, "cannot read audit log {}: {source}", path.display())
            }
            VerifyError::Locked { path } => write!(
                f,
                "audit log {} is locked by another process (is another jimini-server running on \
                 it?); stop that one or pass another --audit-log",
                path.display()
            ),
            VerifyError::Broken { line, reason } => {
                write!(f, "audit chain broken at line {line}: {reason}")
            }
        }
    }
}

impl std::error::Error for VerifyError {}

/// Walks the whole chain and reports the first record that does not fit.
pub fn verify(path: &Path) -> Result<VerifySummary, VerifyError> {
    let io_error = |source| VerifyError::Io {
        path: path.to_owned(),
        source,
    };
    let reader = BufReader::new(File::open(path).map_err(io_error)?);
    let mut previous_hash = GENESIS_HASH.to_owned();
    let mut records = 0u64;
    for (index, line) in reader.split(b'\n').enumerate() {
        let line_number = index as u64 + 1;
        let line = line.map_err(io_error)?;
        let broken = |reason: String| VerifyError::Broken {
            line: line_number,
            reason,
        };
        let record: AuditRecord = serde_json::from_slice(&line)
            .map_err(|err| broken(format!("not a valid audit record: {err}")))?;
        if record.prev_sha256 != previous_hash {
            return Err(broken(format!(
                "prev_sha256 is {} but the previous record hashes to {previous_hash}; \
                 a record was edited, removed or reordered",
                record.prev_sha256
            )));
        }
        if record.seq != records + 1 {
            return Err(broken(format!(
                "seq is {} but {} was expected",
                record.seq,
                records + 1
            )));
        }
        previous_hash = sha256_hex(&line);
        records += 1;
    }
    Ok(VerifySummary {
        records,
        last_hash: previous_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RulePack;

    fn temp_log(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("jimini-audit-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.jsonl");
        let _ = std::fs::remove_file(&path);
        path
    }

    fn write_three(path: &Path) {
        let pack = RulePack::default_pack();
        let mut log = AuditLog::open(path).unwrap();
        for text in ["hello", "ssn 123-45-6789", "a@b.example"] {
            log.append(&RequestInfo::default(), text, &pack.evaluate(text, false))
                .unwrap();
        }
    }

    #[test]
    fn chain_verifies_and_resumes_after_reopen() {
        let path = temp_log("resume");
        write_three(&path);
        write_three(&path);
        let summary = verify(&path).unwrap();
        assert_eq!(summary.records, 6);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("123-45-6789"),
            "raw text must never be logged"
        );
    }

    #[test]
    fn edited_record_is_reported_at_the_next_line() {
        let path = temp_log("edited");
        write_three(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        let tampered = text.replacen("\"decision\":\"block\"", "\"decision\":\"allow\"", 1);
        assert_ne!(text, tampered);
        std::fs::write(&path, tampered).unwrap();
        match verify(&path) {
            Err(VerifyError::Broken { line, .. }) => assert_eq!(line, 3),
            other => panic!("expected a broken chain, got {other:?}"),
        }
        assert!(
            AuditLog::open(&path).is_err(),
            "a broken log must not be extended"
        );
    }

    #[test]
    fn a_second_writer_is_refused_and_batches_chain_like_single_appends() {
        let path = temp_log("locked");
        let pack = RulePack::default_pack();
        let mut first = AuditLog::open(&path).unwrap();
        let err = AuditLog::open(&path).unwrap_err().to_string();
        assert!(err.contains("locked by another process"), "{err}");
        let batch: Vec<Pending> = ["a", "ssn 123-45-6789", "b"]
            .iter()
            .map(|t| Pending::new(RequestInfo::default(), t, pack.evaluate(t, false)))
            .collect();
        let records = first.append_batch(&batch).unwrap();
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
        first
            .append(&RequestInfo::default(), "c", &pack.evaluate("c", false))
            .unwrap();
        drop(first);
        assert_eq!(verify(&path).unwrap().records, 4);
    }

    #[test]
    fn removed_record_is_reported() {
        let path = temp_log("removed");
        write_three(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(i, _)| *i != 0)
            .map(|(_, l)| l)
            .collect();
        std::fs::write(&path, kept.join("\n") + "\n").unwrap();
        match verify(&path) {
            Err(VerifyError::Broken { line, .. }) => assert_eq!(line, 1),
            other => panic!("expected a broken chain, got {other:?}"),
        }
    }
}
