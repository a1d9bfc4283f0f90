//! `dist --smoke`: every shipped binary of every archive runs (natively, under qemu or wine)
//! and answers as the release says, before the dist is accepted.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use super::TargetPlan;
use crate::doctor::wine_prefix;
use crate::progress::Progress;
use crate::targets::{Emulator, Runner};
use crate::util::{extract, in_tempdir};

/// A sample run of the shipped CLI: it must block a US SSN with exit code 3.
pub const SMOKE_BINARY: &str = "jimini";
pub const SMOKE_ARGS: [&str; 2] = ["check", "my ssn is 123-45-6789"];
pub const SMOKE_EXIT: i32 = 3;
pub const SMOKE_STDOUT: &str = "decision: block";

/// Which targets `--smoke` must run: all of them, or only those this machine can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SmokeScope {
    All,
    Available,
}

/// The refusal for `--smoke` (scope all) when a target has no runner here. Pure.
pub fn check_runners(targets: &[TargetPlan], scope: SmokeScope) -> anyhow::Result<()> {
    let missing: Vec<&TargetPlan> = targets
        .iter()
        .filter(|t| t.target.runner == Runner::Unavailable)
        .collect();
    if scope == SmokeScope::All && !missing.is_empty() {
        let names: Vec<String> = missing
            .iter()
            .map(|t| format!("{} (runs on {})", t.target.triple, t.target.github_runner))
            .collect();
        bail!(
            "--smoke: this machine cannot run {}: smoke-test them on their own runners, or pass \
             --smoke=available to run only what this machine can",
            names.join(", ")
        );
    }
    Ok(())
}

/// Extracts each planned target's archive from `dir` and runs its binaries through the
/// target's runner; targets without a runner are skipped (and named) with [`SmokeScope::Available`].
pub fn run(
    dir: &Path,
    version: &str,
    targets: &[TargetPlan],
    scope: SmokeScope,
    progress: &Progress,
    root: &Path,
) -> anyhow::Result<()> {
    check_runners(targets, scope)?;
    // Resolved once: every binary of a Windows target starts in the prefix with the shim.
    let prefix_of_wine = wine_prefix(&xshell::Shell::new()?, root);
    for target in targets {
        let (prefix, wine): (Vec<String>, Option<&Path>) = match &target.target.runner {
            Runner::Native => (vec![], None),
            Runner::Emulated { command, emulator } => (
                command.clone(),
                (*emulator == Emulator::Wine).then_some(prefix_of_wine.as_path()),
            ),
            Runner::Unavailable => {
                progress.note(format!(
                    "{}: no runner on this machine, smoke run skipped",
                    target.target.triple
                ));
                continue;
            }
        };
        // The unpacked binaries are removed however the smoke run ends.
        in_tempdir("smoke", |work| {
            smoke_target(target, work, (&prefix, wine), version, dir, progress)
        })?;
    }
    Ok(())
}

/// Unpacks one target's archive from `dir` into `work` and runs its binaries through `runner`
/// (the command before the binary, and wine's prefix when it is wine).
fn smoke_target(
    target: &TargetPlan,
    work: &Path,
    (prefix, wine): (&[String], Option<&Path>),
    version: &str,
    dir: &Path,
    progress: &Progress,
) -> anyhow::Result<()> {
    extract(&dir.join(&target.archive), target.target.archive, work)?;
    let top = work.join(&target.stem);
    for binary in &target.binaries {
        let name = &binary.name;
        let exe = top.join(&binary.file);
        let output = run_binary(prefix, wine, &exe, &["--version"])?;
        let expected = format!("{name} {version} (");
        if !output.0.starts_with(&expected) {
            bail!(
                "smoke: {} for {} printed {:?} for --version, expected it to start with \
                 {expected:?}",
                binary.file,
                target.target.triple,
                output.0
            );
        }
        progress.note(format!("{}: {}", target.target.triple, output.0.trim()));
        if name == SMOKE_BINARY {
            let (stdout, code) = run_binary(prefix, wine, &exe, &SMOKE_ARGS)?;
            if code != Some(SMOKE_EXIT) || !stdout.starts_with(SMOKE_STDOUT) {
                bail!(
                    "smoke: `{} check` on {} gave exit {code:?} and {stdout:?}; expected \
                     {SMOKE_EXIT} and {SMOKE_STDOUT:?}",
                    binary.file,
                    target.target.triple
                );
            }
        }
    }
    Ok(())
}

fn run_binary(
    prefix: &[String],
    wine: Option<&Path>,
    binary: &Path,
    args: &[&str],
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
    if let Some(wine_prefix) = wine {
        command
            .env("WINEPREFIX", wine_prefix)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{Target, Triple};

    fn planned(triple: &str) -> TargetPlan {
        let host = Triple::parse("x86_64-unknown-linux-gnu").unwrap();
        let target = Target::new(&Triple::parse(triple).unwrap(), &host);
        TargetPlan {
            artifact_dir: std::path::PathBuf::from("/w/target").join(triple),
            stem: format!("jimini-0.2.0-{triple}"),
            archive: format!("jimini-0.2.0-{triple}.tar.gz"),
            sbom: format!("jimini-0.2.0-{triple}.cdx.json"),
            fallback_archive: None,
            binaries: vec![crate::dist::plan::Binary {
                file: target.binary_file("jimini"),
                name: "jimini".into(),
            }],
            archive_entries: vec![],
            deb: None,
            wheel: None,
            rpm: None,
            npm: None,
            target,
        }
    }

    #[test]
    fn a_target_without_a_runner_fails_unless_only_available_ones_are_asked_for() {
        let targets = [
            planned("x86_64-unknown-linux-gnu"),
            planned("aarch64-apple-darwin"),
        ];
        let err = check_runners(&targets, SmokeScope::All)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("aarch64-apple-darwin (runs on macos-14)")
                && err.contains("--smoke=available"),
            "{err}"
        );
        assert!(check_runners(&targets, SmokeScope::Available).is_ok());
        assert!(check_runners(&targets[..1], SmokeScope::All).is_ok());
    }
}
