//! The server on a loopback port: auth, 400/401/413, the audit chain and graceful shutdown.
//! Runs on every target the app's tests run on (natively, under qemu and under wine): the
//! server is stopped by closing its stdin (`--exit-on-stdin-eof`), and by SIGTERM on Unix.
#![cfg(feature = "server")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

mod common;

const SERVER: &str = env!("CARGO_BIN_EXE_jimini-server");
const ADMIN: &str = env!("CARGO_BIN_EXE_jimini-admin");
const KEY: &str = "test-key-123";

struct RunningServer {
    child: Child,
    addr: String,
    /// What the server said before its address line (a new key file, a torn line).
    notes: String,
}

impl RunningServer {
    fn start(audit_log: &Path, extra: &[&str]) -> RunningServer {
        RunningServer::start_with(audit_log, extra, &[])
    }

    fn start_with(audit_log: &Path, extra: &[&str], env: &[(&str, &str)]) -> RunningServer {
        let mut child = common::binary(SERVER)
            .args([
                "--bind",
                "127.0.0.1:0",
                "--audit-log",
                audit_log.to_str().unwrap(),
            ])
            .arg("--exit-on-stdin-eof")
            .args(extra)
            .env("JIMINI_API_KEY", KEY)
            .env_remove("JIMINI_AUDIT_KEY")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        // The notes of the start (a new key file, a torn line) come before the address line.
        let mut notes = String::new();
        let mut line = String::new();
        while !line.contains("http://") {
            notes.push_str(&line);
            line.clear();
            if stderr.read_line(&mut line).unwrap() == 0 {
                panic!("the server ended before listening: {notes}");
            }
        }
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        RunningServer { child, addr, notes }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        self.request_from("127.0.0.1", method, path, headers, body)
    }

    /// A request from another loopback address: the server counts connections per address.
    fn request_from(
        &self,
        source: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut stream = connect_from(source, &self.addr);
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        (status, body)
    }

    fn evaluate(&self, body: &str) -> (u16, String) {
        let auth = format!("Bearer {KEY}");
        self.request("POST", "/v1/evaluate", &[("Authorization", &auth)], body)
    }

    /// Stops the server the portable way: its stdin closes.
    fn stop(mut self) -> std::process::ExitStatus {
        drop(self.child.stdin.take());
        self.child.wait().unwrap()
    }

    #[cfg(unix)]
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

/// A scratch directory, removed with everything in it when the test ends.
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("jimini-server-{name}-"))
        .tempdir()
        .unwrap()
}

/// Runs a server on `log` that must refuse to start; returns how it ended.
fn start_expecting_failure(log: &Path, env: &[(&str, &str)]) -> Output {
    common::binary(SERVER)
        .args([
            "--bind",
            "127.0.0.1:0",
            "--audit-log",
            log.to_str().unwrap(),
        ])
        .env("JIMINI_API_KEY", KEY)
        .env_remove("JIMINI_AUDIT_KEY")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn verify(log: &Path) -> Output {
    verify_with(log, &[])
}

fn verify_with(log: &Path, extra: &[&str]) -> Output {
    common::binary(ADMIN)
        .args(["audit", "verify", log.to_str().unwrap()])
        .args(extra)
        .env_remove("JIMINI_AUDIT_KEY")
        .output()
        .unwrap()
}

#[test]
fn health_version_and_evaluate_with_audit_chain() {
    let dir = temp_dir("main");
    let log = dir.path().join("audit.jsonl");
    let server = RunningServer::start(&log, &[]);

    let (status, body) = server.request("GET", "/health", &[], "");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));

    let (status, body) = server.request("GET", "/version", &[], "");
    assert_eq!(status, 200);
    let version: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));

    let (status, body) =
        server.evaluate(r#"{"text":"ssn 123-45-6789","endpoint":"/chat","direction":"inbound"}"#);
    assert_eq!(status, 200, "{body}");
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["decision"], "block");
    assert_eq!(value["audit_seq"], 1);

    let (status, body) = server.evaluate(r#"{"text":"hello"}"#);
    assert_eq!(status, 200);
    assert!(body.contains(r#""decision":"allow""#), "{body}");

    // The record is durable before the response, so it is already on disk now.
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.contains(r#""endpoint":"/chat""#));
    assert!(!text.contains("123-45-6789"));

    let status = server.stop();
    assert!(
        status.success(),
        "closing stdin must shut down cleanly, got {status}"
    );

    let output = verify(&log);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("2 records"));

    // Tampering with the first record is caught at line 2.
    let tampered = text.replacen(r#""decision":"block""#, r#""decision":"allow""#, 1);
    std::fs::write(&log, tampered).unwrap();
    let output = verify(&log);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("line 2"));
}

#[test]
fn rejects_bad_auth_malformed_json_and_large_bodies() {
    let dir = temp_dir("errors");
    let log = dir.path().join("audit.jsonl");
    let server = RunningServer::start(&log, &["--max-body-bytes", "100"]);

    let (status, _) = server.request("POST", "/v1/evaluate", &[], r#"{"text":"x"}"#);
    assert_eq!(status, 401, "missing key");
    let (status, _) = server.request(
        "POST",
        "/v1/evaluate",
        &[("Authorization", "Bearer wrong")],
        r#"{"text":"x"}"#,
    );
    assert_eq!(status, 401, "wrong key");

    let (status, body) = server.evaluate("{not json");
    assert_eq!(status, 400, "{body}");
    let (status, _) = server.evaluate(r#"{"txt":"typo"}"#);
    assert_eq!(status, 400);

    let big = format!(r#"{{"text":"{}"}}"#, "a".repeat(200));
    let (status, _) = server.evaluate(&big);
    assert_eq!(status, 413);

    let (status, _) = server.request("GET", "/nope", &[], "");
    assert_eq!(status, 404);
    let (status, _) = server.request("GET", "/v1/evaluate", &[], "");
    assert_eq!(status, 405);

    assert!(server.stop().success());
    let audit = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        audit, "",
        "rejected requests make no decision and no record"
    );
}

#[test]
fn refuses_to_start_without_api_key_or_on_a_broken_log() {
    let output = common::binary(SERVER)
        .args(["--bind", "127.0.0.1:0"])
        .env_remove("JIMINI_API_KEY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("JIMINI_API_KEY"));

    let dir = temp_dir("broken");
    let log = dir.path().join("audit.jsonl");
    std::fs::write(&log, "{\"garbage\": true}\n").unwrap();
    let output = start_expecting_failure(&log, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("line 1"));
}

#[cfg(unix)]
#[test]
fn sigterm_finishes_cleanly_with_the_audit_log_durable() {
    let dir = temp_dir("sigterm");
    let log = dir.path().join("audit.jsonl");
    let server = RunningServer::start(&log, &[]);
    let (status, _) = server.evaluate(r#"{"text":"hello"}"#);
    assert_eq!(status, 200);
    let status = server.terminate();
    assert!(
        status.success(),
        "SIGTERM must shut down cleanly, got {status}"
    );
    assert!(verify(&log).status.success());
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
}

/// Sends raw bytes and reads until the server closes the connection (or `timeout`).
fn raw(addr: &str, bytes: &[u8], timeout: std::time::Duration) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    let _ = stream.write_all(bytes);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

fn status_of(response: &str) -> u16 {
    response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"))
}

fn assert_alive(server: &RunningServer) {
    let (status, body) = server.request("GET", "/health", &[], "");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
}

const SECOND: std::time::Duration = std::time::Duration::from_secs(1);

#[test]
fn declared_bodies_over_the_limit_get_413_unread_on_every_route_and_the_server_lives() {
    let dir = temp_dir("huge");
    let server = RunningServer::start(
        &dir.path().join("audit.jsonl"),
        &["--max-body-bytes", "100"],
    );
    // Killed the 0.2.0 server: tiny_http drained the body with `vec![0; remaining]`. hyper
    // refuses a length this size while parsing the head, with a 4xx and a closed connection.
    let head =
        "POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n";
    let response = raw(&server.addr, head.as_bytes(), 5 * SECOND);
    assert!((400..500).contains(&status_of(&response)), "{response}");
    assert_alive(&server);
    for head in [
        "POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n",
        "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n",
    ] {
        // The server answers and closes without waiting for the body that never comes.
        let response = raw(&server.addr, head.as_bytes(), 5 * SECOND);
        assert_eq!(status_of(&response), 413, "{head:?}: {response}");
        assert!(
            response.to_lowercase().contains("connection: close"),
            "{response}"
        );
        assert_alive(&server);
    }
    assert!(server.stop().success());
}

#[test]
fn a_chunked_body_is_cut_off_at_the_limit() {
    let dir = temp_dir("chunked");
    let log = dir.path().join("audit.jsonl");
    let server = RunningServer::start(&log, &["--max-body-bytes", "100"]);
    let mut request = format!(
        "POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    for _ in 0..10 {
        request.push_str("40\r\n");
        request.push_str(&"a".repeat(64));
        request.push_str("\r\n");
    }
    let response = raw(&server.addr, request.as_bytes(), 5 * SECOND);
    assert_eq!(status_of(&response), 413, "{response}");
    assert_alive(&server);
    assert!(server.stop().success());
    assert_eq!(std::fs::read_to_string(&log).unwrap_or_default(), "");
}

#[test]
fn malformed_and_oversized_requests_get_4xx_never_a_crash() {
    let dir = temp_dir("malformed");
    let server = RunningServer::start(&dir.path().join("audit.jsonl"), &[]);
    let garbage = raw(&server.addr, b"GARBAGE\r\n\r\n", 5 * SECOND);
    assert_eq!(status_of(&garbage), 400, "{garbage}");
    let flood = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\n{}\r\n",
        "X-Flood: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(1000)
    );
    let response = raw(&server.addr, flood.as_bytes(), 5 * SECOND);
    assert_eq!(status_of(&response), 431, "{response}");
    let auth = format!("Bearer {KEY}");
    let (status, _) = server.request(
        "POST",
        "/v1/evaluate",
        &[("Authorization", &auth)],
        "{\"text\":\"\u{fffd}\"}",
    );
    assert_eq!(status, 200, "valid UTF-8 replacement characters are text");
    let invalid = [
        format!("POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 12\r\n\r\n").into_bytes(),
        b"{\"text\":\"\xff\xfe\"}".to_vec(),
    ]
    .concat();
    let response = raw(&server.addr, &invalid, 5 * SECOND);
    assert_eq!(status_of(&response), 400, "{response}");
    // Deeply nested JSON: serde_json's recursion limit answers it, the stack is safe.
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let (status, _) = server.evaluate(&nested);
    assert_eq!(status, 400);
    assert_alive(&server);
    assert!(server.stop().success());
}

#[test]
fn three_hundred_trickling_connections_do_not_keep_health_from_answering() {
    let dir = temp_dir("slowloris");
    // All 300 from one address: without the per-client share, so all of them are held (the
    // share is tested below, with a second address).
    let server = RunningServer::start(
        &dir.path().join("audit.jsonl"),
        &["--max-connections-per-client", "0"],
    );
    let mut idle = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(&server.addr).unwrap();
        stream
            .write_all(b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        idle.push(stream);
    }
    let mut health = TcpStream::connect(&server.addr).unwrap();
    health.set_read_timeout(Some(SECOND)).unwrap();
    health
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    health
        .read_to_string(&mut response)
        .expect("/health answers within a second");
    assert_eq!(status_of(&response), 200);
    drop(idle);
    assert!(server.stop().success());
}

#[test]
fn concurrent_clients_make_one_unbroken_chain() {
    let dir = temp_dir("concurrent");
    let log = dir.path().join("audit.jsonl");
    let server = std::sync::Arc::new(RunningServer::start(&log, &[]));
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let server = std::sync::Arc::clone(&server);
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        let (status, body) =
                            server.evaluate(&format!(r#"{{"text":"client {t} request {i}"}}"#));
                        assert_eq!(status, 200, "{body}");
                        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
                        value["audit_seq"].as_u64().unwrap()
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    seqs.sort();
    assert_eq!(
        seqs,
        (1..=400).collect::<Vec<u64>>(),
        "every record acknowledged once"
    );
    let server = std::sync::Arc::into_inner(server).unwrap();
    assert!(server.stop().success());
    let output = verify(&log);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("400 records"));
}

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

fn stdout_of(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    format!("{stdout}{stderr}")
}

fn key_file_of(log: &Path) -> PathBuf {
    log.with_file_name("audit.jsonl.key")
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

/// `name value` of one sample in a Prometheus text exposition.
fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {name} in\n{metrics}"))
        .parse()
        .unwrap()
}

#[test]
fn metrics_count_requests_decisions_and_audit_commits() {
    let dir = temp_dir("metrics");
    let log = dir.path().join("audit.jsonl");
    let server = RunningServer::start(&log, &["--shadow"]);
    assert_eq!(server.evaluate(r#"{"text":"ssn 123-45-6789"}"#).0, 200);
    assert_eq!(server.evaluate(r#"{"text":"hello"}"#).0, 200);
    for n in 0..3 {
        assert_eq!(
            server.request("GET", &format!("/random-{n}"), &[], "").0,
            404
        );
    }
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, metrics) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert_eq!(
        sample(
            metrics,
            r#"jimini_http_requests_total{route="evaluate",status="200"}"#
        ),
        2.0
    );
    // Unknown paths share one series: random paths cannot grow the output.
    assert_eq!(
        sample(
            metrics,
            r#"jimini_http_requests_total{route="other",status="404"}"#
        ),
        3.0
    );
    assert_eq!(
        sample(
            metrics,
            r#"jimini_decisions_total{decision="allow",rules_decision="block"}"#
        ),
        1.0,
        "shadow mode: the rules blocked, the gateway allowed"
    );
    assert_eq!(sample(metrics, "jimini_audit_records_total"), 2.0);
    let fsyncs = sample(metrics, "jimini_audit_fsyncs_total");
    assert!((1.0..=2.0).contains(&fsyncs), "{fsyncs}");
    assert_eq!(sample(metrics, "jimini_audit_commit_seconds_count"), fsyncs);
    assert!(metrics.contains("# TYPE jimini_audit_commit_seconds histogram"));
    assert!(server.stop().success());
}

/// One HTTP/1.1 connection kept alive across requests, as load generators use them.
struct KeepAlive {
    reader: BufReader<TcpStream>,
}

impl KeepAlive {
    fn connect(addr: &str) -> std::io::Result<KeepAlive> {
        Ok(KeepAlive {
            reader: BufReader::new(TcpStream::connect(addr)?),
        })
    }

    /// Evaluates `text`; the audit seq of the answer, or an error once the server is gone.
    fn evaluate(&mut self, text: &str) -> std::io::Result<u64> {
        let body = format!(r#"{{"text":"{text}"}}"#);
        let request = format!(
            "POST /v1/evaluate HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {KEY}\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.reader.get_mut().write_all(request.as_bytes())?;
        let mut status = String::new();
        self.reader.read_line(&mut status)?;
        let mut length = 0;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if line == "\r\n" {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        Ok(value["audit_seq"].as_u64().unwrap())
    }
}

const CLIENTS: usize = 32;

/// Requests per client: the full load natively; a tenth of it where every instruction of the
/// server is emulated (qemu, wine), which is there to prove the same code paths, not the volume.
fn requests_per_client() -> usize {
    let emulated = std::env::var_os("JIMINI_TEST_RUNNER").is_some() || cfg!(windows);
    if emulated { 100 } else { 1000 }
}

/// Starts `CLIENTS` clients that send up to `requests_per_client()` evaluations each over one
/// connection; each returns the audit seqs it was answered with, until the server went away.
fn load(server: &RunningServer) -> Vec<std::thread::JoinHandle<Vec<u64>>> {
    (0..CLIENTS)
        .map(|client| {
            let addr = server.addr.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                let Ok(mut connection) = KeepAlive::connect(&addr) else {
                    return acknowledged;
                };
                for request in 0..requests_per_client() {
                    match connection.evaluate(&format!("client {client} request {request}")) {
                        Ok(seq) => acknowledged.push(seq),
                        Err(_) => break,
                    }
                }
                acknowledged
            })
        })
        .collect()
}

#[test]
fn thirty_two_clients_times_a_thousand_requests_lose_nothing() {
    let dir = temp_dir("load");
    let log = dir.path().join("audit.jsonl");
    let server = RunningServer::start(&log, &[]);
    let mut seqs: Vec<u64> = load(&server)
        .into_iter()
        .flat_map(|client| client.join().unwrap())
        .collect();
    seqs.sort_unstable();
    let total = (CLIENTS * requests_per_client()) as u64;
    assert_eq!(
        seqs,
        (1..=total).collect::<Vec<u64>>(),
        "each answered once"
    );
    assert!(server.stop().success());
    let key_file = key_file_of(&log);
    let output = verify_with(&log, &["--key", key_file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stdout_of(&output));
    assert!(stdout_of(&output).contains(&format!("{total} records, chain intact")));
}

#[test]
fn stopping_under_load_loses_no_acknowledged_record() {
    let dir = temp_dir("load-stop");
    let log = dir.path().join("audit.jsonl");
    let server = RunningServer::start(&log, &[]);
    let clients = load(&server);
    // Stop once a good part of the run is in the log, while every client is still sending.
    let records_before_stop = (CLIENTS * requests_per_client() / 16) as u64;
    while std::fs::metadata(&log).unwrap().len() < records_before_stop * 300 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    #[cfg(unix)]
    let status = server.terminate();
    #[cfg(not(unix))]
    let status = server.stop();
    assert!(status.success(), "{status}");
    let mut acknowledged: Vec<u64> = clients
        .into_iter()
        .flat_map(|client| client.join().unwrap())
        .collect();
    acknowledged.sort_unstable();
    let key_file = key_file_of(&log);
    let output = verify_with(&log, &["--key", key_file.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stdout_of(&output));
    let records: u64 = stdout_of(&output)
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        acknowledged.len() < CLIENTS * requests_per_client(),
        "the stop came in the middle of the run"
    );
    acknowledged.dedup();
    assert!(
        acknowledged.last().is_some_and(|last| *last <= records),
        "every acknowledged record is in the log: {} acknowledged, {records} records",
        acknowledged.len()
    );
    // The chain has no gaps, so seq ≤ records means the record is there.
    assert!(acknowledged.len() as u64 <= records);
}

/// A connection to `addr` from the loopback address `source`.
fn connect_from(source: &str, addr: &str) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let source: std::net::SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&source.into()).unwrap();
    let target: std::net::SocketAddr = addr.parse().unwrap();
    socket.connect(&target.into()).unwrap();
    socket.into()
}

/// Evaluates from `source` (another loopback address than the attacker's); the status, or 0
/// when no answer came within a second.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn evaluate_from(source: &str, addr: &str) -> u16 {
    let mut stream = connect_from(source, addr);
    stream.set_read_timeout(Some(SECOND)).unwrap();
    let body = r#"{"text":"hello"}"#;
    let request = format!(
        "POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // A refused connection may already be reset when the request goes out.
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut response = String::new();
    match stream.read_to_string(&mut response) {
        Ok(_) if response.len() >= 12 => status_of(&response),
        _ => 0,
    }
}

/// One client holding and re-opening 3,000 idle connections cannot starve another: its share
/// is 64 connections, the rest are closed at accept and counted. (Natively only: thousands of
/// connections a second are a test of the machine under qemu, not of the server.)
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn one_client_with_thousands_of_idle_connections_cannot_starve_another() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = temp_dir("starve");
    let server = RunningServer::start(&dir.path().join("audit.jsonl"), &[]);
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let attacker = {
        let (addr, stop) = (server.addr.clone(), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            // Holds up to 3,000 connections and re-opens each one the server closes (those it
            // refuses at once, the idle ones after the head timeout), a thousand a second once
            // it holds 1,100: the issue's attacker re-opened about 200 a second.
            let mut held: Vec<TcpStream> = Vec::new();
            let mut opened = 0u64;
            let mut swept = std::time::Instant::now();
            while !stop.load(Ordering::Relaxed) {
                if swept.elapsed() > std::time::Duration::from_millis(50) {
                    // Open and silent: peek would block. Closed by the server: 0 or an error.
                    held.retain(|stream| {
                        let peeked = stream.peek(&mut [0u8; 1]);
                        matches!(peeked, Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock)
                    });
                    swept = std::time::Instant::now();
                }
                if held.len() >= 3000 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    continue;
                }
                if let Ok(stream) = TcpStream::connect(&addr) {
                    stream.set_nonblocking(true).unwrap();
                    held.push(stream);
                    opened += 1;
                }
                if held.len() >= 1100 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
            opened
        })
    };
    std::thread::sleep(SECOND);
    for call in 0..200 {
        let started = std::time::Instant::now();
        let status = evaluate_from("127.0.0.2", &server.addr);
        assert_eq!(status, 200, "call {call} got no 200 within a second");
        assert!(
            started.elapsed() < SECOND,
            "call {call} took {:?}",
            started.elapsed()
        );
    }
    stop.store(true, Ordering::Relaxed);
    let opened = attacker.join().unwrap();
    assert!(
        opened > 3000,
        "the attacker opened only {opened} connections"
    );
    // Asked from the other address: the attacker's closed connections may still hold its
    // address's share until the server has seen every one of them end.
    let (_, metrics) = server.request_from("127.0.0.2", "GET", "/metrics", &[], "");
    assert!(
        sample(
            &metrics,
            "jimini_connections_refused_total{reason=\"per_client\"}"
        ) > 0.0,
        "{metrics}"
    );
    // Once those ends are seen, the attacker's address gets its share back.
    let deadline = std::time::Instant::now() + 10 * SECOND;
    while evaluate_from("127.0.0.1", &server.addr) != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "127.0.0.1 still refused 10 s after its connections closed"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_alive(&server);
    assert!(server.stop().success());
}

/// A small tmpfs (the tests run as root): full, evaluations get 503 with Retry-After and
/// readiness says why, a restart still works, and when space returns evaluations resume by
/// themselves; the log verifies and holds exactly the acknowledged records.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[test]
fn a_full_disk_gets_503_and_not_ready_then_resumes_without_a_restart() {
    let dir = temp_dir("full-disk");
    let mount = dir.path().join("tmpfs");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(&mount)
        .status()
        .unwrap();
    assert!(
        mounted.success(),
        "mounting a tmpfs needs root: run the tests as root"
    );
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    let log = mount.join("audit.jsonl");
    let key = [(
        "JIMINI_AUDIT_KEY",
        "0123456789abcdef0123456789abcdef-full-disk",
    )];
    let filler = mount.join("filler");
    std::fs::write(&filler, vec![0u8; 160 * 1024]).unwrap();

    let server = RunningServer::start_with(&log, &[], &key);
    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for _ in 0..5000 {
        let (status, body) = server.evaluate(r#"{"text":"ssn 123-45-6789"}"#);
        match status {
            200 => {
                let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
                acknowledged.push(answer["audit_seq"].as_u64().unwrap());
            }
            503 => {
                refused += 1;
                if refused == 3 {
                    break;
                }
            }
            other => panic!("a full disk answered {other}: {body}"),
        }
    }
    assert_eq!(refused, 3, "the disk never filled");
    let raw_answer = raw(
        &server.addr,
        format!(
            "POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n\
             Connection: close\r\nContent-Length: 12\r\n\r\n{{\"text\":\"a\"}}"
        )
        .as_bytes(),
        SECOND,
    );
    assert_eq!(status_of(&raw_answer), 503);
    assert!(
        raw_answer.to_ascii_lowercase().contains("retry-after: 5"),
        "{raw_answer}"
    );
    let (status, body) = server.request("GET", "/ready", &[], "");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("No space left"), "{body}");
    let (status, _) = server.request("GET", "/health", &[], "");
    assert_eq!(status, 200, "liveness is not readiness");
    let (_, metrics) = server.request("GET", "/metrics", &[], "");
    assert_eq!(sample(&metrics, "jimini_ready"), 0.0);

    // Space returns: the same server is ready again and decides, without a restart.
    let resumes = |server: &RunningServer, acknowledged: &mut Vec<u64>, filler: &Path| {
        std::fs::remove_file(filler).unwrap();
        let ready = (0..50).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            server.request("GET", "/ready", &[], "").0 == 200
        });
        assert!(ready, "readiness did not come back after space was freed");
        for _ in 0..10 {
            let (status, body) = server.evaluate(r#"{"text":"hello"}"#);
            assert_eq!(status, 200, "{body}");
            let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
            acknowledged.push(answer["audit_seq"].as_u64().unwrap());
        }
    };
    resumes(&server, &mut acknowledged, &filler);

    // Full again, and a restart while it is: nothing torn to move, it starts, and resumes.
    let mut filled = std::fs::File::create(mount.join("filler-2")).unwrap();
    while std::io::Write::write_all(&mut filled, &[0u8; 4096]).is_ok() {}
    drop(filled);
    let (status, _) = server.evaluate(r#"{"text":"a"}"#);
    assert_eq!(status, 503, "the disk is full again");
    assert!(server.terminate().success());
    let server = RunningServer::start_with(&log, &[], &key);
    resumes(&server, &mut acknowledged, &mount.join("filler-2"));
    assert!(server.terminate().success());
    let verified = common::binary(ADMIN)
        .args(["audit", "verify", log.to_str().unwrap()])
        .envs(key)
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let seqs = seqs_in(&log);
    assert_eq!(
        seqs, acknowledged,
        "the log holds exactly the acknowledged records"
    );
}

/// 32 clients × 1,000 evaluations while the log rotates every ~64 KiB and SIGHUP rotates it
/// too, dozens of times: every acknowledged record is in the files, each file verifies, and the
/// chain runs unbroken across them. (Natively only: 32,000 requests; the emulated runs keep
/// the audit unit tests of rotation.)
#[cfg(all(unix, target_arch = "x86_64"))]
#[test]
fn rotation_by_size_and_sighup_loses_nothing_and_keeps_one_chain() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let dir = temp_dir("rotate");
    let log = dir.path().join("audit.jsonl");
    let server = Arc::new(RunningServer::start(
        &log,
        &["--audit-rotate-bytes", "65536"],
    ));
    assert_eq!(server.evaluate(r#"{"text":"first"}"#).0, 200);
    let stop = Arc::new(AtomicBool::new(false));
    let hangups = {
        let (pid, stop) = (server.child.id().to_string(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut sent = 0;
            while !stop.load(Ordering::Relaxed) {
                let status = std::process::Command::new("kill")
                    .args(["-HUP", &pid])
                    .status()
                    .unwrap();
                assert!(status.success());
                sent += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            sent
        })
    };
    let acknowledged = Arc::new(Mutex::new(vec![1u64]));
    let clients: Vec<_> = (0..32)
        .map(|client| {
            let (server, acknowledged) = (Arc::clone(&server), Arc::clone(&acknowledged));
            std::thread::spawn(move || {
                for n in 0..1000 {
                    let (status, body) =
                        server.evaluate(&format!(r#"{{"text":"client {client} call {n}"}}"#));
                    assert_eq!(status, 200, "{body}");
                    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
                    let seq = answer["audit_seq"].as_u64().unwrap();
                    acknowledged.lock().unwrap().push(seq);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let sent = hangups.join().unwrap();
    assert!(sent > 10, "only {sent} SIGHUPs");
    let server = Arc::into_inner(server).unwrap();
    assert!(server.stop().success());

    let key = key_file_of(&log);
    let verified = verify_with(dir.path(), &["--key", key.to_str().unwrap(), "--json"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(summary["records"], 32_001);
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("audit.jsonl.")
        })
        .filter(|p| !p.to_string_lossy().ends_with(".key"))
        .collect();
    assert!(files.len() > 10, "only {} rotated files", files.len());
    let mut in_files: Vec<u64> = files
        .iter()
        .chain(std::iter::once(&log))
        .flat_map(|file| seqs_in(file))
        .collect();
    in_files.sort_unstable();
    let mut acknowledged = acknowledged.lock().unwrap().clone();
    acknowledged.sort_unstable();
    assert_eq!(
        in_files, acknowledged,
        "every acknowledged record, and only those"
    );
}

/// The `seq` of every record in an audit log file.
#[cfg(all(unix, target_arch = "x86_64"))]
fn seqs_in(file: &Path) -> Vec<u64> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect()
}
