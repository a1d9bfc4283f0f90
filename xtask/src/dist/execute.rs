//! Executes a [`DistPlan`]: preflight, the planned build, then per target an archive and an
//! SBOM, `SHA256SUMS` and the manifest, `verify`, and the swap into the output directory.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::archive::{self, Entry};
use super::build;
use super::manifest::{self, Artifact, ArtifactKind, Manifest};
use super::output::{OutputDir, Ownership};
use super::smoke::{self, SmokeScope};
use super::{DistPlan, TargetPlan, inspect, sbom};
use crate::context::ReleaseContext;
use crate::progress::{Progress, human_size};
use crate::targets::{ArchiveFormat, Libc};

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
    smoke: Option<SmokeScope>,
) -> anyhow::Result<Manifest> {
    let root = &context.workspace.root;
    let output = OutputDir::claim(&plan.out, &Ownership::Dist)?;

    let step = progress.step("preflight");
    for include in &plan.include {
        if !root.join(include).is_file() {
            bail!(
                "include file {include} does not exist: create it or remove it from \
                 [workspace.metadata.xtask-dist] include in Cargo.toml"
            );
        }
    }
    if let Some(installer) = plan.installer.as_ref().map(|i| &i.template)
        && !root.join(installer).is_file()
    {
        bail!(
            "installer {installer} does not exist: create it or remove `installer` from [workspace.metadata.xtask-dist]"
        );
    }
    if let Some(scope) = smoke {
        smoke::check_runners(&plan.targets, scope)?;
    }
    let targets: Vec<_> = plan.targets().cloned().collect();
    let problems = crate::doctor::build_problems(sh, &targets, root)?;
    if !problems.is_empty() {
        bail!(
            "{}\nrun `cargo xtask doctor --fix` to install what is missing",
            crate::doctor::describe(&problems)
        );
    }
    step.done();

    let step = progress.step(format!(
        "build {} ({})",
        targets
            .iter()
            .map(|t| t.triple.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        plan.profile
    ));
    let dirs: Vec<_> = plan
        .targets
        .iter()
        .map(|t| (&t.target.triple, t.artifact_dir.as_path()))
        .collect();
    let built = build::run(root, &plan.build, &context.package_id, &dirs)?;
    step.done();

    let manifest =
        output.publish(|staging| assemble(context, plan, &built, staging, progress, smoke))?;
    summary(progress, &manifest, &plan.out);
    Ok(manifest)
}

fn assemble(
    context: &ReleaseContext,
    plan: &DistPlan,
    built: &build::BuildOutput,
    staging: &Path,
    progress: &Progress,
    smoke: Option<SmokeScope>,
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
        let target_build = &built.targets[&target.target.triple];
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
            target: target.target.triple.as_str(),
            source_date_epoch: plan.source_date_epoch,
        })?;
        let path = staging.join(&target.sbom);
        fs::write(&path, &json).with_context(|| format!("cannot write {}", path.display()))?;
        artifacts.push(Artifact::of_file(
            &target.sbom,
            ArtifactKind::Sbom,
            Some(&target.target.triple),
            &path,
        )?);
        step.done();
    }

    if let Some(installer) = &plan.installer {
        let template = fs::read_to_string(root.join(&installer.template)).with_context(|| {
            format!(
                "cannot read the installer {}: fix [workspace.metadata.xtask-dist] installer",
                installer.template
            )
        })?;
        let path = staging.join(super::INSTALLER_NAME);
        fs::write(
            &path,
            template
                .replace(super::INSTALLER_VERSION_PLACEHOLDER, &plan.version)
                .replace(super::INSTALLER_PLATFORMS_PLACEHOLDER, &installer.platforms),
        )?;
        artifacts.push(Artifact::of_file(
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
        targets: plan.targets().map(|t| t.triple.clone()).collect(),
        artifacts,
    };
    manifest::write(&mut manifest, staging)?;
    step.done();

    let step = progress.step("verify");
    crate::verify::verify_dir(staging)?;
    step.done();

    if let Some(scope) = smoke {
        let step = progress.step("smoke runs");
        smoke::run(
            staging,
            &plan.version,
            &plan.targets,
            scope,
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
                target.target.triple
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
            target.target.triple
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
    let digest = match target.target.archive {
        ArchiveFormat::TarGz => archive::write_tar_gz(&path, &target.stem, entries, mtime)?,
        ArchiveFormat::Zip => archive::write_zip(&path, &target.stem, entries, mtime)?,
    };
    let mut files: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    files.sort();
    let mut artifact = Artifact::new(
        &target.archive,
        ArtifactKind::Archive,
        Some(&target.target.triple),
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
    match target.target.libc {
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
                        target.target.triple
                    );
                }
            }
            artifact.static_binaries = Some(true);
        }
        Libc::Other => {}
    }
    Ok(())
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
}
