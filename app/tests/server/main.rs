//! The server on a loopback port: auth, 400/401/413, the audit chain and graceful shutdown.
//! Runs on every target the app's tests run on (natively, under qemu and under wine): the
//! server is stopped by closing its stdin (`--exit-on-stdin-eof`), and by SIGTERM on Unix.
#![cfg(feature = "server")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

mod audit;
#[path = "../common/mod.rs"]
mod common;
// Every test of it needs a Unix x86_64 host (tmpfs, signals).
#[cfg(all(unix, target_arch = "x86_64"))]
mod faults;
mod limits;
mod load;
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

fn stdout_of(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    format!("{stdout}{stderr}")
}

fn key_file_of(log: &Path) -> PathBuf {
    log.with_file_name("audit.jsonl.key")
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
