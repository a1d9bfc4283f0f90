//! What `publish` gathers before it plans: the tag's commit, the version's CHANGELOG
//! section, the dist's unlisted files, the `.crate` `cargo publish` would upload, and where
//! each host is.

use std::path::Path;

use anyhow::{Context, bail};

use super::plan::{self, Endpoints, FileDigest, Host, PublishInput, PublishPlan};
use crate::dist::archive::digest_file;
use crate::dist::manifest::{self, Manifest};
use crate::signing;

pub(super) fn gather_and_plan(
    sh: &xshell::Shell,
    workspace: &crate::workspace::Workspace,
    endpoints: &Endpoints,
    manifest: &Manifest,
    dir: &Path,
    hosts: &[Host],
) -> anyhow::Result<PublishPlan> {
    let version = plan::release_version(manifest)?;
    let tag = crate::version::release_tag(&version);
    check_tag(sh, &tag, &manifest.commit)?;
    let changelog_path = workspace.root.join("CHANGELOG.md");
    let changelog = fs_err::read_to_string(&changelog_path)?;
    let notes = crate::changelog::section(&changelog, &version)?.body;
    let mut unlisted = vec![file_digest(dir, manifest::FILE_NAME)?];
    if dir.join(signing::SIGNATURE_FILE).is_file() {
        unlisted.push(file_digest(dir, signing::SIGNATURE_FILE)?);
    }
    let crate_file = if hosts.contains(&Host::CratesIo) {
        Some(package_crate(sh, workspace, manifest)?)
    } else {
        None
    };
    plan::plan(&PublishInput {
        manifest,
        unlisted,
        notes,
        hosts: hosts.to_vec(),
        endpoints: endpoints.clone(),
        crate_file,
    })
}

/// The tag, where this machine or the CI knows it, must be the dist's release and commit.
fn check_tag(sh: &xshell::Shell, tag: &str, commit: &str) -> anyhow::Result<()> {
    let ci_tag = std::env::var("CI_COMMIT_TAG").ok().or_else(|| {
        (std::env::var("GITHUB_REF_TYPE").as_deref() == Ok("tag"))
            .then(|| std::env::var("GITHUB_REF_NAME").ok())
            .flatten()
    });
    if let Some(ci_tag) = ci_tag.filter(|t| !t.is_empty())
        && ci_tag != tag
    {
        bail!(
            "this pipeline runs for the tag {ci_tag}, but the dist is the release {tag}: publish the dist this pipeline built"
        );
    }
    if crate::git::is_repository(sh) && crate::git::tag_exists(sh, tag) {
        let spec = format!("refs/tags/{tag}^{{commit}}");
        let tagged = xshell::cmd!(sh, "git rev-parse --verify --quiet {spec}")
            .quiet()
            .read()
            .with_context(|| format!("cannot read the commit of the tag {tag}"))?;
        if tagged.trim() != commit {
            bail!(
                "the tag {tag} is commit {}, but this dist was built from {commit}: publish \
                 the dist of the tagged commit (`git checkout {tag}` and `cargo xtask dist`)",
                tagged.trim()
            );
        }
    }
    Ok(())
}

/// Where the hosts are: the CI's variables, else the public hosts and the workspace's
/// `repository` (so a dry run anywhere shows the real destinations).
pub fn endpoints(workspace: &crate::workspace::Workspace) -> anyhow::Result<Endpoints> {
    let var = |name: &str, default: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    let repository = workspace
        .shipped_package()?
        .repository
        .clone()
        .unwrap_or_default();
    let github_repo = repository
        .strip_prefix("https://github.com/")
        .map(|repo| {
            repo.trim_end_matches('/')
                .trim_end_matches(".git")
                .to_owned()
        })
        .unwrap_or_else(|| "$GITHUB_REPOSITORY".to_owned());
    Ok(Endpoints {
        github_api: var("GITHUB_API_URL", "https://api.github.com"),
        github_web: var("GITHUB_SERVER_URL", "https://github.com"),
        github_repo: var("GITHUB_REPOSITORY", &github_repo),
        gitlab_api: var("CI_API_V4_URL", "$CI_API_V4_URL"),
        gitlab_project: var("CI_PROJECT_ID", "$CI_PROJECT_ID"),
        crates_io_api: var("JIMINI_CRATES_IO_API", "https://crates.io"),
        pypi_upload: var("JIMINI_PYPI_UPLOAD_URL", "https://upload.pypi.org/legacy/"),
        pypi_api: var("JIMINI_PYPI_API", "https://pypi.org"),
        npm_registry: var("JIMINI_NPM_REGISTRY", "https://registry.npmjs.org"),
        homebrew_tap: std::env::var("JIMINI_HOMEBREW_TAP")
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| workspace.config.homebrew.as_ref().map(|h| h.tap.clone())),
        scoop_bucket: std::env::var("JIMINI_SCOOP_BUCKET")
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| workspace.config.scoop_bucket().map(str::to_owned)),
    })
}

pub(super) fn packaged_crate_path(
    workspace: &crate::workspace::Workspace,
    app: &str,
    version: &str,
) -> std::path::PathBuf {
    workspace
        .target_dir
        .join("package")
        .join(format!("{app}-{version}.crate"))
}

/// The `.crate` `cargo publish` uploads (`cargo package`, byte-reproducible), for its digest.
fn package_crate(
    sh: &xshell::Shell,
    workspace: &crate::workspace::Workspace,
    manifest: &Manifest,
) -> anyhow::Result<FileDigest> {
    let package = workspace.shipped_package()?;
    if package.version.to_string() != manifest.version {
        bail!(
            "the workspace is {} {}, the dist {}: publish from the checkout of the dist's commit",
            package.name,
            package.version,
            manifest.version
        );
    }
    let cargo = crate::cargo();
    let app = &manifest.app;
    crate::secrets::scrubbed_cmd(xshell::cmd!(
        sh,
        "{cargo} package --locked --no-verify --quiet -p {app}"
    ))
    .run()
    .context("cargo package failed: the crate cannot be published as it is")?;
    let path = packaged_crate_path(workspace, app, &manifest.version);
    let digest = digest_file(&path)?;
    Ok(FileDigest {
        name: format!("{app}-{}.crate", manifest.version),
        sha256: digest.sha256,
        size: digest.size,
    })
}

fn file_digest(dir: &Path, name: &str) -> anyhow::Result<FileDigest> {
    let digest = digest_file(&dir.join(name))?;
    Ok(FileDigest {
        name: name.to_owned(),
        sha256: digest.sha256,
        size: digest.size,
    })
}
