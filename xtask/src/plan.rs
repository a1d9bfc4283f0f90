//! `cargo xtask plan`: the release's build matrix (one runner per target) as JSON, which the
//! release workflow reads.

use serde::Serialize;
use xshell::Shell;

use crate::context::ReleaseContext;
use crate::dist::DistPlan;
use crate::flags;

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
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct SmokeEntry {
    pub target: crate::targets::Triple,
    pub runner: String,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct MatrixEntry {
    pub target: crate::targets::Triple,
    pub runner: String,
    /// Debian packages to install on the runner (space-separated, for `apt-get install`).
    pub packages: String,
    pub artifacts: Vec<String>,
}

/// The release plan for `targets` (the whole release list).
pub fn build_matrix(dist: &DistPlan) -> BuildMatrix {
    BuildMatrix {
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
                })
            })
            .collect(),
    }
}

impl flags::Plan {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let context = ReleaseContext::load(sh)?;
        let out = context.workspace.root.join("dist");
        let dist = context.dist_plan(&["all".to_owned()], true, out, Default::default())?;
        let plan = build_matrix(&dist);
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
            for entry in &plan.smoke {
                println!("  {:<28} runs on {}", entry.target, entry.runner);
            }
        }
        Ok(())
    }
}
