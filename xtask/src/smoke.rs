//! `cargo xtask smoke DIR --target T`: a target's binaries from a (partial) dist, run on a
//! machine of that target (the macOS jobs of both pipelines, where the Apple builds made on
//! Linux first execute): every binary's `--version`, `jimini check` blocking a sample, and the
//! server started, answering `/health`, and stopping cleanly on SIGTERM.
//!
//! The archive, its format and its files come from the dist's manifest (checked first), never
//! from file names.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::dist::manifest::{Artifact, ArtifactKind};
use crate::dist::smoke::{SMOKE_ARGS, SMOKE_BINARY, SMOKE_EXIT, SMOKE_STDOUT};
use crate::flags;
use crate::targets::Triple;

/// The server binary and what it needs to start.
const SERVER_BINARY: &str = "jimini-server";
const SERVER_HEALTHY: &str = r#""status":"ok""#;

impl flags::Smoke {
    pub fn run(self, _sh: &xshell::Shell) -> anyhow::Result<()> {
        let dir = std::env::current_dir()?.join(&self.dir);
        let (manifest, problems) = crate::verify::check(&dir)?;
        if !problems.is_empty() {
            bail!(
                "{} is not a valid dist, nothing was run:\n  - {}",
                dir.display(),
                problems.join("\n  - ")
            );
        }
        let triple = Triple::parse(&self.target).with_context(|| {
            format!(
                "{} is not a target triple (e.g. aarch64-apple-darwin)",
                self.target
            )
        })?;
        let archive = manifest
            .artifacts
            .iter()
            .find(|a| a.kind == ArtifactKind::Archive && a.target.as_ref() == Some(&triple))
            .with_context(|| {
                format!(
                    "{} has no archive for {triple}: pass the dist (or partial) built for it",
                    dir.display()
                )
            })?;
        crate::util::in_tempdir("smoke", |work| {
            crate::util::extract(&dir.join(&archive.name), archive.archive_format()?, work)?;
            let top = work.join(archive.top_dir.as_deref().unwrap_or_default());
            smoke(archive, &top, &manifest.version, work)
        })
    }
}

fn smoke(archive: &Artifact, top: &Path, version: &str, work: &Path) -> anyhow::Result<()> {
    let file_of = |name: &str| -> anyhow::Result<std::path::PathBuf> {
        let file = archive
            .files
            .iter()
            .map(|f| f.rsplit('/').next().unwrap_or(f))
            .find(|f| *f == name || f.strip_suffix(".exe") == Some(name))
            .with_context(|| format!("{} lists no file for {name}", archive.name))?;
        Ok(top.join(file))
    };
    for name in &archive.binaries {
        let output = Command::new(file_of(name)?)
            .arg("--version")
            .output()
            .with_context(|| format!("cannot start {name}"))?;
        let line = String::from_utf8_lossy(&output.stdout).into_owned();
        let expected = format!("{name} {version} (");
        if !output.status.success() || !line.starts_with(&expected) {
            bail!(
                "{name} --version gave {line:?} ({}), expected {expected:?}…",
                output.status
            );
        }
        crate::outln!("{}", line.trim_end())?;
    }
    let output = Command::new(file_of(SMOKE_BINARY)?)
        .args(SMOKE_ARGS)
        .output()
        .with_context(|| format!("cannot start {SMOKE_BINARY}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.code() != Some(SMOKE_EXIT) || !stdout.starts_with(SMOKE_STDOUT) {
        bail!(
            "`{SMOKE_BINARY} {}` gave {} and {stdout:?}; expected exit {SMOKE_EXIT} and \
             {SMOKE_STDOUT:?}",
            SMOKE_ARGS.join(" "),
            output.status
        );
    }
    crate::outln!("{SMOKE_BINARY} check: {}", stdout.trim_end())?;
    if archive.binaries.iter().any(|b| b == SERVER_BINARY) {
        serve(&file_of(SERVER_BINARY)?, work)?;
    }
    Ok(())
}

/// Starts the server on a free loopback port, waits for `/health`, stops it with SIGTERM.
fn serve(server: &Path, work: &Path) -> anyhow::Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(server)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .arg("--audit-log")
        .arg(work.join("audit.jsonl"))
        .env("JIMINI_API_KEY", "smoke")
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {SERVER_BINARY}"))?;
    let client = crate::http::Client::new(vec![]);
    let url = format!("http://127.0.0.1:{port}/health");
    let started = Instant::now();
    let health = loop {
        let answer = client.send("GET", &url, crate::http::Body::Empty);
        match answer {
            Ok(response) if response.status == 200 => break response,
            _ if started.elapsed() > Duration::from_secs(20) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{SERVER_BINARY} did not answer {url} within 20 s");
            }
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    let body = String::from_utf8_lossy(&health.body).into_owned();
    terminate(&mut child)?;
    let status = child.wait()?;
    if !body.contains(SERVER_HEALTHY) {
        bail!("{url} answered {body:?}, expected {SERVER_HEALTHY}");
    }
    if !status.success() {
        bail!("{SERVER_BINARY} ended with {status} on SIGTERM, expected a clean exit");
    }
    crate::outln!("{SERVER_BINARY}: /health {body}, stopped cleanly on SIGTERM")?;
    Ok(())
}

#[cfg(unix)]
fn terminate(child: &mut std::process::Child) -> anyhow::Result<()> {
    let pid = i32::try_from(child.id())?;
    // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        bail!("cannot send SIGTERM to {SERVER_BINARY}");
    }
    Ok(())
}

#[cfg(not(unix))]
fn terminate(child: &mut std::process::Child) -> anyhow::Result<()> {
    child.kill()?;
    bail!("smoke stops the server with SIGTERM: run it on Linux or macOS")
}
