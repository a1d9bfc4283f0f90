//! Reading a log back: the chain, every MAC, the expected head, formats 1 and 2.

#![allow(unused_imports)]
use super::*;

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
    let scan =
        scan(BufReader::new(file), key, expect_head, &Head::genesis()).map_err(
            |err| match err {
                VerifyError::Io { source, .. } => VerifyError::Io {
                    path: path.to_owned(),
                    source,
                },
                VerifyError::Broken { line: 1, reason } if reason.contains("previous record") => {
                    VerifyError::Broken {
                        line: 1,
                        reason: format!(
                            "{reason}; if {} continues rotated files, verify it together with \
                         them (`jimini-admin audit verify DIR`, or the files in order)",
                            path.display()
                        ),
                    }
                }
                other => other,
            },
        )?;
    expected_head_seen(&scan, expect_head)?;
    Ok(VerifySummary {
        records: scan.head.seq,
        head: scan.head,
        legacy_records: scan.legacy_records,
        macs_checked: key.is_some(),
        torn_bytes: scan.torn_bytes,
    })
}

/// An expected head that no scanned record matched: records were cut off the end.
pub(super) fn expected_head_seen(
    scan: &Scan,
    expect_head: Option<&Head>,
) -> Result<(), VerifyError> {
    match expect_head {
        Some(expected) if !scan.expected_seen => Err(VerifyError::HeadMismatch {
            reason: format!(
                "the log ends at record {} but the expected head is record {}: records were cut \
                 off the end",
                scan.head.seq, expected.seq
            ),
        }),
        _ => Ok(()),
    }
}

pub(super) struct Scan {
    pub(super) head: Head,
    pub(super) legacy_records: u64,
    /// Bytes up to and including the last newline.
    pub(super) complete_len: u64,
    pub(super) torn_bytes: u64,
    /// Whether a record matched the expected head (or it was the start).
    pub(super) expected_seen: bool,
}

/// Reads records that continue the chain at `start` (the genesis for a whole log, the last
/// record of the file before for a rotated one).
pub(super) fn scan(
    mut reader: impl BufRead,
    key: Option<&AuditKey>,
    expect_head: Option<&Head>,
    start: &Head,
) -> Result<Scan, VerifyError> {
    let mut head = start.clone();
    // Format 1 only from the very start of a log (0.2.0 wrote no rotated files).
    let mut legacy_records = 0u64;
    let legacy_possible = start.seq == 0;
    let mut complete_len = 0u64;
    let mut expected_seen = expect_head.is_some_and(|expected| expected.seq <= start.seq);
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
                expected_seen,
            });
        }
        let line_number = head.seq + 1;
        let broken = |reason: String| VerifyError::Broken {
            line: line_number,
            reason,
        };
        let (seq, prev, legacy) =
            parse_record(&line, key, legacy_possible && legacy_records == head.seq)
                .map_err(broken)?;
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
    Ok(Scan {
        head,
        legacy_records,
        complete_len,
        torn_bytes: 0,
        expected_seen,
    })
}

/// Checks one line's record and returns its `seq`, its `prev_sha256` and whether it is format 1,
/// which is accepted only while every record before it was format 1 too.
pub(super) fn parse_record(
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
