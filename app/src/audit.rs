//! The hash-chained, keyed JSONL audit log.
//!
//! One JSON object per line. Each record carries `prev_sha256`, the SHA-256 (hex) of the exact
//! bytes of the previous line (without its newline); the first record carries 64 zeros. Editing,
//! removing or reordering any record breaks the chain at the next line.
//!
//! Format 2 (`"v":2`, since 0.3) adds what a chain alone cannot give:
//! - `mac`, an HMAC-SHA256 under the audit key of the line's bytes before the `mac` field, so an
//!   edit to any record, the last included, is detected by whoever holds the key;
//! - `text_hmac`, a keyed digest of the evaluated text instead of 0.2's plain `text_sha256`, so a
//!   short secret (an SSN, a card number) cannot be recovered from the log by trying every value.
//!
//! What a MAC cannot show is a log cut short: the [`Head`] (last `seq` and its line's hash) is
//! served at `GET /v1/audit/head` so a monitor can keep heads elsewhere and check them later
//! with `jimini-admin audit verify --expect-head SEQ:HASH`.
//!
//! Format 1 (0.2.0, no `v`) is still read. A log may start in format 1 and continue in format
//! 2 after an upgrade; a format-1 record after a format-2 one is refused (it would carry no MAC).
//!
//! **Architecture Invariant:** a record is written, flushed and `fsync`ed before the decision it
//! records is returned to the client, so an answered request is always in the log. The raw text
//! is never logged, only its keyed digest and length.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::{Decision, Evaluation};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The record format this version writes.
pub const FORMAT_VERSION: u32 = 2;
/// The environment variable that holds the audit key, if the key is not in a file.
pub const AUDIT_KEY_VAR: &str = "JIMINI_AUDIT_KEY";
/// The shortest key accepted: 32 bytes, as many as the MAC's output.
pub const MIN_KEY_LEN: usize = 32;

/// A format-2 record, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    pub v: u32,
    pub seq: u64,
    pub time_unix_ms: u64,
    pub endpoint: Option<String>,
    pub direction: Option<String>,
    pub decision: Decision,
    pub rules_decision: Decision,
    pub shadow: bool,
    pub rule_ids: Vec<String>,
    pub text_hmac: String,
    pub text_len: usize,
    pub prev_sha256: String,
    /// Serialized last; covers every byte of the line before it.
    #[serde(skip_serializing)]
    pub mac: String,
}

/// A format-1 record (0.2.0): no version, no MAC, an unkeyed text digest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Fields are checked by deserializing; only the chain fields are read.
struct LegacyRecord {
    seq: u64,
    time_unix_ms: u64,
    endpoint: Option<String>,
    direction: Option<String>,
    decision: Decision,
    rules_decision: Decision,
    shadow: bool,
    rule_ids: Vec<String>,
    text_sha256: String,
    text_len: usize,
    prev_sha256: String,
}

/// Only the version, to pick the record type.
#[derive(Deserialize)]
struct VersionProbe {
    v: Option<u32>,
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

type HmacSha256 = Hmac<Sha256>;

fn hmac_hex(key: &[u8; 32], parts: &[&[u8]]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// The audit key: a secret of at least 32 bytes. Two subkeys are derived from it so that the
/// record MAC and the text digest never share a key.
#[derive(Clone)]
pub struct AuditKey {
    record_mac: [u8; 32],
    text_digest: [u8; 32],
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

impl AuditKey {
    /// The key from its text (the variable's value or the key file's contents); surrounding
    /// whitespace is not part of it.
    pub fn from_secret(secret: &str) -> Result<AuditKey, String> {
        let secret = secret.trim();
        if secret.len() < MIN_KEY_LEN {
            return Err(format!(
                "the audit key is {} bytes long; it must have at least {MIN_KEY_LEN} \
                 (e.g. 64 hex digits: `openssl rand -hex 32`)",
                secret.len()
            ));
        }
        let derive = |purpose: &str| -> [u8; 32] {
            let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("any length");
            mac.update(purpose.as_bytes());
            mac.finalize().into_bytes().into()
        };
        Ok(AuditKey {
            record_mac: derive("jimini audit v2 record mac"),
            text_digest: derive("jimini audit v2 text digest"),
        })
    }

    /// A fresh secret: 32 random bytes as 64 hex digits.
    pub fn generate_secret() -> io::Result<String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|err| io::Error::other(err.to_string()))?;
        Ok(hex::encode(bytes))
    }

    pub fn text_digest(&self, text: &str) -> String {
        hmac_hex(&self.text_digest, &[text.as_bytes()])
    }

    fn record_mac(&self, signed: &[u8]) -> String {
        hmac_hex(&self.record_mac, &[signed])
    }
}

/// Reads the key file at `path`; on Unix a file that others may read is refused, as ssh does.
pub fn read_key_file(path: &Path) -> Result<AuditKey, String> {
    let secret = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read audit key file {}: {err}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|err| format!("cannot read audit key file {}: {err}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "audit key file {} may be read by others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            ));
        }
    }
    AuditKey::from_secret(&secret).map_err(|err| format!("{}: {err}", path.display()))
}

/// Writes `secret` to a new key file readable by its owner only; never replaces a file.
pub fn create_key_file(path: &Path, secret: &str) -> Result<AuditKey, String> {
    let error = |err: io::Error| format!("cannot create audit key file {}: {err}", path.display());
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(error)?;
    file.write_all(format!("{secret}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(error)?;
    AuditKey::from_secret(secret)
}

/// The end of the chain: the last record's `seq` and the SHA-256 of its line. `0:000…` for an
/// empty log. Written and parsed as `SEQ:HASH`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

impl Head {
    pub fn genesis() -> Head {
        Head {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl FromStr for Head {
    type Err = String;

    fn from_str(text: &str) -> Result<Head, String> {
        let wrong = || format!("`{text}` is not a head: expected SEQ:HASH (64 hex digits)");
        let (seq, hash) = text.split_once(':').ok_or_else(wrong)?;
        let seq = seq.parse().map_err(|_| wrong())?;
        let valid = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return Err(wrong());
        }
        Ok(Head {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// One decision waiting to be logged: everything but its place in the chain.
#[derive(Debug, Clone)]
pub struct Pending {
    pub info: RequestInfo,
    pub text_hmac: String,
    pub text_len: usize,
    pub evaluation: Evaluation,
}

impl Pending {
    pub fn new(key: &AuditKey, info: RequestInfo, text: &str, evaluation: Evaluation) -> Pending {
        Pending {
            info,
            text_hmac: key.text_digest(text),
            text_len: text.len(),
            evaluation,
        }
    }
}

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
    path: PathBuf,
    file: File,
    key: AuditKey,
    head: Head,
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
        // Read through the locked handle: on Windows the lock keeps other handles out.
        let scan = scan(BufReader::new(&file), Some(&key), None)?;
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
    /// the chain state stays where it was.
    pub fn append_batch(&mut self, batch: &[Pending]) -> io::Result<Vec<AuditRecord>> {
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
            let line = signed_line(&self.key, &mut record)?;
            head = Head {
                seq: record.seq,
                hash: sha256_hex(line.as_bytes()),
            };
            buffer.extend_from_slice(line.as_bytes());
            buffer.push(b'\n');
            records.push(record);
        }
        self.file.write_all(&buffer)?;
        self.file.flush()?;
        self.file.sync_data()?;
        self.head = head;
        Ok(records)
    }
}

/// `,"mac":"<64 hex>"}`: how every format-2 line ends.
const MAC_SUFFIX_LEN: usize = r#","mac":""}"#.len() + 64;

/// Serializes the record and appends its MAC, computed over the bytes before the `mac` field.
fn signed_line(key: &AuditKey, record: &mut AuditRecord) -> io::Result<String> {
    let body = serde_json::to_string(&*record).map_err(io::Error::other)?;
    let open = body.strip_suffix('}').expect("a JSON object");
    record.mac = key.record_mac(open.as_bytes());
    Ok(format!(r#"{open},"mac":"{}"}}"#, record.mac))
}

/// The bytes a format-2 line's MAC covers, or `None` if the line does not end in a MAC.
fn mac_coverage(line: &[u8]) -> Option<(&[u8], &str)> {
    let split = line.len().checked_sub(MAC_SUFFIX_LEN)?;
    let (covered, suffix) = line.split_at(split);
    let mac = suffix
        .strip_prefix(br#","mac":""#)?
        .strip_suffix(br#""}"#)?;
    let mac = std::str::from_utf8(mac).ok()?;
    Some((covered, mac))
}

/// Writes the bytes after the last newline to a new `<log>.torn` file, then cuts them off.
fn move_torn_tail(
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

fn torn_path(log: &Path, suffix: &str) -> PathBuf {
    let mut name = log.file_name().unwrap_or_default().to_owned();
    name.push(format!(".torn{suffix}"));
    log.with_file_name(name)
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySummary {
    pub records: u64,
    pub head: Head,
    /// Format-1 records (written before 0.3), which carry no MAC.
    pub legacy_records: u64,
    /// Whether every format-2 record's MAC was checked (a key was given).
    pub macs_checked: bool,
    /// Bytes after the last newline: a write in progress or a crash during one.
    pub torn_bytes: u64,
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
    /// The chain verifies but does not contain the expected head.
    HeadMismatch {
        reason: String,
    },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Io { path, source } => {
                write!(f, "cannot use {}: {source}", path.display())
            }
            VerifyError::Locked { path } => write!(
                f,
                "audit log {} is locked by another process (is another jimini-server running on \
                 it?); stop that one or pass another --audit-log",
                path.display()
            ),
            VerifyError::Broken { line, reason } => {
                write!(f, "audit log broken at line {line}: {reason}")
            }
            VerifyError::HeadMismatch { reason } => write!(f, "{reason}"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Walks the whole log at `path` and reports the first record that does not fit. With a key,
/// every MAC is checked; with an expected head, the log must still contain it.
pub fn verify(
    path: &Path,
    key: Option<&AuditKey>,
    expect_head: Option<&Head>,
) -> Result<VerifySummary, VerifyError> {
    let file = File::open(path).map_err(|source| VerifyError::Io {
        path: path.to_owned(),
        source,
    })?;
    let scan = scan(BufReader::new(file), key, expect_head).map_err(|err| match err {
        VerifyError::Io { source, .. } => VerifyError::Io {
            path: path.to_owned(),
            source,
        },
        other => other,
    })?;
    Ok(VerifySummary {
        records: scan.head.seq,
        head: scan.head,
        legacy_records: scan.legacy_records,
        macs_checked: key.is_some(),
        torn_bytes: scan.torn_bytes,
    })
}

struct Scan {
    head: Head,
    legacy_records: u64,
    /// Bytes up to and including the last newline.
    complete_len: u64,
    torn_bytes: u64,
}

fn scan(
    mut reader: impl BufRead,
    key: Option<&AuditKey>,
    expect_head: Option<&Head>,
) -> Result<Scan, VerifyError> {
    let mut head = Head::genesis();
    let mut legacy_records = 0u64;
    let mut complete_len = 0u64;
    let mut expected_seen = expect_head.is_some_and(|expected| expected.seq == 0);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| VerifyError::Io {
                path: PathBuf::new(),
                source,
            })?;
        if read == 0 {
            break;
        }
        if line.pop() != Some(b'\n') {
            return Ok(Scan {
                head,
                legacy_records,
                complete_len,
                torn_bytes: read as u64,
            });
        }
        let line_number = head.seq + 1;
        let broken = |reason: String| VerifyError::Broken {
            line: line_number,
            reason,
        };
        let (seq, prev, legacy) =
            parse_record(&line, key, legacy_records == head.seq).map_err(broken)?;
        if prev != head.hash {
            return Err(broken(format!(
                "prev_sha256 is {prev} but the previous record hashes to {}; \
                 a record was edited, removed or reordered",
                head.hash
            )));
        }
        if seq != line_number {
            return Err(broken(format!(
                "seq is {seq} but {line_number} was expected"
            )));
        }
        legacy_records += u64::from(legacy);
        head = Head {
            seq,
            hash: sha256_hex(&line),
        };
        complete_len += read as u64;
        if let Some(expected) = expect_head
            && expected.seq == seq
        {
            if expected.hash != head.hash {
                return Err(VerifyError::HeadMismatch {
                    reason: format!(
                        "record {seq} hashes to {}, not to the expected head's {}: the log was \
                         rewritten at or before record {seq}",
                        head.hash, expected.hash
                    ),
                });
            }
            expected_seen = true;
        }
    }
    if let Some(expected) = expect_head
        && !expected_seen
    {
        return Err(VerifyError::HeadMismatch {
            reason: format!(
                "the log ends at record {} but the expected head is record {}: records were cut \
                 off the end",
                head.seq, expected.seq
            ),
        });
    }
    Ok(Scan {
        head,
        legacy_records,
        complete_len,
        torn_bytes: 0,
    })
}

/// Checks one line's record and returns its `seq`, its `prev_sha256` and whether it is format 1,
/// which is accepted only while every record before it was format 1 too.
fn parse_record(
    line: &[u8],
    key: Option<&AuditKey>,
    legacy_allowed: bool,
) -> Result<(u64, String, bool), String> {
    let invalid = |err: serde_json::Error| format!("not a valid audit record: {err}");
    let probe: VersionProbe = serde_json::from_slice(line).map_err(invalid)?;
    match probe.v {
        None if legacy_allowed => {
            let record: LegacyRecord = serde_json::from_slice(line).map_err(invalid)?;
            Ok((record.seq, record.prev_sha256, true))
        }
        None => Err(
            "a record without a MAC (format 1) after records with one: it was not \
                     written by jimini-server 0.3 or later"
                .to_owned(),
        ),
        Some(FORMAT_VERSION) => {
            let record: AuditRecord = serde_json::from_slice(line).map_err(invalid)?;
            let (covered, mac) = mac_coverage(line)
                .ok_or_else(|| "the record does not end with its `mac` field".to_owned())?;
            if let Some(key) = key
                && key.record_mac(covered) != mac
            {
                return Err(
                    "the MAC does not match: the record was edited, or the key is not \
                            the one the log was written with"
                        .to_owned(),
                );
            }
            Ok((record.seq, record.prev_sha256, false))
        }
        Some(other) => Err(format!(
            "record format {other} is newer than this jimini ({FORMAT_VERSION}); \
             verify it with a newer jimini-admin"
        )),
    }
}

#[cfg(test)]
mod tests;
