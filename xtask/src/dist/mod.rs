//! `cargo xtask dist`: build the shipped package for each target and package it.
//!
//! Steps: plan (pure) → preflight (targets installed, include files present) → one
//! `cargo build` for all targets → per target an archive and an SBOM → `SHA256SUMS` and
//! `dist-manifest.json` → `verify` → atomic swap into the output directory.
//!
//! **Architecture Invariant:** output is assembled in a staging directory beside the output
//! directory and swapped in with one rename, only after `verify` passed; a killed run leaves
//! the previous output complete, and the next run removes its leftovers. A lock file beside
//! the output directory keeps two runs from interleaving.
//!
//! **Architecture Invariant:** `dist` never edits a tracked file. The snapshot version reaches
//! the binaries through the environment.

pub mod archive;
pub mod build;
pub mod inspect;
pub mod manifest;
pub mod merge;
pub mod output;
pub mod sbom;
pub mod smoke;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::flags;
use crate::progress::Progress;
use crate::targets::{self, ArchiveFormat, TargetInfo};
use crate::workspace::DistConfig;

/// The install script's name in a dist.
pub const INSTALLER_NAME: &str = "install.sh";
/// Replaced by the dist version in the shipped install script.
pub const INSTALLER_VERSION_PLACEHOLDER: &str = "__JIMINI_VERSION__";

/// Everything the plan depends on, gathered from metadata, git and flags.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub config: &'a DistConfig,
    /// Binary names of the shipped package (default features).
    pub binaries: Vec<String>,
    pub host: &'a str,
    pub version: String,
    pub commit: String,
    pub short_commit: String,
    pub source_date_epoch: i64,
    pub requested_targets: &'a [String],
    pub out: PathBuf,
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DistPlan {
    pub app: String,
    pub version: String,
    pub commit: String,
    pub short_commit: String,
    pub source_date_epoch: i64,
    pub profile: String,
    pub include: Vec<String>,
    /// Workspace-relative path of the install script, shipped as `install.sh`.
    pub installer: Option<String>,
    pub out: PathBuf,
    pub partial: bool,
    pub targets: Vec<TargetPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetPlan {
    pub info: TargetInfo,
    /// `jimini-<version>-<target>`: the archive's top directory and file stem.
    pub stem: String,
    pub archive: String,
    pub sbom: String,
    /// Binary file names inside the archive (with `.exe` on Windows).
    pub binaries: Vec<String>,
}

/// Resolves `--target` values: none → the host, `all` → the release list.
pub fn resolve_targets(
    requested: &[String],
    config: &DistConfig,
    host: &str,
) -> anyhow::Result<Vec<String>> {
    let mut targets = BTreeSet::new();
    if requested.is_empty() {
        targets.insert(host.to_owned());
    }
    for target in requested {
        match target.as_str() {
            "all" => {
                if config.targets.is_empty() {
                    bail!(
                        "--target all: [workspace.metadata.xtask-dist] targets is empty; list the release targets there"
                    );
                }
                targets.extend(config.targets.iter().cloned());
            }
            "host" => {
                targets.insert(host.to_owned());
            }
            triple if targets::looks_like_triple(triple) => {
                targets.insert(triple.to_owned());
            }
            other => bail!(
                "unknown target {other:?}: use a target triple such as {host}, `host`, or `all` \
                 (the release list: {})",
                config.targets.join(", ")
            ),
        }
    }
    Ok(targets.into_iter().collect())
}

pub fn plan(input: &PlanInput) -> anyhow::Result<DistPlan> {
    let targets = resolve_targets(input.requested_targets, input.config, input.host)?;
    if input.binaries.is_empty() {
        bail!("package {} has no binaries to ship", input.config.package);
    }
    let app = &input.config.package;
    let mut include = input.config.include.clone();
    include.sort();
    include.dedup();
    for file in &include {
        if Path::new(file).is_absolute()
            || file.split('/').any(|part| part == ".." || part.is_empty())
        {
            bail!(
                "[workspace.metadata.xtask-dist] include: {file:?} must be a relative path inside the workspace"
            );
        }
    }
    let targets = targets
        .into_iter()
        .map(|triple| {
            let info = targets::info(&triple, input.host);
            let stem = format!("{app}-{}-{triple}", input.version);
            let mut binaries: Vec<String> = input
                .binaries
                .iter()
                .map(|name| format!("{name}{}", info.exe_suffix))
                .collect();
            binaries.sort();
            TargetPlan {
                archive: format!("{stem}.{}", info.archive.extension()),
                sbom: format!("{stem}.cdx.json"),
                stem,
                binaries,
                info,
            }
        })
        .collect();
    Ok(DistPlan {
        app: app.clone(),
        version: input.version.clone(),
        commit: input.commit.clone(),
        short_commit: input.short_commit.clone(),
        source_date_epoch: input.source_date_epoch,
        profile: input.config.profile.clone(),
        include,
        installer: input.config.installer.clone(),
        out: input.out.clone(),
        partial: input.partial,
        targets,
    })
}

impl DistPlan {
    pub fn triples(&self) -> Vec<String> {
        self.targets.iter().map(|t| t.info.triple.clone()).collect()
    }

    /// The human form of `--dry-run`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "dist plan: {} {} (commit {}, SOURCE_DATE_EPOCH {})\n  build: cargo build --locked --profile {} -p {} --bins{}\n",
            self.app,
            self.version,
            self.short_commit,
            self.source_date_epoch,
            self.profile,
            self.app,
            self.triples()
                .iter()
                .map(|t| format!(" --target {t}"))
                .collect::<String>(),
        );
        for target in &self.targets {
            text.push_str(&format!(
                "  {}: {} ({}) + {}\n",
                target.info.triple,
                target.archive,
                target.binaries.join(", "),
                target.sbom
            ));
        }
        if self.installer.is_some() {
            text.push_str(&format!("  {INSTALLER_NAME}\n"));
        }
        if !self.partial {
            text.push_str(&format!("  {}\n", manifest::CHECKSUMS_FILE));
        }
        text.push_str(&format!(
            "  {}\n  into {}\n",
            manifest::FILE_NAME,
            self.out.display()
        ));
        text
    }
}

impl flags::Dist {
    pub fn run(self, sh: &xshell::Shell) -> anyhow::Result<()> {
        let progress = Progress::new(self.quiet);
        let context = crate::plan::ReleaseContext::load(sh)?;
        let out = match &self.out {
            Some(out) => std::env::current_dir()?.join(out),
            None => context.workspace.root.join("dist"),
        };
        let plan = plan(&PlanInput {
            config: &context.workspace.config,
            binaries: context.binaries.clone(),
            host: &context.host,
            version: context.version.to_string(),
            commit: context.commit.clone(),
            short_commit: context.short_commit.clone(),
            source_date_epoch: context.source_date_epoch,
            requested_targets: &self.targets,
            out,
            partial: self.partial,
        })?;
        if self.dry_run {
            if self.json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                eprint!("{}", plan.describe());
            }
            return Ok(());
        }
        let manifest = output::execute(sh, &context, &plan, &progress, self.smoke)?;
        if self.json {
            print!("{}", String::from_utf8(manifest.to_json())?);
        }
        Ok(())
    }
}

/// The binary names of `package` that a default-feature build produces.
pub fn shipped_binaries(package: &cargo_metadata::Package) -> Vec<String> {
    let default: BTreeSet<&str> = package
        .features
        .get("default")
        .map(|features| features.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut names: Vec<String> = package
        .targets
        .iter()
        .filter(|t| t.is_bin())
        .filter(|t| {
            t.required_features
                .iter()
                .all(|f| default.contains(f.as_str()))
        })
        .map(|t| t.name.clone())
        .collect();
    names.sort();
    names
}

pub fn archive_format_of(target: &TargetPlan) -> ArchiveFormat {
    target.info.archive
}

pub(crate) fn ensure_parent(path: &Path) -> anyhow::Result<PathBuf> {
    let parent = path
        .parent()
        .context("the output directory has no parent")?
        .to_owned();
    std::fs::create_dir_all(&parent).with_context(|| {
        format!(
            "cannot create {}: pick a writable --out directory",
            parent.display()
        )
    })?;
    Ok(parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "x86_64-unknown-linux-gnu";

    fn config() -> DistConfig {
        DistConfig {
            package: "jimini".into(),
            profile: "dist".into(),
            targets: vec![
                HOST.into(),
                "x86_64-pc-windows-gnu".into(),
                "aarch64-unknown-linux-gnu".into(),
            ],
            include: vec!["README.md".into(), "LICENSE".into(), "README.md".into()],
            installer: Some("install.sh".into()),
        }
    }

    fn input<'a>(config: &'a DistConfig, targets: &'a [String]) -> PlanInput<'a> {
        PlanInput {
            config,
            binaries: vec![
                "jimini".into(),
                "jimini-server".into(),
                "jimini-admin".into(),
            ],
            host: HOST,
            version: "0.2.0".into(),
            commit: "3f2a9c1".repeat(5) + "aaaaa",
            short_commit: "3f2a9c1".into(),
            source_date_epoch: 1_700_000_000,
            requested_targets: targets,
            out: PathBuf::from("/w/dist"),
            partial: false,
        }
    }

    #[test]
    fn default_is_the_host_only() {
        let config = config();
        let plan = plan(&input(&config, &[])).unwrap();
        assert_eq!(plan.triples(), vec![HOST]);
        let target = &plan.targets[0];
        assert_eq!(
            target.archive,
            "jimini-0.2.0-x86_64-unknown-linux-gnu.tar.gz"
        );
        assert_eq!(
            target.sbom,
            "jimini-0.2.0-x86_64-unknown-linux-gnu.cdx.json"
        );
        assert_eq!(target.binaries, ["jimini", "jimini-admin", "jimini-server"]);
        assert_eq!(
            plan.include,
            ["LICENSE", "README.md"],
            "sorted and deduplicated"
        );
    }

    #[test]
    fn all_expands_the_release_list_sorted_and_windows_gets_zip_and_exe() {
        let config = config();
        let requested = vec!["all".to_owned(), HOST.to_owned()];
        let plan = plan(&input(&config, &requested)).unwrap();
        assert_eq!(
            plan.triples(),
            ["aarch64-unknown-linux-gnu", "x86_64-pc-windows-gnu", HOST]
        );
        let windows = &plan.targets[1];
        assert_eq!(windows.archive, "jimini-0.2.0-x86_64-pc-windows-gnu.zip");
        assert_eq!(
            windows.binaries,
            ["jimini-admin.exe", "jimini-server.exe", "jimini.exe"]
        );
    }

    #[test]
    fn unknown_targets_and_bad_includes_are_refused_with_the_fix() {
        let config = config();
        let requested = vec!["linux".to_owned()];
        let err = plan(&input(&config, &requested)).unwrap_err().to_string();
        assert!(
            err.contains("unknown target \"linux\"") && err.contains("all"),
            "{err}"
        );

        let mut config = config;
        config.include = vec!["../secret".into()];
        let err = plan(&input(&config, &[])).unwrap_err().to_string();
        assert!(err.contains("relative path inside the workspace"), "{err}");

        config.include = vec![];
        config.targets = vec![];
        let requested = vec!["all".to_owned()];
        let err = plan(&input(&config, &requested)).unwrap_err().to_string();
        assert!(err.contains("targets is empty"), "{err}");
    }

    #[test]
    fn describe_lists_every_artifact() {
        let config = config();
        let plan = plan(&input(&config, &[])).unwrap();
        let text = plan.describe();
        assert!(
            text.contains("--profile dist -p jimini --bins --target x86_64-unknown-linux-gnu"),
            "{text}"
        );
        assert!(text.contains("SHA256SUMS") && text.contains("dist-manifest.json"));
    }
}
