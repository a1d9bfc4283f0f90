//! `dist --smoke`: every shipped binary of every archive runs (natively, under qemu or wine)
//! and answers as the release says, before the dist is accepted.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use super::TargetPlan;
use super::manifest::{ArtifactKind, Manifest};
use crate::doctor::wine_prefix;
use crate::progress::Progress;
use crate::targets::Runner;
use crate::util::{extract, tempdir};

/// A sample run of the shipped CLI: it must block a US SSN with exit code 3.
const SMOKE_BINARY: &str = "jimini";
const SMOKE_ARGS: [&str; 2] = ["check", "my ssn is 123-45-6789"];
const SMOKE_EXIT: i32 = 3;
const SMOKE_STDOUT: &str = "decision: block";

/// Extracts every archive of `dir` and runs its binaries through the target's runner.
pub fn run(
    dir: &Path,
    manifest: &Manifest,
    targets: &[TargetPlan],
    progress: &Progress,
    root: &Path,
) -> anyhow::Result<()> {
    for artifact in manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Archive)
    {
        let Some(target) = targets
            .iter()
            .find(|t| Some(&t.info.triple) == artifact.target.as_ref())
        else {
            continue;
        };
        let prefix: Vec<String> = match &target.info.runner {
            Runner::Native => vec![],
            Runner::Emulated { command } => command.clone(),
            Runner::Unavailable => {
                progress.note(format!(
                    "{}: no runner on this machine, smoke run skipped",
                    target.info.triple
                ));
                continue;
            }
        };
        let work = tempdir("smoke")?;
        extract(&dir.join(&artifact.name), &work)?;
        let top = work.join(artifact.top_dir.as_deref().unwrap_or_default());
        for binary in &artifact.binaries {
            let name = binary.trim_end_matches(target.info.exe_suffix);
            let output = run_binary(&prefix, &top.join(binary), &["--version"], root)?;
            let expected = format!("{name} {} (", manifest.version);
            if !output.0.starts_with(&expected) {
                bail!(
                    "smoke: {binary} for {} printed {:?} for --version, expected it to start with {expected:?}",
                    target.info.triple,
                    output.0
                );
            }
            progress.note(format!("{}: {}", target.info.triple, output.0.trim()));
            if name == SMOKE_BINARY {
                let (stdout, code) = run_binary(&prefix, &top.join(binary), &SMOKE_ARGS, root)?;
                if code != Some(SMOKE_EXIT) || !stdout.starts_with(SMOKE_STDOUT) {
                    bail!(
                        "smoke: `{binary} check` on {} gave exit {code:?} and {stdout:?}; expected {SMOKE_EXIT} and {SMOKE_STDOUT:?}",
                        target.info.triple
                    );
                }
            }
        }
        std::fs::remove_dir_all(&work)?;
    }
    Ok(())
}

fn run_binary(
    prefix: &[String],
    binary: &Path,
    args: &[&str],
    root: &Path,
) -> anyhow::Result<(String, Option<i32>)> {
    let mut command = match prefix.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    command.args(args);
    if prefix.first().is_some_and(|p| p == "wine") {
        command
            .env("WINEPREFIX", wine_prefix(root))
            .env("WINEDEBUG", "-all");
    }
    let output = command
        .output()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    Ok((
        String::from_utf8_lossy(&output.stdout).into_owned(),
        output.status.code(),
    ))
}
