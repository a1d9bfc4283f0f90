//! A wheel in a dist: its `RECORD` holds (as pip checks it), its scripts are byte for byte
//! the binaries of the same target's archive, and its SBOM (PEP 770) is the target's.

use std::collections::BTreeMap;
use std::path::Path;

use crate::dist::manifest::{Artifact, ArtifactKind, Manifest};
use crate::dist::{archive, bounded};
use crate::targets::ArchiveFormat;

/// `intact`: whether a file has the manifest's size and digest; an archive that has not is
/// reported already and not opened for the comparison.
pub(super) fn check_wheel(
    dir: &Path,
    wheel: &Artifact,
    manifest: &Manifest,
    intact: &dyn Fn(&Artifact) -> bool,
    problems: &mut Vec<String>,
) -> anyhow::Result<()> {
    let (found, contents) = crate::dist::wheel::check::check(&dir.join(&wheel.name), &wheel.name)?;
    problems.extend(found);
    let scripts = contents.scripts;
    // PEP 770: the wheel carries its target's SBOM, byte for byte.
    match manifest
        .artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::Sbom && a.target == wheel.target)
    {
        Some(sbom) => match contents.sboms.get(&sbom.name) {
            Some(bytes) if intact(sbom) => {
                if *bytes != fs_err::read(dir.join(&sbom.name))? {
                    problems.push(format!(
                        "{}: .dist-info/sboms/{} differs from {}",
                        wheel.name, sbom.name, sbom.name
                    ));
                }
            }
            Some(_) => {}
            None => problems.push(format!(
                "{}: no .dist-info/sboms/{} (PEP 770): the wheel must carry its target's SBOM",
                wheel.name, sbom.name
            )),
        },
        None => problems.push(format!(
            "{}: the dist has no SBOM of its target",
            wheel.name
        )),
    }
    same_binaries_as_archive(
        dir,
        wheel,
        &scripts,
        ("scripts", ""),
        manifest,
        intact,
        problems,
    )
}

/// A package's binaries (`found`, by file name; `what` they are called there and the
/// `prefix` of their path) must be, byte for byte, the binaries of its target's archive.
pub(super) fn same_binaries_as_archive(
    dir: &Path,
    package: &Artifact,
    found: &BTreeMap<String, Vec<u8>>,
    (what, prefix): (&str, &str),
    manifest: &Manifest,
    intact: &dyn Fn(&Artifact) -> bool,
    problems: &mut Vec<String>,
) -> anyhow::Result<()> {
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
    let shipped = archive_binaries(dir, archive)?;
    if found.keys().ne(shipped.keys()) {
        problems.push(format!(
            "{}: its {what} {:?} are not the binaries {:?} of {}",
            package.name,
            found.keys().collect::<Vec<_>>(),
            shipped.keys().collect::<Vec<_>>(),
            archive.name
        ));
    }
    for (file, bytes) in found {
        if shipped.get(file).is_some_and(|shipped| shipped != bytes) {
            problems.push(format!(
                "{}: {prefix}{file} differs from the one in {}",
                package.name, archive.name
            ));
        }
    }
    Ok(())
}

/// The binaries of an archive, by file name.
pub(super) fn archive_binaries(
    dir: &Path,
    archive: &Artifact,
) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let path = dir.join(&archive.name);
    let top = archive.top_dir.as_deref().unwrap_or_default();
    let wanted = |name: &str| {
        let file = name.strip_prefix(top)?.strip_prefix('/')?;
        archive
            .binaries
            .iter()
            .any(|b| b == file)
            .then(|| file.to_owned())
    };
    let mut binaries = BTreeMap::new();
    let format = archive.archive_format()?;
    if format == ArchiveFormat::Zip {
        let mut zip = zip::ZipArchive::new(fs_err::File::open(&path)?)?;
        let mut budget = bounded::Budget::new(&archive.name);
        for index in 0..zip.len() {
            let entry = zip.by_index(index)?;
            let name = entry.name()?.into_owned();
            if let Some(file) = wanted(&name) {
                budget.admit(&name, entry.size())?;
                binaries.insert(file, bounded::read_member(&archive.name, &name, entry)?);
            }
        }
    } else {
        archive::read_tar(&path, format, |name, _, _, reader| {
            if let Some(file) = wanted(name) {
                let mut bytes = Vec::new();
                reader.read_to_end(&mut bytes)?;
                binaries.insert(file, bytes);
            }
            Ok(())
        })?;
    }
    Ok(binaries)
}
