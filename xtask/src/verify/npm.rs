//! An npm package in a dist: the tarball's own check, and a platform package's binaries byte
//! for byte those of the same target's archive.

use std::path::Path;

use crate::dist::manifest::{Artifact, Manifest};

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
    super::wheel::same_binaries_as_archive(
        dir,
        package,
        &binaries,
        ("binaries", "bin/"),
        manifest,
        intact,
        problems,
    )
}
