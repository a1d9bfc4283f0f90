//! Limits against a hostile network: bodies, heads, trickling and idle connections, per-client caps.

use super::*;

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
