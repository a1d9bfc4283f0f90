//! End-to-end tests of the `jimini` and `jimini-admin` binaries.

use std::io::Write;
use std::process::{Output, Stdio};

mod common;

fn run(binary: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = common::binary(binary)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {binary}: {err}"));
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

const JIMINI: &str = env!("CARGO_BIN_EXE_jimini");
const ADMIN: &str = env!("CARGO_BIN_EXE_jimini-admin");

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// A scratch directory, removed with everything in it when the test ends.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("jimini-cli-{name}-"))
        .tempdir()
        .unwrap()
}

#[test]
fn version_line_names_binary_version_target_and_profile() {
    for (binary, name) in [(JIMINI, "jimini"), (ADMIN, "jimini-admin")] {
        let output = run(binary, &["--version"], None);
        assert!(output.status.success());
        let line = stdout(&output);
        let prefix = format!("{name} {} (", env!("CARGO_PKG_VERSION"));
        assert!(line.starts_with(&prefix), "{line}");
        assert!(line.trim_end().ends_with(')'), "{line}");
        assert!(
            line.contains(", dev)") || line.contains(", release)"),
            "{line}"
        );
    }
}

#[test]
fn check_exit_codes_follow_the_decision() {
    let allow = run(JIMINI, &["check", "hello world"], None);
    assert_eq!(allow.status.code(), Some(0));
    assert_eq!(stdout(&allow).trim(), "decision: allow");

    let flag = run(JIMINI, &["check", "mail me at a@example.com"], None);
    assert_eq!(flag.status.code(), Some(0));
    assert!(stdout(&flag).contains("email-address"));

    let block = run(
        JIMINI,
        &["check", "ssn 123-45-6789 and a@example.com"],
        None,
    );
    assert_eq!(block.status.code(), Some(3));
    let text = stdout(&block);
    assert!(text.starts_with("decision: block"), "{text}");
    assert!(
        text.contains("us-ssn") && text.contains("email-address"),
        "{text}"
    );
}

#[test]
fn check_reads_stdin_and_prints_json() {
    let output = run(
        JIMINI,
        &["check", "--json", "-"],
        Some("key AKIAIOSFODNN7EXAMPLE"),
    );
    assert_eq!(output.status.code(), Some(3));
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value["decision"], "block");
    assert_eq!(value["matches"][0]["rule_id"], "aws-access-key");
}

#[test]
fn shadow_mode_allows_and_reports() {
    let output = run(
        JIMINI,
        &["check", "--shadow", "--json", "123-45-6789"],
        None,
    );
    assert_eq!(output.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value["decision"], "allow");
    assert_eq!(value["rules_decision"], "block");
}

#[test]
fn custom_rules_and_usage_errors() {
    let dir = temp_dir("rules");
    let pack = dir.path().join("pack.toml");
    std::fs::write(
        &pack,
        "[[rule]]\nid = \"secret\"\npattern = \"(?i)classified\"\naction = \"block\"\n",
    )
    .unwrap();
    let output = run(
        JIMINI,
        &["check", "--rules", pack.to_str().unwrap(), "CLASSIFIED doc"],
        None,
    );
    assert_eq!(output.status.code(), Some(3));
    assert!(stdout(&output).contains("secret"));

    let missing = run(
        JIMINI,
        &["check", "--rules", "/nonexistent/pack.toml", "x"],
        None,
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("/nonexistent/pack.toml"));

    let usage = run(JIMINI, &["frobnicate"], None);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn admin_lints_rule_packs_by_rule_id() {
    let dir = temp_dir("lint");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, jimini::rules::DEFAULT_RULES).unwrap();
    let output = run(ADMIN, &["rules", "lint", good.to_str().unwrap()], None);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("5 rules, ok"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nid = \"oops\"\npattern = \"[a-\"\naction = \"flag\"\n",
    )
    .unwrap();
    let output = run(ADMIN, &["rules", "lint", bad.to_str().unwrap()], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("rule `oops`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn admin_version_json_carries_build_info() {
    let output = run(ADMIN, &["version", "--json"], None);
    assert!(output.status.success());
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value["version"], env!("CARGO_PKG_VERSION"));
    assert!(value["target"].as_str().unwrap().contains('-'));
}

#[test]
fn admin_json_reports_every_command_and_failures_too() {
    let dir = temp_dir("admin-json");
    let log = dir.path().join("audit.jsonl");
    std::fs::write(&log, "").unwrap();
    let output = run(
        ADMIN,
        &["audit", "verify", log.to_str().unwrap(), "--json"],
        None,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value["ok"], true);
    assert_eq!(value["records"], 0);
    assert_eq!(value["macs_checked"], false);
    assert_eq!(value["head"]["seq"], 0);

    std::fs::write(&log, "not a record\n").unwrap();
    let output = run(
        ADMIN,
        &["--json", "audit", "verify", log.to_str().unwrap()],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value["ok"], false);
    assert!(
        value["error"].as_str().unwrap().contains("audit.jsonl"),
        "{value}"
    );

    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, jimini::rules::DEFAULT_RULES).unwrap();
    let output = run(
        ADMIN,
        &["rules", "lint", "--json", rules.to_str().unwrap()],
        None,
    );
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        (value["ok"].clone(), value["rules"].clone()),
        (true.into(), 5.into())
    );
}

#[test]
fn server_with_an_unreadable_rules_file_fails_with_exit_1() {
    let scratch = temp_dir("server-rules");
    let missing = scratch.path().join("missing.toml");
    let output = common::binary(env!("CARGO_BIN_EXE_jimini-server"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--rules",
            missing.to_str().unwrap(),
        ])
        .env("JIMINI_API_KEY", "k")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("missing.toml"),
        "{}",
        stderr(&output)
    );
}

/// Output that cannot be written (a full disk, a reader that closed the pipe) is an error with
/// exit code 1, never a panic, and never the exit code of a successful check: a blocked text
/// whose report was lost does not exit 3.
#[cfg(target_os = "linux")]
#[test]
fn output_that_cannot_be_written_is_an_error_not_a_panic() {
    let dir = temp_dir("lost-output");
    let log = dir.path().join("audit.jsonl");
    std::fs::write(&log, "").unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, jimini::rules::DEFAULT_RULES).unwrap();
    let (log, rules) = (log.to_str().unwrap(), rules.to_str().unwrap());
    let server = env!("CARGO_BIN_EXE_jimini-server");
    let commands: [(&str, &[&str]); 8] = [
        (JIMINI, &["check", "ssn 123-45-6789"]),
        (JIMINI, &["check", "--json", "hello"]),
        (JIMINI, &["--version"]),
        (ADMIN, &["audit", "verify", log]),
        (ADMIN, &["audit", "verify", "--json", log]),
        (ADMIN, &["rules", "lint", rules]),
        (server, &["--version"]),
        (server, &["--help"]),
    ];
    for (binary, args) in commands {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let (reader, closed) = std::io::pipe().unwrap();
        drop(reader);
        for (stdout, why) in [
            (Stdio::from(full), "No space left on device"),
            (Stdio::from(closed), "Broken pipe"),
        ] {
            let output = common::binary(binary)
                .args(args)
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(Stdio::piped())
                .output()
                .unwrap();
            let message = stderr(&output);
            assert_eq!(
                output.status.code(),
                Some(1),
                "{binary} {args:?} ({why}): {message}"
            );
            assert!(
                message.contains("cannot write to standard output") && message.contains(why),
                "{binary} {args:?}: {message}"
            );
            assert!(!message.contains("panicked"), "{message}");
        }
    }
}
