//! The last step of `dist` and `dist merge` alike: the provenance statement joins the artifact
//! list, the manifest and `SHA256SUMS` are rendered from that list, the signature covers
//! `SHA256SUMS`, and `verify` reads the staged result as a user would.
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
pub fn seal(
    manifest: &mut Manifest,
    statement: &Statement,
    staging: &Path,
    signer: Option<&Signer>,
    verified_before: &BTreeSet<(String, String)>,
    progress: &Progress,
) -> anyhow::Result<()> {
    let step = progress.step("provenance, checksums and manifest");
    manifest
        .artifacts
        .push(write_statement(manifest, statement, staging)?);
    manifest::write(manifest, staging)?;
    step.done();

    if let Some(signer) = signer {
        let step = progress.step(format!("sign {}", manifest::CHECKSUMS_FILE));
        signer.sign_checksums(staging, &trusted_comment(manifest))?;
        step.done();
    }

    let step = progress.step("verify");
    let signatures = SignatureCheck {
        public_key: signer.map(|s| s.public_key().clone()),
        required: signer.is_some(),
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

/// What a release's signature vouches for besides `SHA256SUMS` itself.
pub fn trusted_comment(manifest: &Manifest) -> String {
    crate::signing::trusted_comment(
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
