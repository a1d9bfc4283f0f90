//! The dist plan: a pure function of the gathered inputs that holds the whole truth of a run:
//! the exact cargo argv and environment, every target and every artifact with its contents.
//! `dist --dry-run [--json]` prints it; `execute` follows it.

use std::path::{Path, PathBuf};

use anyhow::bail;
use serde::Serialize;

mod describe;
mod names;
use names::check_upload_safe;
pub use names::{archive_stem, include_archive_name};
pub mod entry;
mod signing;
pub use signing::{SigningPlan, SigningRequest};

use super::build::{self, BuildInputs, BuildStep};
use super::deb::plan::{DebPlan, DebRequest, PackageMeta};
use super::wheel::plan::{WheelPlan, WheelRequest};
use super::{INSTALLER_NAME, manifest};
use crate::signing::SIGNATURE_FILE;
use crate::targets::{ArchiveFormat, Os, Target, Triple};
use crate::workspace::DistConfig;
use entry::{Mode, PackageEntry};

/// Everything the plan depends on, gathered from metadata, git, environment, config and flags.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub config: &'a DistConfig,
    /// Binary names of the shipped package (default features).
    pub binaries: Vec<String>,
    pub host: &'a Triple,
    pub version: &'a semver::Version,
    pub commit: String,
    pub short_commit: String,
    pub source_date_epoch: i64,
    pub requested_targets: &'a [String],
    pub out: PathBuf,
    pub partial: bool,
    pub build: &'a BuildInputs,
    /// The shipped package's directory relative to the workspace root (`app`): include files
    /// inside it lose that prefix in the archives.
    pub package_dir: String,
    /// The shipped package's metadata, for the packages' control data.
    pub meta: PackageMeta,
    /// Whether the configured (or default) public key file exists.
    pub public_key_exists: bool,
    /// The release keys the workspace's key history trusts (with the public key).
    pub keyring: Option<&'a crate::keys::Keyring>,
    pub signing: SigningRequest,
    /// The shipped package's `[package.metadata.binstall]`, checked against the plan.
    pub binstall: Option<&'a super::binstall::Binstall>,
    /// The version's CHANGELOG section, when it has one (an RPM's `%changelog` entry).
    pub release_notes: Option<String>,
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
    /// The npm main package (every dist, partial ones too: it pins the whole release list's
    /// platform packages, as install.sh lists the whole release list).
    pub npm: Option<super::npm::NpmPackagePlan>,
    /// The Homebrew formula, written when the release is sealed (not in a partial dist).
    pub formula: Option<super::homebrew::FormulaPlan>,
    /// The Scoop manifest, written when the release is sealed (not in a partial dist).
    pub scoop: Option<super::scoop::ScoopPlan>,
    /// The winget manifests, written when the release is sealed (not in a partial dist).
    pub winget: Option<super::winget::WingetPlan>,
    pub out: PathBuf,
    pub partial: bool,
    pub signing: SigningPlan,
    /// The cargo builds of the targets, run in order from the workspace root: one per target.
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
    /// [`archive_stem`] with `@VERSION@` and `@TARGET@` for the version and target install.sh
    /// asks for: replaces `__JIMINI_ARCHIVE_STEM__`.
    pub stem_pattern: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetPlan {
    pub target: Target,
    /// Where cargo puts this target's artifacts: how the build's output is sorted by target.
    pub artifact_dir: PathBuf,
    /// `jimini-<version>-<target>`: the archive's top directory and file stem.
    pub stem: String,
    pub archive: String,
    /// The same entries as `.tar.gz`, for install.sh on machines without `xz` (many minimal
    /// and `-slim` images): Linux targets whose archive is `.tar.xz`.
    pub fallback_archive: Option<String>,
    pub sbom: String,
    /// The shipped binaries, sorted by file name.
    pub binaries: Vec<Binary>,
    /// Every file of the archive, below its top directory, sorted by path.
    pub archive_entries: Vec<PackageEntry>,
    /// The Debian package, for Linux glibc targets when `deb` is configured.
    pub deb: Option<DebPlan>,
    /// The Python wheel, for targets with a platform tag unless `wheel = false`.
    pub wheel: Option<WheelPlan>,
    /// The RPM, for Linux glibc targets when `rpm = true` (made from the `.deb`'s plan).
    pub rpm: Option<super::rpm::plan::RpmPlan>,
    /// The npm platform package, for targets Node runs on when `[..npm]` is configured.
    pub npm: Option<super::npm::NpmPackagePlan>,
}

/// One shipped binary: cargo's name and its file name on the target (`jimini.exe`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Binary {
    pub file: String,
    pub name: String,
}

pub fn plan(input: &PlanInput) -> anyhow::Result<DistPlan> {
    let targets = crate::targets::resolve(input.requested_targets, input.config, input.host)?;
    if input.binaries.is_empty() {
        bail!("package {} has no binaries to ship", input.config.package);
    }
    let app = &input.config.package;
    if input.config.rpm && input.config.deb.is_none() {
        bail!(
            "rpm = true packs the .deb's files: add [workspace.metadata.xtask-dist.deb] (its \
             maintainer and assets serve both), or remove rpm"
        );
    }
    if let Some(npm) = &input.config.npm {
        super::npm::plan::check_config(npm, app)?;
    }
    let signing = signing::plan(input)?;
    let mut include = include_files(input.config)?;
    if let Some(public_key) = &signing.public_key {
        include.push(public_key.clone());
        include.sort();
        include.dedup();
    }
    let targets = targets
        .into_iter()
        .map(|target| plan_target(input, target, &include))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(binstall) = input.binstall {
        let release_key = input.keyring.map(|k| k.current().key.to_base64());
        super::binstall::check(
            binstall,
            app,
            &input.version.to_string(),
            &targets,
            release_key.as_deref(),
        )?;
    }
    // One cargo run per target, in plan order. A target's binaries must not depend on which
    // other targets a dist builds, and in one cargo run they do: cargo unifies a dependency's
    // features across the run's targets (a feature that only the Windows target asks for was
    // compiled into the musl binaries, so a fanned-out release differed from a one-machine
    // dist), and cargo-zigbuild changes how cargo treats the host when the host triple is
    // among its targets (`target-applies-to-host`).
    let builds = targets
        .iter()
        .map(|planned| {
            build::step(
                &build::BuildRequest {
                    package: app,
                    profile: &input.config.profile,
                    target: &planned.target,
                    version: &input.version.to_string(),
                    short_commit: &input.short_commit,
                    source_date_epoch: input.source_date_epoch,
                },
                input.build,
            )
        })
        .collect();
    // The whole release list: install.sh and the npm main package name every platform of it,
    // in a partial dist too.
    let release = if input.config.installer.is_some() || input.config.npm.is_some() {
        crate::targets::resolve(&["all".to_owned()], input.config, input.host)?
    } else {
        vec![]
    };
    let npm = match &input.config.npm {
        Some(config) => {
            super::npm::plan::main_package(&npm_request(input, config, &include), &release)?
        }
        None => None,
    };
    Ok(DistPlan {
        app: app.clone(),
        version: input.version.to_string(),
        commit: input.commit.clone(),
        short_commit: input.short_commit.clone(),
        source_date_epoch: input.source_date_epoch,
        profile: input.config.profile.clone(),
        include,
        installer: input
            .config
            .installer
            .as_ref()
            .map(|template| InstallerPlan {
                template: template.clone(),
                platforms: crate::targets::install_table(&release),
                stem_pattern: archive_stem(app, "@VERSION@", "@TARGET@"),
            }),
        npm,
        formula: super::homebrew::plan(input, &targets)?,
        scoop: super::scoop::plan(input, &targets)?,
        winget: super::winget::plan(input, &targets)?,
        out: input.out.clone(),
        partial: input.partial,
        signing,
        builds,
        targets,
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

fn plan_target(
    input: &PlanInput,
    target: Target,
    include: &[String],
) -> anyhow::Result<TargetPlan> {
    let triple = &target.triple;
    let stem = archive_stem(
        &input.config.package,
        &input.version.to_string(),
        triple.as_str(),
    );
    let mut binaries: Vec<Binary> = input
        .binaries
        .iter()
        .map(|name| Binary {
            file: target.binary_file(name),
            name: name.clone(),
        })
        .collect();
    binaries.sort();
    let mut archive_entries: Vec<PackageEntry> = binaries
        .iter()
        .map(|binary| PackageEntry::binary(binary.file.clone(), &binary.name))
        .collect();
    for file in include {
        archive_entries.push(PackageEntry::file(
            include_archive_name(file, &input.package_dir),
            file,
            Mode::FILE,
        ));
    }
    // Man pages where `man` is: every target but Windows.
    if let Some(dir) = &input.config.man_pages
        && target.os != crate::targets::Os::Windows
    {
        for binary in &binaries {
            let path = format!("man/man1/{}.1", binary.name);
            archive_entries.push(PackageEntry::man_page(path, &binary.name, dir, false));
        }
    }
    archive_entries.sort();
    if let Some(pair) = archive_entries
        .windows(2)
        .find(|pair| pair[0].path == pair[1].path)
    {
        bail!(
            "two files of the {triple} archive would be {}: rename one of the include files",
            pair[0].path
        );
    }
    let deb = match &input.config.deb {
        Some(config) => super::deb::plan::plan(&DebRequest {
            config,
            app: &input.config.package,
            version: input.version,
            target: &target,
            binaries: &input.binaries,
            include,
            meta: &input.meta,
            man_pages: input.config.man_pages.as_deref(),
        })?,
        None => None,
    };
    let rpm = match (&deb, input.config.rpm) {
        (Some(deb), true) => {
            super::rpm::plan::plan(deb, &target, input.version, input.release_notes.as_deref())?
        }
        _ => None,
    };
    let sbom = format!("{stem}.cdx.json");
    let wheel = match input.config.wheel() {
        Some(config) => super::wheel::plan::plan(&WheelRequest {
            sbom: &sbom,
            app: &input.config.package,
            version: input.version,
            target: &target,
            binaries: &input.binaries,
            license_file: super::deb::plan::license_file(include),
            meta: &input.meta,
            classifiers: &config.classifiers,
        })?,
        None => None,
    };
    let npm = input.config.npm.as_ref().and_then(|config| {
        super::npm::plan::platform_package(&npm_request(input, config, include), &target, &binaries)
    });
    let planned = TargetPlan {
        npm,
        deb,
        wheel,
        rpm,
        artifact_dir: input.build.target_dir.join(triple.as_str()),
        archive: format!("{stem}.{}", target.archive.extension()),
        fallback_archive: (target.archive == ArchiveFormat::TarXz && target.os == Os::Linux)
            .then(|| format!("{stem}.{}", ArchiveFormat::TarGz.extension())),
        sbom,
        stem,
        binaries,
        archive_entries,
        target,
    };
    for name in planned.file_names() {
        check_upload_safe(name)?;
    }
    Ok(planned)
}

impl TargetPlan {
    /// The files this target adds to the dist, as the plan names them.
    pub fn file_names(&self) -> impl Iterator<Item = &str> {
        [
            Some(&self.archive),
            self.fallback_archive.as_ref(),
            Some(&self.sbom),
            self.deb.as_ref().map(|deb| &deb.file),
            self.wheel.as_ref().map(|wheel| &wheel.file),
            self.rpm.as_ref().map(|rpm| &rpm.file),
            self.npm.as_ref().map(|npm| &npm.file),
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
    }
}

fn npm_request<'a>(
    input: &'a PlanInput<'a>,
    config: &'a crate::workspace::NpmConfig,
    include: &'a [String],
) -> super::npm::plan::NpmRequest<'a> {
    super::npm::plan::NpmRequest {
        config,
        input,
        license_file: super::deb::plan::license_file(include),
    }
}

#[cfg(test)]
pub(crate) mod tests;
