//! The last step of `dist` and `dist merge` alike: the provenance statement joins the artifact
//! list, each package a client fetches by itself gets its `<file>.sig`, the manifest and
//! `SHA256SUMS` are rendered from that list, the signature covers `SHA256SUMS`, and `verify`
//! reads the staged result as a user would.
//!
//! **Architecture Invariant:** one sequence for both commands, so a merged fan-out is sealed
//! exactly as a one-machine dist is (and gives the same bytes).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;

use super::manifest::{self, Artifact, ArtifactKind, Manifest};
use super::provenance::{self, Statement};
use crate::progress::{Progress, human_size};
use crate::signing::Signer;
use crate::verify::SignatureCheck;

/// Seals the staged dist whose artifacts `manifest` lists; `statement` is its provenance.
/// `verified_before`: packages (name, SHA-256) reused from a verified dist, checked by digest.
/// The release-level files the plan asks for, written from the sealed archives' digests.
#[derive(Clone, Copy)]
pub struct ChannelFiles<'a> {
    pub formula: Option<&'a super::homebrew::FormulaPlan>,
    pub scoop: Option<&'a super::scoop::ScoopPlan>,
    pub winget: Option<&'a super::winget::WingetPlan>,
}

impl<'a> ChannelFiles<'a> {
    pub fn of(plan: &'a super::DistPlan) -> ChannelFiles<'a> {
        ChannelFiles {
            formula: plan.formula.as_ref(),
            scoop: plan.scoop.as_ref(),
            winget: plan.winget.as_ref(),
        }
    }

    /// Each file (name, kind, text) from the sealed archives' digests. A partial dist's plan
    /// has none of them.
    fn render(&self, manifest: &Manifest) -> anyhow::Result<Vec<(String, ArtifactKind, String)>> {
        let mut files = vec![];
        if let Some(plan) = self.formula
            && let Some(text) = super::homebrew::render(plan, manifest)?
        {
            files.push((plan.file.clone(), ArtifactKind::HomebrewFormula, text));
        }
        if let Some(plan) = self.scoop
            && let Some(text) = super::scoop::render(plan, manifest)?
        {
            files.push((plan.file.clone(), ArtifactKind::ScoopManifest, text));
        }
        if let Some(plan) = self.winget {
            for (file, text) in super::winget::render(plan, manifest).into_iter().flatten() {
                files.push((file, ArtifactKind::WingetManifest, text));
            }
        }
        Ok(files)
    }
}

/// `signing`: the signer and the plan's kinds of artifact that get a signature of their own.
pub fn seal(
    manifest: &mut Manifest,
    statement: &Statement,
    staging: &Path,
    channels: ChannelFiles,
    signing: Option<(&Signer, &[ArtifactKind])>,
    verified_before: &BTreeSet<(String, String)>,
    progress: &Progress,
) -> anyhow::Result<()> {
    let step = progress.step("provenance");
    manifest
        .artifacts
        .push(write_statement(manifest, statement, staging)?);
    step.done();

    // The release-level files made from every archive's digest: not the provenance's subjects
    // (it names the archives they point at).
    for (file, kind, text) in channels.render(manifest)? {
        let path = staging.join(&file);
        fs_err::write(&path, text)?;
        manifest
            .artifacts
            .push(Artifact::of_file(&file, kind, None, &path)?);
    }

    if let Some((signer, signs_each)) = signing {
        let signed: Vec<Artifact> = manifest
            .artifacts
            .iter()
            .filter(|a| signs_each.contains(&a.kind))
            .cloned()
            .collect();
        let step = progress.step(format!("sign {} packages", signed.len()));
        for artifact in &signed {
            let signature = signature_name(&artifact.name);
            let comment = trusted_comment(manifest, &artifact.name);
            signer.sign_file(staging, &artifact.name, &signature, &comment)?;
            manifest
                .artifacts
                .push(signature_artifact(artifact, staging)?);
        }
        step.done();
    }

    let step = progress.step("checksums and manifest");
    manifest::write(manifest, staging)?;
    step.done();

    if let Some((signer, _)) = signing {
        let step = progress.step(format!("sign {}", manifest::CHECKSUMS_FILE));
        let comment = trusted_comment(manifest, manifest::CHECKSUMS_FILE);
        signer.sign_file(
            staging,
            manifest::CHECKSUMS_FILE,
            crate::signing::SIGNATURE_FILE,
            &comment,
        )?;
        step.done();
    }

    let step = progress.step("verify");
    let signatures = SignatureCheck {
        keyring: signing
            .map(|(s, _)| crate::keys::Keyring::single(s.public_key().clone(), "the signing key")),
        required: signing.is_some(),
    };
    crate::verify::verify_dir_with(staging, &signatures, verified_before)?;
    step.done();
    Ok(())
}

/// Writes `statement` as the provenance of `manifest`'s dist.
fn write_statement(
    manifest: &Manifest,
    statement: &Statement,
    staging: &Path,
) -> anyhow::Result<Artifact> {
    let name = provenance::file_name(&manifest.app, &manifest.version);
    let path = staging.join(&name);
    fs_err::write(&path, provenance::to_line(statement))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Artifact::of_file(&name, ArtifactKind::Provenance, None, &path)
}

/// The name of `file`'s own signature.
pub fn signature_name(file: &str) -> String {
    format!("{file}{}", crate::signing::FILE_SIGNATURE_SUFFIX)
}

/// The manifest's entry for the signature (in `dir`) of `signed`.
pub fn signature_artifact(signed: &Artifact, dir: &Path) -> anyhow::Result<Artifact> {
    let name = signature_name(&signed.name);
    let mut artifact = Artifact::of_file(
        &name,
        ArtifactKind::Signature,
        signed.target.as_ref(),
        &dir.join(&name),
    )?;
    artifact.arch = signed.arch.clone();
    artifact.signs = Some(signed.name.clone());
    Ok(artifact)
}

/// What a signature of `file` vouches for besides the file's bytes: the release it is of.
pub fn trusted_comment(manifest: &Manifest, file: &str) -> String {
    crate::signing::trusted_comment(
        file,
        &manifest.app,
        &manifest.version,
        &manifest.commit,
        manifest.source_date_epoch,
    )
}

/// The table of what was written, on stderr.
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
