//! The Scoop manifest (`jimini.json`, for a bucket): the release's Windows archives by Scoop
//! architecture with their SHA-256, the binaries as `bin`, and `checkver`/`autoupdate` so a
//! bucket's bot follows new releases. Planned with the dist, written when the release is
//! sealed (it needs the archives' digests, as the Homebrew formula does), checked by `verify`;
//! the tests validate it against Scoop's own schema (vendored in `packaging/schemas/scoop/`).

use serde::Serialize;
use serde_json::json;

use crate::dist::manifest::{ArtifactKind, Manifest};
use crate::dist::plan::{PlanInput, TargetPlan};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScoopPlan {
    /// `<app>.json`.
    pub file: String,
    pub description: String,
    pub homepage: String,
    pub license: String,
    pub repository: String,
    pub download_base: String,
    /// (Scoop's architecture, the archive, its top directory), sorted.
    pub architectures: Vec<(String, String, String)>,
    pub binaries: Vec<String>,
}

/// The manifest of the release's Windows archives, when Scoop is configured (not for a
/// partial).
pub fn plan(input: &PlanInput, targets: &[TargetPlan]) -> anyhow::Result<Option<ScoopPlan>> {
    if !input.config.scoop() || input.partial {
        return Ok(None);
    }
    let app = &input.config.package;
    let (repository, download_base) = super::channels::download_base(input, "the Scoop manifest")?;
    let architectures = super::channels::windows_archives(targets, ("64bit", "arm64"));
    let synopsis = crate::dist::deb::plan::capitalized_synopsis(
        input.meta.description.as_deref().unwrap_or(app),
    );
    Ok(Some(ScoopPlan {
        file: format!("{app}.json"),
        description: synopsis,
        homepage: input
            .meta
            .homepage
            .clone()
            .unwrap_or_else(|| repository.clone()),
        license: input.meta.license.clone().unwrap_or_default(),
        repository,
        download_base,
        architectures,
        binaries: input.binaries.iter().map(|b| format!("{b}.exe")).collect(),
    }))
}

/// The manifest's JSON (sorted keys, two-space indent, final newline), with each planned
/// archive's SHA-256 from the sealed manifest; `None` when the release has none of them. Pure.
pub fn render(plan: &ScoopPlan, manifest: &Manifest) -> anyhow::Result<Option<String>> {
    let mut architecture = serde_json::Map::new();
    let mut autoupdate = serde_json::Map::new();
    for (arch, archive, top_dir) in &plan.architectures {
        let Some(found) = manifest
            .artifacts
            .iter()
            .find(|a| &a.name == archive && a.kind == ArtifactKind::Archive)
        else {
            continue;
        };
        architecture.insert(
            arch.clone(),
            json!({
                "url": format!("{}{}", plan.download_base, found.name),
                "hash": found.sha256,
                "extract_dir": top_dir,
            }),
        );
        let templated = |text: &str| text.replace(&manifest.version, "$version");
        autoupdate.insert(
            arch.clone(),
            json!({
                "url": templated(&format!("{}{}", plan.download_base, found.name)),
                "extract_dir": templated(top_dir),
            }),
        );
    }
    if architecture.is_empty() {
        return Ok(None);
    }
    let document = json!({
        "version": manifest.version,
        "description": plan.description,
        "homepage": plan.homepage,
        "license": plan.license,
        "architecture": architecture,
        "bin": plan.binaries,
        "checkver": { "github": plan.repository },
        "autoupdate": {
            "architecture": autoupdate,
            "hash": { "url": "$baseurl/SHA256SUMS" },
        },
    });
    let mut text = serde_json::to_string_pretty(&document)?;
    text.push('\n');
    Ok(Some(text))
}

/// What `verify` asks of a Scoop manifest: JSON, the dist's version, and each architecture's
/// `url` a file of the dist whose SHA-256 is its `hash`.
pub fn check(text: &str, manifest: &Manifest) -> Vec<String> {
    let document: serde_json::Value = match serde_json::from_str(text) {
        Ok(document) => document,
        Err(err) => return vec![format!("is not JSON: {err}")],
    };
    let mut problems = vec![];
    if document["version"] != manifest.version.as_str() {
        problems.push(format!(
            "its version is {}, the dist's {}",
            document["version"], manifest.version
        ));
    }
    let Some(architectures) = document["architecture"].as_object() else {
        return vec!["it has no architecture".to_owned()];
    };
    for (arch, entry) in architectures {
        let url = entry["url"].as_str().unwrap_or_default();
        let hash = entry["hash"].as_str().unwrap_or_default();
        if let Some(problem) = super::channels::download_problem(url, hash, manifest) {
            problems.push(format!("{arch}: {problem}"));
        }
    }
    problems
}
