//! A wheel in a dist: its `RECORD` holds (as pip checks it), and its scripts are byte for byte
//! the binaries of the same target's archive.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::dist::archive;
use crate::dist::manifest::{Artifact, ArtifactKind, Manifest};
use crate::targets::ArchiveFormat;

pub(super) fn check_wheel(
    dir: &Path,
    wheel: &Artifact,
    manifest: &Manifest,
    problems: &mut Vec<String>,
) -> anyhow::Result<()> {
    let (found, scripts) = crate::dist::wheel::check::check(&dir.join(&wheel.name), &wheel.name)?;
    problems.extend(found);
    let Some(archive) = manifest
        .artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::Archive && a.target == wheel.target)
    else {
        problems.push(format!(
            "{}: the dist has no archive of its target",
            wheel.name
        ));
        return Ok(());
    };
    let shipped = archive_binaries(dir, archive)?;
    if scripts.keys().collect::<Vec<_>>() != shipped.keys().collect::<Vec<_>>() {
        problems.push(format!(
            "{}: its scripts {:?} are not the binaries {:?} of {}",
            wheel.name,
            scripts.keys().collect::<Vec<_>>(),
            shipped.keys().collect::<Vec<_>>(),
            archive.name
        ));
    }
    for (file, bytes) in &scripts {
        if shipped.get(file).is_some_and(|shipped| shipped != bytes) {
            problems.push(format!(
                "{}: {file} differs from the one in {}",
                wheel.name, archive.name
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
        for index in 0..zip.len() {
            let mut entry = zip.by_index(index)?;
            if let Some(file) = wanted(&entry.name()?) {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes)?;
                binaries.insert(file, bytes);
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
