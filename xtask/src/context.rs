//! The facts every release command starts from: workspace, host, git, version and source date,
//! gathered once.

use std::path::PathBuf;

use anyhow::{Context, bail};
use semver::Version;
use xshell::{Shell, cmd};

use crate::dist::build::BuildInputs;
use crate::dist::deb::plan::PackageMeta;
use crate::dist::rustflags;
use crate::dist::{self, DistPlan, PlanInput};
use crate::targets::Triple;
use crate::workspace::Workspace;
use crate::{git, version};

/// Workspace, host, version and source date, as one dist or plan sees them.
pub struct ReleaseContext {
    pub workspace: Workspace,
    pub host: Triple,
    pub workspace_version: Version,
    pub version: Version,
    pub commit: String,
    pub short_commit: String,
    pub source_date_epoch: i64,
    pub binaries: Vec<String>,
    /// The shipped package's `[package.metadata.binstall]`, if any.
    pub binstall: Option<dist::binstall::Binstall>,
    /// The release keys: the key history beside the public key, checked link by link.
    pub keyring: Option<crate::keys::Keyring>,
    /// The dist version's CHANGELOG section, if it has one (a snapshot has none).
    pub release_notes: Option<String>,
    pub package_id: cargo_metadata::PackageId,
    /// The environment and config files that decide the build's flags.
    pub build: BuildInputs,
    /// The shipped package's directory relative to the workspace root.
    pub package_dir: String,
    /// The shipped package's metadata that the packages' control data read.
    pub meta: PackageMeta,
}

pub fn host_triple(sh: &Shell) -> anyhow::Result<Triple> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let info = cmd!(sh, "{rustc} -vV")
        .quiet()
        .read()
        .context("cannot run `rustc -vV`: is Rust installed?")?;
    info.lines()
        .find_map(|line| line.strip_prefix("host: "))
        .and_then(Triple::parse)
        .context("`rustc -vV` printed no host line")
}

/// `SOURCE_DATE_EPOCH` from the environment, else HEAD's commit time.
fn source_date_epoch(git: Option<&git::GitState>) -> anyhow::Result<i64> {
    let env_epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .filter(|v| !v.trim().is_empty());
    Ok(match (env_epoch, git) {
        (Some(epoch), _) => epoch.trim().parse().with_context(|| {
            format!("SOURCE_DATE_EPOCH={epoch:?} is not whole seconds since 1970")
        })?,
        (None, Some(state)) => state.commit_time,
        (None, None) => bail!(
            "not a git checkout, so there is no commit time: set SOURCE_DATE_EPOCH to the source's date"
        ),
    })
}

/// The full and short commit: HEAD's, or outside git (a container build context) what the
/// builder passes in `JIMINI_BUILD_COMMIT`, or `unknown`.
fn commit_ids(git: Option<&git::GitState>) -> (String, String) {
    if let Some(state) = git {
        return (state.commit.clone(), state.short_commit.clone());
    }
    let commit = std::env::var("JIMINI_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    let short = commit.chars().take(7).collect();
    (commit, short)
}

/// `$CARGO_HOME`, else `~/.cargo`: where cargo keeps the registry sources that the binaries'
/// paths are remapped from.
pub fn cargo_home() -> anyhow::Result<PathBuf> {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return Ok(PathBuf::from(home));
    }
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .context("HOME is not set: set HOME or CARGO_HOME")?;
    Ok(PathBuf::from(home).join(".cargo"))
}

impl ReleaseContext {
    pub fn load(sh: &Shell) -> anyhow::Result<ReleaseContext> {
        let workspace = Workspace::load(sh)?;
        let package = workspace.shipped_package()?;
        let workspace_version = package.version.clone();
        let binaries = dist::shipped_binaries(package);
        let binstall = dist::binstall::Binstall::from_metadata(&package.metadata)?;
        let keyring =
            crate::keys::Keyring::load(&workspace.root.join(workspace.config.public_key()))?;
        let package_id = package.id.clone();
        let host = host_triple(sh)?;
        let changelog =
            fs_err::read_to_string(workspace.root.join("CHANGELOG.md")).unwrap_or_default();
        let git_state = if git::is_repository(sh) {
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
        let source_date_epoch = source_date_epoch(git_state.as_ref())?;
        let release_notes = crate::changelog::section(&changelog, &dist_version)
            .ok()
            .map(|section| section.body);
        let (commit, short_commit) = commit_ids(git_state.as_ref());
        let build = build_inputs(&workspace)?;
        let package_dir = package
            .manifest_path
            .parent()
            .and_then(|dir| dir.strip_prefix(&workspace.metadata.workspace_root).ok())
            .map(|dir| dir.to_string())
            .unwrap_or_default();
        let meta = package_meta(&workspace, package);
        Ok(ReleaseContext {
            build,
            package_dir,
            meta,
            workspace,
            host,
            workspace_version,
            version: dist_version,
            commit,
            short_commit,
            source_date_epoch,
            binaries,
            binstall,
            keyring,
            release_notes,
            package_id,
        })
    }

    /// The dist plan for `targets` (flag values) into `out`.
    pub fn dist_plan(
        &self,
        targets: &[String],
        partial: bool,
        out: PathBuf,
        signing: dist::plan::SigningRequest,
    ) -> anyhow::Result<DistPlan> {
        dist::plan(&PlanInput {
            config: &self.workspace.config,
            binaries: self.binaries.clone(),
            host: &self.host,
            version: &self.version,
            commit: self.commit.clone(),
            short_commit: self.short_commit.clone(),
            source_date_epoch: self.source_date_epoch,
            requested_targets: targets,
            out,
            partial,
            build: &self.build,
            package_dir: self.package_dir.clone(),
            meta: self.meta.clone(),
            public_key_exists: self.keyring.is_some(),
            keyring: self.keyring.as_ref(),
            signing,
            binstall: self.binstall.as_ref(),
            release_notes: self.release_notes.clone(),
        })
    }
}

/// The build's inputs besides the plan: the tools' paths, cargo home, remaps, user rustflags.
fn build_inputs(workspace: &Workspace) -> anyhow::Result<BuildInputs> {
    let cargo_home = cargo_home()?;
    Ok(BuildInputs {
        cargo: crate::cargo().to_string_lossy().into_owned(),
        auditable: path_text(crate::pins::CARGO_AUDITABLE.binary(&workspace.target_dir)),
        path: std::env::var("PATH").unwrap_or_default(),
        zig: crate::dist::build::ZigInputs {
            cargo_zigbuild: path_text(
                crate::pins::ZIG.cargo_zigbuild_binary(&workspace.target_dir),
            ),
            zig: path_text(crate::pins::ZIG.zig_binary(&workspace.target_dir)),
        },
        remaps: rustflags::remap_flags(&workspace.root, &workspace.target_dir, &cargo_home),
        user: rustflags::user_rustflags(&workspace.root, &cargo_home)?,
        target_dir: workspace.target_dir.clone(),
        cargo_home,
    })
}

/// The shipped package's metadata, and the holder its license file names.
fn package_meta(workspace: &Workspace, package: &cargo_metadata::Package) -> PackageMeta {
    let license_holder = dist::deb::plan::license_file(&workspace.config.include)
        .and_then(|file| fs_err::read_to_string(workspace.root.join(file)).ok())
        .and_then(|text| dist::deb::plan::copyright_holder(&text));
    PackageMeta {
        description: package.description.clone(),
        homepage: package.homepage.clone(),
        license: package.license.clone(),
        repository: package.repository.clone(),
        authors: package.authors.clone(),
        license_holder,
        readme: readme(workspace, package),
        keywords: package.keywords.clone(),
    }
}

/// The package's README (`readme`, relative to its manifest) relative to the workspace root;
/// `None` when there is none or it lies outside the workspace.
fn readme(workspace: &Workspace, package: &cargo_metadata::Package) -> Option<String> {
    let readme = package.readme.as_ref()?;
    let mut path = std::path::PathBuf::new();
    for part in package
        .manifest_path
        .parent()?
        .join(readme)
        .as_std_path()
        .components()
    {
        match part {
            std::path::Component::ParentDir => {
                path.pop();
            }
            std::path::Component::CurDir => {}
            other => path.push(other),
        }
    }
    let relative = path.strip_prefix(&workspace.root).ok()?;
    Some(relative.to_string_lossy().into_owned())
}

fn path_text(path: std::path::PathBuf) -> String {
    path.to_string_lossy().into_owned()
}
