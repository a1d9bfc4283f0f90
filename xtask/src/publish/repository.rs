//! A tap or a bucket: the Homebrew formula or the Scoop manifest committed to a git repository
//! the maintainer names (`[..homebrew] tap`, `[..scoop] bucket`).
//!
//! Idempotent: a repository whose file has the dist's bytes is done (nothing is committed); one
//! whose file is of a newer version is refused (re-publishing an old release never takes its
//! users back); else the file is written, committed as "<app> <version>" and pushed. The
//! credential (`HOMEBREW_TAP_TOKEN`, `SCOOP_BUCKET_TOKEN`) reaches git as an HTTP header through
//! its environment (`GIT_CONFIG_*`), never its command line or a file.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use base64::Engine;

use super::plan::{Host, HostPlan, PublishPlan};
use super::say;

/// A clone of ours in a temporary directory, removed when dropped.
pub struct Checkout {
    scratch: PathBuf,
    dir: PathBuf,
    branch: String,
    /// The file differs from the dist's (or is missing): a commit is due.
    changed: bool,
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let _ = fs_err::remove_dir_all(&self.scratch);
    }
}

fn token_var(host: Host) -> &'static str {
    match host {
        Host::Homebrew => "HOMEBREW_TAP_TOKEN",
        _ => "SCOOP_BUCKET_TOKEN",
    }
}

/// git with nothing of the environment's credentials but the repository's own token, as a
/// header for HTTPS, and no prompt.
fn git(host: Host, repository: &str) -> Command {
    let mut command = Command::new("git");
    crate::secrets::scrubbed(&mut command);
    command.env("GIT_TERMINAL_PROMPT", "0");
    if let Ok(token) = std::env::var(token_var(host))
        && !token.is_empty()
        && repository.starts_with("https://")
    {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
        command
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env(
                "GIT_CONFIG_VALUE_0",
                format!("Authorization: Basic {basic}"),
            );
    }
    command
}

fn run(mut command: Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("cannot run git to {what}"))?;
    if !output.status.success() {
        bail!(
            "git could not {what} ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The version a formula (`version "1.2.0"`) or a Scoop manifest (`"version"`) is of.
fn version_of(host: Host, text: &str) -> Option<semver::Version> {
    let version = match host {
        Host::Homebrew => text.lines().find_map(|line| {
            line.trim()
                .strip_prefix("version \"")?
                .strip_suffix('"')
                .map(str::to_owned)
        })?,
        _ => serde_json::from_str::<serde_json::Value>(text).ok()?["version"]
            .as_str()?
            .to_owned(),
    };
    version.parse().ok()
}

/// The preflight: the repository cloned, its file compared with the dist's.
pub fn inspect(plan: &PublishPlan, host: &HostPlan, dist: &Path) -> anyhow::Result<Checkout> {
    let repository = host
        .repository
        .as_deref()
        .context("the plan names no repository")?;
    let upload = &host.uploads[0];
    let scratch = crate::util::tempdir("publish-repository")?;
    let dir = scratch.join("repository");
    let mut checkout = Checkout {
        scratch,
        dir: dir.clone(),
        branch: String::new(),
        changed: true,
    };
    let mut clone = git(host.host, repository);
    clone
        .args(["clone", "--quiet", "--depth", "1", repository])
        .arg(&dir);
    run(clone, &format!("clone {repository}")).map_err(|err| {
        anyhow::anyhow!(
            "{err:#}: check the repository's URL, and that {} grants pushing to it",
            token_var(host.host)
        )
    })?;
    let mut branch = git(host.host, repository);
    branch
        .current_dir(&dir)
        .args(["symbolic-ref", "--short", "HEAD"]);
    checkout.branch = run(branch, "read the default branch")?;
    let theirs = dir.join(&upload.destination);
    let ours = fs_err::read(dist.join(&upload.file))?;
    if theirs.is_file() {
        let text = fs_err::read(&theirs)?;
        checkout.changed = text != ours;
        let version: semver::Version = plan.version.parse()?;
        if let Some(there) = version_of(host.host, &String::from_utf8_lossy(&text))
            && there > version
        {
            bail!(
                "{repository} has {} of {} {there}, newer than this release ({version}): \
                 publishing it would take its users back; nothing was committed",
                upload.destination,
                plan.app
            );
        }
    }
    Ok(checkout)
}

/// Commits and pushes the file when [`inspect`] found it changed.
pub fn apply(
    plan: &PublishPlan,
    host: &HostPlan,
    dist: &Path,
    checkout: Checkout,
) -> anyhow::Result<()> {
    let repository = host.repository.as_deref().unwrap_or_default();
    let upload = &host.uploads[0];
    if !checkout.changed {
        say(format_args!(
            "{repository} has {} of {} {} already: nothing to commit",
            upload.destination, plan.app, plan.version
        ));
        return Ok(());
    }
    let target = checkout.dir.join(&upload.destination);
    fs_err::create_dir_all(target.parent().expect("a path in the repository"))?;
    fs_err::copy(dist.join(&upload.file), &target)?;
    let in_checkout = |args: &[&str]| {
        let mut command = git(host.host, repository);
        command
            .current_dir(&checkout.dir)
            .args(["-c", "user.name=cargo xtask publish"])
            .args(["-c", "user.email=xtask-publish@users.noreply.github.com"])
            .args(args);
        command
    };
    run(
        in_checkout(&["add", "--", &upload.destination]),
        "stage the file",
    )?;
    let message = format!("{} {}", plan.app, plan.version);
    run(
        in_checkout(&["commit", "--quiet", "-m", &message]),
        "commit",
    )?;
    let refspec = format!("HEAD:refs/heads/{}", checkout.branch);
    run(
        in_checkout(&["push", "--quiet", "origin", &refspec]),
        &format!("push to {repository}"),
    )
    .map_err(|err| anyhow::anyhow!("{err:#}; run publish again to commit it"))?;
    say(format_args!(
        "committed {} ({message}) to {repository}",
        upload.destination
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_of_a_formula_and_a_scoop_manifest() {
        let formula = "class Jimini < Formula\n  desc \"x\"\n  version \"1.2.0\"\nend\n";
        assert_eq!(
            version_of(Host::Homebrew, formula),
            Some(semver::Version::new(1, 2, 0))
        );
        assert_eq!(
            version_of(Host::Scoop, r#"{"version": "2.0.0-rc.1"}"#),
            "2.0.0-rc.1".parse().ok()
        );
        assert_eq!(version_of(Host::Scoop, "not json"), None);
    }
}
