//! `cargo xtask plan`: the release's build matrix (one runner per target) as JSON, which the
//! GitHub release workflow reads, and as `.gitlab-ci.yml` (`--gitlab`, see [`gitlab`]).

mod channels;
pub mod github;
pub mod gitlab;

use std::path::Path;

use anyhow::bail;
use serde::Serialize;
use xshell::Shell;

use crate::context::ReleaseContext;
use crate::dist::DistPlan;
use crate::flags;
use crate::targets::GitlabRunner;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct BuildMatrix {
    pub app: String,
    pub version: String,
    pub tag: String,
    pub commit: String,
    /// The build matrix: one entry per release target.
    pub include: Vec<MatrixEntry>,
    /// The targets built on one runner and run on another (macOS, linked by zig on Linux):
    /// the smoke job's matrix.
    pub smoke: Vec<SmokeEntry>,
    /// The hosts the configuration adds to a release (npm packages: npm; a formula for a
    /// tap: homebrew; a Scoop manifest with a bucket: scoop), each a publish job of its own
    /// after the release.
    pub channels: Vec<crate::publish::plan::Host>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct SmokeEntry {
    pub target: crate::targets::Triple,
    pub runner: String,
    pub gitlab_runner: GitlabRunner,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct MatrixEntry {
    pub target: crate::targets::Triple,
    pub runner: String,
    /// GitLab's hosted runner for the same job, or why there is none.
    pub gitlab_runner: GitlabRunner,
    /// Debian packages to install on the runner (space-separated, for `apt-get install`).
    pub packages: String,
    pub artifacts: Vec<String>,
}

/// The release plan for `targets` (the whole release list).
pub fn build_matrix(dist: &DistPlan, config: &crate::workspace::DistConfig) -> BuildMatrix {
    use crate::publish::plan::Host;
    // A release-level file (formula, Scoop manifest) is in no partial's plan: the config says.
    let channels = [
        (dist.npm.is_some(), Host::Npm),
        (config.homebrew.is_some(), Host::Homebrew),
        (config.scoop_bucket().is_some(), Host::Scoop),
    ]
    .into_iter()
    .filter_map(|(planned, host)| planned.then_some(host))
    .collect();
    BuildMatrix {
        channels,
        app: dist.app.clone(),
        version: dist.version.clone(),
        tag: format!("v{}", dist.version),
        commit: dist.commit.clone(),
        include: dist
            .targets
            .iter()
            .map(|t| {
                // On its own runner a target is native: only cross targets need host packages.
                MatrixEntry {
                    target: t.target.triple.clone(),
                    runner: t.target.github_runner.to_owned(),
                    gitlab_runner: t.target.gitlab_runner,
                    packages: if t.target.cross_on_ci {
                        t.target.apt_packages.join(" ")
                    } else {
                        String::new()
                    },
                    artifacts: vec![t.archive.clone(), t.sbom.clone()],
                }
            })
            .collect(),
        smoke: dist
            .targets
            .iter()
            .filter_map(|t| {
                Some(SmokeEntry {
                    target: t.target.triple.clone(),
                    runner: t.target.smoke_runner?.to_owned(),
                    gitlab_runner: t.target.gitlab_smoke_runner?,
                })
            })
            .collect(),
    }
}

impl flags::Plan {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let context = ReleaseContext::load(sh)?;
        let root = context.workspace.root.clone();
        let dist = context.dist_plan(
            &["all".to_owned()],
            true,
            root.join("dist"),
            Default::default(),
        )?;
        let plan = build_matrix(&dist, &context.workspace.config);
        if let Some(tag) = &self.expect_tag
            && *tag != plan.tag
        {
            bail!(
                "the tag {tag} is not this commit's release: the workspace says {} (version {}). \
                 Tag the release commit that `cargo xtask release` made, or release this one",
                plan.tag,
                plan.version
            );
        }
        let public_key = context.workspace.config.public_key();
        if self.gitlab {
            let wanted = gitlab::render(&plan, public_key);
            let generated = Generated {
                file: gitlab::FILE,
                header: gitlab::HEADER,
                flag: "--gitlab",
            };
            write_generated(&root, &generated, &wanted, self.check)?;
            if !self.check {
                for (job, reason) in not_on_gitlab(&plan) {
                    eprintln!("note: not on GitLab: {job}: {reason}");
                }
            }
            return Ok(());
        }
        if self.github {
            let wanted = github::render(&plan, public_key);
            let generated = Generated {
                file: github::FILE,
                header: github::HEADER,
                flag: "--github",
            };
            return write_generated(&root, &generated, &wanted, self.check);
        }
        if self.check {
            bail!("--check compares a generated pipeline: add --gitlab or --github");
        }
        if self.json {
            crate::outln!("{}", serde_json::to_string(&plan)?)?;
        } else {
            crate::outln!("{} {} (tag {})", plan.app, plan.version, plan.tag)?;
            for entry in &plan.include {
                crate::outln!(
                    "  {:<28} on {:<18} {}",
                    entry.target,
                    entry.runner,
                    entry.artifacts.join(", ")
                )?;
            }
            for entry in &plan.smoke {
                crate::outln!("  {:<28} runs on {}", entry.target, entry.runner)?;
            }
            for (job, reason) in not_on_gitlab(&plan) {
                crate::outln!("  not on GitLab: {job}: {reason}")?;
            }
        }
        Ok(())
    }
}

/// The jobs that `.gitlab-ci.yml` lacks because GitLab offers no runner for them.
fn not_on_gitlab(plan: &BuildMatrix) -> Vec<(String, &'static str)> {
    let builds = plan
        .include
        .iter()
        .map(|e| (format!("build {}", e.target), e.gitlab_runner));
    let smokes = plan
        .smoke
        .iter()
        .map(|e| (format!("smoke {}", e.target), e.gitlab_runner));
    builds
        .chain(smokes)
        .filter_map(|(job, runner)| match runner {
            GitlabRunner::NotOffered { reason } => Some((job, reason)),
            GitlabRunner::Tag { .. } => None,
        })
        .collect()
}

/// A pipeline file `plan` writes.
struct Generated {
    file: &'static str,
    header: &'static str,
    flag: &'static str,
}

/// Writes a generated pipeline (only over a file this command wrote), or with `check` only
/// compares.
fn write_generated(
    root: &Path,
    generated: &Generated,
    wanted: &str,
    check: bool,
) -> anyhow::Result<()> {
    let Generated { file, header, flag } = generated;
    let path = root.join(file);
    let current = match fs_err::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err.into()),
    };
    if check {
        if current.as_deref() != Some(wanted) {
            bail!(
                "{file} is not what the release plan gives: run `cargo xtask plan {flag}` and \
                 commit the result"
            );
        }
        eprintln!("{file} matches the release plan");
        return Ok(());
    }
    if let Some(current) = &current
        && !current.starts_with(header)
    {
        bail!(
            "{} exists and was not written by `cargo xtask plan {flag}`: move it aside, \
             then run again",
            path.display()
        );
    }
    if current.as_deref() == Some(wanted) {
        eprintln!("{file} is up to date");
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent)?;
    }
    crate::write_atomic(&path, wanted.as_bytes())?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
