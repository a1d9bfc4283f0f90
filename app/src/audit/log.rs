//! The open log: locking, torn-tail recovery, and appending records with one fsync per batch.
//!
//! Which failures are which: a failed `write` (a full disk, `ENOSPC`; a quota, `EDQUOT`)
//! leaves the file's durable part as it was, so the log cuts the partial bytes off again
//! ([`AppendFailure::Retry`]): the batch is not in the log and a later one may succeed. A
//! failed `fsync`, any other failed write, or a failed cut leaves the file's tail unknown (the
//! page cache may hold or drop what was written): the log must not be appended to again
//! ([`AppendFailure::Stopped`]) until it is verified and reopened.

#![allow(unused_imports)]
use super::*;

/// What the last scan of a log found besides its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Where the torn bytes were moved.
    pub moved_to: PathBuf,
    pub bytes: u64,
}

/// An open audit log, positioned after its last record, held under an exclusive lock.
#[derive(Debug)]
pub struct AuditLog {
    pub(super) path: PathBuf,
    pub(super) file: File,
    pub(super) key: AuditKey,
    pub(super) head: Head,
    /// The file's length after the last durable record.
    pub(super) durable_len: u64,
    /// The last record before this file: the genesis, or the last of the rotated file before.
    pub(super) segment_start: Head,
}

/// Why a batch did not become durable.
#[derive(Debug)]
pub enum AppendFailure {
    /// The write failed for want of space (or quota) and was cut off again: nothing of the
    /// batch is in the file, and appending may be retried.
    Retry(io::Error),
    /// The file's tail is unknown: nothing more may be appended.
    Stopped(io::Error),
}

impl AppendFailure {
    pub fn is_retry(&self) -> bool {
        matches!(self, AppendFailure::Retry(_))
    }
}

impl std::fmt::Display for AppendFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppendFailure::Retry(err) => write!(f, "{err} (nothing was written; retrying)"),
            AppendFailure::Stopped(err) => write!(f, "{err} (appending stopped)"),
        }
    }
}

impl From<AppendFailure> for io::Error {
    fn from(failure: AppendFailure) -> io::Error {
        match failure {
            AppendFailure::Retry(err) | AppendFailure::Stopped(err) => err,
        }
    }
}

impl AuditLog {
    /// Opens (or creates) the log and locks it, so that a second writer cannot fork the chain.
    /// An existing log is verified with `key` first so that new records never extend a broken
    /// chain or one written under another key. A torn last line (a crash during a write, so
    /// never acknowledged) is moved to `<log>.torn` and reported.
    pub fn open(path: &Path, key: AuditKey) -> Result<(AuditLog, Option<TornTail>), VerifyError> {
        let io_error = |source| VerifyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
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
        // The current file continues the last rotated one, if any (see `segments`).
        let segment_start = match segments(path).map_err(io_error)?.last() {
            None => Head::genesis(),
            Some((rotated, _, last)) => last_head(rotated, *last, &key)?,
        };
        // Read through the locked handle: on Windows the lock keeps other handles out.
        let scan = scan(BufReader::new(&file), Some(&key), None, &segment_start)?;
        let torn = match scan.torn_bytes {
            0 => None,
            bytes => Some(move_torn_tail(path, &mut file, scan.complete_len, bytes)?),
        };
        Ok((
            AuditLog {
                path: path.to_owned(),
                file,
                key,
                head: scan.head,
                durable_len: scan.complete_len,
                segment_start,
            },
            torn,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last durable record.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Bytes of durable records in the current file.
    pub fn current_len(&self) -> u64 {
        self.durable_len
    }

    /// Closes the current file as `<log>.<first>-<last>` and starts a new, empty one whose
    /// first record will chain to the last (see `segments`). Every record in it is durable
    /// already (appends fsync); the rename and the new file are made durable with the
    /// directory. An empty current file is not rotated: `None`.
    pub fn rotate(&mut self) -> io::Result<Option<PathBuf>> {
        if self.head.seq == self.segment_start.seq {
            return Ok(None);
        }
        let rotated = segment_path(&self.path, self.segment_start.seq + 1, self.head.seq);
        std::fs::rename(&self.path, &rotated)?;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(&self.path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::other(format!(
                    "{} was locked by another process while rotating",
                    self.path.display()
                )));
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(err),
        }
        sync_dir(&self.path)?;
        self.file = file;
        self.durable_len = 0;
        self.segment_start = self.head.clone();
        Ok(Some(rotated))
    }

    /// Appends one record and makes it durable before returning.
    pub fn append(
        &mut self,
        info: &RequestInfo,
        text: &str,
        evaluation: &Evaluation,
    ) -> io::Result<AuditRecord> {
        let pending = Pending::new(&self.key, info.clone(), text, evaluation.clone());
        let mut records = self.append_batch(std::slice::from_ref(&pending))?;
        Ok(records.remove(0))
    }

    /// Appends the records in order with one write and one `fsync` for all of them (group
    /// commit); they are durable when this returns. On an error nothing of the batch counts:
    /// the chain state stays where it was (see [`AppendFailure`]).
    pub fn append_batch(&mut self, batch: &[Pending]) -> Result<Vec<AuditRecord>, AppendFailure> {
        let mut buffer = Vec::new();
        let mut records = Vec::with_capacity(batch.len());
        let mut head = self.head.clone();
        for pending in batch {
            let mut record = AuditRecord {
                v: FORMAT_VERSION,
                seq: head.seq + 1,
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
                text_hmac: pending.text_hmac.clone(),
                text_len: pending.text_len,
                prev_sha256: head.hash,
                mac: String::new(),
            };
            let line = signed_line(&self.key, &mut record).map_err(AppendFailure::Stopped)?;
            head = Head {
                seq: record.seq,
                hash: sha256_hex(line.as_bytes()),
            };
            buffer.extend_from_slice(line.as_bytes());
            buffer.push(b'\n');
            records.push(record);
        }
        if let Err(err) = self
            .file
            .write_all(&buffer)
            .and_then(|()| self.file.flush())
        {
            let out_of_space = matches!(
                err.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            );
            // Cut the partial bytes off; the file is then exactly its durable part again.
            return match self.file.set_len(self.durable_len) {
                Ok(()) if out_of_space => Err(AppendFailure::Retry(err)),
                Ok(()) => Err(AppendFailure::Stopped(err)),
                Err(cut) => Err(AppendFailure::Stopped(io::Error::new(
                    cut.kind(),
                    format!("{err}, and the partial write could not be cut off: {cut}"),
                ))),
            };
        }
        self.file.sync_data().map_err(AppendFailure::Stopped)?;
        self.durable_len += buffer.len() as u64;
        self.head = head;
        Ok(records)
    }
}

/// The head a rotated file ends at: its last record (MAC checked), which must be record
/// `last` as its name says. The whole chain is `jimini-admin audit verify DIR`'s to check;
/// starting a server reads and checks only this line of the closed files.
fn last_head(rotated: &Path, last: u64, key: &AuditKey) -> Result<Head, VerifyError> {
    let broken = |reason: String| VerifyError::Broken {
        line: last,
        reason: format!("{}: {reason}", rotated.display()),
    };
    let tail = file_tail_line(rotated).map_err(|source| VerifyError::Io {
        path: rotated.to_owned(),
        source,
    })?;
    let line = tail.ok_or_else(|| broken("does not end with a complete record".to_owned()))?;
    let line = line.as_slice();
    let (seq, _, _) = parse_record(line, Some(key), false).map_err(broken)?;
    if seq != last {
        return Err(broken(format!(
            "ends at record {seq}, not {last} as its name says"
        )));
    }
    Ok(Head {
        seq,
        hash: sha256_hex(line),
    })
}

/// The last complete line of `path` (without its newline), read from the end: a rotated file
/// may be large, and a start reads only its last record. `None` when the file does not end
/// with a newline.
fn file_tail_line(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut window = len.min(64 * 1024);
    loop {
        let mut bytes = vec![0; window as usize];
        file.seek(io::SeekFrom::Start(len - window))?;
        io::Read::read_exact(&mut file, &mut bytes)?;
        let Some(body) = bytes.strip_suffix(b"\n") else {
            return Ok(None);
        };
        match body.iter().rposition(|&b| b == b'\n') {
            Some(at) => return Ok(Some(body[at + 1..].to_vec())),
            None if window == len => return Ok(Some(body.to_vec())),
            None => window = len.min(window * 4),
        }
    }
}

/// Makes a rename or a new file in the log's directory durable (a no-op where directories
/// cannot be opened, as on Windows).
fn sync_dir(log: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match log.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = log;
    Ok(())
}

/// Writes the bytes after the last newline to a new `<log>.torn` file, then cuts them off.
pub(super) fn move_torn_tail(
    path: &Path,
    file: &mut File,
    complete_len: u64,
    bytes: u64,
) -> Result<TornTail, VerifyError> {
    let io_error = |target: &Path, source| VerifyError::Io {
        path: target.to_owned(),
        source,
    };
    let mut tail = Vec::new();
    file.seek(io::SeekFrom::Start(complete_len))
        .and_then(|_| io::Read::read_to_end(file, &mut tail))
        .map_err(|err| io_error(path, err))?;
    let moved_to = (0..)
        .map(|n| match n {
            0 => torn_path(path, ""),
            n => torn_path(path, &format!(".{n}")),
        })
        .find_map(|candidate| {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&candidate)
            {
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => None,
                opened => Some((candidate, opened)),
            }
        })
        .expect("some name is free");
    let (moved_to, opened) = moved_to;
    let mut torn = opened.map_err(|err| io_error(&moved_to, err))?;
    torn.write_all(&tail)
        .and_then(|()| torn.sync_all())
        .map_err(|err| io_error(&moved_to, err))?;
    file.set_len(complete_len)
        .and_then(|()| file.sync_all())
        .map_err(|err| io_error(path, err))?;
    Ok(TornTail { moved_to, bytes })
}

pub(super) fn torn_path(log: &Path, suffix: &str) -> PathBuf {
    let mut name = log.file_name().unwrap_or_default().to_owned();
    name.push(format!(".torn{suffix}"));
    log.with_file_name(name)
}
