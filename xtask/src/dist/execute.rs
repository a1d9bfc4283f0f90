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
use super::{DistPlan, TargetPlan, inspect, provenance, sbom};
use crate::context::ReleaseContext;
use crate::progress::{Progress, human_size};
use crate::signing::Signer;
use crate::targets::ArchiveFormat;
use crate::verify::SignatureCheck;

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
    preflight(sh, context, plan, smoke, progress)?;
    step.done();
    // Decrypted before the build: a wrong password or key fails in seconds, not minutes.
    let signer = match plan.partial {
        true => None,
        false => Signer::for_plan(&plan.signing, root, progress)?,
    };

    let triples: Vec<&str> = plan.targets().map(|t| t.triple.as_str()).collect();
    let step = progress.step(format!("build {} ({})", triples.join(", "), plan.profile));
    let dirs: Vec<_> = plan
        .targets
        .iter()
        .map(|t| (&t.target.triple, t.artifact_dir.as_path()))
        .collect();
    let facts = provenance_facts(sh, context, plan)?;
    let built = build::run_all(root, &plan.builds, &context.package_id, &dirs)?;
    step.done();

    let manifest = output.publish(|staging| {
        assemble(
            context,
            plan,
            &built,
            staging,
            progress,
            smoke,
            &Trust {
                signer: signer.as_ref(),
                provenance: &facts,
            },
        )
    })?;
    summary(progress, &manifest, &plan.out);
    Ok(manifest)
}

/// Everything that can be known to fail before the build: missing files, toolchains, runners.
fn preflight(
    sh: &xshell::Shell,
    context: &ReleaseContext,
    plan: &DistPlan,
    smoke: Option<SmokeScope>,
    progress: &Progress,
) -> anyhow::Result<()> {
    let root = &context.workspace.root;
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
    let auditable = crate::ci::CARGO_AUDITABLE;
    let target_dir = &context.build.target_dir;
    if !auditable.is_installed(target_dir) {
        let step = progress.step(format!(
            "install {} {} (once per target directory)",
            auditable.name, auditable.version
        ));
        auditable.install(sh, target_dir)?;
        step.done();
    }
    let zig = plan.builds.iter().any(|build| build.links_through_zig());
    let zig_tools = crate::ci::ZIG;
    if zig && !zig_tools.is_installed(target_dir) {
        let step = progress.step(format!(
            "install {} (once per machine)",
            zig_tools.describe()
        ));
        zig_tools.install(sh, target_dir)?;
        step.done();
    }
    let problems = crate::doctor::build_problems(sh, &targets, root, zig)?;
    if !problems.is_empty() {
        bail!(
            "{}\nrun `cargo xtask doctor --fix` to install what is missing",
            crate::doctor::describe(&problems)
        );
    }
    Ok(())
}

/// What vouches for a dist: the signing key and the facts of the build for its provenance.
struct Trust<'a> {
    signer: Option<&'a Signer>,
    provenance: &'a provenance::BuildFacts,
}

/// What every target's packaging reads.
struct Shared<'a> {
    context: &'a ReleaseContext,
    plan: &'a DistPlan,
    built: &'a build::BuildOutput,
    staging: &'a Path,
    progress: &'a Progress,
    /// The shipped package's directory, relative to the workspace root.
    package_dir: String,
    checksums: BTreeMap<(String, String), String>,
}

fn assemble(
    context: &ReleaseContext,
    plan: &DistPlan,
    built: &build::BuildOutput,
    staging: &Path,
    progress: &Progress,
    smoke: Option<SmokeScope>,
    trust: &Trust,
) -> anyhow::Result<Manifest> {
    let signer = trust.signer;
    let package = context.workspace.shipped_package()?;
    let shared = Shared {
        context,
        plan,
        built,
        staging,
        progress,
        package_dir: package
            .manifest_path
            .parent()
            .and_then(|dir| {
                dir.strip_prefix(&context.workspace.metadata.workspace_root)
                    .ok()
            })
            .map(|dir| dir.to_string())
            .unwrap_or_default(),
        checksums: context.workspace.lock_checksums()?,
    };
    let mut artifacts = pack_targets(&shared)?;
    if let Some(installer) = &plan.installer {
        artifacts.push(write_installer(context, plan, installer, staging)?);
    }

    let step = progress.step("provenance, checksums and manifest");
    let mut manifest = new_manifest(plan, artifacts)?;
    manifest
        .artifacts
        .push(write_provenance(&manifest, trust.provenance, staging)?);
    manifest::write(&mut manifest, staging)?;
    step.done();

    if let Some(signer) = signer {
        let step = progress.step(format!("sign {}", manifest::CHECKSUMS_FILE));
        signer.sign_checksums(staging, &trusted_comment(&manifest))?;
        step.done();
    }

    let step = progress.step("verify");
    let signatures = SignatureCheck {
        public_key: signer.map(|s| s.public_key().clone()),
        required: signer.is_some(),
    };
    crate::verify::verify_dir(staging, &signatures)?;
    step.done();

    if let Some(scope) = smoke {
        let step = progress.step("smoke runs");
        let root = &context.workspace.root;
        smoke::run(staging, &plan.version, &plan.targets, scope, progress, root)?;
        step.done();
    }
    Ok(manifest)
}

/// Every target's archive and SBOM. Targets are independent and compression is the slow
/// part: one thread each.
fn pack_targets(shared: &Shared) -> anyhow::Result<Vec<Artifact>> {
    let packed: Vec<anyhow::Result<Vec<Artifact>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = shared
            .plan
            .targets
            .iter()
            .map(|target| scope.spawn(|| pack_target(shared, target)))
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

/// Everything the provenance statement says about the build, gathered before it runs.
fn provenance_facts(
    sh: &xshell::Shell,
    context: &ReleaseContext,
    plan: &DistPlan,
) -> anyhow::Result<provenance::BuildFacts> {
    let workspace = &context.workspace;
    let package = workspace.shipped_package()?;
    let repository = package.repository.as_deref().with_context(|| {
        format!(
            "package {} has no `repository` in its Cargo.toml: the provenance names the source by it",
            package.name
        )
    })?;
    let rustc = xshell::cmd!(sh, "rustc -vV")
        .quiet()
        .read()
        .context("`rustc -vV` failed: is the Rust toolchain installed?")?;
    let cargo_home = std::env::var("CARGO_HOME").unwrap_or_else(|_| {
        std::env::var("HOME")
            .map(|home| format!("{home}/.cargo"))
            .unwrap_or_default()
    });
    let replacements = [
        (workspace.root.display().to_string(), "$WORKSPACE"),
        (
            context.build.target_dir.display().to_string(),
            "$CARGO_TARGET_DIR",
        ),
        (cargo_home, "$CARGO_HOME"),
    ];
    Ok(provenance::BuildFacts {
        repository: repository.to_owned(),
        profile: plan.profile.clone(),
        invocations: {
            let mut invocations: Vec<provenance::Invocation> = plan
                .builds
                .iter()
                .flat_map(|build| {
                    provenance::per_target_invocations(
                        &build.argv,
                        &build.env,
                        &build.target_args,
                        &replacements,
                    )
                })
                .collect();
            invocations.sort();
            invocations
        },
        cargo_lock_sha256: archive::digest_file(&workspace.root.join("Cargo.lock"))?.sha256,
        rustc,
        builder_id: provenance::builder_id(|name| std::env::var(name).ok()),
    })
}

/// The statement for `manifest`'s artifacts, written beside them.
pub fn write_provenance(
    manifest: &Manifest,
    facts: &provenance::BuildFacts,
    staging: &Path,
) -> anyhow::Result<Artifact> {
    let statement = provenance::statement(manifest, facts)?;
    write_statement(manifest, &statement, staging)
}

/// Writes `statement` as the provenance of `manifest`'s dist.
pub fn write_statement(
    manifest: &Manifest,
    statement: &provenance::Statement,
    staging: &Path,
) -> anyhow::Result<Artifact> {
    let name = provenance::file_name(&manifest.app, &manifest.version);
    let path = staging.join(&name);
    fs::write(&path, provenance::to_line(statement))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Artifact::of_file(&name, ArtifactKind::Provenance, None, &path)
}

/// The manifest of `artifacts`, before the provenance and the checksums join them.
fn new_manifest(plan: &DistPlan, artifacts: Vec<Artifact>) -> anyhow::Result<Manifest> {
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
    manifest.sort();
    Ok(manifest)
}

/// One target's archive (its binaries and the include files), SBOM and Debian package.
fn pack_target(shared: &Shared, target: &TargetPlan) -> anyhow::Result<Vec<Artifact>> {
    let (plan, staging) = (shared.plan, shared.staging);
    let root = &shared.context.workspace.root;
    let step = shared.progress.step(format!("package {}", target.archive));
    let target_build = &shared.built.targets[&target.target.triple];
    let mut entries = binary_entries(target, &target_build.binaries)?;
    for include in &plan.include {
        entries.push(Entry {
            name: include_archive_name(include, &shared.package_dir),
            source: root.join(include),
            executable: false,
        });
    }
    let mut archive = package_target(target, &entries, staging, plan.source_date_epoch as u64)?;
    inspect::check_binaries(target, &entries, &mut archive)?;
    step.done();

    let step = shared.progress.step(format!("sbom {}", target.sbom));
    let json = sbom::build(&sbom::SbomInput {
        metadata: &shared.context.workspace.metadata,
        root: &shared.context.package_id,
        linked: &target_build.linked,
        proc_macros: &shared.built.proc_macros,
        host_libraries: &shared.built.host_libraries,
        checksums: &shared.checksums,
        app_version: &plan.version,
        target: target.target.triple.as_str(),
        artifacts: &std::iter::once(target.archive.as_str())
            .chain(target.deb.as_deref())
            .collect::<Vec<_>>(),
        source_date_epoch: plan.source_date_epoch,
    })?;
    check_dependency_lists(target, &entries, &json)?;
    let path = staging.join(&target.sbom);
    fs::write(&path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    let sbom = Artifact::of_file(
        &target.sbom,
        ArtifactKind::Sbom,
        Some(&target.target.triple),
        &path,
    )?;
    step.done();
    let mut artifacts = vec![archive, sbom];
    if let Some(deb) = &target.deb {
        let step = shared.progress.step(format!("package {deb}"));
        let path = staging.join(deb);
        let input = super::deb::input::for_target(
            shared.context,
            shared.plan,
            target,
            &entries,
            &artifacts[0],
        )?;
        let digest = super::deb::write(&path, &input)?;
        artifacts.push(Artifact::new(
            deb,
            ArtifactKind::Deb,
            Some(&target.target.triple),
            digest,
        ));
        step.done();
    }
    Ok(artifacts)
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
        let data = fs::read(&entry.source)?;
        let embedded = super::auditable::embedded_runtime(&data)
            .with_context(|| format!("{} for {}", entry.name, target.target.triple))?;
        if let Some(problem) = super::auditable::mismatch(&embedded, &required, &excluded) {
            bail!("{} for {}: {problem}", entry.name, target.target.triple);
        }
    }
    Ok(())
}

/// install.sh with the version and the release's platform table filled in.
fn write_installer(
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
    let public_key = match &plan.signing.public_key {
        Some(path) => {
            crate::signing::read_public_key(&context.workspace.root.join(path))?.to_base64()
        }
        None => String::new(),
    };
    let path = staging.join(super::INSTALLER_NAME);
    fs::write(
        &path,
        template
            .replace(super::INSTALLER_VERSION_PLACEHOLDER, &plan.version)
            .replace(super::INSTALLER_PLATFORMS_PLACEHOLDER, &installer.platforms)
            .replace(super::INSTALLER_PUBLIC_KEY_PLACEHOLDER, &public_key),
    )?;
    Artifact::of_file(super::INSTALLER_NAME, ArtifactKind::Installer, None, &path)
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
        ArchiveFormat::TarXz => archive::write_tar_xz(&path, &target.stem, entries, mtime)?,
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

/// What a release's signature vouches for besides `SHA256SUMS` itself.
pub fn trusted_comment(manifest: &Manifest) -> String {
    crate::signing::trusted_comment(
        &manifest.app,
        &manifest.version,
        &manifest.commit,
        manifest.source_date_epoch,
    )
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
