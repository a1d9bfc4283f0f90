//! The audit log as the server keeps it: keys, heads, torn lines, old formats, one writer.

use super::*;

#[test]
fn a_second_server_on_the_same_log_refuses_to_start() {
    let dir = temp_dir("locked");
    let log = dir.path().join("audit.jsonl");
    let first = RunningServer::start(&log, &[]);
    let second = start_expecting_failure(&log, &[]);
    assert_eq!(second.status.code(), Some(1));
    let text = String::from_utf8_lossy(&second.stderr);
    assert!(
        text.contains("locked by another process") && text.contains("audit.jsonl"),
        "{text}"
    );
    assert_alive(&first);
    assert!(first.stop().success());
}

#[test]
fn the_audit_key_is_created_private_and_catches_an_edit_to_the_last_record() {
    let dir = temp_dir("mac");
    let log = dir.path().join("audit.jsonl");
    let server = RunningServer::start(&log, &[]);
    assert!(
        server.notes.contains("created the audit key file"),
        "{}",
        server.notes
    );
    assert_eq!(server.evaluate(r#"{"text":"ssn 123-45-6789"}"#).0, 200);
    assert_eq!(server.evaluate(r#"{"text":"hello"}"#).0, 200);
    assert!(server.stop().success());
    let key_file = key_file_of(&log);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.lines().all(|line| line.starts_with(r#"{"v":2,"#)));
    // The plain SHA-256 of the text, which 0.2.0 logged and anyone could brute-force.
    assert!(!text.contains("e9b0d9ad8a7d8ff5d2b2c8ab7c8a4a1fb3a1c5b1ba1fd7ad0b49bd4f74d50e8f"));
    assert!(text.contains(r#""text_hmac":"#) && !text.contains("text_sha256"));

    let key_arg = ["--key", key_file.to_str().unwrap()];
    let output = verify_with(&log, &key_arg);
    assert!(output.status.success(), "{}", stdout_of(&output));
    assert!(stdout_of(&output).contains("MACs: all verified"));

    // A restart under another key is refused; nothing is appended under it.
    let other = "x".repeat(40);
    let refused = start_expecting_failure(&log, &[("JIMINI_AUDIT_KEY", &other)]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stdout_of(&refused).contains("key is not the one"),
        "{}",
        stdout_of(&refused)
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), text);

    // Edit the last record, which no later record's chain hash covers.
    let tampered = text.replacen(r#""text_len":5"#, r#""text_len":6"#, 1);
    assert_ne!(tampered, text);
    std::fs::write(&log, &tampered).unwrap();
    let unkeyed = verify(&log);
    assert!(unkeyed.status.success(), "{}", stdout_of(&unkeyed));
    assert!(
        stdout_of(&unkeyed).contains("MACs: NOT checked"),
        "{}",
        stdout_of(&unkeyed)
    );
    let keyed = verify_with(&log, &key_arg);
    assert_eq!(keyed.status.code(), Some(1));
    assert!(
        stdout_of(&keyed).contains("line 2: the MAC does not match"),
        "{}",
        stdout_of(&keyed)
    );
    let output = common::binary(ADMIN)
        .args(["audit", "verify", log.to_str().unwrap()])
        .env(
            "JIMINI_AUDIT_KEY",
            std::fs::read_to_string(&key_file).unwrap(),
        )
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "the key from the environment"
    );
}

#[test]
fn the_served_head_catches_a_log_cut_short() {
    let dir = temp_dir("head");
    let log = dir.path().join("audit.jsonl");
    let server = RunningServer::start(&log, &[]);
    for text in ["a", "b", "c"] {
        assert_eq!(server.evaluate(&format!(r#"{{"text":"{text}"}}"#)).0, 200);
    }
    assert_eq!(server.request("GET", "/v1/audit/head", &[], "").0, 401);
    let auth = format!("Bearer {KEY}");
    let (status, body) = server.request("GET", "/v1/audit/head", &[("Authorization", &auth)], "");
    assert_eq!(status, 200, "{body}");
    let head: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(head["seq"], 3);
    let head = format!("{}:{}", head["seq"], head["hash"].as_str().unwrap());
    assert!(server.stop().success());

    let output = verify_with(&log, &["--expect-head", &head]);
    assert!(output.status.success(), "{}", stdout_of(&output));
    assert!(stdout_of(&output).contains(&format!("head: {head}")));

    // Dropping the last record leaves a chain that verifies on its own, but not the head.
    let text = std::fs::read_to_string(&log).unwrap();
    let kept: String = text
        .lines()
        .take(2)
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&log, kept).unwrap();
    let key_file = key_file_of(&log);
    assert!(
        verify_with(&log, &["--key", key_file.to_str().unwrap()])
            .status
            .success()
    );
    let output = verify_with(&log, &["--expect-head", &head]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout_of(&output).contains("cut off"),
        "{}",
        stdout_of(&output)
    );
    let output = verify_with(&log, &["--expect-head", "3:nothex"]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout_of(&output));
}

#[test]
fn a_torn_last_line_is_moved_aside_on_start() {
    let dir = temp_dir("torn");
    let log = dir.path().join("audit.jsonl");
    let server = RunningServer::start(&log, &[]);
    assert_eq!(server.evaluate(r#"{"text":"a"}"#).0, 200);
    assert!(server.stop().success());
    let torn = br#"{"v":2,"seq":2,"time_unix"#;
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(torn);
    std::fs::write(&log, &bytes).unwrap();

    let server = RunningServer::start(&log, &[]);
    assert!(
        server.notes.contains("torn line") && server.notes.contains("audit.jsonl.torn"),
        "{}",
        server.notes
    );
    let (status, body) = server.evaluate(r#"{"text":"b"}"#);
    assert_eq!(status, 200);
    assert!(body.contains(r#""audit_seq":2"#), "{body}");
    assert!(server.stop().success());
    assert_eq!(
        std::fs::read(dir.path().join("audit.jsonl.torn")).unwrap(),
        torn
    );
    let key_file = key_file_of(&log);
    let output = verify_with(&log, &["--key", key_file.to_str().unwrap()]);
    assert!(
        stdout_of(&output).contains("2 records"),
        "{}",
        stdout_of(&output)
    );
}

#[test]
fn a_0_2_0_log_is_still_read_and_continued_with_macs() {
    let dir = temp_dir("legacy");
    let log = dir.path().join("audit.jsonl");
    // Written by jimini-server 0.2.0.
    let legacy = concat!(
        r#"{"seq":1,"time_unix_ms":1700000000000,"endpoint":null,"direction":null,"#,
        r#""decision":"allow","rules_decision":"allow","shadow":false,"rule_ids":[],"#,
        r#""text_sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","#,
        r#""text_len":5,"#,
        r#""prev_sha256":"0000000000000000000000000000000000000000000000000000000000000000"}"#,
        "\n"
    );
    std::fs::write(&log, legacy).unwrap();
    let output = verify(&log);
    assert!(
        stdout_of(&output).contains("1 records"),
        "{}",
        stdout_of(&output)
    );
    let secret = "s".repeat(32);
    let server = RunningServer::start_with(&log, &[], &[("JIMINI_AUDIT_KEY", &secret)]);
    assert!(!server.notes.contains("key file"), "{}", server.notes);
    let (status, body) = server.evaluate(r#"{"text":"hello"}"#);
    assert_eq!(status, 200);
    assert!(body.contains(r#""audit_seq":2"#), "{body}");
    assert!(server.stop().success());
    assert!(!key_file_of(&log).exists());
    let output = common::binary(ADMIN)
        .args(["audit", "verify", log.to_str().unwrap()])
        .env("JIMINI_AUDIT_KEY", &secret)
        .output()
        .unwrap();
    let text = stdout_of(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("2 records") && text.contains("first 1 records are from before 0.3"),
        "{text}"
    );
}
