//! What the release-level channel files (Homebrew formula, Scoop and winget manifests) share:
//! where the release's files are downloaded from, the Windows archives by each tool's name for
//! the architecture, and `verify`'s check of a download named in one of them.

use anyhow::bail;

use crate::dist::manifest::Manifest;
use crate::dist::plan::{PlanInput, TargetPlan};
use crate::targets::{Arch, Os};

/// The package's repository and the release's download directory under it
/// (`<repository>/releases/download/v<version>/`); `setting` names the configuration that
/// needs it, for the error.
pub fn download_base(input: &PlanInput, setting: &str) -> anyhow::Result<(String, String)> {
    let Some(repository) = &input.meta.repository else {
        bail!(
            "{setting} needs the package's `repository` (it downloads the release's archives \
             from it): set it in Cargo.toml"
        );
    };
    let repository = repository.trim_end_matches('/').to_owned();
    let base = format!("{repository}/releases/download/v{}/", input.version);
    Ok((repository, base))
}

/// The Windows archives: (the tool's name of the architecture, archive, its top directory),
/// sorted; `names` gives the tool's names for x86_64 and aarch64.
pub fn windows_archives(
    targets: &[TargetPlan],
    names: (&str, &str),
) -> Vec<(String, String, String)> {
    let mut archives: Vec<(String, String, String)> = targets
        .iter()
        .filter(|t| t.target.os == Os::Windows)
        .filter_map(|t| {
            let arch = match t.target.arch {
                Arch::X86_64 => names.0,
                Arch::Aarch64 => names.1,
                Arch::Other(_) => return None,
            };
            Some((arch.to_owned(), t.archive.clone(), t.stem.clone()))
        })
        .collect();
    archives.sort();
    archives
}

/// How a channel file writes its version, a download's URL and the URL's SHA-256 (each a
/// `key value` line; YAML's list dashes and quotes aside).
pub struct LineKeys {
    pub version: &'static str,
    pub url: &'static str,
    pub sha256: &'static str,
}

/// `verify`'s check of a channel file's lines: the version is the dist's, and each URL's
/// SHA-256 (the line after it) is the dist's file's. Also returns how many URLs it names.
pub fn check_downloads(text: &str, keys: &LineKeys, manifest: &Manifest) -> (Vec<String>, usize) {
    let value = |line: &str, key: &str| {
        line.trim_start_matches(['-', ' '])
            .strip_prefix(key)
            .map(|rest| rest.trim().trim_matches('"').to_owned())
    };
    let name = |key: &'static str| key.trim_end_matches([':', ' ']);
    let mut problems = vec![];
    let mut pending: Option<String> = None;
    let mut urls = 0;
    for line in text.lines() {
        if let Some(version) = value(line, keys.version) {
            if version != manifest.version {
                problems.push(format!(
                    "its version is {version}, the dist's {}",
                    manifest.version
                ));
            }
        } else if let Some(url) = value(line, keys.url) {
            urls += 1;
            pending = Some(url);
        } else if let Some(sha) = value(line, keys.sha256) {
            match pending.take() {
                Some(url) => problems.extend(download_problem(&url, &sha, manifest)),
                None => problems.push(format!(
                    "{} {sha} follows no {}",
                    name(keys.sha256),
                    name(keys.url)
                )),
            }
        }
    }
    (problems, urls)
}

/// The problem with a download a channel file names: `url`'s file must be in the dist with
/// the SHA-256 `sha256` (any case).
pub fn download_problem(url: &str, sha256: &str, manifest: &Manifest) -> Option<String> {
    let name = url.rsplit('/').next().unwrap_or_default();
    match manifest.artifacts.iter().find(|a| a.name == name) {
        None => Some(format!("{url} is no file of the dist")),
        Some(archive) if !archive.sha256.eq_ignore_ascii_case(sha256) => Some(format!(
            "the SHA-256 it gives {name} is {sha256}, the dist's {}",
            archive.sha256
        )),
        Some(_) => None,
    }
}
