//! `cargo xtask verify [DIR]`: trust nothing in a dist directory, check everything.
//!
//! Recomputes every checksum; checks the manifest against the files and `SHA256SUMS` against
//! the manifest; opens every archive and rejects entries outside the top directory, absolute
//! paths, `..`, links, devices and anything not in the manifest's file list; checks each SBOM
//! parses as CycloneDX 1.5 and names the manifest's version; checks `SHA256SUMS.minisig` and
//! every package's `.sig` with the keys the key history trusts when the dist is signed (and,
//! when asked, that it is). Every problem is named; any problem is a non-zero exit.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::bail;

use crate::dist::manifest::{self, ArtifactKind, Manifest};
use crate::flags;
use crate::signing::SIGNATURE_FILE;
use contents::{check_archive, check_sbom};
use files::{check_checksum_file, check_file};
use signatures::check_signatures;

impl flags::Verify {
    pub fn run(self, sh: &xshell::Shell) -> anyhow::Result<()> {
        let cwd = std::env::current_dir()?;
        let keyring = match &self.public_key {
            Some(path) => Some(crate::keys::Keyring::from_path(&cwd.join(path))?),
            None => workspace_keyring(sh)?,
        };
        let signatures = SignatureCheck {
            keyring,
            required: self.require_signature,
        };
        let argument = self.dir.as_ref().map(|d| d.to_string_lossy().into_owned());
        let mut built = None;
        let mut client = crate::http::Client::new(vec![]);
        let url = match self.published {
            Some(host) => {
                if argument.as_deref().is_some_and(remote::is_url) {
                    bail!("--published takes the dist directory that was published, not a URL");
                }
                let dir = cwd.join(
                    self.dir
                        .clone()
                        .unwrap_or_else(|| sh.current_dir().join("dist")),
                );
                let manifest = Manifest::read(&dir)?;
                let version = crate::publish::plan::release_version(&manifest)?;
                let workspace = crate::workspace::Workspace::load(sh)?;
                let endpoints = crate::publish::endpoints(&workspace)?;
                let base = crate::publish::plan::download_base(host, &endpoints, &manifest.app, &version)
                    .ok_or_else(|| anyhow::anyhow!("{host} has no release directory to verify: --published takes github or gitlab"))?;
                built = Some(fs_err::read(dir.join(manifest::FILE_NAME))?);
                // A private project's registry answers its pipeline's job token only.
                if let (crate::publish::plan::Host::Gitlab, Ok(token)) =
                    (host, std::env::var("CI_JOB_TOKEN"))
                {
                    client = crate::http::Client::new(vec![(
                        "JOB-TOKEN".into(),
                        crate::http::Secret::new(token),
                    )]);
                }
                Some(base)
            }
            None => argument.filter(|a| remote::is_url(a)),
        };
        match url {
            Some(url) => crate::util::in_tempdir("verify-url", |dir| {
                let (_, mut problems) = remote::download(&url, dir, &client)?;
                if let Some(built) = &built
                    && fs_err::read(dir.join(manifest::FILE_NAME))? != *built
                {
                    problems.push(format!(
                        "{}: the host serves another manifest than the dist that was built and \
                         published: another release is there",
                        manifest::FILE_NAME
                    ));
                }
                let named: Vec<String> = problems
                    .iter()
                    .filter_map(|p| p.split(':').next().map(str::to_owned))
                    .collect();
                let (manifest, found) = check(dir)?;
                // A file that could not be fetched is named once, by the download.
                problems.extend(
                    found
                        .into_iter()
                        .filter(|p| !named.iter().any(|name| p.contains(name.as_str()))),
                );
                check_signatures(dir, &manifest, &signatures, &mut problems);
                self.report(&url, dir, &manifest, problems)
            }),
            None => {
                let dir = match &self.dir {
                    Some(dir) => cwd.join(dir),
                    None => sh.current_dir().join("dist"),
                };
                let (manifest, mut problems) = check(&dir)?;
                check_signatures(&dir, &manifest, &signatures, &mut problems);
                self.report(&dir.display().to_string(), &dir, &manifest, problems)
            }
        }
    }

    /// Prints the result for `place` (a directory or a URL) and fails on any problem.
    fn report(
        &self,
        place: &str,
        dir: &Path,
        manifest: &Manifest,
        problems: Vec<String>,
    ) -> anyhow::Result<()> {
        let signed = dir.join(SIGNATURE_FILE).is_file();
        if self.json {
            let report = serde_json::json!({
                "ok": problems.is_empty(),
                "dir": place,
                "app": manifest.app,
                "version": manifest.version,
                "artifacts": manifest.artifacts.len(),
                "signed": signed,
                "problems": problems,
            });
            crate::outln!("{}", serde_json::to_string_pretty(&report)?)?;
            if !problems.is_empty() {
                bail!("{place} is not a valid dist: see the problems above");
            }
            return Ok(());
        }
        if !problems.is_empty() {
            bail!(
                "{place} is not a valid dist ({} problem{}):\n  - {}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                problems.join("\n  - ")
            );
        }
        eprintln!(
            "ok: {} {} — {} artifacts in {place} verified, {}",
            manifest.app,
            manifest.version,
            manifest.artifacts.len(),
            if signed { "signature good" } else { "unsigned" }
        );
        Ok(())
    }
}

/// How `SHA256SUMS.minisig` and the packages' `.sig` files are checked.
#[derive(Default)]
pub struct SignatureCheck {
    /// The keys a present signature must verify with; without them, a present signature is a
    /// problem (it cannot be checked).
    pub keyring: Option<crate::keys::Keyring>,
    /// A missing signature is a problem.
    pub required: bool,
}

/// The workspace's release keys (the history beside `public-key`, default
/// `keys/jimini.pub`), if it has a key.
pub fn workspace_keyring(sh: &xshell::Shell) -> anyhow::Result<Option<crate::keys::Keyring>> {
    if crate::workspace::try_locate_root(sh).is_none() {
        // Outside a checkout: only a key the user passes (`--public-key`) is trusted.
        return Ok(None);
    }
    let root = sh.current_dir();
    let config = crate::workspace::Workspace::load(sh)?.config;
    crate::keys::Keyring::load(&root.join(config.public_key()))
}

/// Verifies `dir`, failing with every problem found.
///
/// A dist must carry one provenance statement (`kind: provenance`), whose subjects are exactly
/// its archives, SBOMs and installer.
pub fn verify_dir(dir: &Path, signatures: &SignatureCheck) -> anyhow::Result<Manifest> {
    verify_dir_with(dir, signatures, &BTreeSet::new())
}

/// [`verify_dir`], with the content checks of the packages in `verified_before` (file name,
/// SHA-256) skipped: `dist` passes the packages it reused, whose contents were checked when
/// they were first written; their digests are still checked like every file's.
pub fn verify_dir_with(
    dir: &Path,
    signatures: &SignatureCheck,
    verified_before: &BTreeSet<(String, String)>,
) -> anyhow::Result<Manifest> {
    let (manifest, mut problems) = check_with(dir, verified_before)?;
    check_signatures(dir, &manifest, signatures, &mut problems);
    if !problems.is_empty() {
        bail!(
            "{} is not a valid dist ({} problem{}):\n  - {}",
            dir.display(),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.join("\n  - ")
        );
    }
    Ok(manifest)
}

/// The manifest and the list of problems; an unreadable manifest is an error.
pub fn check(dir: &Path) -> anyhow::Result<(Manifest, Vec<String>)> {
    check_with(dir, &BTreeSet::new())
}

fn check_with(
    dir: &Path,
    verified_before: &BTreeSet<(String, String)>,
) -> anyhow::Result<(Manifest, Vec<String>)> {
    let manifest = Manifest::read(dir)?;
    let mut problems = Vec::new();

    let mut names = BTreeSet::new();
    // Files with the manifest's size and digest: only these are opened (a file that differs is
    // reported, and may be anything, a decompression bomb included).
    let mut intact = BTreeSet::new();
    for artifact in &manifest.artifacts {
        if !names.insert(artifact.name.as_str()) {
            problems.push(format!("{} is listed twice in the manifest", artifact.name));
        }
        if artifact.name.contains(['/', '\\']) || artifact.name.starts_with('.') {
            problems.push(format!(
                "manifest names {:?}, which is not a plain file name",
                artifact.name
            ));
            continue;
        }
        if check_file(dir, artifact, &mut problems) {
            intact.insert(artifact.name.as_str());
        }
    }
    for entry in fs_err::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let ours = name == manifest::FILE_NAME || name == SIGNATURE_FILE;
        if !ours && !names.contains(name.as_str()) {
            problems.push(format!(
                "unexpected file {name}: not in {}",
                manifest::FILE_NAME
            ));
        }
    }
    check_checksum_file(dir, &manifest, &mut problems);
    // Not opened: a package verified before (its digest is enough), or a file that differs.
    let known = |artifact: &manifest::Artifact| {
        verified_before.contains(&(artifact.name.clone(), artifact.sha256.clone()))
            || !intact.contains(artifact.name.as_str())
    };
    if let Err(err) = crate::dist::auditable::check_archives(dir, &manifest, &known, &mut problems)
    {
        problems.push(format!(
            "the embedded dependency lists cannot be read: {err:#}"
        ));
    }
    let intact_file = |artifact: &manifest::Artifact| intact.contains(artifact.name.as_str());
    check_contents(dir, &manifest, &known, &intact_file, &mut problems);
    Ok((manifest, problems))
}

/// What is inside each file: archive entries, SBOMs, `.deb`s against their md5sums, the one
/// provenance statement. A package in `known` was checked when it was first written.
fn check_contents(
    dir: &Path,
    manifest: &Manifest,
    known: &dyn Fn(&manifest::Artifact) -> bool,
    intact: &dyn Fn(&manifest::Artifact) -> bool,
    problems: &mut Vec<String>,
) {
    let statements = manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Provenance)
        .count();
    if statements != 1 {
        problems.push(format!(
            "the manifest lists {statements} provenance statements; a dist has exactly one"
        ));
    }
    for artifact in &manifest.artifacts {
        // A package verified before is checked by its digest (check_file) alone.
        if !dir.join(&artifact.name).is_file() || known(artifact) {
            continue;
        }
        let result = match artifact.kind {
            ArtifactKind::Archive | ArtifactKind::FallbackArchive => {
                check_archive(dir, artifact, problems)
                    .and_then(|()| check_macho(dir, artifact, problems))
            }
            ArtifactKind::Sbom => check_sbom(dir, artifact, manifest, problems),
            ArtifactKind::Wheel => wheel::check_wheel(dir, artifact, manifest, intact, problems),
            ArtifactKind::NpmPackage => npm::check_npm(dir, artifact, manifest, intact, problems),
            ArtifactKind::Deb => {
                crate::dist::deb::check::check(&dir.join(&artifact.name), artifact)
                    .map(|found| problems.extend(found))
            }
            ArtifactKind::HomebrewFormula
            | ArtifactKind::ScoopManifest
            | ArtifactKind::WingetManifest => {
                let check = match artifact.kind {
                    ArtifactKind::HomebrewFormula => crate::dist::homebrew::check,
                    ArtifactKind::ScoopManifest => crate::dist::scoop::check,
                    _ => crate::dist::winget::check,
                };
                fs_err::read_to_string(dir.join(&artifact.name))
                    .map_err(anyhow::Error::from)
                    .map(|text| {
                        let found = check(&text, manifest).into_iter();
                        problems.extend(found.map(|p| format!("{}: {p}", artifact.name)));
                    })
            }
            ArtifactKind::Rpm => semver::Version::parse(&manifest.version)
                .map_err(anyhow::Error::from)
                .and_then(|version| {
                    let path = dir.join(&artifact.name);
                    crate::dist::rpm::check(&path, artifact, &manifest.app, &version)
                })
                .map(|found| problems.extend(found)),
            ArtifactKind::Provenance => crate::dist::provenance::read(&dir.join(&artifact.name))
                .map(|statement| {
                    for problem in crate::dist::provenance::problems(&statement, manifest) {
                        problems.push(format!("{}: {problem}", artifact.name));
                    }
                }),
            _ => Ok(()),
        };
        if let Err(err) = result {
            problems.push(format!("{}: cannot be read: {err:#}", artifact.name));
        }
    }
}

/// The Mach-O binaries of a macOS archive: the target's CPU, only macOS's own dylibs, a code
/// signature on arm64, and no `minos` above the one the manifest records.
fn check_macho(
    dir: &Path,
    artifact: &manifest::Artifact,
    problems: &mut Vec<String>,
) -> anyhow::Result<()> {
    use crate::dist::inspect::macho;
    let Some(recorded) = &artifact.macos_min else {
        return Ok(());
    };
    let floor: crate::targets::MacOsVersion = recorded
        .parse()
        .map_err(|err: String| anyhow::anyhow!(err))?;
    let cpu = artifact.target_arch()?.apple();
    for (file, bytes) in wheel::archive_binaries(dir, artifact)? {
        match macho::facts(&bytes) {
            Ok(facts) => {
                for problem in macho::problems(&facts, cpu, Some(&floor)) {
                    problems.push(format!("{}: {file} {problem}", artifact.name));
                }
            }
            Err(err) => problems.push(format!("{}: {file}: {err:#}", artifact.name)),
        }
    }
    Ok(())
}

mod contents;
mod files;
mod npm;
pub mod remote;
mod signatures;
mod wheel;
