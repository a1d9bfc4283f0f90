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
use crate::context::ReleaseContext;
use crate::flags;
use crate::progress::Progress;
use crate::targets::Triple;

/// A verified partial dist and where it came from.
pub struct Partial {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// Checks that the partials fit together and cover `expected_targets`; returns the merged
/// manifest (without `SHA256SUMS`, which `manifest::write` adds).
pub fn merge_manifests(
    partials: &[Partial],
    expected_targets: &[Triple],
    expected_version: &str,
) -> anyhow::Result<Manifest> {
    let first = partials
        .first()
        .context("dist merge needs at least one partial dist directory")?;
    let mut merged = first.manifest.clone();
    merged.partial = false;
    merged.targets.clear();
    merged.artifacts.clear();
    let mut owners: BTreeMap<Triple, &Path> = BTreeMap::new();
    let mut artifacts: BTreeMap<String, manifest::Artifact> = BTreeMap::new();
    for partial in partials {
        check_agreement(partial, first, expected_version)?;
        let name = partial.dir.display();
        for target in &partial.manifest.targets {
            if let Some(other) = owners.insert(target.clone(), &partial.dir) {
                bail!(
                    "target {target} is in both {} and {name}: each runner must build different targets",
                    other.display()
                );
            }
            merged.targets.push(target.clone());
        }
        // Each partial's statement covers its own targets; they are joined after the merge.
        let own = partial
            .manifest
            .artifacts
            .iter()
            .filter(|a| a.kind != manifest::ArtifactKind::Provenance);
        for artifact in own {
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
    check_coverage(&merged.targets, expected_targets)?;
    merged.artifacts = artifacts.into_values().collect();
    merged.sort();
    Ok(merged)
}

/// A partial must be partial and agree with the first on app, version, commit and source date.
fn check_agreement(
    partial: &Partial,
    first: &Partial,
    expected_version: &str,
) -> anyhow::Result<()> {
    let (m, name) = (&partial.manifest, partial.dir.display());
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
    Ok(())
}

/// The partials' targets must be exactly the plan's.
fn check_coverage(have: &[Triple], want: &[Triple]) -> anyhow::Result<()> {
    let have: BTreeSet<&Triple> = have.iter().collect();
    let want: BTreeSet<&Triple> = want.iter().collect();
    let list = |set: Vec<&&Triple>| {
        set.iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let missing: Vec<&&Triple> = want.difference(&have).collect();
    if !missing.is_empty() {
        bail!(
            "no partial holds {}: wait for (or rerun) those runners' builds, or pass the targets to merge with --target",
            list(missing)
        );
    }
    let extra: Vec<&&Triple> = have.difference(&want).collect();
    if !extra.is_empty() {
        bail!("partials hold targets the plan does not: {}", list(extra));
    }
    Ok(())
}

/// The partial dists: each argument is one, or a directory whose subdirectories holding a
/// manifest are (a CI's downloaded artifacts, `partials/<name>/`), in name order: the
/// pipelines name one directory and never a glob.
fn partial_dirs(arguments: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for argument in arguments {
        if argument.join(manifest::FILE_NAME).is_file() {
            dirs.push(argument.clone());
            continue;
        }
        let mut inside: Vec<PathBuf> = fs_err::read_dir(argument)
            .with_context(|| format!("{} is not a partial dist directory", argument.display()))?
            .map(|entry| Ok(entry?.path()))
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter()
            .filter(|dir| dir.join(manifest::FILE_NAME).is_file())
            .collect();
        if inside.is_empty() {
            bail!(
                "{} holds no {}, and no directory that does: pass the partial dists \
                 (`dist --partial` writes them)",
                argument.display(),
                manifest::FILE_NAME
            );
        }
        inside.sort();
        dirs.extend(inside);
    }
    Ok(dirs)
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
        let cwd = std::env::current_dir()?;
        let out = match &self.out {
            Some(out) => cwd.join(out),
            None => context.workspace.root.join("dist"),
        };
        let plan = context.dist_plan(&requested, false, out.clone(), self.signing.request())?;

        // Refuse a foreign --out before any work; claimed (and checked again) below.
        output::ensure_replaceable(&out, &output::Ownership::Dist)?;
        let root = &context.workspace.root;
        let signer = crate::signing::Signer::for_plan(&plan.signing, root, &progress)?;
        let dirs = partial_dirs(&self.dirs.iter().map(|d| cwd.join(d)).collect::<Vec<_>>())?;
        let step = progress.step(format!("verify {} partial dists", dirs.len()));
        let mut partials = Vec::new();
        for dir in dirs {
            let unsigned = crate::verify::SignatureCheck::default();
            let manifest = crate::verify::verify_dir(&dir, &unsigned)
                .with_context(|| format!("partial dist {} is rejected", dir.display()))?;
            partials.push(Partial { dir, manifest });
        }
        let triples: Vec<Triple> = plan.targets().map(|t| t.triple.clone()).collect();
        let mut merged = merge_manifests(&partials, &triples, &plan.version)?;
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
                fs_err::copy(&source, staging.join(&artifact.name))
                    .with_context(|| format!("cannot copy {}", source.display()))?;
            }
            let statements = partials
                .iter()
                .map(|p| {
                    let name = super::provenance::file_name(&p.manifest.app, &p.manifest.version);
                    super::provenance::read(&p.dir.join(name))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let statement = super::provenance::merge(&statements, &merged)?;
            step.done();
            let fresh = BTreeSet::new();
            super::seal::seal(
                &mut merged,
                &statement,
                staging,
                super::seal::ChannelFiles::of(&plan),
                signer
                    .as_ref()
                    .map(|s| (s, plan.signing.signs_each.as_slice())),
                &fresh,
                &progress,
            )?;
            Ok(())
        })?;
        super::seal::summary(&progress, &merged, &out);
        if self.json {
            crate::out!("{}", String::from_utf8(merged.to_json())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::manifest::{Artifact, ArtifactKind};

    fn triple(text: &str) -> Triple {
        Triple::parse(text).unwrap()
    }

    fn artifact(name: &str, kind: ArtifactKind, target: Option<&str>, sha: char) -> Artifact {
        Artifact::new(
            name,
            kind,
            target.map(triple).as_ref(),
            crate::dist::archive::Digest256 {
                sha256: sha.to_string().repeat(64),
                size: 1,
            },
        )
    }

    /// A partial dist of one target, as a runner builds it, with the shared installer.
    fn partial(dir: &str, target: &str) -> Partial {
        Partial {
            dir: PathBuf::from(dir),
            manifest: Manifest {
                format: manifest::FORMAT.into(),
                format_version: manifest::FORMAT_VERSION,
                app: "jimini".into(),
                version: "0.2.1-dev.1+gabc".into(),
                commit: "abc".into(),
                source_date_epoch: 1_700_000_000,
                source_date: "2023-11-14T22:13:20Z".into(),
                partial: true,
                targets: vec![triple(target)],
                artifacts: vec![
                    artifact(
                        &format!("jimini-{target}.tar.gz"),
                        ArtifactKind::Archive,
                        Some(target),
                        'a',
                    ),
                    artifact(
                        &format!("jimini-{target}.cdx.json"),
                        ArtifactKind::Sbom,
                        Some(target),
                        'b',
                    ),
                    artifact("install.sh", ArtifactKind::Installer, None, 'c'),
                ],
            },
        }
    }

    const GNU: &str = "x86_64-unknown-linux-gnu";
    const MUSL: &str = "x86_64-unknown-linux-musl";

    fn merge(partials: &[Partial], targets: &[&str]) -> anyhow::Result<Manifest> {
        let targets: Vec<Triple> = targets.iter().map(|t| triple(t)).collect();
        merge_manifests(partials, &targets, "0.2.1-dev.1+gabc")
    }

    fn refused(partials: &[Partial], targets: &[&str]) -> String {
        merge(partials, targets).unwrap_err().to_string()
    }

    #[test]
    fn partials_that_fit_merge_into_one_sorted_manifest() {
        let merged = merge(&[partial("/b", MUSL), partial("/a", GNU)], &[GNU, MUSL]).unwrap();
        assert!(!merged.partial);
        assert_eq!(merged.targets, [triple(GNU), triple(MUSL)]);
        let names: Vec<&str> = merged.artifacts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "install.sh",
                "jimini-x86_64-unknown-linux-gnu.cdx.json",
                "jimini-x86_64-unknown-linux-gnu.tar.gz",
                "jimini-x86_64-unknown-linux-musl.cdx.json",
                "jimini-x86_64-unknown-linux-musl.tar.gz",
            ],
            "the shared installer once"
        );
    }

    #[test]
    fn partials_that_do_not_fit_are_refused_naming_the_runner() {
        let both = [GNU, MUSL];
        let mut complete = partial("/complete", MUSL);
        complete.manifest.partial = false;
        assert!(
            refused(&[partial("/a", GNU), complete], &both)
                .contains("/complete is a complete dist")
        );

        let mut stale = partial("/stale", MUSL);
        stale.manifest.version = "0.2.1-dev.2+gdef".into();
        assert!(
            refused(&[partial("/a", GNU), stale], &both)
                .contains("/stale was built as jimini 0.2.1-dev.2+gdef")
        );

        let mut other = partial("/other", MUSL);
        other.manifest.commit = "def".into();
        assert!(
            refused(&[partial("/a", GNU), other], &both)
                .contains("/other has commit def but /a has abc")
        );

        let mut dated = partial("/dated", MUSL);
        dated.manifest.source_date_epoch = 1;
        assert!(refused(&[partial("/a", GNU), dated], &both).contains("SOURCE_DATE_EPOCH 1"));

        let twice = refused(&[partial("/a", GNU), partial("/b", GNU)], &both);
        assert!(
            twice.contains("target x86_64-unknown-linux-gnu is in both /a and /b"),
            "{twice}"
        );

        assert!(
            refused(&[partial("/a", GNU)], &both).contains(&format!("no partial holds {MUSL}"))
        );
        assert!(
            refused(&[partial("/a", GNU), partial("/b", MUSL)], &[GNU])
                .contains("targets the plan does not: x86_64-unknown-linux-musl")
        );

        let mut clash = partial("/b", MUSL);
        clash.manifest.artifacts[2].sha256 = "d".repeat(64);
        assert!(
            refused(&[partial("/a", GNU), clash], &both)
                .contains("install.sh appears in more than one partial with different contents")
        );

        assert!(refused(&[], &both).contains("at least one partial"));
    }
}
