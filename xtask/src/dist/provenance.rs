//! `jimini-<version>.intoto.jsonl`: SLSA Provenance v1 in an in-toto Statement v1.
//!
//! The subjects are every archive, SBOM and the installer with their SHA-256; the predicate says
//! how they were made: the build type (documented in ARCHITECTURE.md, "Provenance"), the
//! external parameters (version, targets, profile, source), the cargo invocations, and the
//! resolved dependencies (the source commit, `Cargo.lock`, rustc). Deterministic: no clock (times
//! are `SOURCE_DATE_EPOCH`), and machine paths are replaced by `$WORKSPACE`, `$CARGO_TARGET_DIR`
//! and `$CARGO_HOME`, so two clones write the same bytes. The file is listed in `SHA256SUMS`, so
//! the release signature covers it.
//!
//! A partial dist carries the statement of its own targets; `dist merge` joins them into one.

mod builder;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

pub use builder::{BUILDER_ID_VAR, builder_id};

use super::build::BuildStep;
use super::manifest::{Artifact, ArtifactKind, Manifest};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// What this tool's build type means is written down in ARCHITECTURE.md.
pub const BUILD_TYPE: &str =
    "https://github.com/jimini-dev/jimini/blob/main/ARCHITECTURE.md#provenance-build-type-v1";

pub fn file_name(app: &str, version: &str) -> String {
    format!("{app}-{version}.intoto.jsonl")
}

/// Which artifacts a statement vouches for: everything but the checksums and itself.
pub fn is_subject(kind: ArtifactKind) -> bool {
    matches!(
        kind,
        ArtifactKind::Archive
            | ArtifactKind::FallbackArchive
            | ArtifactKind::Sbom
            | ArtifactKind::Installer
            | ArtifactKind::Deb
            | ArtifactKind::Wheel
            | ArtifactKind::Rpm
            | ArtifactKind::NpmPackage
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: Predicate,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    pub name: String,
    pub digest: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Predicate {
    pub build_definition: BuildDefinition,
    pub run_details: RunDetails,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BuildDefinition {
    pub build_type: String,
    pub external_parameters: ExternalParameters,
    pub internal_parameters: InternalParameters,
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalParameters {
    pub version: String,
    pub targets: Vec<String>,
    pub profile: String,
    /// The repository the source comes from (`repository` in Cargo.toml).
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalParameters {
    /// The cargo build of each target, sorted. One cargo run of several targets is recorded
    /// as the equivalent run per target, so a merged fan-out and a one-machine dist of the same
    /// targets say the same (and are the same bytes).
    pub cargo: Vec<Invocation>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invocation {
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunDetails {
    pub builder: Builder,
    pub metadata: RunMetadata,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Builder {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunMetadata {
    pub started_on: String,
    pub finished_on: String,
}

/// The facts of one build, gathered before it runs.
pub struct BuildFacts {
    pub repository: String,
    pub profile: String,
    /// One per target: see [`InternalParameters::cargo`].
    pub invocations: Vec<Invocation>,
    pub cargo_lock_sha256: String,
    /// `rustc -vV`.
    pub rustc: String,
    pub builder_id: String,
}

/// `build` with this machine's paths replaced by names, so the statement is the same on every
/// checkout: `replacements` are (path, name), longest path first. `argv[0]` (cargo, or the
/// cargo-zigbuild that runs it) is written `cargo`: `cargo build …`.
pub fn portable_invocation(build: &BuildStep, replacements: &[(String, &str)]) -> Invocation {
    let (argv, env) = (&build.argv, &build.env);
    let mut sorted: Vec<&(String, &str)> =
        replacements.iter().filter(|(p, _)| !p.is_empty()).collect();
    sorted.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
    let portable = |text: &str| {
        sorted.iter().fold(text.to_owned(), |text, (path, name)| {
            text.replace(path.as_str(), name)
        })
    };
    let mut argv: Vec<String> = argv.iter().map(|a| portable(a)).collect();
    if let Some(program) = argv.first_mut() {
        *program = "cargo".to_owned();
    }
    Invocation {
        argv,
        env: env
            .iter()
            .filter_map(|(k, v)| match k.as_str() {
                // `CARGO` names this machine's cargo binary, as argv[0] did; only which tool
                // runs cargo is a fact of the build (the plan's driver).
                "CARGO" => build
                    .driver
                    .recorded_name()
                    .map(|name| (k.clone(), name.to_owned())),
                // Where this machine keeps zig and cargo-auditable (their versions are pinned
                // by the source).
                "CARGO_ZIGBUILD_PYTHON_PATH" | "CARGO_ZIGBUILD_ZIG_PATH" | "PATH" => None,
                _ => Some((k.clone(), portable(v))),
            })
            .collect(),
    }
}

/// The statement for `manifest`'s artifacts (the statement itself and the checksums aside).
pub fn statement(manifest: &Manifest, facts: &BuildFacts) -> anyhow::Result<Statement> {
    let time = time::OffsetDateTime::from_unix_timestamp(manifest.source_date_epoch)?
        .format(&time::format_description::well_known::Rfc3339)?;
    let rustc_release = rustc_field(&facts.rustc, "release")?;
    let rustc = ResourceDescriptor {
        name: Some("rustc".to_owned()),
        uri: Some(format!("pkg:generic/rustc@{rustc_release}")),
        digest: BTreeMap::from([(
            "gitCommit".to_owned(),
            rustc_field(&facts.rustc, "commit-hash")?,
        )]),
        annotations: BTreeMap::from([("host".to_owned(), rustc_field(&facts.rustc, "host")?)]),
    };
    Ok(Statement {
        statement_type: STATEMENT_TYPE.to_owned(),
        subject: subjects(&manifest.artifacts),
        predicate_type: PREDICATE_TYPE.to_owned(),
        predicate: Predicate {
            build_definition: BuildDefinition {
                build_type: BUILD_TYPE.to_owned(),
                external_parameters: ExternalParameters {
                    version: manifest.version.clone(),
                    targets: manifest.targets.iter().map(|t| t.to_string()).collect(),
                    profile: facts.profile.clone(),
                    source: facts.repository.clone(),
                },
                internal_parameters: InternalParameters {
                    cargo: facts.invocations.clone(),
                },
                resolved_dependencies: vec![
                    ResourceDescriptor {
                        name: None,
                        uri: Some(format!("git+{}@{}", facts.repository, manifest.commit)),
                        digest: BTreeMap::from([("gitCommit".to_owned(), manifest.commit.clone())]),
                        annotations: BTreeMap::new(),
                    },
                    ResourceDescriptor {
                        name: Some("Cargo.lock".to_owned()),
                        uri: None,
                        digest: BTreeMap::from([(
                            "sha256".to_owned(),
                            facts.cargo_lock_sha256.clone(),
                        )]),
                        annotations: BTreeMap::new(),
                    },
                    rustc,
                ],
            },
            run_details: RunDetails {
                builder: Builder {
                    id: facts.builder_id.clone(),
                },
                metadata: RunMetadata {
                    started_on: time.clone(),
                    finished_on: time,
                },
            },
        },
    })
}

fn subjects(artifacts: &[Artifact]) -> Vec<Subject> {
    let mut subjects: Vec<Subject> = artifacts
        .iter()
        .filter(|a| is_subject(a.kind))
        .map(|a| Subject {
            name: a.name.clone(),
            digest: BTreeMap::from([("sha256".to_owned(), a.sha256.clone())]),
        })
        .collect();
    subjects.sort();
    subjects
}

/// One `key: value` line of `rustc -vV`.
pub fn rustc_field(version: &str, key: &str) -> anyhow::Result<String> {
    version
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(": "))
        .map(str::to_owned)
        .with_context(|| format!("`rustc -vV` printed no {key}: {version:?}"))
}

/// Joins the statements of partial dists into the statement of the merged `manifest`: the
/// partials must agree on everything but their targets, subjects, invocations and rustc.
pub fn merge(partials: &[Statement], manifest: &Manifest) -> anyhow::Result<Statement> {
    let first = partials
        .first()
        .context("no partial statement to merge")?
        .clone();
    let mut merged = first.clone();
    let definition = &mut merged.predicate.build_definition;
    definition.internal_parameters.cargo.clear();
    definition.resolved_dependencies.clear();
    for partial in partials {
        let theirs = &partial.predicate.build_definition;
        let ours = &first.predicate.build_definition;
        let external = (&theirs.external_parameters, &ours.external_parameters);
        if external.0.version != external.1.version
            || external.0.profile != external.1.profile
            || external.0.source != external.1.source
            || theirs.build_type != ours.build_type
        {
            bail!(
                "the partial dists' provenance statements disagree on version, profile or source"
            );
        }
        definition
            .internal_parameters
            .cargo
            .extend(theirs.internal_parameters.cargo.iter().cloned());
        definition
            .resolved_dependencies
            .extend(theirs.resolved_dependencies.iter().cloned());
    }
    definition.internal_parameters.cargo.sort();
    definition.internal_parameters.cargo.dedup();
    definition.resolved_dependencies.sort();
    definition.resolved_dependencies.dedup();
    definition.external_parameters.targets =
        manifest.targets.iter().map(|t| t.to_string()).collect();
    merged.subject = subjects(&manifest.artifacts);
    Ok(merged)
}

/// One line of JSON and a newline: the `.jsonl` form.
pub fn to_line(statement: &Statement) -> Vec<u8> {
    let mut line = serde_json::to_vec(statement).expect("plain data");
    line.push(b'\n');
    line
}

pub fn read(path: &Path) -> anyhow::Result<Statement> {
    let text =
        fs_err::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines();
    let (Some(line), None) = (lines.next(), lines.next()) else {
        bail!(
            "{} must hold exactly one statement (one line)",
            path.display()
        );
    };
    serde_json::from_str(line)
        .with_context(|| format!("{} is not an in-toto statement", path.display()))
}

/// What `verify` finds wrong with a statement of `manifest`'s dist.
pub fn problems(statement: &Statement, manifest: &Manifest) -> Vec<String> {
    let mut problems = Vec::new();
    if statement.statement_type != STATEMENT_TYPE {
        problems.push(format!(
            "_type is {:?}, not {STATEMENT_TYPE}",
            statement.statement_type
        ));
    }
    if statement.predicate_type != PREDICATE_TYPE {
        problems.push(format!(
            "predicateType is {:?}, not {PREDICATE_TYPE}",
            statement.predicate_type
        ));
    }
    let external = &statement.predicate.build_definition.external_parameters;
    if external.version != manifest.version {
        problems.push(format!(
            "it is for version {}, the manifest for {}",
            external.version, manifest.version
        ));
    }
    let expected = subjects(&manifest.artifacts);
    let mut found = statement.subject.clone();
    found.sort();
    for subject in &expected {
        match found.iter().find(|s| s.name == subject.name) {
            None => problems.push(format!("{} is not a subject", subject.name)),
            Some(s) if s.digest != subject.digest => problems.push(format!(
                "the subject {}'s digest differs from the file's",
                subject.name
            )),
            Some(_) => {}
        }
    }
    for subject in found
        .iter()
        .filter(|s| !expected.iter().any(|e| e.name == s.name))
    {
        problems.push(format!("subject {} is not in the dist", subject.name));
    }
    problems
}

#[cfg(test)]
mod tests;
