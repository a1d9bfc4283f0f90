//! Packs what the build made into the planned packages: per target the archive, the SBOM and
//! the `.deb`, and the release's install script.
//!
//! **Architecture Invariant:** every entry of every package comes from the plan; this module
//! only resolves each planned source to bytes (a built binary, a workspace file) and refuses
//! a build that does not match the plan.

use fs_err as fs;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use anyhow::{Context, bail};

use super::archive::{self, Entry};
use super::build::{BuildOutput, TargetBuild};
use super::manifest::{Artifact, ArtifactKind};
use super::reuse::{PackageCache, PackageInputs};
use super::{DistPlan, TargetPlan, inspect, sbom};
use crate::context::ReleaseContext;
use crate::progress::Progress;
use crate::targets::ArchiveFormat;

/// What every target's packaging reads.
pub struct Packing<'a> {
    pub context: &'a ReleaseContext,
    pub plan: &'a DistPlan,
    pub built: &'a BuildOutput,
    pub staging: &'a Path,
    pub progress: &'a Progress,
    /// `Cargo.lock`'s checksums, for the SBOMs.
    pub checksums: BTreeMap<(String, String), String>,
    /// Packages an earlier dist wrote from the same inputs.
    pub cache: &'a PackageCache,
    /// How many packages are compressed at once.
    pub slots: CompressionSlots,
}

/// At most one compression per core at a time: more would not be faster, and each xz encoder
/// holds its ~94 MiB of dictionary and match finder, so a many-target dist would need several
/// hundred MiB where two at a time need under 200.
pub struct CompressionSlots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl CompressionSlots {
    pub fn per_core() -> CompressionSlots {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        CompressionSlots {
            free: Mutex::new(cores),
            freed: Condvar::new(),
        }
    }

    fn run<T>(&self, work: impl FnOnce() -> T) -> T {
        let mut free = self.free.lock().expect("not poisoned");
        while *free == 0 {
            free = self.freed.wait(free).expect("not poisoned");
        }
        *free -= 1;
        drop(free);
        let result = work();
        *self.free.lock().expect("not poisoned") += 1;
        self.freed.notify_one();
        result
    }
}

/// Every target's packages. Targets are independent and compression is the slow part: one
/// thread each.
pub fn pack_targets(packing: &Packing) -> anyhow::Result<Vec<Artifact>> {
    let packed: Vec<anyhow::Result<Vec<Artifact>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = packing
            .plan
            .targets
            .iter()
            .map(|target| scope.spawn(|| pack_target(packing, target)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("packaging threads do not panic"))
            .collect()
    });
    let mut artifacts = Vec::new();
    for result in packed {
        artifacts.extend(result?);
    }
    Ok(artifacts)
}

/// One target's archive, SBOM and Debian package. The binaries are checked first (glibc floor,
/// static musl, embedded dependency lists against the SBOM), then the archive, its fallback and
/// the `.deb` are compressed side by side.
fn pack_target(packing: &Packing, target: &TargetPlan) -> anyhow::Result<Vec<Artifact>> {
    let root = &packing.context.workspace.root;
    let target_build = &packing.built.targets[&target.target.triple];
    let binaries = Files {
        binaries: built_binaries(target, target_build)?,
        man_pages: render_man_pages(packing, target)?,
    };
    let entries = archive_entries(target, &binaries, root)?;
    let facts = inspect::check_binaries(target, &entries)?;
    let sbom = write_sbom(packing, target, target_build, &entries)?;

    let step = packing.progress.step(format!("package {}", target.stem));
    let mtime = packing.plan.source_date_epoch as u64;
    let packed: Vec<anyhow::Result<Artifact>> = std::thread::scope(|scope| {
        let fallback = target.fallback_archive.as_ref().map(|file| {
            let kind = (ArtifactKind::FallbackArchive, ArchiveFormat::TarGz);
            let entries = &entries;
            scope.spawn(move || write_archive(packing, target, file, kind, entries, mtime))
        });
        let deb = target.deb.as_ref().map(|deb| {
            // Its Depends is the planned floor, which `check_binaries` held every binary to.
            let binaries = &binaries;
            scope.spawn(move || write_deb(packing, target, deb, binaries))
        });
        let wheel = target.wheel.as_ref().map(|wheel| {
            let binaries = &binaries;
            scope.spawn(move || write_wheel(packing, target, wheel, binaries))
        });
        let rpm = target.rpm.as_ref().map(|rpm| {
            let binaries = &binaries;
            scope.spawn(move || write_rpm(packing, target, rpm, binaries))
        });
        let npm = target.npm.as_ref().map(|npm| {
            let binaries = &binaries;
            scope.spawn(move || write_npm(packing, Some(target), npm, binaries))
        });
        let kind = (ArtifactKind::Archive, target.target.archive);
        let archive = write_archive(packing, target, &target.archive, kind, &entries, mtime);
        let join = |h: std::thread::ScopedJoinHandle<'_, anyhow::Result<Artifact>>| {
            h.join().expect("packaging threads do not panic")
        };
        [
            Some(archive),
            fallback.map(join),
            deb.map(join),
            wheel.map(join),
            rpm.map(join),
            npm.map(join),
        ]
        .into_iter()
        .flatten()
        .collect()
    });
    let mut artifacts = vec![sbom];
    for artifact in packed {
        let mut artifact = artifact?;
        if artifact.kind.is_archive() {
            facts.record(&mut artifact);
        }
        artifacts.push(artifact);
    }
    step.done();
    Ok(artifacts)
}

/// The target's SBOM, after every binary's embedded dependency list was held against it.
fn write_sbom(
    packing: &Packing,
    target: &TargetPlan,
    target_build: &TargetBuild,
    entries: &[Entry],
) -> anyhow::Result<Artifact> {
    let plan = packing.plan;
    let json = sbom::build(&sbom::SbomInput {
        metadata: &packing.context.workspace.metadata,
        root: &packing.context.package_id,
        linked: &target_build.linked,
        proc_macros: &packing.built.proc_macros,
        host_libraries: &packing.built.host_libraries,
        checksums: &packing.checksums,
        app_version: &plan.version,
        target: target.target.triple.as_str(),
        artifacts: &std::iter::once(target.archive.as_str())
            .chain(target.fallback_archive.as_deref())
            .chain(target.deb.as_ref().map(|deb| deb.file.as_str()))
            .chain(target.wheel.as_ref().map(|wheel| wheel.file.as_str()))
            .chain(target.rpm.as_ref().map(|rpm| rpm.file.as_str()))
            .chain(target.npm.as_ref().map(|npm| npm.file.as_str()))
            .collect::<Vec<_>>(),
        source_date_epoch: plan.source_date_epoch,
    })?;
    check_dependency_lists(target, entries, &json)?;
    let path = packing.staging.join(&target.sbom);
    fs::write(&path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Artifact::of_target(
        &target.sbom,
        ArtifactKind::Sbom,
        &target.target,
        super::archive::digest_file(&path)?,
    ))
}

mod managed;
pub use managed::write_npm_main;
use managed::{source_path, write_deb, write_npm, write_rpm, write_wheel};
mod man;
use man::{Files, man_page_name, render_man_pages};

/// The built binary of each planned one, by cargo's name; a build that made other binaries
/// than the plan ships is refused.
fn built_binaries(
    target: &TargetPlan,
    built: &TargetBuild,
) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let planned: Vec<&str> = target.binaries.iter().map(|b| b.name.as_str()).collect();
    let made: Vec<&str> = built.binaries.keys().map(String::as_str).collect();
    if made.len() != planned.len() || made.iter().any(|name| !planned.contains(name)) {
        bail!(
            "cargo built {} for {}, but the plan ships {}",
            made.join(", "),
            target.target.triple,
            planned.join(", ")
        );
    }
    Ok(built.binaries.clone())
}

/// The archive's planned entries with the files that hold their bytes.
fn archive_entries(
    target: &TargetPlan,
    binaries: &Files,
    root: &Path,
) -> anyhow::Result<Vec<Entry>> {
    target
        .archive_entries
        .iter()
        .map(|entry| {
            Ok(Entry {
                name: entry.path.clone(),
                source: source_path(&entry.source, binaries, root)?,
                executable: entry.mode.is_executable(),
            })
        })
        .collect()
}

/// Every binary's embedded dependency list (cargo-auditable) must agree with the SBOM.
fn check_dependency_lists(
    target: &TargetPlan,
    entries: &[Entry],
    sbom: &[u8],
) -> anyhow::Result<()> {
    let sbom: serde_json::Value = serde_json::from_slice(sbom)?;
    let (required, excluded) = super::auditable::sbom_components(&sbom);
    for entry in entries.iter().filter(|e| e.executable) {
        let data = fs::read(&entry.source)
            .with_context(|| format!("cannot read {}", entry.source.display()))?;
        let embedded = super::auditable::embedded_runtime(&data)
            .with_context(|| format!("{} for {}", entry.name, target.target.triple))?;
        if let Some(problem) = super::auditable::mismatch(&embedded, &required, &excluded) {
            bail!("{} for {}: {problem}", entry.name, target.target.triple);
        }
    }
    Ok(())
}

/// The stored package of the same inputs, or a fresh one from `write`.
fn reuse_or_write(
    packing: &Packing,
    inputs: &PackageInputs,
    write: impl FnOnce() -> anyhow::Result<archive::Digest256>,
) -> anyhow::Result<archive::Digest256> {
    let cache = packing.cache;
    let key = cache.key(inputs)?;
    if let Some(digest) = cache.reuse(&key, &packing.staging.join(inputs.file_name))? {
        return Ok(digest);
    }
    let digest = packing.slots.run(write)?;
    cache.wrote(key, inputs.file_name);
    Ok(digest)
}

/// The target's planned entries as the archive `file` of `format` (or reused).
fn write_archive(
    packing: &Packing,
    target: &TargetPlan,
    file: &str,
    (kind, format): (ArtifactKind, ArchiveFormat),
    entries: &[Entry],
    mtime: u64,
) -> anyhow::Result<Artifact> {
    let staging = packing.staging;
    let path = staging.join(file);
    let inputs = PackageInputs {
        file_name: file,
        description: serde_json::to_string(&(
            format,
            &target.stem,
            &target.archive_entries,
            mtime,
        ))?,
        sources: entries.iter().map(|e| e.source.as_path()).collect(),
    };
    let digest = reuse_or_write(packing, &inputs, || match format {
        ArchiveFormat::TarXz => archive::write_tar_xz(&path, &target.stem, entries, mtime),
        ArchiveFormat::TarGz => archive::write_tar_gz(&path, &target.stem, entries, mtime),
        ArchiveFormat::Zip => archive::write_zip(&path, &target.stem, entries, mtime),
    })?;
    let mut artifact = Artifact::of_target(file, kind, &target.target, digest);
    artifact.format = Some(format);
    artifact.binaries = target.binaries.iter().map(|b| b.file.clone()).collect();
    artifact.files = target
        .archive_entries
        .iter()
        .map(|e| e.path.clone())
        .collect();
    artifact.top_dir = Some(target.stem.clone());
    Ok(artifact)
}

/// install.sh with the version, the release's platform table and the public key filled in.
pub fn write_installer(
    context: &ReleaseContext,
    plan: &DistPlan,
    installer: &super::plan::InstallerPlan,
    staging: &Path,
) -> anyhow::Result<Artifact> {
    let template = fs::read_to_string(context.workspace.root.join(&installer.template))
        .with_context(|| {
            format!(
                "cannot read the installer {}: fix [workspace.metadata.xtask-dist] installer",
                installer.template
            )
        })?;
    let (public_keys, revoked_keys) = installer_keys(context.keyring.as_ref());
    let path = staging.join(super::INSTALLER_NAME);
    fs::write(
        &path,
        template
            .replace(super::INSTALLER_VERSION_PLACEHOLDER, &plan.version)
            .replace(super::INSTALLER_PLATFORMS_PLACEHOLDER, &installer.platforms)
            .replace(super::INSTALLER_STEM_PLACEHOLDER, &installer.stem_pattern)
            .replace(super::INSTALLER_PUBLIC_KEYS_PLACEHOLDER, &public_keys)
            .replace(super::INSTALLER_REVOKED_KEYS_PLACEHOLDER, &revoked_keys),
    )
    .with_context(|| format!("cannot write {}", path.display()))?;
    Artifact::of_file(super::INSTALLER_NAME, ArtifactKind::Installer, None, &path)
}

/// install.sh's tables of the trusted keys (the current first) and the revoked ones, from the
/// key history. Pure.
pub fn installer_keys(keyring: Option<&crate::keys::Keyring>) -> (String, String) {
    let Some(keyring) = keyring else {
        return (String::new(), String::new());
    };
    let trusted = keyring
        .trusted
        .iter()
        .rev()
        .map(|k| format!("{} {}", k.key.to_base64(), k.id))
        .collect::<Vec<_>>()
        .join("\n");
    let revoked = keyring
        .revoked
        .iter()
        .map(|k| {
            // Inside a double-quoted shell string: nothing that expands or ends it.
            let plain = |text: &str| -> String {
                text.chars()
                    .filter(|c| !c.is_control() && !matches!(c, '$' | '`' | '"' | '\\'))
                    .collect()
            };
            format!(
                "{} {} {} {} {}",
                k.key.to_base64(),
                k.id,
                plain(&k.entry),
                plain(&k.date).replace(' ', "_"),
                plain(&k.reason)
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    (trusted, revoked)
}
