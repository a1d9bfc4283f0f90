//! The facts every release command starts from, and `cargo xtask plan`: the release plan as
//! JSON, which the release workflow's build matrix is read from.

use anyhow::{Context, bail};
use semver::Version;
use serde::Serialize;
use xshell::{Shell, cmd};

use crate::dist::{self, DistPlan, PlanInput};
use crate::flags;
use crate::workspace::Workspace;
use crate::{git, version};

/// Workspace, host, version and source date, as one dist or plan sees them.
pub struct ReleaseContext {
    pub workspace: Workspace,
    pub host: String,
    pub workspace_version: Version,
    pub version: Version,
    pub commit: String,
    pub short_commit: String,
    pub source_date_epoch: i64,
    pub binaries: Vec<String>,
    pub package_id: cargo_metadata::PackageId,
}

pub fn host_triple(sh: &Shell) -> anyhow::Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let info = cmd!(sh, "{rustc} -vV")
        .quiet()
        .read()
        .context("cannot run `rustc -vV`: is Rust installed?")?;
    info.lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .context("`rustc -vV` printed no host line")
}

impl ReleaseContext {
    pub fn load(sh: &Shell) -> anyhow::Result<ReleaseContext> {
        let workspace = Workspace::load(sh)?;
        let package = workspace.shipped_package()?;
        let workspace_version = package.version.clone();
        let binaries = dist::shipped_binaries(package);
        let package_id = package.id.clone();
        let host = host_triple(sh)?;
        let git_state = if git::is_repository(sh) {
            let changelog =
                std::fs::read_to_string(workspace.root.join("CHANGELOG.md")).unwrap_or_default();
            let heading = version::dated_changelog_heading(&changelog, &workspace_version);
            Some(git::state(sh, &workspace_version, heading.as_deref())?)
        } else {
            None
        };
        let github_ref = std::env::var("GITHUB_REF").ok();
        let dist_version = version::dist_version(
            &workspace_version,
            git_state.as_ref(),
            github_ref.as_deref(),
        )?;
        let env_epoch = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .filter(|v| !v.trim().is_empty());
        let source_date_epoch = match (env_epoch, &git_state) {
            (Some(epoch), _) => epoch.trim().parse().with_context(|| {
                format!("SOURCE_DATE_EPOCH={epoch:?} is not whole seconds since 1970")
            })?,
            (None, Some(state)) => state.commit_time,
            (None, None) => bail!(
                "not a git checkout, so there is no commit time: set SOURCE_DATE_EPOCH to the source's date"
            ),
        };
        let (commit, short_commit) = match &git_state {
            Some(state) => (state.commit.clone(), state.short_commit.clone()),
            // Outside git (a container build context), the builder may pass the commit.
            None => {
                let commit = std::env::var("JIMINI_BUILD_COMMIT")
                    .ok()
                    .filter(|c| !c.trim().is_empty());
                let commit = commit.unwrap_or_else(|| "unknown".to_owned());
                let short = commit.chars().take(7).collect();
                (commit, short)
            }
        };
        Ok(ReleaseContext {
            workspace,
            host,
            workspace_version,
            version: dist_version,
            commit,
            short_commit,
            source_date_epoch,
            binaries,
            package_id,
        })
    }

    pub fn dist_plan(&self, targets: &[String], partial: bool) -> anyhow::Result<DistPlan> {
        dist::plan(&PlanInput {
            config: &self.workspace.config,
            binaries: self.binaries.clone(),
            host: &self.host,
            version: self.version.to_string(),
            commit: self.commit.clone(),
            short_commit: self.short_commit.clone(),
            source_date_epoch: self.source_date_epoch,
            requested_targets: targets,
            out: self.workspace.root.join("dist"),
            partial,
        })
    }
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ReleasePlan {
    pub app: String,
    pub version: String,
    pub tag: String,
    pub commit: String,
    /// The build matrix: one entry per release target.
    pub include: Vec<MatrixEntry>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct MatrixEntry {
    pub target: String,
    pub runner: String,
    /// Debian packages to install on the runner (space-separated, for `apt-get install`).
    pub packages: String,
    pub artifacts: Vec<String>,
}

/// The release plan for `targets` (the whole release list).
pub fn release_plan(dist: &DistPlan) -> ReleasePlan {
    ReleasePlan {
        app: dist.app.clone(),
        version: dist.version.clone(),
        tag: format!("v{}", dist.version),
        commit: dist.commit.clone(),
        include: dist
            .targets
            .iter()
            .map(|t| {
                // On its own runner a target is native: only cross targets need host packages.
                let native_runner = t.info.github_runner != "ubuntu-24.04"
                    || t.info.triple.starts_with("x86_64-unknown-linux");
                MatrixEntry {
                    target: t.info.triple.clone(),
                    runner: t.info.github_runner.to_owned(),
                    packages: if native_runner {
                        String::new()
                    } else {
                        t.info.apt_packages.join(" ")
                    },
                    artifacts: vec![t.archive.clone(), t.sbom.clone()],
                }
            })
            .collect(),
    }
}

impl flags::Plan {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let context = ReleaseContext::load(sh)?;
        let dist = context.dist_plan(&["all".to_owned()], true)?;
        let plan = release_plan(&dist);
        if self.json {
            println!("{}", serde_json::to_string(&plan)?);
        } else {
            println!("{} {} (tag {})", plan.app, plan.version, plan.tag);
            for entry in &plan.include {
                println!(
                    "  {:<28} on {:<18} {}",
                    entry.target,
                    entry.runner,
                    entry.artifacts.join(", ")
                );
            }
        }
        Ok(())
    }
}
