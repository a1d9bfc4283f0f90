//! The dist plan: a pure function of the gathered inputs that holds the whole truth of a run:
//! the exact cargo argv and environment, every target and every artifact with its contents.
//! `dist --dry-run [--json]` prints it; `execute` follows it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::bail;
use serde::Serialize;

use super::build::{self, BuildInputs, BuildStep};
use super::inspect::GlibcVersion;
use super::{INSTALLER_NAME, manifest};
use crate::signing::{KeySource, SIGNATURE_FILE, SIGNING_KEY_VAR};
use crate::targets::{ArchiveFormat, Target, Triple};
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
    /// Whether the configured (or default) public key file exists.
    pub public_key_exists: bool,
    pub signing: SigningRequest,
    /// The shipped package's `[package.metadata.binstall]`, checked against the plan.
    pub binstall: Option<&'a super::binstall::Binstall>,
}

/// What the flags and the environment ask of signing.
#[derive(Debug, Clone, Default)]
pub struct SigningRequest {
    pub key: Option<KeySource>,
    pub require: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningPlan {
    /// The public key (workspace-relative), shipped in every archive and embedded in
    /// install.sh; `None` before `cargo xtask keygen` made one.
    pub public_key: Option<String>,
    /// Where the secret key that signs `SHA256SUMS` comes from; `None`: an unsigned release.
    pub key: Option<KeySource>,
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
    pub signing: SigningPlan,
    /// The cargo builds of the targets, run in order from the workspace root: one for the
    /// targets linked against a glibc floor (through cargo-zigbuild), one for the rest.
    pub builds: Vec<BuildStep>,
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
    /// Glibc targets: the newest glibc their binaries may need (`glibc` in the config).
    pub glibc_floor: Option<GlibcVersion>,
    /// The Debian package's file name, for Linux glibc targets when `deb` is configured.
    pub deb: Option<String>,
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
    let signing = signing_plan(input)?;
    let glibc_floor = match &input.config.glibc {
        Some(text) => Some(text.parse::<GlibcVersion>().map_err(|_| {
            anyhow::anyhow!(
                "[workspace.metadata.xtask-dist] glibc = {text:?} is not a glibc version: write \
                 it like \"2.17\""
            )
        })?),
        None => None,
    };
    let mut include = include_files(input.config)?;
    if let Some(public_key) = &signing.public_key {
        include.push(public_key.clone());
        include.sort();
        include.dedup();
    }
    let targets = triples
        .iter()
        .map(|t| plan_target(input, t, glibc_floor.as_ref()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(binstall) = input.binstall {
        super::binstall::check(binstall, app, &input.version, &targets)?;
    }
    let builds = build_groups(&targets)
        .into_iter()
        .map(|(glibc, group)| {
            build::step(
                &build::BuildRequest {
                    package: app,
                    profile: &input.config.profile,
                    targets: &group,
                    glibc,
                    version: &input.version,
                    short_commit: &input.short_commit,
                    source_date_epoch: input.source_date_epoch,
                    quiet: input.quiet,
                },
                input.build,
            )
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
        signing,
        builds,
        targets,
    })
}

/// Whether building `targets` under `config` links any of them through zig (a glibc floor is
/// configured and a target uses glibc).
pub fn links_through_zig(config: &DistConfig, targets: &[Target]) -> bool {
    config.glibc.is_some()
        && targets
            .iter()
            .any(|target| target.libc == crate::targets::Libc::Glibc)
}

/// The targets of each build. Those with a glibc floor link through zig, each in a build of
/// its own: cargo-zigbuild changes how cargo treats the host when the host triple is among its
/// targets (`target-applies-to-host`), which changed the code of the other targets built with
/// it, so a target's binaries would depend on which targets a dist builds. The rest build
/// together. Plan order; no group is empty.
fn build_groups(targets: &[TargetPlan]) -> Vec<(Option<&GlibcVersion>, Vec<Triple>)> {
    let mut groups: Vec<(Option<&GlibcVersion>, Vec<Triple>)> = Vec::new();
    for target in targets {
        let triple = target.target.triple.clone();
        match target.glibc_floor.as_ref() {
            Some(floor) => groups.push((Some(floor), vec![triple])),
            None => match groups.iter_mut().find(|(glibc, _)| glibc.is_none()) {
                Some((_, group)) => group.push(triple),
                None => groups.push((None, vec![triple])),
            },
        }
    }
    groups
}

/// Signing follows the flags, the key files and whether the dist is partial; every mismatch is
/// found here, before anything is built.
fn signing_plan(input: &PlanInput) -> anyhow::Result<SigningPlan> {
    let config = input.config;
    let public_key = config.public_key();
    if config.public_key.is_some() && !input.public_key_exists {
        bail!(
            "[workspace.metadata.xtask-dist] public-key = {public_key:?} does not exist: make a \
             key pair with `cargo xtask keygen --secret-key FILE`, or remove the setting"
        );
    }
    let request = &input.signing;
    if input.partial && (request.key.is_some() || request.require) {
        bail!(
            "a partial dist is not signed (it has no SHA256SUMS): sign the merged dist with \
             `cargo xtask dist merge --signing-key FILE --require-signature`"
        );
    }
    if request.require && request.key.is_none() {
        bail!(
            "--require-signature, but there is no signing key: pass --signing-key FILE or set \
             {SIGNING_KEY_VAR} to the secret key's contents"
        );
    }
    if request.key.is_some() && !input.public_key_exists {
        bail!(
            "there is no public key at {public_key} to sign for: make a key pair with `cargo \
             xtask keygen --secret-key FILE` and commit the public key"
        );
    }
    Ok(SigningPlan {
        public_key: input.public_key_exists.then(|| public_key.to_owned()),
        key: request.key.clone(),
    })
}

/// The include files, sorted and deduplicated; each must be a relative path inside the workspace.
fn include_files(config: &DistConfig) -> anyhow::Result<Vec<String>> {
    let mut include = config.include.clone();
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
    Ok(include)
}

/// The target's facts with the configured archive format.
fn configured_target(input: &PlanInput, triple: &Triple) -> anyhow::Result<Target> {
    let mut target = Target::new(triple, input.host);
    let (key, setting) = match target.exe_suffix {
        ".exe" => ("windows-archive", &input.config.windows_archive),
        _ => ("unix-archive", &input.config.unix_archive),
    };
    if let Some(text) = setting {
        target.archive = ArchiveFormat::from_extension(text).ok_or_else(|| {
            anyhow::anyhow!(
                "[workspace.metadata.xtask-dist] {key} = {text:?}: use \"tar.xz\", \"tar.gz\" \
                 or \"zip\""
            )
        })?;
    }
    Ok(target)
}

fn plan_target(
    input: &PlanInput,
    triple: &Triple,
    glibc_floor: Option<&GlibcVersion>,
) -> anyhow::Result<TargetPlan> {
    let target = configured_target(input, triple)?;
    let stem = format!("{}-{}-{triple}", input.config.package, input.version);
    let mut binaries: Vec<String> = input
        .binaries
        .iter()
        .map(|name| format!("{name}{}", target.exe_suffix))
        .collect();
    binaries.sort();
    let deb = match (&input.config.deb, target.deb_arch) {
        (Some(_), Some(arch)) => {
            let version = semver::Version::parse(&input.version)?;
            Some(super::deb::file_name(&input.config.package, &version, arch))
        }
        _ => None,
    };
    Ok(TargetPlan {
        deb,
        glibc_floor: glibc_floor
            .filter(|_| target.libc == crate::targets::Libc::Glibc)
            .cloned(),
        artifact_dir: input.build.target_dir.join(triple.as_str()),
        archive: format!("{stem}.{}", target.archive.extension()),
        sbom: format!("{stem}.cdx.json"),
        stem,
        binaries,
        target,
    })
}

/// install.sh's platform table for the configured release list.
fn release_platforms(input: &PlanInput) -> anyhow::Result<String> {
    let all = resolve_targets(&["all".to_owned()], input.config, input.host)?;
    let targets = all
        .iter()
        .map(|t| configured_target(input, t))
        .collect::<anyhow::Result<Vec<Target>>>()?;
    Ok(crate::targets::install_table(
        &targets,
        input.config.glibc.as_deref(),
    ))
}

impl DistPlan {
    /// The planned targets, in plan order.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().map(|t| &t.target)
    }

    /// The human form of `--dry-run`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "dist plan: {} {} (commit {}, SOURCE_DATE_EPOCH {})\n",
            self.app, self.version, self.short_commit, self.source_date_epoch,
        );
        for build in &self.builds {
            text.push_str(&format!("  build: {}\n", build.describe()));
        }
        for target in &self.targets {
            text.push_str(&format!(
                "  {}: {} ({}) + {}{}\n",
                target.target.triple,
                target.archive,
                target.binaries.join(", "),
                target.sbom,
                target
                    .deb
                    .as_ref()
                    .map(|deb| format!(" + {deb}"))
                    .unwrap_or_default()
            ));
        }
        if self.installer.is_some() {
            text.push_str(&format!("  {INSTALLER_NAME}\n"));
        }
        if !self.partial {
            text.push_str(&format!("  {}\n", manifest::CHECKSUMS_FILE));
            match &self.signing.key {
                Some(key) => text.push_str(&format!(
                    "  {SIGNATURE_FILE} (signed with {})\n",
                    key.describe()
                )),
                None => text.push_str("  unsigned: no signing key\n"),
            }
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
mod tests;
