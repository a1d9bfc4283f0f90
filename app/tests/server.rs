//! The server on a loopback port: auth, 400/401/413, the audit chain and graceful shutdown.
//! Runs on every target the app's tests run on (natively, under qemu and under wine): the
//! server is stopped by closing its stdin (`--exit-on-stdin-eof`), and by SIGTERM on Unix.
#![cfg(feature = "server")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

mod common;

const SERVER: &str = env!("CARGO_BIN_EXE_jimini-server");
const ADMIN: &str = env!("CARGO_BIN_EXE_jimini-admin");
const KEY: &str = "test-key-123";

struct RunningServer {
    child: Child,
    addr: String,
}

impl RunningServer {
    fn start(audit_log: &Path, extra: &[&str]) -> RunningServer {
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
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        RunningServer { child, addr }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
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
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jimini-server-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a server on `log` that must refuse to start; returns how it ended.
fn start_expecting_failure(log: &Path) -> Output {
    common::binary(SERVER)
        .args([
            "--bind",
            "127.0.0.1:0",
            "--audit-log",
            log.to_str().unwrap(),
        ])
        .env("JIMINI_API_KEY", KEY)
        .output()
        .unwrap()
}

fn verify(log: &Path) -> Output {
    common::binary(ADMIN)
        .args(["audit", "verify", log.to_str().unwrap()])
        .output()
        .unwrap()
}

#[test]
fn health_version_and_evaluate_with_audit_chain() {
    let dir = temp_dir("main");
    let log = dir.join("audit.jsonl");
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
    let log = dir.join("audit.jsonl");
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
    let log = dir.join("audit.jsonl");
    std::fs::write(&log, "{\"garbage\": true}\n").unwrap();
    let output = start_expecting_failure(&log);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("line 1"));
}

#[cfg(unix)]
#[test]
fn sigterm_finishes_cleanly_with_the_audit_log_durable() {
    let dir = temp_dir("sigterm");
    let log = dir.join("audit.jsonl");
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
    let server = RunningServer::start(&dir.join("audit.jsonl"), &["--max-body-bytes", "100"]);
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
    let log = dir.join("audit.jsonl");
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
    let server = RunningServer::start(&dir.join("audit.jsonl"), &[]);
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
    let server = RunningServer::start(&dir.join("audit.jsonl"), &[]);
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
    let log = dir.join("audit.jsonl");
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
    let log = dir.join("audit.jsonl");
    let first = RunningServer::start(&log, &[]);
    let second = start_expecting_failure(&log);
    assert_eq!(second.status.code(), Some(1));
    let text = String::from_utf8_lossy(&second.stderr);
    assert!(
        text.contains("locked by another process") && text.contains("audit.jsonl"),
        "{text}"
    );
    assert_alive(&first);
    assert!(first.stop().success());
}
