//! The publish plan (pure): for each host, in the order they run, every upload (file, SHA-256,
//! destination) and the release notes. Printed by `publish --dry-run --json`; executed by the
//! host modules, which upload exactly these files and nothing they find in the directory.

use serde::Serialize;

use crate::dist::manifest::{ArtifactKind, Manifest};

/// A place a release is published to. The order is the order they run in: the release hosts
/// first, so that a registry never points at a release that is not there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Host {
    /// The GitHub release of the tag, every file of the dist attached.
    Github,
    /// GitLab's generic package registry (every file) and the tag's release linking them.
    Gitlab,
    /// The app's crate on crates.io.
    CratesIo,
    /// The wheels on PyPI.
    Pypi,
    /// The npm packages on the npm registry: the platform packages, then the main package
    /// that pins them (so it never names one that is not there).
    Npm,
    /// The Homebrew formula, committed to the tap's `Formula/`.
    Homebrew,
    /// The Scoop manifest, committed to the bucket's `bucket/`.
    Scoop,
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Host::Github => "github",
            Host::Gitlab => "gitlab",
            Host::CratesIo => "crates-io",
            Host::Pypi => "pypi",
            Host::Npm => "npm",
            Host::Homebrew => "homebrew",
            Host::Scoop => "scoop",
        })
    }
}

/// A file to upload: its name in the dist, digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileDigest {
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

/// Where each host is, as the environment (CI) or the workspace says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    /// GitHub's REST API (`GITHUB_API_URL`) and web (`GITHUB_SERVER_URL`) and `owner/name`.
    pub github_api: String,
    pub github_web: String,
    pub github_repo: String,
    /// GitLab's API v4 (`CI_API_V4_URL`) and the project (`CI_PROJECT_ID`).
    pub gitlab_api: String,
    pub gitlab_project: String,
    /// crates.io's web API.
    pub crates_io_api: String,
    /// PyPI's upload endpoint and its JSON API.
    pub pypi_upload: String,
    pub pypi_api: String,
    /// The npm registry (`JIMINI_NPM_REGISTRY`, else registry.npmjs.org).
    pub npm_registry: String,
    /// The Homebrew tap's and the Scoop bucket's git repositories (`JIMINI_HOMEBREW_TAP`,
    /// `JIMINI_SCOOP_BUCKET`, else the configured `tap` and `bucket`).
    pub homebrew_tap: Option<String>,
    pub scoop_bucket: Option<String>,
}

/// Everything the plan is computed from.
pub struct PublishInput<'a> {
    /// The verified dist's manifest.
    pub manifest: &'a Manifest,
    /// Files of the dist that its manifest does not list: the manifest itself and the
    /// signature of `SHA256SUMS`.
    pub unlisted: Vec<FileDigest>,
    /// The version's CHANGELOG section (its entries).
    pub notes: String,
    pub hosts: Vec<Host>,
    pub endpoints: Endpoints,
    /// The app's `.crate` as `cargo publish` uploads it (when crates.io is a host).
    pub crate_file: Option<FileDigest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishPlan {
    pub app: String,
    pub version: String,
    pub tag: String,
    pub commit: String,
    /// A SemVer pre-release: a GitHub pre-release, never "latest".
    pub prerelease: bool,
    /// The release's title on GitHub and GitLab.
    pub title: String,
    /// The version's CHANGELOG section: the GitHub and GitLab release notes.
    pub notes: String,
    pub hosts: Vec<HostPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostPlan {
    pub host: Host,
    /// What is published there, for people (`github.com/o/r release v1.2.0`).
    pub release: String,
    /// In the order they are sent.
    pub uploads: Vec<Upload>,
    /// npm: the dist-tag the version gets (`latest`; `next` for a pre-release, which never
    /// becomes `latest`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dist_tag: Option<String>,
    /// A tap or bucket: the git repository the files are committed to (each upload's
    /// `destination` is its path there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upload {
    pub file: String,
    pub sha256: String,
    pub size: u64,
    /// Where the file ends up (the URL users download it from, where the host has one).
    pub destination: String,
    /// npm: the package's name on the registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

/// The plan: hosts in their fixed order (each once), and for the release hosts every file
/// of the dist, packages first and the files that vouch for them last (`SHA256SUMS`, its
/// signature, the manifest), so a release that has its manifest has every file.
pub fn plan(input: &PublishInput<'_>) -> anyhow::Result<PublishPlan> {
    let manifest = input.manifest;
    let version = release_version(manifest)?;
    let tag = crate::version::release_tag(&version);
    let release_files = release_files(input);
    let mut hosts: Vec<Host> = input.hosts.clone();
    hosts.sort();
    hosts.dedup();
    let e = &input.endpoints;
    let hosts = hosts
        .into_iter()
        .map(|host| {
            let (release, uploads) = match host {
                Host::Github => (
                    format!(
                        "{}/{} release {tag}",
                        host_name(&e.github_web),
                        e.github_repo
                    ),
                    uploads(&release_files, |name| {
                        let base = download_base(Host::Github, e, &manifest.app, &version);
                        format!("{}{name}", base.unwrap_or_default())
                    }),
                ),
                Host::Gitlab => {
                    let package =
                        download_base(Host::Gitlab, e, &manifest.app, &version).unwrap_or_default();
                    (
                        format!(
                            "GitLab project {} package {} {} and release {tag}",
                            e.gitlab_project, manifest.app, manifest.version
                        ),
                        uploads(&release_files, |name| format!("{package}{name}")),
                    )
                }
                Host::CratesIo => {
                    let file = input.crate_file.as_ref().ok_or_else(|| {
                        anyhow::anyhow!("publishing to crates.io needs the packaged crate")
                    })?;
                    (
                        format!("crates.io {} {}", manifest.app, manifest.version),
                        uploads(std::slice::from_ref(file), |_| {
                            format!(
                                "{}/api/v1/crates/{}/{}",
                                e.crates_io_api, manifest.app, manifest.version
                            )
                        }),
                    )
                }
                Host::Pypi => {
                    let wheels: Vec<FileDigest> = manifest
                        .artifacts
                        .iter()
                        .filter(|a| a.kind == ArtifactKind::Wheel)
                        .map(|a| FileDigest {
                            name: a.name.clone(),
                            sha256: a.sha256.clone(),
                            size: a.size,
                        })
                        .collect();
                    if wheels.is_empty() {
                        anyhow::bail!(
                            "the dist has no wheels for PyPI: enable them with \
                             [workspace.metadata.dist.wheel] or publish without --to pypi"
                        );
                    }
                    (
                        format!("PyPI {} {}", manifest.app, manifest.version),
                        uploads(&wheels, |_| e.pypi_upload.clone()),
                    )
                }
                Host::Npm => (
                    format!(
                        "npm registry {} {}",
                        host_name(&e.npm_registry),
                        manifest.version
                    ),
                    npm_uploads(manifest, &e.npm_registry)?,
                ),
                Host::Homebrew => repository_upload(
                    manifest,
                    ArtifactKind::HomebrewFormula,
                    e.homebrew_tap.as_deref(),
                    ("Formula", !version.pre.is_empty()),
                    "the Homebrew formula: configure [workspace.metadata.xtask-dist.homebrew] \
                     with its `tap`",
                )?,
                Host::Scoop => repository_upload(
                    manifest,
                    ArtifactKind::ScoopManifest,
                    e.scoop_bucket.as_deref(),
                    ("bucket", !version.pre.is_empty()),
                    "the Scoop manifest: configure [workspace.metadata.xtask-dist.scoop] with \
                     its `bucket`",
                )?,
            };
            Ok(HostPlan {
                host,
                release,
                uploads,
                dist_tag: (host == Host::Npm).then(|| {
                    if version.pre.is_empty() {
                        "latest"
                    } else {
                        "next"
                    }
                    .to_owned()
                }),
                repository: match host {
                    Host::Homebrew => e.homebrew_tap.clone(),
                    Host::Scoop => e.scoop_bucket.clone(),
                    _ => None,
                },
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(PublishPlan {
        app: manifest.app.clone(),
        version: manifest.version.clone(),
        title: format!("{} {}", manifest.app, manifest.version),
        tag,
        commit: manifest.commit.clone(),
        prerelease: !version.pre.is_empty(),
        notes: input.notes.clone(),
        hosts,
    })
}

/// The dist's version, when the dist is a whole release (not a runner's partial, not a
/// snapshot built off a release commit).
pub fn release_version(manifest: &Manifest) -> anyhow::Result<semver::Version> {
    if manifest.partial {
        anyhow::bail!(
            "this dist is one runner's partial: publish the dist `cargo xtask dist merge` made \
             from all of them"
        );
    }
    let version: semver::Version = manifest.version.parse().map_err(|err| {
        anyhow::anyhow!(
            "the manifest's version {} is not SemVer: {err}",
            manifest.version
        )
    })?;
    if !version.build.is_empty() {
        anyhow::bail!(
            "{} is a snapshot version (built off a release commit): publish a dist built on \
             the commit `cargo xtask release` made",
            manifest.version
        );
    }
    Ok(version)
}

/// Where a release host serves the release's files (ending in `/`): what users download and
/// `verify --published` checks. The registries have no such directory.
pub fn download_base(
    host: Host,
    e: &Endpoints,
    app: &str,
    version: &semver::Version,
) -> Option<String> {
    match host {
        Host::Github => Some(format!(
            "{}/{}/releases/download/{}/",
            e.github_web,
            e.github_repo,
            crate::version::release_tag(version)
        )),
        Host::Gitlab => Some(format!(
            "{}/projects/{}/packages/generic/{app}/{version}/",
            e.gitlab_api, e.gitlab_project
        )),
        Host::CratesIo | Host::Pypi | Host::Npm | Host::Homebrew | Host::Scoop => None,
    }
}

/// Every file of the dist in upload order.
fn release_files(input: &PublishInput<'_>) -> Vec<FileDigest> {
    let listed = input.manifest.artifacts.iter().map(|a| {
        let vouches = a.kind == ArtifactKind::Checksums;
        (
            vouches,
            FileDigest {
                name: a.name.clone(),
                sha256: a.sha256.clone(),
                size: a.size,
            },
        )
    });
    let unlisted = input.unlisted.iter().map(|f| (true, f.clone()));
    let mut files: Vec<(bool, FileDigest)> = listed.chain(unlisted).collect();
    // Packages by name; then SHA256SUMS, its signature, the manifest (names sort that way).
    files.sort_by(|(a_vouches, a), (b_vouches, b)| {
        (a_vouches, vouching_rank(&a.name), &a.name).cmp(&(
            b_vouches,
            vouching_rank(&b.name),
            &b.name,
        ))
    });
    files.into_iter().map(|(_, file)| file).collect()
}

fn vouching_rank(name: &str) -> u8 {
    match name {
        crate::dist::manifest::CHECKSUMS_FILE => 0,
        crate::signing::SIGNATURE_FILE => 1,
        _ => 2,
    }
}

fn uploads(files: &[FileDigest], destination: impl Fn(&str) -> String) -> Vec<Upload> {
    files
        .iter()
        .map(|file| Upload {
            file: file.name.clone(),
            sha256: file.sha256.clone(),
            size: file.size,
            destination: destination(&file.name),
            package: None,
        })
        .collect()
}

fn host_name(url: &str) -> &str {
    url.split("://").nth(1).unwrap_or(url).trim_end_matches('/')
}

mod uploads;
use uploads::{npm_uploads, repository_upload};

#[cfg(test)]
mod tests;
