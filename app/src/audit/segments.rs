//! Rotated logs: a log is a line of files, the rotated ones named
//! `<log>.<first seq>-<last seq>` (20 digits each, so names sort by position) and the current
//! one `<log>`. A file's first record chains to the last record of the file before (its
//! `prev_sha256` and `seq` continue), so the chain and `seq` run across every file, and a file
//! missing from the middle or out of order breaks the chain at its first record.

#![allow(unused_imports)]
use super::*;

/// The name a file holding records `first..=last` of `log` is rotated to.
pub fn segment_path(log: &Path, first: u64, last: u64) -> PathBuf {
    let mut name = log.file_name().unwrap_or_default().to_owned();
    name.push(format!(".{first:020}-{last:020}"));
    log.with_file_name(name)
}

/// `(first, last)` when `name` is a rotated file of the log named `base`.
pub fn parse_segment(name: &str, base: &str) -> Option<(u64, u64)> {
    let range = name.strip_prefix(base)?.strip_prefix('.')?;
    let (first, last) = range.split_once('-')?;
    let digits = |text: &str| text.len() == 20 && text.bytes().all(|b| b.is_ascii_digit());
    (digits(first) && digits(last)).then(|| Some((first.parse().ok()?, last.parse().ok()?)))?
}

/// The rotated files of `log`, in order: `(path, first, last)`.
pub fn segments(log: &Path) -> io::Result<Vec<(PathBuf, u64, u64)>> {
    let dir = match log.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let base = log
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((first, last)) = parse_segment(&name, &base) {
            found.push((entry.path(), first, last));
        }
    }
    found.sort_by_key(|(_, first, _)| *first);
    Ok(found)
}

/// The files of the log at `path`: a directory holding one log's files (its rotated files in
/// order, then the current file if there is one), or the file itself.
pub fn files_of(path: &Path) -> Result<Vec<PathBuf>, VerifyError> {
    let io_error = |source| VerifyError::Io {
        path: path.to_owned(),
        source,
    };
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut bases = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(path).map_err(io_error)? {
        let name = entry
            .map_err(io_error)?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some((base, range)) = name.rsplit_once('.')
            && parse_segment(&name, base).is_some()
            && !range.is_empty()
        {
            bases.insert(base.to_owned());
        }
    }
    let base = match bases.len() {
        1 => bases.into_iter().next().expect("one base"),
        0 => {
            return Err(VerifyError::HeadMismatch {
                reason: format!(
                    "{} holds no rotated audit log files (<log>.<first>-<last>): name the files",
                    path.display()
                ),
            });
        }
        _ => {
            return Err(VerifyError::HeadMismatch {
                reason: format!(
                    "{} holds the rotated files of several logs ({}): name the files of one",
                    path.display(),
                    bases.into_iter().collect::<Vec<_>>().join(", ")
                ),
            });
        }
    };
    let log = path.join(&base);
    let mut files: Vec<PathBuf> = segments(&log)
        .map_err(io_error)?
        .into_iter()
        .map(|(file, _, _)| file)
        .collect();
    if log.is_file() {
        files.push(log);
    }
    Ok(files)
}

/// Verifies the files in order as one chain; a file that does not continue the one before
/// (missing in between, out of order, renamed) is named.
pub fn verify_files(
    files: &[PathBuf],
    key: Option<&AuditKey>,
    expect_head: Option<&Head>,
) -> Result<VerifySummary, VerifyError> {
    let mut head = Head::genesis();
    let mut summary = VerifySummary {
        records: 0,
        head: Head::genesis(),
        legacy_records: 0,
        macs_checked: key.is_some(),
        torn_bytes: 0,
    };
    let mut expected_seen = false;
    for (index, path) in files.iter().enumerate() {
        let file = File::open(path).map_err(|source| VerifyError::Io {
            path: path.clone(),
            source,
        })?;
        let scan =
            scan(BufReader::new(file), key, expect_head, &head).map_err(|err| match err {
                VerifyError::Broken { line, reason } if line == head.seq + 1 && index > 0 => {
                    VerifyError::Broken {
                        line,
                        reason: format!(
                            "{} does not continue {} ({reason}): a file between them is missing, \\
                         or they are out of order",
                            path.display(),
                            files[index - 1].display()
                        ),
                    }
                }
                VerifyError::Broken { line, reason } => VerifyError::Broken {
                    line,
                    reason: format!("{}: {reason}", path.display()),
                },
                VerifyError::Io { source, .. } => VerifyError::Io {
                    path: path.clone(),
                    source,
                },
                other => other,
            })?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if let Some((base, _)) = name.rsplit_once('.')
            && let Some((first, last)) = parse_segment(&name, base)
            && (first != head.seq + 1 || last != scan.head.seq)
        {
            return Err(VerifyError::Broken {
                line: head.seq + 1,
                reason: format!(
                    "{} is named for records {first}-{last} but holds {}-{}",
                    path.display(),
                    head.seq + 1,
                    scan.head.seq
                ),
            });
        }
        if scan.torn_bytes > 0 && index + 1 < files.len() {
            return Err(VerifyError::Broken {
                line: scan.head.seq + 1,
                reason: format!(
                    "{} ends in a torn line but is not the last file",
                    path.display()
                ),
            });
        }
        expected_seen |= scan.expected_seen;
        summary.legacy_records += scan.legacy_records;
        summary.torn_bytes = scan.torn_bytes;
        head = scan.head;
    }
    summary.records = head.seq;
    summary.head = head.clone();
    if let Some(expected) = expect_head
        && !expected_seen
    {
        return Err(VerifyError::HeadMismatch {
            reason: format!(
                "the log ends at record {} but the expected head is record {}: records were cut \\
                 off the end",
                head.seq, expected.seq
            ),
        });
    }
    Ok(summary)
}
