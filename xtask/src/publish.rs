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

pub mod github;
pub mod gitlab;
pub mod plan;
pub mod registries;

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use sha2::Digest;

use crate::dist::archive::digest_file;
use crate::dist::manifest::{self, Manifest};
use crate::flags;
use crate::signing;
use plan::{Endpoints, FileDigest, Host, PublishInput, PublishPlan, Upload};

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
            }
        }
        if self.json {
            crate::outln!("{}", serde_json::to_string_pretty(&plan)?)?;
        }
        Ok(())
    }
}

fn gather_and_plan(
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
    })
}

fn packaged_crate_path(
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
