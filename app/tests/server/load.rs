//! Under load: metrics, thousands of requests from many clients, and stopping while they run.

use super::*;

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
