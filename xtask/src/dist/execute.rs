//! Executes a [`DistPlan`]. The whole run, in order (each step reads the plan and the
//! artifact list, never another step's state):
//!
//! 1. claim the output directory (a lock; refuse a directory `dist` did not make),
//! 2. preflight: the planned files, pinned tools, toolchains and runners ([`preflight`]),
//! 3. decrypt the signing key (a wrong password fails in seconds, not after the build),
//! 4. the planned cargo builds ([`build`]),
//! 5. per target the archive, SBOM and `.deb` (reused when an earlier dist packed the same
//!    inputs, [`reuse`]), and the installer ([`package`]),
//! 6. provenance, manifest, `SHA256SUMS`, signature, `verify` ([`seal`]),
//! 7. optional smoke runs of the staged binaries ([`smoke`]),
//! 8. the atomic swap of the staging directory into place ([`output`]).
//!
//! [`preflight`]: super::preflight
//! [`build`]: super::build
//! [`package`]: super::package
//! [`reuse`]: super::reuse
//! [`seal`]: super::seal
//! [`smoke`]: super::smoke
//! [`output`]: super::output

use anyhow::Context;

use super::manifest::{self, Manifest};
use super::output::{OutputDir, Ownership};
use super::package::{self, Packing};
use super::reuse::PackageCache;
use super::smoke::{self, SmokeScope};
use super::{DistPlan, build, preflight, provenance, seal};
use crate::context::ReleaseContext;
use crate::progress::Progress;
use crate::signing::{SIGNING_KEY_VAR, Signer};

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
    preflight::check(sh, context, plan, smoke, progress)?;
    step.done();
    let signer = match plan.partial {
        true => None,
        false => Signer::for_plan(&plan.signing, root, progress)?,
    };
    if plan.signing.ignores_ambient_key {
        progress.warn(format!(
            "a partial dist is not signed: ignoring ${SIGNING_KEY_VAR} (keep it from the build \
             jobs: on GitLab, scope it to the merge job's environment)"
        ));
    }

    let triples: Vec<&str> = plan.targets().map(|t| t.triple.as_str()).collect();
    let step = progress.step(format!("build {} ({})", triples.join(", "), plan.profile));
    let dirs: Vec<_> = plan
        .targets
        .iter()
        .map(|t| (&t.target.triple, t.artifact_dir.as_path()))
        .collect();
    let facts = provenance_facts(sh, context, plan)?;
    let built = build::run_all(
        root,
        &plan.builds,
        &context.package_id,
        &dirs,
        !progress.is_loud(),
    )?;
    step.done();

    let cache = PackageCache::new(&context.build.target_dir);
    let manifest = output.publish(|staging| {
        let packing = Packing {
            context,
            plan,
            built: &built,
            staging,
            progress,
            checksums: context.workspace.lock_checksums()?,
            cache: &cache,
            slots: package::CompressionSlots::per_core(),
        };
        let mut artifacts = package::pack_targets(&packing)?;
        if let Some(installer) = &plan.installer {
            artifacts.push(package::write_installer(context, plan, installer, staging)?);
        }
        if let Some(npm) = &plan.npm {
            artifacts.push(package::write_npm_main(&packing, npm)?);
        }
        let mut manifest = new_manifest(plan, artifacts)?;
        let statement = provenance::statement(&manifest, &facts)?;
        seal::seal(
            &mut manifest,
            &statement,
            staging,
            seal::ChannelFiles::of(plan),
            signer
                .as_ref()
                .map(|s| (s, plan.signing.signs_each.as_slice())),
            &cache.reused(),
            progress,
        )?;
        if let Some(scope) = smoke {
            let step = progress.step("smoke runs");
            smoke::run(staging, &plan.version, &plan.targets, scope, progress, root)?;
            step.done();
        }
        Ok(manifest)
    })?;
    if let Err(err) = cache.store(&plan.out) {
        progress.note(format!(
            "warning: the packages could not be kept for the next dist ({err:#}); it will pack \
             them again"
        ));
    }
    seal::summary(progress, &manifest, &plan.out);
    Ok(manifest)
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
            "package {} has no `repository` in its Cargo.toml: the provenance names the source \
             by it",
            package.name
        )
    })?;
    let rustc = xshell::cmd!(sh, "rustc -vV")
        .quiet()
        .read()
        .context("`rustc -vV` failed: is the Rust toolchain installed?")?;
    let replacements = [
        (workspace.root.display().to_string(), "$WORKSPACE"),
        (
            context.build.target_dir.display().to_string(),
            "$CARGO_TARGET_DIR",
        ),
        (
            context.build.cargo_home.display().to_string(),
            "$CARGO_HOME",
        ),
    ];
    let mut invocations: Vec<provenance::Invocation> = plan
        .builds
        .iter()
        .map(|build| provenance::portable_invocation(build, &replacements))
        .collect();
    invocations.sort();
    let lock = workspace.root.join("Cargo.lock");
    Ok(provenance::BuildFacts {
        repository: repository.to_owned(),
        profile: plan.profile.clone(),
        invocations,
        cargo_lock_sha256: super::archive::digest_file(&lock)?.sha256,
        rustc,
        builder_id: provenance::builder_id(|name| std::env::var(name).ok()),
    })
}

/// The manifest of `artifacts`, before the provenance and the checksums join them.
fn new_manifest(plan: &DistPlan, artifacts: Vec<manifest::Artifact>) -> anyhow::Result<Manifest> {
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
