//! The packages a package manager installs (`.deb`, wheel): written from their planned entries,
//! whose bytes come from the built binaries and the workspace's files.

use fs_err as fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::{Files, Packing, man_page_name, reuse_or_write};
use crate::dist::TargetPlan;
use crate::dist::manifest::{Artifact, ArtifactKind};
use crate::dist::plan::entry::{PackageEntry, Source};
use crate::dist::reuse::PackageInputs;

/// The files the planned entries read (the generated ones read none).
fn entry_sources(
    entries: &[PackageEntry],
    files: &Files,
    root: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    entries
        .iter()
        .filter(|entry| !matches!(entry.source, Source::Generated { .. }))
        .map(|entry| source_path(&entry.source, files, root))
        .collect()
}

/// The target's `.deb`, from its planned entries (or reused).
pub(super) fn write_deb(
    packing: &Packing,
    target: &TargetPlan,
    deb: &crate::dist::deb::DebPlan,
    files: &Files,
) -> anyhow::Result<Artifact> {
    let (root, staging) = (&packing.context.workspace.root, packing.staging);
    let mtime = packing.plan.source_date_epoch as u64;
    let mut sources = entry_sources(&deb.entries, files, root)?;
    sources.push(root.join(&deb.copyright.license_file));
    let inputs = PackageInputs {
        file_name: &deb.file,
        description: serde_json::to_string(&(deb, mtime))?,
        sources: sources.iter().map(PathBuf::as_path).collect(),
    };
    let read = |source: &Source| read_source(source, files, root);
    let digest = reuse_or_write(packing, &inputs, || {
        crate::dist::deb::write(&staging.join(&deb.file), deb, mtime, &read)
    })?;
    Ok(Artifact::of_target(
        &deb.file,
        ArtifactKind::Deb,
        &target.target,
        digest,
    ))
}

/// The target's RPM, from its planned entries (or reused).
pub(super) fn write_rpm(
    packing: &Packing,
    target: &TargetPlan,
    rpm: &crate::dist::rpm::plan::RpmPlan,
    files: &Files,
) -> anyhow::Result<Artifact> {
    let (root, staging) = (&packing.context.workspace.root, packing.staging);
    let mtime = packing.plan.source_date_epoch as u64;
    let entries: Vec<PackageEntry> = rpm.entries.iter().map(|e| e.entry.clone()).collect();
    let sources = entry_sources(&entries, files, root)?;
    let inputs = PackageInputs {
        file_name: &rpm.file,
        description: serde_json::to_string(&(rpm, mtime))?,
        sources: sources.iter().map(PathBuf::as_path).collect(),
    };
    let read = |source: &Source| read_source(source, files, root);
    let digest = reuse_or_write(packing, &inputs, || {
        crate::dist::rpm::write(&staging.join(&rpm.file), rpm, mtime, &read)?;
        crate::dist::archive::digest_file(&staging.join(&rpm.file))
    })?;
    Ok(Artifact::of_target(
        &rpm.file,
        ArtifactKind::Rpm,
        &target.target,
        digest,
    ))
}

/// The target's wheel, from its planned entries (or reused).
pub(super) fn write_wheel(
    packing: &Packing,
    target: &TargetPlan,
    wheel: &crate::dist::wheel::WheelPlan,
    files: &Files,
) -> anyhow::Result<Artifact> {
    let (root, staging) = (&packing.context.workspace.root, packing.staging);
    let mtime = packing.plan.source_date_epoch as u64;
    let mut sources = entry_sources(&wheel.entries, files, root)?;
    sources.extend(wheel.metadata.readme.iter().map(|readme| root.join(readme)));
    // The SBOM it carries, written into staging before the packages.
    let sbom = staging.join(&target.sbom);
    sources.push(sbom.clone());
    let inputs = PackageInputs {
        file_name: &wheel.file,
        description: serde_json::to_string(&(wheel, mtime))?,
        sources: sources.iter().map(PathBuf::as_path).collect(),
    };
    let read = |source: &Source| match source {
        Source::Generated {
            what: crate::dist::plan::entry::Generated::Sbom,
        } => fs::read(&sbom).with_context(|| format!("cannot read {}", sbom.display())),
        other => read_source(other, files, root),
    };
    let digest = reuse_or_write(packing, &inputs, || {
        crate::dist::wheel::write(&staging.join(&wheel.file), wheel, mtime, &read)
    })?;
    let mut artifact =
        Artifact::of_target(&wheel.file, ArtifactKind::Wheel, &target.target, digest);
    artifact.binaries = target.binaries.iter().map(|b| b.file.clone()).collect();
    Ok(artifact)
}

/// An npm package, from its planned entries (or reused): a target's platform package, or the
/// main package (`target` none).
pub(super) fn write_npm(
    packing: &Packing,
    target: Option<&TargetPlan>,
    npm: &crate::dist::npm::NpmPackagePlan,
    files: &Files,
) -> anyhow::Result<Artifact> {
    let (root, staging) = (&packing.context.workspace.root, packing.staging);
    let mtime = packing.plan.source_date_epoch as u64;
    let app = &packing.plan.app;
    let sources = entry_sources(&npm.entries, files, root)?;
    let inputs = PackageInputs {
        file_name: &npm.file,
        description: serde_json::to_string(&(npm, app, mtime))?,
        sources: sources.iter().map(PathBuf::as_path).collect(),
    };
    let read = |source: &Source| read_source(source, files, root);
    let digest = reuse_or_write(packing, &inputs, || {
        crate::dist::npm::write(&staging.join(&npm.file), npm, app, mtime, &read)
    })?;
    let mut artifact = match target {
        Some(target) => {
            let mut artifact =
                Artifact::of_target(&npm.file, ArtifactKind::NpmPackage, &target.target, digest);
            artifact.binaries = target.binaries.iter().map(|b| b.file.clone()).collect();
            artifact
        }
        None => Artifact::new(&npm.file, ArtifactKind::NpmPackage, None, digest),
    };
    artifact.package = Some(npm.name.clone());
    artifact.files = npm.entries.iter().map(|e| e.path.clone()).collect();
    Ok(artifact)
}

/// The npm main package: no target's files, so written once per dist (as install.sh is).
pub fn write_npm_main(
    packing: &Packing,
    npm: &crate::dist::npm::NpmPackagePlan,
) -> anyhow::Result<Artifact> {
    let files = Files {
        binaries: Default::default(),
        man_pages: PathBuf::new(),
    };
    write_npm(packing, None, npm, &files)
}

fn read_source(source: &Source, files: &Files, root: &Path) -> anyhow::Result<Vec<u8>> {
    let path = source_path(source, files, root)?;
    fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
}

pub(super) fn source_path(source: &Source, files: &Files, root: &Path) -> anyhow::Result<PathBuf> {
    match source {
        Source::Binary { name } => files
            .binaries
            .get(name)
            .cloned()
            .with_context(|| format!("cargo built no binary {name}")),
        Source::File { path } | Source::Gzipped { path } => Ok(root.join(path)),
        Source::ManPage { binary, gzip, .. } => {
            Ok(files.man_pages.join(man_page_name(binary, *gzip)))
        }
        Source::Generated { what } => bail!("{what:?} is written by its package, not read"),
    }
}
