//! Operators' events: rotation by size and SIGHUP, and a full disk.

use super::*;

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
