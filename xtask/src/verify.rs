//! `cargo xtask verify [DIR]`: trust nothing in a dist directory, check everything.
//!
//! Recomputes every checksum; checks the manifest against the files and `SHA256SUMS` against
//! the manifest; opens every archive and rejects entries outside the top directory, absolute
//! paths, `..`, links, devices and anything not in the manifest's file list; checks each SBOM
//! parses as CycloneDX 1.5 and names the manifest's version; checks `SHA256SUMS.minisig` with
//! the public key when the dist is signed (and, when asked, that it is). Every problem is
//! named; any problem is a non-zero exit.

use fs_err::File;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use anyhow::{Context, bail};

use crate::dist::archive;
use crate::dist::manifest::{self, Artifact, ArtifactKind, Manifest};
use crate::flags;
use crate::signing::{self, SIGNATURE_FILE};
use crate::targets::ArchiveFormat;

impl flags::Verify {
    pub fn run(self, sh: &xshell::Shell) -> anyhow::Result<()> {
        let cwd = std::env::current_dir()?;
        let dir = match self.dir {
            Some(dir) => cwd.join(dir),
            None => sh.current_dir().join("dist"),
        };
        let public_key = match self.public_key {
            Some(path) => Some(signing::read_public_key(&cwd.join(path))?),
            None => workspace_public_key(sh)?,
        };
        let signatures = SignatureCheck {
            public_key,
            required: self.require_signature,
        };
        if self.json {
            let (manifest, mut problems) = check(&dir)?;
            check_signature(&dir, &manifest, &signatures, &mut problems);
            let report = serde_json::json!({
                "ok": problems.is_empty(),
                "dir": dir,
                "app": manifest.app,
                "version": manifest.version,
                "artifacts": manifest.artifacts.len(),
                "signed": dir.join(SIGNATURE_FILE).is_file(),
                "problems": problems,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !problems.is_empty() {
                bail!(
                    "{} is not a valid dist: see the problems above",
                    dir.display()
                );
            }
            return Ok(());
        }
        let manifest = verify_dir(&dir, &signatures)?;
        let signed = if dir.join(SIGNATURE_FILE).is_file() {
            "signature good"
        } else {
            "unsigned"
        };
        eprintln!(
            "ok: {} {} — {} artifacts in {} verified, {signed}",
            manifest.app,
            manifest.version,
            manifest.artifacts.len(),
            dir.display()
        );
        Ok(())
    }
}

/// How `SHA256SUMS.minisig` is checked.
#[derive(Default)]
pub struct SignatureCheck {
    /// The key a present signature must verify with; without one, a present signature is a
    /// problem (it cannot be checked).
    pub public_key: Option<minisign::PublicKey>,
    /// A missing signature is a problem.
    pub required: bool,
}

/// The workspace's public key (`public-key`, default `keys/jimini.pub`), if it has one.
pub fn workspace_public_key(sh: &xshell::Shell) -> anyhow::Result<Option<minisign::PublicKey>> {
    let root = sh.current_dir();
    let config = crate::workspace::Workspace::load(sh)?.config;
    let path = root.join(config.public_key());
    if !path.is_file() {
        return Ok(None);
    }
    signing::read_public_key(&path).map(Some)
}

/// Verifies `dir`, failing with every problem found.
///
/// A dist must carry one provenance statement (`kind: provenance`), whose subjects are exactly
/// its archives, SBOMs and installer.
pub fn verify_dir(dir: &Path, signatures: &SignatureCheck) -> anyhow::Result<Manifest> {
    let (manifest, mut problems) = check(dir)?;
    check_signature(dir, &manifest, signatures, &mut problems);
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
    let manifest_path = dir.join(manifest::FILE_NAME);
    let bytes = fs_err::read(&manifest_path).with_context(|| {
        format!(
            "cannot read {}: is this a dist directory? run `cargo xtask dist`",
            manifest_path.display()
        )
    })?;
    let manifest = Manifest::from_json(&bytes)?;
    let mut problems = Vec::new();

    let mut names = BTreeSet::new();
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
        check_file(dir, artifact, &mut problems);
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
    if let Err(err) = crate::dist::auditable::check_archives(dir, &manifest, &mut problems) {
        problems.push(format!(
            "the embedded dependency lists cannot be read: {err:#}"
        ));
    }
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
        if !dir.join(&artifact.name).is_file() {
            continue;
        }
        let result = match artifact.kind {
            ArtifactKind::Archive => check_archive(dir, artifact, &mut problems),
            ArtifactKind::Sbom => check_sbom(dir, artifact, &manifest, &mut problems),
            ArtifactKind::Deb => {
                crate::dist::deb::check::check(&dir.join(&artifact.name), artifact)
                    .map(|found| problems.extend(found))
            }
            ArtifactKind::Provenance => crate::dist::provenance::read(&dir.join(&artifact.name))
                .map(|statement| {
                    for problem in crate::dist::provenance::problems(&statement, &manifest) {
                        problems.push(format!("{}: {problem}", artifact.name));
                    }
                }),
            _ => Ok(()),
        };
        if let Err(err) = result {
            problems.push(format!("{}: cannot be read: {err:#}", artifact.name));
        }
    }
    Ok((manifest, problems))
}

fn check_file(dir: &Path, artifact: &Artifact, problems: &mut Vec<String>) {
    let path = dir.join(&artifact.name);
    match fs_err::symlink_metadata(&path) {
        Err(_) => problems.push(format!("{} is missing", artifact.name)),
        Ok(meta) if !meta.is_file() => {
            problems.push(format!("{} is not a regular file", artifact.name))
        }
        Ok(_) => match archive::digest_file(&path) {
            Err(err) => problems.push(format!("{}: {err:#}", artifact.name)),
            Ok(digest) => {
                if digest.sha256 != artifact.sha256 {
                    problems.push(format!(
                        "{}: sha256 is {} but the manifest says {} (modified or corrupted)",
                        artifact.name, digest.sha256, artifact.sha256
                    ));
                } else if digest.size != artifact.size {
                    problems.push(format!(
                        "{}: size {} differs from the manifest's {}",
                        artifact.name, digest.size, artifact.size
                    ));
                }
            }
        },
    }
}

fn check_signature(
    dir: &Path,
    manifest: &Manifest,
    signatures: &SignatureCheck,
    problems: &mut Vec<String>,
) {
    if !dir.join(SIGNATURE_FILE).exists() {
        if signatures.required {
            problems.push(format!(
                "the dist is not signed ({SIGNATURE_FILE} is missing) and a signature is required"
            ));
        }
        return;
    }
    if manifest.partial {
        problems.push(format!("a partial dist must not carry {SIGNATURE_FILE}"));
        return;
    }
    let Some(public_key) = &signatures.public_key else {
        problems.push(format!(
            "{SIGNATURE_FILE} cannot be checked: no public key (pass --public-key FILE)"
        ));
        return;
    };
    match signing::verify_checksums(dir, public_key) {
        Err(problem) => problems.push(problem),
        Ok(comment) => {
            let expected = [
                format!("version:{}", manifest.version),
                format!("commit:{}", manifest.commit),
            ];
            if !expected
                .iter()
                .all(|field| comment.split('\t').any(|f| f == field))
            {
                problems.push(format!(
                    "{SIGNATURE_FILE} signs another release: its trusted comment is {comment:?}, \
                     but the manifest is version {} commit {}",
                    manifest.version, manifest.commit
                ));
            }
        }
    }
}

fn check_checksum_file(dir: &Path, manifest: &Manifest, problems: &mut Vec<String>) {
    let listed = manifest
        .artifacts
        .iter()
        .any(|a| a.kind == ArtifactKind::Checksums);
    if manifest.partial {
        if listed {
            problems.push(format!(
                "a partial dist must not carry {}",
                manifest::CHECKSUMS_FILE
            ));
        }
        return;
    }
    if !listed {
        problems.push(format!(
            "{} is not listed in the manifest",
            manifest::CHECKSUMS_FILE
        ));
        return;
    }
    let Ok(text) = fs_err::read_to_string(dir.join(manifest::CHECKSUMS_FILE)) else {
        return; // reported as missing above
    };
    let lines = match manifest::parse_checksums(&text) {
        Ok(lines) => lines,
        Err(err) => return problems.push(err.to_string()),
    };
    let found: BTreeMap<String, String> = lines.into_iter().collect();
    let expected: BTreeMap<String, String> = manifest
        .artifacts
        .iter()
        .filter(|a| a.kind != ArtifactKind::Checksums)
        .map(|a| (a.name.clone(), a.sha256.clone()))
        .collect();
    for (name, hash) in &expected {
        match found.get(name) {
            None => problems.push(format!(
                "{} has no line for {name}",
                manifest::CHECKSUMS_FILE
            )),
            Some(h) if h != hash => problems.push(format!(
                "{} disagrees with the manifest on {name}",
                manifest::CHECKSUMS_FILE
            )),
            _ => {}
        }
    }
    for name in found.keys().filter(|n| !expected.contains_key(*n)) {
        problems.push(format!(
            "{} lists {name}, which the manifest does not",
            manifest::CHECKSUMS_FILE
        ));
    }
}

/// Checks one archive entry name; returns its path below the top directory.
fn entry_problem(artifact: &Artifact, name: &str) -> Result<Option<String>, String> {
    let top = artifact.top_dir.as_deref().unwrap_or_default();
    let path = Path::new(name);
    if path.is_absolute() || name.starts_with('/') || name.contains('\\') {
        return Err(format!(
            "{}: entry {name:?} has an absolute path",
            artifact.name
        ));
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!(
            "{}: entry {name:?} climbs out with `..`",
            artifact.name
        ));
    }
    let Some(rest) = name.strip_prefix(top).and_then(|r| r.strip_prefix('/')) else {
        return Err(format!(
            "{}: entry {name:?} is outside the top directory {top}/",
            artifact.name
        ));
    };
    Ok(if rest.is_empty() || rest.ends_with('/') {
        None
    } else {
        Some(rest.to_owned())
    })
}

/// The archive's regular files (name → mode) against the manifest's list and binaries.
fn compare_listing(artifact: &Artifact, files: &BTreeMap<String, u32>, problems: &mut Vec<String>) {
    let expected: BTreeSet<&String> = artifact.files.iter().collect();
    for name in files.keys().filter(|n| !expected.contains(n)) {
        problems.push(format!("{}: unexpected entry {name}", artifact.name));
    }
    for name in expected.iter().filter(|n| !files.contains_key(**n)) {
        problems.push(format!(
            "{}: {name} is missing from the archive",
            artifact.name
        ));
    }
    for binary in &artifact.binaries {
        if files.get(binary).is_some_and(|mode| *mode != 0o755) {
            problems.push(format!(
                "{}: {binary} is not executable (mode {:o})",
                artifact.name, files[binary]
            ));
        }
    }
}

fn check_archive(
    dir: &Path,
    artifact: &Artifact,
    problems: &mut Vec<String>,
) -> anyhow::Result<()> {
    let path = dir.join(&artifact.name);
    let mut files = BTreeMap::new();
    if ArchiveFormat::of_file_name(&artifact.name) == Some(ArchiveFormat::Zip) {
        let mut zip = zip::ZipArchive::new(File::open(&path)?)?;
        for index in 0..zip.len() {
            let entry = zip.by_index_raw(index)?;
            let name = entry.name()?.into_owned();
            let mode = entry.unix_mode().unwrap_or(0);
            if mode & 0o170000 == 0o120000 {
                problems.push(format!("{}: entry {name:?} is a symlink", artifact.name));
                continue;
            }
            match entry_problem(artifact, &name) {
                Err(problem) => problems.push(problem),
                Ok(Some(rest)) if entry.is_file() => {
                    files.insert(rest, mode & 0o777);
                }
                Ok(_) => {}
            }
        }
    } else {
        archive::read_tar(&path, |name, mode, kind, _| {
            if !(kind.is_file() || kind.is_dir()) {
                problems.push(format!(
                    "{}: entry {name:?} is a {kind:?}, not a regular file",
                    artifact.name
                ));
                return Ok(());
            }
            match entry_problem(artifact, name) {
                Err(problem) => problems.push(problem),
                Ok(Some(rest)) if kind.is_file() => {
                    files.insert(rest, mode & 0o777);
                }
                Ok(_) => {}
            }
            Ok(())
        })?;
    }
    compare_listing(artifact, &files, problems);
    Ok(())
}

fn check_sbom(
    dir: &Path,
    artifact: &Artifact,
    manifest: &Manifest,
    problems: &mut Vec<String>,
) -> anyhow::Result<()> {
    let file = File::open(dir.join(&artifact.name))?;
    let bom = match cyclonedx_bom::models::bom::Bom::parse_from_json_v1_5(file) {
        Ok(bom) => bom,
        Err(err) => {
            problems.push(format!(
                "{} is not a CycloneDX 1.5 JSON SBOM: {err}",
                artifact.name
            ));
            return Ok(());
        }
    };
    let version = bom
        .metadata
        .as_ref()
        .and_then(|m| m.component.as_ref())
        .and_then(|c| c.version.as_ref())
        .map(|v| v.to_string());
    if version.as_deref() != Some(manifest.version.as_str()) {
        problems.push(format!(
            "{} describes version {} but the manifest is {}",
            artifact.name,
            version.unwrap_or_else(|| "none".to_owned()),
            manifest.version
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive_artifact() -> Artifact {
        Artifact {
            name: "a.tar.gz".into(),
            kind: ArtifactKind::Archive,
            target: None,
            size: 0,
            sha256: String::new(),
            binaries: vec![],
            files: vec![],
            top_dir: Some("app-1.0.0-x".into()),
            glibc_min: None,
            static_binaries: None,
        }
    }

    #[test]
    fn entry_names_are_confined_to_the_top_directory() {
        let a = archive_artifact();
        assert_eq!(
            entry_problem(&a, "app-1.0.0-x/bin").unwrap(),
            Some("bin".to_owned())
        );
        assert_eq!(entry_problem(&a, "app-1.0.0-x/").unwrap(), None);
        assert!(
            entry_problem(&a, "/etc/passwd")
                .unwrap_err()
                .contains("absolute")
        );
        assert!(
            entry_problem(&a, "app-1.0.0-x/../evil")
                .unwrap_err()
                .contains("..")
        );
        assert!(
            entry_problem(&a, "other/bin")
                .unwrap_err()
                .contains("outside")
        );
        assert!(
            entry_problem(&a, "app-1.0.0-xevil")
                .unwrap_err()
                .contains("outside")
        );
    }
}
