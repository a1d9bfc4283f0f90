//! Delivery: the container image (hadolint, built with podman from a real dist, run, probed,
//! inspected) and the checksum-verifying install script (file://, HTTP, refusals, shellcheck),
//! on the app-shaped fixture's host and musl dist ([`Build::FixtureHostMusl`]): what reaches
//! the user's machine and how is the point; the app's own binaries are tested in app/tests.

mod binstall;
mod debian;
mod homebrew;
mod image;
mod install;
mod npm;
mod pip;
mod rpm;
mod scoop;
mod winget;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::builds::{Build, dist as build};
use crate::common::*;
/// The fixture and a dist of its host and musl targets (fast profile: the installer and the
/// image are the point here, not the optimiser).
fn built() -> (&'static PathBuf, &'static PathBuf) {
    let built = build(Build::FixtureHostMusl);
    (&built.workspace, &built.dist)
}

fn version(dist: &Path) -> String {
    read_manifest(dist)["version"].as_str().unwrap().to_owned()
}

/// Runs the install script a dist shipped (it knows its version) against `dist_url`.
fn install(dist_url: &str, to: &Path, extra_env: &[(&str, &str)]) -> std::process::Output {
    let (_, dist) = built();
    let mut cmd = Command::new("sh");
    cmd.arg(dist.join("install.sh"))
        .args(["--to", to.to_str().unwrap()])
        .env("JIMINI_INSTALL_BASE_URL", dist_url);
    for (key, value) in extra_env {
        cmd.env(key, value);
    }
    run(&mut cmd)
}

/// A directory of stand-ins for system tools, put first on the PATH.
/// `file` validates against the JSON schema `schema` (the pinned check-jsonschema).
fn assert_valid(schema: &Path, file: &Path) {
    let output = run(Command::new(ci_tool("check-jsonschema"))
        .arg("--schemafile")
        .arg(schema)
        .arg(file));
    assert!(
        output.status.success(),
        "{}: {}{}",
        file.display(),
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
}

/// A `GET` on loopback, the whole answer (none when nothing answers).
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn fake_tools(label: &str, tools: &[(&str, &str)]) -> String {
    let dir = temp_dir(label);
    for (name, script) in tools {
        std::fs::write(dir.join(name), format!("#!/bin/sh\n{script}\n")).unwrap();
        checked(Command::new("chmod").args(["755", dir.join(name).to_str().unwrap()]));
    }
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap())
}

/// The delivery dist, but its host `jimini` cannot start (a script that exits 3), with
/// SHA256SUMS agreeing with the changed archive.
fn broken_dist() -> &'static PathBuf {
    static BROKEN: OnceLock<PathBuf> = OnceLock::new();
    BROKEN.get_or_init(|| {
        let (_, dist) = built();
        let broken = copy_dist(dist, "broken-jimini");
        // Both archives of the host: the .tar.xz, and the .tar.gz a machine without xz takes.
        let repack = r##"
import io, sys, tarfile
path, mode = sys.argv[1:3]
with tarfile.open(path) as old:
    members = [(m, old.extractfile(m).read() if m.isfile() else None) for m in old.getmembers()]
with tarfile.open(path, mode) as new:
    for member, data in members:
        if member.name.endswith("/jimini"):
            data = b"#!/bin/sh\nexit 3\n"
            member.size = len(data)
        new.addfile(member, io.BytesIO(data) if data is not None else None)
"##;
        let mut sums = std::fs::read_to_string(broken.join("SHA256SUMS")).unwrap();
        for (extension, mode) in [("tar.xz", "w:xz"), ("tar.gz", "w:gz")] {
            let archive = format!("jimini_{}_{}.{extension}", version(dist), host());
            checked(
                Command::new("python3")
                    .args(["-c", repack])
                    .arg(broken.join(&archive))
                    .arg(mode),
            );
            let line = checked(Command::new("sha256sum").current_dir(&broken).arg(&archive));
            let replaced: String = sums
                .lines()
                .map(|old| match old.ends_with(&format!("  {archive}")) {
                    true => line.trim_end().to_owned(),
                    false => old.to_owned(),
                })
                .map(|line| line + "\n")
                .collect();
            assert_ne!(replaced, sums, "{archive} is in SHA256SUMS");
            sums = replaced;
        }
        std::fs::write(broken.join("SHA256SUMS"), sums).unwrap();
        broken
    })
}
