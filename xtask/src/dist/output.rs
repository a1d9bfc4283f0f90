//! Executes a [`DistPlan`]: build, package, describe, verify, swap into place.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::archive::{self, Entry};
use super::build::{self, BuildRequest};
use super::manifest::{self, Artifact, ArtifactKind, Manifest};
use super::{DistPlan, TargetPlan, inspect, sbom};
use crate::plan::ReleaseContext;
use crate::progress::{Progress, human_size};
use crate::targets::{ArchiveFormat, Libc};

/// Holds the output directory's lock for as long as it lives; the OS drops it if we die.
pub struct OutputLock {
    _file: File,
}

pub fn lock_output(out: &Path) -> anyhow::Result<OutputLock> {
    let parent = super::ensure_parent(out)?;
    let name = file_name(out)?;
    let path = parent.join(format!(".{name}.lock"));
    let file = File::create(&path).with_context(|| {
        format!(
            "cannot create {}: pick a writable --out directory",
            path.display()
        )
    })?;
    match file.try_lock() {
        Ok(()) => Ok(OutputLock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => bail!(
            "another `cargo xtask dist` is writing {} right now; wait for it to finish and run again",
            out.display()
        ),
        Err(fs::TryLockError::Error(err)) => {
            Err(err).context(format!("cannot lock {}", path.display()))
        }
    }
}

fn file_name(out: &Path) -> anyhow::Result<String> {
    Ok(out
        .file_name()
        .with_context(|| format!("{} has no directory name; pass --out DIR", out.display()))?
        .to_string_lossy()
        .into_owned())
}

fn staging_prefix(out: &Path) -> anyhow::Result<String> {
    Ok(format!(".{}.staging-", file_name(out)?))
}

/// This process's staging directory beside `out`.
pub fn staging_dir(out: &Path) -> anyhow::Result<PathBuf> {
    Ok(out.with_file_name(format!("{}{}", staging_prefix(out)?, std::process::id())))
}

/// Removes what killed runs left beside `out` and restores an output caught mid-swap.
/// Must be called with the lock held.
pub fn clean_leftovers(out: &Path) -> anyhow::Result<()> {
    let parent = out.parent().context("output has no parent")?;
    let staging = staging_prefix(out)?;
    let old = format!(".{}.old-", file_name(out)?);
    for entry in fs::read_dir(parent)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&old) && !out.exists() {
            fs::rename(entry.path(), out)?;
        } else if name.starts_with(&staging) || name.starts_with(&old) {
            fs::remove_dir_all(entry.path()).with_context(|| {
                format!("cannot remove the leftover {}", entry.path().display())
            })?;
        }
    }
    Ok(())
}

/// Puts `staging` at `out` in one step; the previous output ends up at `staging` and is removed.
pub fn swap_into_place(staging: &Path, out: &Path) -> anyhow::Result<()> {
    if !out.exists() {
        return fs::rename(staging, out)
            .with_context(|| format!("cannot move the dist to {}", out.display()));
    }
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let from = CString::new(staging.as_os_str().as_bytes())?;
        let to = CString::new(out.as_os_str().as_bytes())?;
        // SAFETY: both pointers are valid NUL-terminated paths for the duration of the call.
        let result = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if result == 0 {
            fs::remove_dir_all(staging).with_context(|| {
                format!("cannot remove the previous dist at {}", staging.display())
            })?;
            return Ok(());
        }
    }
    // Elsewhere (or on file systems without RENAME_EXCHANGE): two renames, and
    // `clean_leftovers` restores `.old-*` if we die between them.
    let old = out.with_file_name(format!(".{}.old-{}", file_name(out)?, std::process::id()));
    fs::rename(out, &old).with_context(|| format!("cannot move {} aside", out.display()))?;
    fs::rename(staging, out)
        .with_context(|| format!("cannot move the dist to {}", out.display()))?;
    fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))
}

/// Where an include file goes inside the archive: relative to the shipped package's directory
/// when it lies inside it (`app/rules/default.toml` → `rules/default.toml`), else to the root.
pub fn include_archive_name(include: &str, package_dir: &str) -> String {
    let prefix = format!("{package_dir}/");
    include.strip_prefix(&prefix).unwrap_or(include).to_owned()
}

pub fn execute(
    sh: &xshell::Shell,
    context: &ReleaseContext,
    plan: &DistPlan,
    progress: &Progress,
    smoke: bool,
) -> anyhow::Result<Manifest> {
    let root = &context.workspace.root;
    let _lock = lock_output(&plan.out)?;
    clean_leftovers(&plan.out)?;

    let step = progress.step("preflight");
    for include in &plan.include {
        if !root.join(include).is_file() {
            bail!(
                "include file {include} does not exist: create it or remove it from \
                 [workspace.metadata.dist] include in Cargo.toml"
            );
        }
    }
    if let Some(installer) = &plan.installer
        && !root.join(installer).is_file()
    {
        bail!(
            "installer {installer} does not exist: create it or remove `installer` from [workspace.metadata.dist]"
        );
    }
    let problems = crate::doctor::target_problems(
        sh,
        &plan
            .targets
            .iter()
            .map(|t| t.info.clone())
            .collect::<Vec<_>>(),
    )?;
    if !problems.is_empty() {
        bail!(
            "{}\nrun `cargo xtask doctor --fix` to install what is missing",
            crate::doctor::describe(&problems)
        );
    }
    step.done();

    let step = progress.step(format!(
        "build {} ({})",
        plan.triples().join(", "),
        plan.profile
    ));
    let cargo_home = cargo_home()?;
    let ours = build::remap_flags(root, &context.workspace.target_dir, &cargo_home);
    let user = build::user_rustflags(root, &cargo_home, &plan.triples())?;
    let request = BuildRequest {
        package: plan.app.clone(),
        profile: plan.profile.clone(),
        targets: plan.triples(),
        version: plan.version.clone(),
        short_commit: plan.short_commit.clone(),
        source_date_epoch: plan.source_date_epoch,
        quiet: !progress.is_loud(),
    };
    let invocation = build::invocation(&request, &ours, &user);
    let built = build::run(root, &invocation, &context.package_id, &plan.triples())?;
    step.done();

    let staging = plan.out.with_file_name(format!(
        "{}{}",
        staging_prefix(&plan.out)?,
        std::process::id()
    ));
    fs::create_dir(&staging).with_context(|| format!("cannot create {}", staging.display()))?;
    let result = assemble(context, plan, &built, &staging, progress, smoke);
    let manifest = match result {
        Ok(manifest) => manifest,
        Err(err) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(err);
        }
    };
    swap_into_place(&staging, &plan.out)?;
    summary(progress, &manifest, &plan.out);
    Ok(manifest)
}

fn cargo_home() -> anyhow::Result<PathBuf> {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return Ok(PathBuf::from(home));
    }
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .context("HOME is not set")?;
    Ok(PathBuf::from(home).join(".cargo"))
}

fn assemble(
    context: &ReleaseContext,
    plan: &DistPlan,
    built: &build::BuildOutput,
    staging: &Path,
    progress: &Progress,
    smoke: bool,
) -> anyhow::Result<Manifest> {
    let root = &context.workspace.root;
    let package = context.workspace.shipped_package()?;
    let package_dir = package
        .manifest_path
        .parent()
        .and_then(|dir| {
            dir.strip_prefix(&context.workspace.metadata.workspace_root)
                .ok()
        })
        .map(|dir| dir.to_string())
        .unwrap_or_default();
    let checksums = context.workspace.lock_checksums()?;
    let mut artifacts = Vec::new();
    for target in &plan.targets {
        let step = progress.step(format!("package {}", target.archive));
        let target_build = &built.targets[&target.info.triple];
        let mut entries = binary_entries(target, &target_build.binaries)?;
        for include in &plan.include {
            entries.push(Entry {
                name: include_archive_name(include, &package_dir),
                source: root.join(include),
                executable: false,
            });
        }
        let mut artifact =
            package_target(target, &entries, staging, plan.source_date_epoch as u64)?;
        inspect_binaries(target, &entries, &mut artifact)?;
        artifacts.push(artifact);
        step.done();

        let step = progress.step(format!("sbom {}", target.sbom));
        let json = sbom::build(&sbom::SbomInput {
            metadata: &context.workspace.metadata,
            root: &context.package_id,
            linked: &target_build.linked,
            proc_macros: &built.proc_macros,
            host_libraries: &built.host_libraries,
            checksums: &checksums,
            app_version: &plan.version,
            target: &target.info.triple,
            source_date_epoch: plan.source_date_epoch,
        })?;
        let path = staging.join(&target.sbom);
        fs::write(&path, &json).with_context(|| format!("cannot write {}", path.display()))?;
        artifacts.push(simple_artifact(
            &target.sbom,
            ArtifactKind::Sbom,
            Some(&target.info.triple),
            &path,
        )?);
        step.done();
    }

    if let Some(installer) = &plan.installer {
        let template = fs::read_to_string(root.join(installer)).with_context(|| {
            format!(
                "cannot read the installer {installer}: fix [workspace.metadata.dist] installer"
            )
        })?;
        let path = staging.join(super::INSTALLER_NAME);
        fs::write(
            &path,
            template.replace(super::INSTALLER_VERSION_PLACEHOLDER, &plan.version),
        )?;
        artifacts.push(simple_artifact(
            super::INSTALLER_NAME,
            ArtifactKind::Installer,
            None,
            &path,
        )?);
    }

    let step = progress.step("checksums and manifest");
    let source_date = time::OffsetDateTime::from_unix_timestamp(plan.source_date_epoch)?
        .format(&time::format_description::well_known::Rfc3339)?;
    let mut manifest = Manifest {
        format: manifest::FORMAT.to_owned(),
        format_version: manifest::FORMAT_VERSION,
        app: plan.app.clone(),
        version: plan.version.clone(),
        commit: plan.commit.clone(),
        source_date_epoch: plan.source_date_epoch,
        source_date,
        partial: plan.partial,
        targets: plan.triples(),
        artifacts,
    };
    manifest::write(&mut manifest, staging)?;
    step.done();

    let step = progress.step("verify");
    crate::verify::verify_dir(staging)?;
    step.done();

    if smoke {
        let step = progress.step("smoke runs");
        crate::doctor::smoke(
            staging,
            &manifest,
            &plan.targets,
            progress,
            &context.workspace.root,
        )?;
        step.done();
    }
    Ok(manifest)
}

fn binary_entries(
    target: &TargetPlan,
    built: &BTreeMap<String, PathBuf>,
) -> anyhow::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for (name, path) in built {
        let file_name = path
            .file_name()
            .context("binary path has no file name")?
            .to_string_lossy()
            .into_owned();
        if !target.binaries.contains(&file_name) {
            bail!(
                "cargo built {name} ({file_name}) for {}, which the plan does not ship",
                target.info.triple
            );
        }
        entries.push(Entry {
            name: file_name,
            source: path.clone(),
            executable: true,
        });
    }
    if entries.len() != target.binaries.len() {
        bail!(
            "cargo built {} of the {} planned binaries for {}",
            entries.len(),
            target.binaries.len(),
            target.info.triple
        );
    }
    Ok(entries)
}

fn package_target(
    target: &TargetPlan,
    entries: &[Entry],
    staging: &Path,
    mtime: u64,
) -> anyhow::Result<Artifact> {
    let path = staging.join(&target.archive);
    let digest = match target.info.archive {
        ArchiveFormat::TarGz => archive::write_tar_gz(&path, &target.stem, entries, mtime)?,
        ArchiveFormat::Zip => archive::write_zip(&path, &target.stem, entries, mtime)?,
    };
    let mut files: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    files.sort();
    let mut artifact = Artifact::new(
        &target.archive,
        ArtifactKind::Archive,
        Some(&target.info.triple),
        digest,
    );
    artifact.binaries = target.binaries.clone();
    artifact.files = files;
    artifact.top_dir = Some(target.stem.clone());
    Ok(artifact)
}

fn inspect_binaries(
    target: &TargetPlan,
    entries: &[Entry],
    artifact: &mut Artifact,
) -> anyhow::Result<()> {
    let binaries = entries.iter().filter(|e| e.executable);
    match target.info.libc {
        Libc::Glibc => {
            let mut floor = None;
            for entry in binaries {
                let data = fs::read(&entry.source)?;
                let needed = inspect::glibc_floor(&data)
                    .with_context(|| format!("cannot read {}", entry.source.display()))?;
                floor = floor.max(needed);
            }
            artifact.glibc_min = floor.map(|v| v.to_string());
        }
        Libc::MuslStatic => {
            for entry in binaries {
                let data = fs::read(&entry.source)?;
                if !inspect::is_static(&data)? {
                    bail!(
                        "{} for {} is dynamically linked; musl builds must be static: remove any \
                         `linker = \"musl-gcc\"` for this target from .cargo/config.toml",
                        entry.name,
                        target.info.triple
                    );
                }
            }
            artifact.static_binaries = Some(true);
        }
        Libc::Other => {}
    }
    Ok(())
}

pub fn simple_artifact(
    name: &str,
    kind: ArtifactKind,
    target: Option<&String>,
    path: &Path,
) -> anyhow::Result<Artifact> {
    Ok(Artifact::new(
        name,
        kind,
        target.map(String::as_str),
        archive::digest_file(path)?,
    ))
}

pub fn summary(progress: &Progress, manifest: &Manifest, out: &Path) {
    let width = manifest
        .artifacts
        .iter()
        .map(|a| a.name.len())
        .max()
        .unwrap_or(0);
    let mut table = String::new();
    for artifact in &manifest.artifacts {
        let mut extra = String::new();
        if let Some(glibc) = &artifact.glibc_min {
            extra = format!("  glibc >= {glibc}");
        }
        if artifact.static_binaries == Some(true) {
            extra = "  static".to_owned();
        }
        table.push_str(&format!(
            "  {:<width$}  {:>10}{extra}\n",
            artifact.name,
            human_size(artifact.size)
        ));
    }
    progress.table(&table);
    progress.finish(&format!(
        "{} {} → {}",
        manifest.app,
        manifest.version,
        out.display()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_inside_the_package_lose_the_package_dir() {
        assert_eq!(
            include_archive_name("app/rules/default.toml", "app"),
            "rules/default.toml"
        );
        assert_eq!(include_archive_name("README.md", "app"), "README.md");
        assert_eq!(include_archive_name("apps/x", "app"), "apps/x");
    }

    #[test]
    fn second_lock_is_refused_and_leftovers_are_cleaned() {
        let dir = std::env::temp_dir().join(format!("xtask-lock-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let out = dir.join("dist");
        let first = lock_output(&out).unwrap();
        let err = lock_output(&out)
            .err()
            .expect("second lock must fail")
            .to_string();
        assert!(err.contains("another `cargo xtask dist`"), "{err}");
        drop(first);

        fs::create_dir_all(dir.join(".dist.staging-123/sub")).unwrap();
        fs::create_dir_all(dir.join(".dist.old-9")).unwrap();
        fs::write(dir.join(".dist.old-9/SHA256SUMS"), "x").unwrap();
        let _lock = lock_output(&out).unwrap();
        clean_leftovers(&out).unwrap();
        assert!(!dir.join(".dist.staging-123").exists());
        assert!(
            out.join("SHA256SUMS").exists(),
            "a dist caught between renames is restored"
        );

        let staging = dir.join(".dist.staging-1");
        fs::create_dir_all(&staging).unwrap();
        fs::write(staging.join("new"), "n").unwrap();
        swap_into_place(&staging, &out).unwrap();
        assert!(out.join("new").exists() && !out.join("SHA256SUMS").exists());
        assert!(!staging.exists());
    }
}
