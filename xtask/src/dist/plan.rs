//! The dist plan: a pure function of the gathered inputs that holds the whole truth of a run:
//! the exact cargo argv and environment, every target and every artifact with its contents.
//! `dist --dry-run [--json]` prints it; `execute` follows it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::bail;
use serde::Serialize;

use super::build::{self, BuildInputs, BuildStep};
use super::{INSTALLER_NAME, manifest};
use crate::targets::{Target, Triple};
use crate::workspace::DistConfig;

/// Everything the plan depends on, gathered from metadata, git, environment, config and flags.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub config: &'a DistConfig,
    /// Binary names of the shipped package (default features).
    pub binaries: Vec<String>,
    pub host: &'a Triple,
    pub version: String,
    pub commit: String,
    pub short_commit: String,
    pub source_date_epoch: i64,
    pub requested_targets: &'a [String],
    pub out: PathBuf,
    pub partial: bool,
    pub build: &'a BuildInputs,
    /// No cargo progress on stderr.
    pub quiet: bool,
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
    /// The install script shipped as `install.sh`, and what is filled into it.
    pub installer: Option<InstallerPlan>,
    pub out: PathBuf,
    pub partial: bool,
    /// The one cargo build of every target: run from the workspace root.
    pub build: BuildStep,
    pub targets: Vec<TargetPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallerPlan {
    /// Workspace-relative path of the template.
    pub template: String,
    /// The platform table of the whole release list (the same in every partial dist), which
    /// replaces `__JIMINI_PLATFORMS__`; the version replaces `__JIMINI_VERSION__`.
    pub platforms: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetPlan {
    pub target: Target,
    /// Where cargo puts this target's artifacts: how the build's output is sorted by target.
    pub artifact_dir: PathBuf,
    /// `jimini-<version>-<target>`: the archive's top directory and file stem.
    pub stem: String,
    pub archive: String,
    pub sbom: String,
    /// Binary file names inside the archive (with `.exe` on Windows).
    pub binaries: Vec<String>,
}

/// Resolves `--target` values: none → the host, `all` → the release list, `host` → the host.
pub fn resolve_targets(
    requested: &[String],
    config: &DistConfig,
    host: &Triple,
) -> anyhow::Result<Vec<Triple>> {
    let mut targets = BTreeSet::new();
    if requested.is_empty() {
        targets.insert(host.clone());
    }
    let release_list = || config.targets.join(", ");
    for target in requested {
        match target.as_str() {
            "all" => {
                if config.targets.is_empty() {
                    bail!(
                        "--target all: [workspace.metadata.xtask-dist] targets is empty; list the release targets there"
                    );
                }
                for listed in &config.targets {
                    let Some(triple) = Triple::parse(listed) else {
                        bail!(
                            "[workspace.metadata.xtask-dist] targets: {listed:?} is not a target \
                             triple; use the form <arch>-<vendor>-<os>[-<env>]"
                        );
                    };
                    targets.insert(triple);
                }
            }
            "host" => {
                targets.insert(host.clone());
            }
            other => match Triple::parse(other) {
                Some(triple) => {
                    targets.insert(triple);
                }
                None => bail!(
                    "unknown target {other:?}: use a target triple such as {host}, `host`, or \
                     `all` (the release list: {})",
                    release_list()
                ),
            },
        }
    }
    Ok(targets.into_iter().collect())
}

pub fn plan(input: &PlanInput) -> anyhow::Result<DistPlan> {
    let triples = resolve_targets(input.requested_targets, input.config, input.host)?;
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
    let build = build::step(
        &build::BuildRequest {
            package: app,
            profile: &input.config.profile,
            targets: &triples,
            version: &input.version,
            short_commit: &input.short_commit,
            source_date_epoch: input.source_date_epoch,
            quiet: input.quiet,
        },
        input.build,
    );
    let targets = triples
        .iter()
        .map(|triple| {
            let target = Target::new(triple, input.host);
            let stem = format!("{app}-{}-{triple}", input.version);
            let mut binaries: Vec<String> = input
                .binaries
                .iter()
                .map(|name| format!("{name}{}", target.exe_suffix))
                .collect();
            binaries.sort();
            TargetPlan {
                artifact_dir: input.build.target_dir.join(triple.as_str()),
                archive: format!("{stem}.{}", target.archive.extension()),
                sbom: format!("{stem}.cdx.json"),
                stem,
                binaries,
                target,
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
        installer: match &input.config.installer {
            Some(template) => Some(InstallerPlan {
                template: template.clone(),
                platforms: release_platforms(input)?,
            }),
            None => None,
        },
        out: input.out.clone(),
        partial: input.partial,
        build,
        targets,
    })
}

/// install.sh's platform table for the configured release list.
fn release_platforms(input: &PlanInput) -> anyhow::Result<String> {
    let all = resolve_targets(&["all".to_owned()], input.config, input.host)?;
    let targets: Vec<Target> = all.iter().map(|t| Target::new(t, input.host)).collect();
    Ok(crate::targets::install_table(&targets))
}

impl DistPlan {
    /// The planned targets, in plan order.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().map(|t| &t.target)
    }

    /// The human form of `--dry-run`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "dist plan: {} {} (commit {}, SOURCE_DATE_EPOCH {})\n  build: {}\n",
            self.app,
            self.version,
            self.short_commit,
            self.source_date_epoch,
            self.build.describe(),
        );
        for target in &self.targets {
            text.push_str(&format!(
                "  {}: {} ({}) + {}\n",
                target.target.triple,
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

    fn host() -> Triple {
        Triple::parse(HOST).unwrap()
    }

    fn inputs() -> BuildInputs {
        BuildInputs {
            cargo: "/home/u/.cargo/bin/cargo".into(),
            target_dir: PathBuf::from("/w/target"),
            remaps: vec!["--remap-path-prefix=/w=/build".into()],
            user: Default::default(),
        }
    }

    fn planned(config: &DistConfig, targets: &[String]) -> anyhow::Result<DistPlan> {
        let host = host();
        let build = inputs();
        plan(&PlanInput {
            config,
            binaries: vec![
                "jimini".into(),
                "jimini-server".into(),
                "jimini-admin".into(),
            ],
            host: &host,
            version: "0.2.0".into(),
            commit: "3f2a9c1".repeat(5) + "aaaaa",
            short_commit: "3f2a9c1".into(),
            source_date_epoch: 1_700_000_000,
            requested_targets: targets,
            out: PathBuf::from("/w/dist"),
            partial: false,
            build: &build,
            quiet: false,
        })
    }

    fn triples(plan: &DistPlan) -> Vec<&str> {
        plan.targets().map(|t| t.triple.as_str()).collect()
    }

    #[test]
    fn default_is_the_host_only() {
        let plan = planned(&config(), &[]).unwrap();
        assert_eq!(triples(&plan), vec![HOST]);
        let target = &plan.targets[0];
        assert_eq!(
            target.archive,
            "jimini-0.2.0-x86_64-unknown-linux-gnu.tar.gz"
        );
        assert_eq!(
            target.sbom,
            "jimini-0.2.0-x86_64-unknown-linux-gnu.cdx.json"
        );
        assert_eq!(
            target.artifact_dir,
            Path::new("/w/target/x86_64-unknown-linux-gnu")
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
        let requested = vec!["all".to_owned(), HOST.to_owned()];
        let plan = planned(&config(), &requested).unwrap();
        assert_eq!(
            triples(&plan),
            ["aarch64-unknown-linux-gnu", "x86_64-pc-windows-gnu", HOST]
        );
        let windows = &plan.targets[1];
        assert_eq!(windows.archive, "jimini-0.2.0-x86_64-pc-windows-gnu.zip");
        assert_eq!(
            windows.binaries,
            ["jimini-admin.exe", "jimini-server.exe", "jimini.exe"]
        );
        let argv = plan.build.argv.join(" ");
        assert!(
            argv.contains(
                "--target aarch64-unknown-linux-gnu --target x86_64-pc-windows-gnu --target x86_64-unknown-linux-gnu"
            ),
            "{argv}"
        );
    }

    #[test]
    fn unknown_targets_and_bad_includes_are_refused_with_the_fix() {
        let requested = vec!["linux".to_owned()];
        let err = planned(&config(), &requested).unwrap_err().to_string();
        assert!(
            err.contains("unknown target \"linux\"") && err.contains("all"),
            "{err}"
        );

        let mut config = config();
        config.include = vec!["../secret".into()];
        let err = planned(&config, &[]).unwrap_err().to_string();
        assert!(err.contains("relative path inside the workspace"), "{err}");

        config.include = vec![];
        config.targets = vec!["x86_64 linux".into()];
        let all = vec!["all".to_owned()];
        let err = planned(&config, &all).unwrap_err().to_string();
        assert!(
            err.contains("\"x86_64 linux\" is not a target triple"),
            "{err}"
        );
        config.targets = vec![];
        let err = planned(&config, &all).unwrap_err().to_string();
        assert!(err.contains("targets is empty"), "{err}");
    }

    #[test]
    fn the_installer_gets_the_platforms_of_the_whole_release_list() {
        let plan = planned(&config(), &[]).unwrap();
        let installer = plan.installer.unwrap();
        assert_eq!(installer.template, "install.sh");
        assert_eq!(
            installer.platforms,
            "Linux aarch64 gnu aarch64-unknown-linux-gnu tar.gz\n\
             Linux arm64 gnu aarch64-unknown-linux-gnu tar.gz\n\
             Linux x86_64 gnu x86_64-unknown-linux-gnu tar.gz\n\
             Linux amd64 gnu x86_64-unknown-linux-gnu tar.gz"
        );
    }

    #[test]
    fn describe_shows_the_exact_command_and_every_artifact() {
        let plan = planned(&config(), &[]).unwrap();
        let text = plan.describe();
        assert!(
            text.contains(
                "/home/u/.cargo/bin/cargo build --locked --profile dist -p jimini --bins --target x86_64-unknown-linux-gnu --message-format=json-render-diagnostics"
            ),
            "{text}"
        );
        assert!(text.contains("JIMINI_BUILD_VERSION=0.2.0"), "{text}");
        assert!(text.contains("SHA256SUMS") && text.contains("dist-manifest.json"));
    }
}
