//! An npm package in a dist: the tarball's own check, and a platform package's binaries byte
//! for byte those of the same target's archive.

use std::path::Path;

use crate::dist::manifest::{Artifact, ArtifactKind, Manifest};

/// `intact`: whether a file has the manifest's size and digest; an archive that has not is
/// reported already and not opened for the comparison.
pub(super) fn check_npm(
    dir: &Path,
    package: &Artifact,
    manifest: &Manifest,
    intact: &dyn Fn(&Artifact) -> bool,
    problems: &mut Vec<String>,
) -> anyhow::Result<()> {
    let (found, binaries) = crate::dist::npm::check(&dir.join(&package.name), package, manifest)?;
    problems.extend(found.into_iter().map(|p| format!("{}: {p}", package.name)));
    if package.target.is_none() {
        return Ok(());
    }
    let Some(archive) = manifest
        .artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::Archive && a.target == package.target)
    else {
        problems.push(format!(
            "{}: the dist has no archive of its target",
            package.name
        ));
        return Ok(());
    };
    if !intact(archive) {
        return Ok(());
    }
    let shipped = super::wheel::archive_binaries(dir, archive)?;
    if binaries.keys().ne(shipped.keys()) {
        problems.push(format!(
            "{}: its binaries {:?} are not those of {} ({:?})",
            package.name,
            binaries.keys().collect::<Vec<_>>(),
            archive.name,
            shipped.keys().collect::<Vec<_>>()
        ));
    }
    for (file, bytes) in &binaries {
        if shipped.get(file).is_some_and(|shipped| shipped != bytes) {
            problems.push(format!(
                "{}: bin/{file} differs from the one in {}",
                package.name, archive.name
            ));
        }
    }
    Ok(())
}
