//! What is inside a dist's archives and SBOMs: entries confined to the top directory and
//! equal to the manifest's list, executables executable, SBOMs that parse and name the release.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path};

use fs_err::File;

use crate::dist::archive;
use crate::dist::manifest::{Artifact, Manifest};
use crate::targets::ArchiveFormat;

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

pub(super) fn check_archive(
    dir: &Path,
    artifact: &Artifact,
    problems: &mut Vec<String>,
) -> anyhow::Result<()> {
    let path = dir.join(&artifact.name);
    let mut files = BTreeMap::new();
    let format = artifact.archive_format()?;
    if format == ArchiveFormat::Zip {
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
        archive::read_tar(&path, format, |name, mode, kind, _| {
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

pub(super) fn check_sbom(
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
    use crate::dist::manifest::ArtifactKind;

    fn archive_artifact() -> Artifact {
        Artifact {
            name: "a.tar.gz".into(),
            kind: ArtifactKind::Archive,
            target: None,
            arch: None,
            format: Some(crate::targets::ArchiveFormat::TarGz),
            size: 0,
            sha256: String::new(),
            binaries: vec![],
            files: vec![],
            top_dir: Some("app-1.0.0-x".into()),
            glibc_min: None,
            static_binaries: None,
            macos_min: None,
            signs: None,
            package: None,
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
