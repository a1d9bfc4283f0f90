//! `cargo xtask dist merge DIR...`: fan-in of partial dists built on separate runners.
//!
//! Each partial is verified on its own first (checksums, archive entries, SBOMs); then they must
//! agree on app, version, commit and source date, carry no target twice and together cover the
//! plan's targets. The merged output is assembled like `dist` assembles its own (manifest
//! rendered from the artifact list, `SHA256SUMS` from the manifest, verify, atomic swap), so it
//! is byte-identical to a single-machine dist of the same targets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::manifest::{self, Manifest};
use super::output;
use crate::flags;
use crate::plan::ReleaseContext;
use crate::progress::Progress;

/// A verified partial dist and where it came from.
pub struct Partial {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// Checks that the partials fit together and cover `expected_targets`; returns the merged
/// manifest (without `SHA256SUMS`, which `manifest::write` adds).
pub fn merge_manifests(
    partials: &[Partial],
    expected_targets: &[String],
    expected_version: &str,
) -> anyhow::Result<Manifest> {
    let first = partials
        .first()
        .context("dist merge needs at least one partial dist directory")?;
    let mut merged = first.manifest.clone();
    merged.partial = false;
    merged.targets.clear();
    merged.artifacts.clear();
    let mut owners: BTreeMap<String, &Path> = BTreeMap::new();
    let mut artifacts: BTreeMap<String, manifest::Artifact> = BTreeMap::new();
    for partial in partials {
        let m = &partial.manifest;
        let name = partial.dir.display();
        if !m.partial {
            bail!(
                "{name} is a complete dist, not a partial one: build it with `cargo xtask dist --target T --partial`"
            );
        }
        if m.version != expected_version {
            bail!(
                "{name} was built as {} {} but this checkout releases {expected_version}: rebuild that runner's partial from the release commit",
                m.app,
                m.version
            );
        }
        for (field, theirs, ours) in [
            ("app", &m.app, &first.manifest.app),
            ("commit", &m.commit, &first.manifest.commit),
        ] {
            if theirs != ours {
                bail!(
                    "{name} has {field} {theirs} but {} has {ours}: every partial must come from the same commit",
                    first.dir.display()
                );
            }
        }
        if m.source_date_epoch != first.manifest.source_date_epoch {
            bail!(
                "{name} has SOURCE_DATE_EPOCH {} but {} has {}: build every partial with the same source date",
                m.source_date_epoch,
                first.dir.display(),
                first.manifest.source_date_epoch
            );
        }
        for target in &m.targets {
            if let Some(other) = owners.insert(target.clone(), &partial.dir) {
                bail!(
                    "target {target} is in both {} and {name}: each runner must build different targets",
                    other.display()
                );
            }
            merged.targets.push(target.clone());
        }
        for artifact in &m.artifacts {
            match artifacts.get(&artifact.name) {
                Some(existing)
                    if existing.target.is_none() && existing.sha256 == artifact.sha256 => {}
                Some(_) => bail!(
                    "{} appears in more than one partial with different contents ({name})",
                    artifact.name
                ),
                None => {
                    artifacts.insert(artifact.name.clone(), artifact.clone());
                }
            }
        }
    }
    let have: BTreeSet<&String> = merged.targets.iter().collect();
    let want: BTreeSet<&String> = expected_targets.iter().collect();
    let missing: Vec<&&String> = want.difference(&have).collect();
    if !missing.is_empty() {
        bail!(
            "no partial holds {}: wait for (or rerun) those runners' builds, or pass the targets to merge with --target",
            missing
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let extra: Vec<&&String> = have.difference(&want).collect();
    if !extra.is_empty() {
        bail!(
            "partials hold targets the plan does not: {}",
            extra
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    merged.artifacts = artifacts.into_values().collect();
    merged.sort();
    Ok(merged)
}

impl flags::DistMerge {
    pub fn run(self, sh: &xshell::Shell) -> anyhow::Result<()> {
        let progress = Progress::new(self.quiet);
        let context = ReleaseContext::load(sh)?;
        let requested = if self.targets.is_empty() {
            vec!["all".to_owned()]
        } else {
            self.targets.clone()
        };
        let plan = context.dist_plan(&requested, false)?;
        let cwd = std::env::current_dir()?;
        let out = match &self.out {
            Some(out) => cwd.join(out),
            None => context.workspace.root.join("dist"),
        };

        // Refuse a foreign --out before any work; claimed (and checked again) below.
        output::ensure_replaceable(&out, &output::Ownership::Dist)?;
        let step = progress.step(format!("verify {} partial dists", self.dirs.len()));
        let mut partials = Vec::new();
        for dir in &self.dirs {
            let dir = cwd.join(dir);
            let manifest = crate::verify::verify_dir(&dir)
                .with_context(|| format!("partial dist {} is rejected", dir.display()))?;
            partials.push(Partial { dir, manifest });
        }
        let mut merged = merge_manifests(&partials, &plan.triples(), &plan.version)?;
        step.done();

        let output = output::OutputDir::claim(&out, &output::Ownership::Dist)?;
        output.publish(|staging| {
            let step = progress.step("combine");
            for artifact in &merged.artifacts {
                let source = partials
                    .iter()
                    .map(|p| p.dir.join(&artifact.name))
                    .find(|p| p.is_file())
                    .expect("every artifact comes from a verified partial");
                std::fs::copy(&source, staging.join(&artifact.name))
                    .with_context(|| format!("cannot copy {}", source.display()))?;
            }
            manifest::write(&mut merged, staging)?;
            step.done();
            let step = progress.step("verify");
            crate::verify::verify_dir(staging)?;
            step.done();
            Ok(())
        })?;
        output::summary(&progress, &merged, &out);
        if self.json {
            print!("{}", String::from_utf8(merged.to_json())?);
        }
        Ok(())
    }
}
