//! The CycloneDX 1.5 SBOM of one target's shipped binaries.
//!
//! Components are exactly the crates compiled for the target and linked into its binaries
//! (from the build's own artifact messages), with `scope: required`. Proc-macro crates those
//! linked crates use sit on normal dependency edges but are not linked: they and the crates they
//! depend on (compiled for the host) are listed with `scope: excluded`, so the component set
//! equals `cargo tree -e normal --target <T>`. Build scripts and build-dependencies are left out. Components and edges are sorted by purl; the
//! serial number is derived from the content and the timestamp is `SOURCE_DATE_EPOCH`, so the
//! same build gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use cargo_metadata::{DependencyKind, Metadata, Package, PackageId};
use cyclonedx_bom::external_models::date_time::DateTime;
use cyclonedx_bom::external_models::uri::Purl;
use cyclonedx_bom::models::bom::{Bom, SpecVersion, UrnUuid};
use cyclonedx_bom::models::component::{Classification, Component, Components, Scope};
use cyclonedx_bom::models::dependency::{Dependencies, Dependency};
use cyclonedx_bom::models::hash::{Hash, HashAlgorithm, HashValue, Hashes};
use cyclonedx_bom::models::license::{LicenseChoice, Licenses};
use cyclonedx_bom::models::metadata::Metadata as BomMetadata;
use cyclonedx_bom::models::property::{Properties, Property};
use cyclonedx_bom::models::tool::{Tool, Tools};
use sha2::{Digest, Sha256};

pub struct SbomInput<'a> {
    pub metadata: &'a Metadata,
    pub root: &'a PackageId,
    pub linked: &'a BTreeSet<PackageId>,
    pub proc_macros: &'a BTreeSet<PackageId>,
    /// Libraries compiled for the host: where a proc-macro's own dependencies come from.
    pub host_libraries: &'a BTreeSet<PackageId>,
    pub checksums: &'a BTreeMap<(String, String), String>,
    /// The dist version (a snapshot version off the release tag).
    pub app_version: &'a str,
    pub target: &'a str,
    /// The dist's files that carry these binaries (the archive, the `.deb`): listed as
    /// `jimini:dist:artifact` properties, so the SBOM names what it describes.
    pub artifacts: &'a [&'a str],
    pub source_date_epoch: i64,
}

fn purl(name: &str, version: &str) -> anyhow::Result<String> {
    Ok(Purl::new("cargo", name, version)
        .map_err(|err| anyhow::anyhow!("cannot build a purl for {name}@{version}: {err:?}"))?
        .to_string())
}

fn component(
    package: &Package,
    version: &str,
    scope: Scope,
    checksum: Option<&String>,
) -> anyhow::Result<Component> {
    let classification = if package.targets.iter().any(|t| t.is_bin())
        && !package.targets.iter().any(|t| t.is_lib())
    {
        Classification::Application
    } else {
        Classification::Library
    };
    let purl_text = purl(&package.name, version)?;
    let mut component = Component::new(
        classification,
        &package.name,
        version,
        Some(purl_text.clone()),
    );
    component.purl = Some(purl_text.parse().expect("Purl::from_str is infallible"));
    component.scope = Some(scope);
    if let Some(license) = &package.license {
        component.licenses = Some(Licenses(vec![LicenseChoice::expression(license)]));
    }
    if let Some(checksum) = checksum {
        component.hashes = Some(Hashes(vec![Hash {
            alg: HashAlgorithm::SHA_256,
            content: HashValue(checksum.clone()),
        }]));
    }
    Ok(component)
}

/// The dependency graph of `cargo metadata`, by package id.
struct Graph<'a> {
    packages: BTreeMap<&'a PackageId, &'a Package>,
    nodes: BTreeMap<&'a PackageId, &'a cargo_metadata::Node>,
}

impl<'a> Graph<'a> {
    fn new(metadata: &'a Metadata) -> anyhow::Result<Graph<'a>> {
        let resolve = metadata
            .resolve
            .as_ref()
            .context("cargo metadata returned no dependency graph")?;
        Ok(Graph {
            packages: metadata.packages.iter().map(|p| (&p.id, p)).collect(),
            nodes: resolve.nodes.iter().map(|n| (&n.id, n)).collect(),
        })
    }

    fn package(&self, id: &PackageId) -> anyhow::Result<&'a Package> {
        self.packages
            .get(id)
            .copied()
            .with_context(|| format!("{} is not in cargo metadata", id.repr))
    }

    fn normal_deps(&self, id: &PackageId) -> Vec<PackageId> {
        self.nodes
            .get(id)
            .map(|node| {
                node.deps
                    .iter()
                    .filter(|dep| {
                        dep.dep_kinds
                            .iter()
                            .any(|k| k.kind == DependencyKind::Normal)
                    })
                    .map(|dep| dep.pkg.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The linked crates (the root included), and the build-only ones: proc-macros on linked
/// crates' normal edges, then what they need at compile time.
fn members(graph: &Graph, input: &SbomInput) -> (BTreeSet<PackageId>, BTreeSet<PackageId>) {
    let mut linked: BTreeSet<PackageId> = input.linked.clone();
    linked.insert(input.root.clone());
    let mut build_only: BTreeSet<PackageId> = linked
        .iter()
        .flat_map(|id| graph.normal_deps(id))
        .filter(|id| input.proc_macros.contains(id))
        .collect();
    let mut frontier: Vec<PackageId> = build_only.iter().cloned().collect();
    while let Some(id) = frontier.pop() {
        for dep in graph.normal_deps(&id) {
            if input.host_libraries.contains(&dep)
                && !linked.contains(&dep)
                && build_only.insert(dep.clone())
            {
                frontier.push(dep);
            }
        }
    }
    (linked, build_only)
}

pub fn build(input: &SbomInput) -> anyhow::Result<Vec<u8>> {
    let graph = Graph::new(input.metadata)?;
    let (linked, build_only) = members(&graph, input);
    let in_sbom: BTreeSet<&PackageId> = linked.iter().chain(build_only.iter()).collect();
    let version_of = |p: &Package| {
        if p.id == *input.root {
            input.app_version.to_owned()
        } else {
            p.version.to_string()
        }
    };
    let bom_ref = |id: &PackageId| -> anyhow::Result<String> {
        let p = graph.package(id)?;
        purl(&p.name, &version_of(p))
    };

    let mut components = Vec::new();
    for id in in_sbom.iter().filter(|id| **id != input.root) {
        let p = graph.package(id)?;
        let scope = if linked.contains(*id) {
            Scope::Required
        } else {
            Scope::Excluded
        };
        let checksum = input
            .checksums
            .get(&(p.name.to_string(), p.version.to_string()));
        components.push(component(p, &version_of(p), scope, checksum)?);
    }
    components.sort_by(|a, b| a.bom_ref.cmp(&b.bom_ref));

    let mut dependencies = Vec::new();
    for id in &in_sbom {
        let mut depends_on: Vec<String> = graph
            .normal_deps(id)
            .iter()
            .filter(|dep| in_sbom.contains(dep))
            .map(bom_ref)
            .collect::<anyhow::Result<_>>()?;
        depends_on.sort();
        depends_on.dedup();
        dependencies.push(Dependency {
            dependency_ref: bom_ref(id)?,
            dependencies: depends_on,
        });
    }
    dependencies.sort_by(|a, b| a.dependency_ref.cmp(&b.dependency_ref));
    let root = component(
        graph.package(input.root)?,
        input.app_version,
        Scope::Required,
        None,
    )?;
    serialize(input, root, components, dependencies)
}

/// The BOM around its parts, serialised with a serial number derived from its content.
fn serialize(
    input: &SbomInput,
    mut root: Component,
    components: Vec<Component>,
    dependencies: Vec<Dependency>,
) -> anyhow::Result<Vec<u8>> {
    let timestamp = time::OffsetDateTime::from_unix_timestamp(input.source_date_epoch)
        .context("SOURCE_DATE_EPOCH is out of range")?
        .format(&time::format_description::well_known::Rfc3339)?;
    root.component_type = Classification::Application;
    root.scope = None;
    let mut bom = Bom {
        serial_number: None,
        metadata: Some(BomMetadata {
            timestamp: Some(DateTime::try_from(timestamp).map_err(|e| anyhow::anyhow!("{e:?}"))?),
            tools: Some(Tools::List(vec![Tool::new(
                "jimini",
                "cargo-xtask-dist",
                env!("CARGO_PKG_VERSION"),
            )])),
            component: Some(root),
            properties: Some(Properties(
                std::iter::once(Property::new("cdx:rust:target", input.target))
                    .chain(
                        input
                            .artifacts
                            .iter()
                            .map(|name| Property::new("jimini:dist:artifact", name)),
                    )
                    .collect(),
            )),
            ..BomMetadata::default()
        }),
        components: Some(Components(components)),
        dependencies: Some(Dependencies(dependencies)),
        spec_version: SpecVersion::V1_5,
        ..Bom::default()
    };
    let mut unserialized = Vec::new();
    bom.clone()
        .output_as_json_v1_5(&mut unserialized)
        .context("cannot serialise the SBOM")?;
    bom.serial_number = Some(content_serial(&unserialized));
    let mut json = Vec::new();
    bom.output_as_json_v1_5(&mut json)
        .context("cannot serialise the SBOM")?;
    json.push(b'\n');
    Ok(json)
}

/// A UUIDv8 (RFC 9562, custom) from the SHA-256 of the SBOM without its serial number.
fn content_serial(content: &[u8]) -> UrnUuid {
    let mut bytes: [u8; 16] = Sha256::digest(content)[..16].try_into().expect("16 bytes");
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    UrnUuid(format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_is_a_valid_deterministic_urn_uuid() {
        let a = content_serial(b"same");
        assert_eq!(a, content_serial(b"same"));
        assert_ne!(a, content_serial(b"other"));
        assert!(UrnUuid::new(a.0.clone()).is_ok(), "{}", a.0);
        assert_eq!(&a.0[23..24], "8", "version nibble: {}", a.0);
    }

    #[test]
    fn purls_carry_the_full_version() {
        assert_eq!(purl("jimini", "0.2.0").unwrap(), "pkg:cargo/jimini@0.2.0");
        assert_eq!(
            purl("jimini", "0.2.1-dev.3+g3f2a9c1").unwrap(),
            "pkg:cargo/jimini@0.2.1-dev.3+g3f2a9c1"
        );
    }
}
