//! The files of a dist as files: present, regular, with the manifest's size and SHA-256;
//! `SHA256SUMS` against the manifest.

use std::collections::BTreeMap;
use std::path::Path;

use crate::dist::archive;
use crate::dist::manifest::{self, Artifact, ArtifactKind, Manifest};

/// Whether the file is there with the manifest's size and SHA-256; each way it is not is a
/// problem.
pub(super) fn check_file(dir: &Path, artifact: &Artifact, problems: &mut Vec<String>) -> bool {
    let path = dir.join(&artifact.name);
    let problem = match fs_err::symlink_metadata(&path) {
        Err(_) => Some(format!("{} is missing", artifact.name)),
        Ok(meta) if !meta.is_file() => Some(format!("{} is not a regular file", artifact.name)),
        Ok(meta) if meta.len() != artifact.size => Some(format!(
            "{}: size {} differs from the manifest's {} (not opened)",
            artifact.name,
            meta.len(),
            artifact.size
        )),
        Ok(_) => match archive::digest_file(&path) {
            Err(err) => Some(format!("{}: {err:#}", artifact.name)),
            Ok(digest) if digest.sha256 != artifact.sha256 => Some(format!(
                "{}: sha256 is {} but the manifest says {} (modified or corrupted; not opened)",
                artifact.name, digest.sha256, artifact.sha256
            )),
            Ok(_) => None,
        },
    };
    let intact = problem.is_none();
    problems.extend(problem);
    intact
}

pub(super) fn check_checksum_file(dir: &Path, manifest: &Manifest, problems: &mut Vec<String>) {
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
