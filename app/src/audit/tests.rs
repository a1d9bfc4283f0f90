use super::*;
use crate::rules::RulePack;

fn key() -> AuditKey {
    AuditKey::from_secret(&"k".repeat(40)).unwrap()
}

fn other_key() -> AuditKey {
    AuditKey::from_secret(&"o".repeat(40)).unwrap()
}

/// `audit.jsonl` in a scratch directory that is removed with the returned guard.
fn temp_log(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix(&format!("jimini-audit-{name}-"))
        .tempdir()
        .unwrap();
    let path = dir.path().join("audit.jsonl");
    (dir, path)
}

fn write_three(path: &Path) {
    let pack = RulePack::default_pack();
    let (mut log, torn) = AuditLog::open(path, key()).unwrap();
    assert_eq!(torn, None);
    for text in ["hello", "ssn 123-45-6789", "a@b.example"] {
        log.append(&RequestInfo::default(), text, &pack.evaluate(text, false))
            .unwrap();
    }
}

fn broken_line(result: Result<VerifySummary, VerifyError>) -> u64 {
    match result {
        Err(VerifyError::Broken { line, .. }) => line,
        other => panic!("expected a broken log, got {other:?}"),
    }
}

/// A 0.2.0 log: two records of format 1, exactly as that version wrote them.
const LEGACY_LOG: &str = concat!(
    r#"{"seq":1,"time_unix_ms":1,"endpoint":null,"direction":null,"decision":"allow","rules_decision":"allow","shadow":false,"rule_ids":[],"text_sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","text_len":5,"prev_sha256":"0000000000000000000000000000000000000000000000000000000000000000"}"#,
    "\n",
);

#[test]
fn chain_verifies_with_and_without_the_key_and_resumes_after_reopen() {
    let (_dir, path) = temp_log("resume");
    write_three(&path);
    write_three(&path);
    let summary = verify(&path, Some(&key()), None).unwrap();
    assert_eq!(summary.records, 6);
    assert!(summary.macs_checked);
    assert_eq!(summary.legacy_records, 0);
    assert!(!verify(&path, None, None).unwrap().macs_checked);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("123-45-6789"), "raw text is never logged");
    assert!(
        !text.contains(&sha256_hex(b"ssn 123-45-6789")),
        "the text digest is keyed"
    );
    assert!(text.lines().all(|l| l.starts_with(r#"{"v":2,"#)));
}

#[test]
fn an_edit_to_the_last_record_is_caught_by_its_mac() {
    let (_dir, path) = temp_log("edited");
    write_three(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    let last_start = text.trim_end().rfind('\n').unwrap();
    let (before, last) = text.split_at(last_start);
    let tampered = last.replace(r#""text_len":11"#, r#""text_len":12"#);
    assert_ne!(last, tampered);
    std::fs::write(&path, format!("{before}{tampered}")).unwrap();
    assert_eq!(
        verify(&path, None, None).unwrap().records,
        3,
        "the chain alone cannot see it"
    );
    assert_eq!(broken_line(verify(&path, Some(&key()), None)), 3);
    assert!(AuditLog::open(&path, key()).is_err(), "never extended");
}

#[test]
fn a_log_written_under_another_key_is_not_extended() {
    let (_dir, path) = temp_log("other-key");
    write_three(&path);
    assert_eq!(broken_line(verify(&path, Some(&other_key()), None)), 1);
    let err = AuditLog::open(&path, other_key()).unwrap_err().to_string();
    assert!(err.contains("key is not the one"), "{err}");
}

#[test]
fn an_edit_to_an_earlier_record_breaks_the_chain_without_a_key() {
    let (_dir, path) = temp_log("edited-chain");
    write_three(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    let tampered = text.replacen(r#""decision":"block""#, r#""decision":"allow""#, 1);
    assert_ne!(text, tampered);
    std::fs::write(&path, tampered).unwrap();
    assert_eq!(broken_line(verify(&path, None, None)), 3);
}

#[test]
fn expected_heads_catch_cuts_and_rewrites() {
    let (_dir, path) = temp_log("head");
    write_three(&path);
    let head = verify(&path, None, None).unwrap().head;
    assert_eq!(head.seq, 3);
    assert_eq!(head.to_string().parse::<Head>().unwrap(), head);
    let text = std::fs::read_to_string(&path).unwrap();
    let second: Head = {
        let line = text.lines().nth(1).unwrap();
        Head {
            seq: 2,
            hash: sha256_hex(line.as_bytes()),
        }
    };
    verify(&path, Some(&key()), Some(&second)).unwrap();
    verify(&path, None, Some(&Head::genesis())).unwrap();
    let kept: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, kept).unwrap();
    let err = verify(&path, Some(&key()), Some(&head)).unwrap_err();
    assert!(err.to_string().contains("cut off"), "{err}");
    let wrong = Head {
        seq: 2,
        hash: "ab".repeat(32),
    };
    let err = verify(&path, None, Some(&wrong)).unwrap_err();
    assert!(err.to_string().contains("rewritten"), "{err}");
    assert!("3".parse::<Head>().is_err());
    assert!("3:abc".parse::<Head>().is_err());
}

#[test]
fn a_torn_last_line_is_moved_aside_and_the_chain_continues() {
    let (_dir, path) = temp_log("torn");
    write_three(&path);
    let whole = std::fs::read(&path).unwrap();
    let mut torn = whole.clone();
    torn.extend_from_slice(br#"{"v":2,"seq":4,"time_un"#);
    std::fs::write(&path, &torn).unwrap();
    let summary = verify(&path, Some(&key()), None).unwrap();
    assert_eq!((summary.records, summary.torn_bytes), (3, 23));
    std::fs::write(torn_path(&path, ""), b"an earlier one").unwrap();
    let (mut log, moved) = AuditLog::open(&path, key()).unwrap();
    let moved = moved.expect("the torn tail is reported");
    assert_eq!(moved.moved_to, torn_path(&path, ".1"));
    assert_eq!(moved.bytes, 23);
    assert_eq!(
        std::fs::read(&moved.moved_to).unwrap(),
        &torn[whole.len()..]
    );
    assert_eq!(
        std::fs::read(torn_path(&path, "")).unwrap(),
        b"an earlier one"
    );
    let pack = RulePack::default_pack();
    log.append(&RequestInfo::default(), "x", &pack.evaluate("x", false))
        .unwrap();
    drop(log);
    assert_eq!(verify(&path, Some(&key()), None).unwrap().records, 4);
}

#[test]
fn a_legacy_log_verifies_and_continues_in_format_2_but_never_back() {
    let (_dir, path) = temp_log("legacy");
    std::fs::write(&path, LEGACY_LOG).unwrap();
    let summary = verify(&path, Some(&key()), None).unwrap();
    assert_eq!((summary.records, summary.legacy_records), (1, 1));
    write_three(&path);
    let summary = verify(&path, Some(&key()), None).unwrap();
    assert_eq!((summary.records, summary.legacy_records), (4, 1));
    // A format-1 record appended after format-2 ones would carry no MAC: refused.
    let mut text = std::fs::read_to_string(&path).unwrap();
    let prev = summary.head.hash;
    let forged = LEGACY_LOG
        .replace(r#""seq":1"#, r#""seq":5"#)
        .replace(GENESIS_HASH, &prev);
    text.push_str(&forged);
    std::fs::write(&path, text).unwrap();
    assert_eq!(broken_line(verify(&path, None, None)), 5);
}

#[test]
fn a_second_writer_is_refused_and_batches_chain_like_single_appends() {
    let (_dir, path) = temp_log("locked");
    let pack = RulePack::default_pack();
    let (mut first, _) = AuditLog::open(&path, key()).unwrap();
    let err = AuditLog::open(&path, key()).unwrap_err().to_string();
    assert!(err.contains("locked by another process"), "{err}");
    let batch: Vec<Pending> = ["a", "ssn 123-45-6789", "b"]
        .iter()
        .map(|t| Pending::new(&key(), RequestInfo::default(), t, pack.evaluate(t, false)))
        .collect();
    let records = first.append_batch(&batch).unwrap();
    assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
    first
        .append(&RequestInfo::default(), "c", &pack.evaluate("c", false))
        .unwrap();
    let head = first.head().clone();
    drop(first);
    let summary = verify(&path, Some(&key()), None).unwrap();
    assert_eq!((summary.records, summary.head), (4, head));
}

#[test]
fn removed_record_is_reported() {
    let (_dir, path) = temp_log("removed");
    write_three(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text.lines().skip(1).collect();
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
    assert_eq!(broken_line(verify(&path, None, None)), 1);
}

#[test]
fn keys_are_long_enough_and_key_files_private() {
    assert!(AuditKey::from_secret("short").is_err());
    let secret = AuditKey::generate_secret().unwrap();
    assert_eq!(secret.len(), 64);
    assert_ne!(secret, AuditKey::generate_secret().unwrap());
    let (_dir, log) = temp_log("key");
    let path = log.with_file_name("audit.key");
    create_key_file(&path, &secret).unwrap();
    assert!(create_key_file(&path, &secret).is_err(), "never replaced");
    read_key_file(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_key_file(&path).unwrap_err();
        assert!(err.contains("chmod 600"), "{err}");
    }
}

/// Three files of two records each, rotated; the log reopened continues the chain.
fn rotated_log(name: &str) -> (tempfile::TempDir, PathBuf, Vec<PathBuf>) {
    let (dir, path) = temp_log(name);
    let pack = RulePack::default_pack();
    let mut rotated = Vec::new();
    {
        let (mut log, _) = AuditLog::open(&path, key()).unwrap();
        for round in 0..3 {
            for text in ["a", "b"] {
                log.append(&RequestInfo::default(), text, &pack.evaluate(text, false))
                    .unwrap();
            }
            if round < 2 {
                rotated.push(log.rotate().unwrap().expect("records to rotate"));
            }
        }
        assert_eq!(log.rotate().unwrap().map(|_| ()), Some(()));
        assert_eq!(log.rotate().unwrap(), None, "an empty file is not rotated");
    }
    // Reopened: the new (empty) file continues from the last rotated one.
    let (mut log, _) = AuditLog::open(&path, key()).unwrap();
    assert_eq!(log.head().seq, 6);
    let record = log
        .append(&RequestInfo::default(), "c", &pack.evaluate("c", false))
        .unwrap();
    assert_eq!(record.seq, 7);
    (dir, path, rotated)
}

#[test]
fn rotation_continues_the_chain_across_files() {
    let (_dir, path, rotated) = rotated_log("rotate");
    let names: Vec<String> = rotated
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "audit.jsonl.00000000000000000001-00000000000000000002",
            "audit.jsonl.00000000000000000003-00000000000000000004"
        ]
    );
    let files = files_of(path.parent().unwrap()).unwrap();
    assert_eq!(
        files.len(),
        4,
        "three rotated files and the current one: {files:?}"
    );
    let summary = verify_files(&files, Some(&key()), None).unwrap();
    assert_eq!(summary.records, 7);
    let middle = Head {
        seq: 4,
        hash: verify_files(&files[..2], None, None).unwrap().head.hash,
    };
    verify_files(&files, Some(&key()), Some(&middle)).unwrap();
    // The current file alone says what it needs.
    let alone = verify(&path, Some(&key()), None).unwrap_err().to_string();
    assert!(alone.contains("verify it together with them"), "{alone}");
}

#[test]
fn a_missing_or_reordered_middle_file_is_named() {
    let (_dir, path, _) = rotated_log("rotate-missing");
    let files = files_of(path.parent().unwrap()).unwrap();
    let without_middle = [files[0].clone(), files[2].clone(), files[3].clone()];
    let err = verify_files(&without_middle, None, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("{} does not continue", files[2].display())),
        "{err}"
    );
    let swapped = [
        files[1].clone(),
        files[0].clone(),
        files[2].clone(),
        files[3].clone(),
    ];
    let err = verify_files(&swapped, None, None).unwrap_err().to_string();
    assert!(err.contains(&files[1].display().to_string()), "{err}");
}
