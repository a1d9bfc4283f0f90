//! `cargo xtask publish`: a verified dist to the hosts users download from, the step after
//! `seal`. Gathers the dist (verified first: digests, signature, contents), the version's
//! CHANGELOG section and where each host is; computes the plan ([`plan`], pure, printed by
//! `--dry-run --json`); then runs each host's step in order ([`github`], [`gitlab`],
//! [`registries`]) over [`crate::http`].
//!
//! **Architecture Invariant:** the files published are the plan's, which come from the
//! manifest (plus the manifest and the signature themselves), never from listing the
//! directory; every host step compares what is there before it uploads anything, so a
//! conflict stops a run before its first upload, and a re-run completes a run that stopped.

mod gather;
pub mod github;
pub mod gitlab;
pub mod npm;
pub mod plan;
pub mod registries;
pub mod repository;

pub use gather::endpoints;
use gather::{gather_and_plan, packaged_crate_path};

use std::io::Write;

use anyhow::{Context, bail};
use sha2::Digest;

use crate::flags;
use plan::{Host, PublishPlan, Upload};

impl flags::Publish {
    pub fn run(self, sh: &xshell::Shell) -> anyhow::Result<()> {
        let root = sh.current_dir();
        let cwd = std::env::current_dir()?;
        let dir = match &self.dir {
            Some(dir) => cwd.join(dir),
            None => root.join("dist"),
        };
        let keyring = match &self.public_key {
            Some(path) => Some(crate::keys::Keyring::from_path(&cwd.join(path))?),
            None => crate::verify::workspace_keyring(sh)?,
        };
        let manifest = crate::verify::verify_dir(
            &dir,
            &crate::verify::SignatureCheck {
                keyring,
                required: self.require_signature,
            },
        )
        .context("publish takes only a dist that verifies")?;
        let workspace = crate::workspace::Workspace::load(sh)?;
        let endpoints = endpoints(&workspace)?;
        let plan = gather_and_plan(sh, &workspace, &endpoints, &manifest, &dir, &self.hosts)?;
        if self.dry_run {
            if self.json {
                crate::outln!("{}", serde_json::to_string_pretty(&plan)?)?;
            } else {
                print_plan(&plan)?;
            }
            return Ok(());
        }
        // The release hosts' credentials before the first upload anywhere.
        let wants = |host: Host| plan.hosts.iter().any(|h| h.host == host);
        let github = wants(Host::Github)
            .then(|| github::Github::from_env(&endpoints.github_api, &endpoints.github_repo))
            .transpose()?;
        let gitlab = wants(Host::Gitlab)
            .then(|| gitlab::Gitlab::from_env(&endpoints.gitlab_api, &endpoints.gitlab_project))
            .transpose()?;
        // Preflight: every host is read and every refusal made before the first upload
        // anywhere.
        let mut found = Vec::new();
        for host in &plan.hosts {
            say(format_args!("checking {}", host.release));
            found.push(match host.host {
                Host::Github => Found::Github(github::inspect(
                    github.as_ref().expect("made above"),
                    &plan,
                    host,
                )?),
                Host::Gitlab => Found::Gitlab(gitlab::inspect(
                    gitlab.as_ref().expect("made above"),
                    &plan,
                    host,
                )?),
                Host::CratesIo => Found::CratesIo(registries::inspect_crate(
                    &plan,
                    host,
                    &endpoints.crates_io_api,
                )?),
                Host::Pypi => Found::Pypi(registries::inspect_wheels(
                    &plan,
                    host,
                    &endpoints.pypi_api,
                )?),
                Host::Npm => Found::Npm(npm::inspect(&plan, host, &dir)?),
                Host::Homebrew | Host::Scoop if host.uploads.is_empty() => Found::Nothing,
                Host::Homebrew | Host::Scoop => {
                    Found::Repository(repository::inspect(&plan, host, &dir)?)
                }
            });
        }
        for (host, found) in plan.hosts.iter().zip(found) {
            say(format_args!("publishing to {}", host.release));
            match found {
                Found::Github(found) => github::apply(
                    github.as_ref().expect("made above"),
                    &plan,
                    host,
                    &dir,
                    found,
                )?,
                Found::Gitlab(found) => gitlab::apply(
                    gitlab.as_ref().expect("made above"),
                    &plan,
                    host,
                    &dir,
                    found,
                )?,
                Found::CratesIo(already) => {
                    let crate_path = packaged_crate_path(&workspace, &plan.app, &plan.version);
                    registries::apply_crate(
                        &plan,
                        host,
                        &endpoints.crates_io_api,
                        &crate_path,
                        already,
                    )?
                }
                Found::Pypi(missing) => registries::apply_wheels(
                    sh,
                    host,
                    &endpoints.pypi_api,
                    &dir,
                    &workspace.target_dir,
                    missing,
                )?,
                Found::Npm(missing) => npm::apply(host, &endpoints.npm_registry, &dir, missing)?,
                Found::Repository(checkout) => repository::apply(&plan, host, &dir, checkout)?,
                Found::Nothing => say(format_args!("{}", host.release)),
            }
        }
        if self.json {
            crate::outln!("{}", serde_json::to_string_pretty(&plan)?)?;
        }
        Ok(())
    }
}

fn print_plan(plan: &PublishPlan) -> anyhow::Result<()> {
    crate::outln!(
        "publish {} {} ({}{}), commit {}",
        plan.app,
        plan.version,
        plan.tag,
        if plan.prerelease {
            ", a pre-release"
        } else {
            ""
        },
        plan.commit
    )?;
    for host in &plan.hosts {
        crate::outln!("{}:", host.release)?;
        for upload in &host.uploads {
            crate::outln!(
                "would upload {} (sha256 {}) to {}",
                upload.file,
                upload.sha256,
                upload.destination
            )?;
        }
    }
    crate::outln!("release notes ({} section of CHANGELOG.md):", plan.version)?;
    for line in plan.notes.lines() {
        crate::outln!("  {line}")?;
    }
    Ok(())
}

/// What the preflight read from each host, for its step to act on.
enum Found {
    Github(github::Found),
    Gitlab(Vec<Remote>),
    /// The version is on crates.io already.
    CratesIo(bool),
    /// The wheels PyPI lacks.
    Pypi(Vec<String>),
    /// The npm packages the registry lacks.
    Npm(Vec<String>),
    /// A tap's or bucket's clone, and whether its file is due.
    Repository(repository::Checkout),
    /// The plan sends nothing there (a pre-release to a tap or bucket).
    Nothing,
}

/// What a host holds under an upload's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    Missing,
    /// An upload that was cut off (GitHub keeps a broken asset), to remove and send again.
    Broken(u64),
    /// A file with this SHA-256 (empty when it could not be read whole: other bytes).
    Present(String),
}

/// Stops, naming every file the host holds with other bytes than the dist's, before any
/// upload; nothing is ever replaced.
pub fn compare_all(
    place: &str,
    uploads: &[Upload],
    remote: &[Remote],
    fix: &str,
) -> anyhow::Result<()> {
    let conflicts: Vec<String> = uploads
        .iter()
        .zip(remote)
        .filter_map(|(upload, remote)| match remote {
            Remote::Present(sha256) if *sha256 != upload.sha256 => Some(format!(
                "{} (there: {}; the dist's: {})",
                upload.file,
                if sha256.is_empty() {
                    "other bytes"
                } else {
                    sha256
                },
                upload.sha256
            )),
            _ => None,
        })
        .collect();
    if !conflicts.is_empty() {
        bail!(
            "{place} already has another {}: {fix}; nothing is replaced, nothing was uploaded",
            conflicts.join(", another ")
        );
    }
    Ok(())
}

/// The uploads the host does not hold (missing, or cut off), by file name.
pub fn missing_files(uploads: &[Upload], remote: &[Remote]) -> Vec<String> {
    uploads
        .iter()
        .zip(remote)
        .filter(|(_, r)| !matches!(r, Remote::Present(_)))
        .map(|(u, _)| u.file.clone())
        .collect()
}

/// Progress for people, on stderr (stdout is for `--json`).
pub fn say(message: std::fmt::Arguments<'_>) {
    eprintln!("{message}");
}

/// A `Write` that hashes what it is given.
#[derive(Default)]
pub struct Sha256Sink(sha2::Sha256);

impl Sha256Sink {
    pub fn hex(self) -> String {
        hex::encode(self.0.finalize())
    }
}

impl Write for Sha256Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
