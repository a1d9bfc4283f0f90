//! The dependency list cargo-auditable embeds in every shipped binary (the `.dep-v0` section:
//! zlib-compressed JSON, `{"packages": [{"name", "version", "source", "kind"?, "root"?}]}`),
//! read back and held against the target's SBOM.
//!
//! The two count differently in one place: cargo-auditable records a proc-macro crate that a
//! normal dependency brings in (and the crates it uses) as `runtime`, although nothing of it is
//! linked; the SBOM lists those as `excluded`. So the rule is: the embedded runtime packages,
//! without the root package and without the SBOM's excluded components, are exactly the SBOM's
//! required components.

use fs_err::File;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, bail};
use object::{Object, ObjectSection};

use super::archive;
use super::manifest::{ArtifactKind, Manifest};
use crate::targets::ArchiveFormat;

pub const SECTION: &str = ".dep-v0";
/// More than any dependency list needs; a bound on what a hostile binary can make us inflate.
const MAX_JSON_BYTES: u64 = 16 << 20;

pub type Packages = BTreeSet<(String, String)>;

/// The runtime packages of the binary's embedded list, the root package left out.
pub fn embedded_runtime(binary: &[u8]) -> anyhow::Result<Packages> {
    let file = object::File::parse(binary).context("not an executable object file")?;
    let Some(section) = file.section_by_name(SECTION) else {
        bail!("it has no {SECTION} section: it was not built with cargo-auditable");
    };
    let compressed = section.data().context("cannot read the section")?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_JSON_BYTES)
        .read_to_end(&mut json)
        .with_context(|| format!("{SECTION} is not zlib data"))?;
    let list: serde_json::Value =
        serde_json::from_slice(&json).with_context(|| format!("{SECTION} is not JSON"))?;
    let packages = list["packages"]
        .as_array()
        .with_context(|| format!("{SECTION} has no package list"))?;
    Ok(packages
        .iter()
        .filter(|p| p["root"].as_bool() != Some(true))
        .filter(|p| p["kind"].as_str().unwrap_or("runtime") == "runtime")
        .filter_map(|p| {
            Some((
                p["name"].as_str()?.to_owned(),
                p["version"].as_str()?.to_owned(),
            ))
        })
        .collect())
}

/// The SBOM's (required, excluded) components as (name, version).
pub fn sbom_components(sbom: &serde_json::Value) -> (Packages, Packages) {
    let mut required = Packages::new();
    let mut excluded = Packages::new();
    for component in sbom["components"].as_array().into_iter().flatten() {
        let (Some(name), Some(version)) =
            (component["name"].as_str(), component["version"].as_str())
        else {
            continue;
        };
        let set = match component["scope"].as_str() {
            Some("excluded") => &mut excluded,
            _ => &mut required,
        };
        set.insert((name.to_owned(), version.to_owned()));
    }
    (required, excluded)
}

/// Each archive's binaries carry a dependency list (cargo-auditable) that agrees with the
/// SBOM of their target.
pub fn check_archives(
    dir: &Path,
    manifest: &Manifest,
    verified_before: &dyn Fn(&super::manifest::Artifact) -> bool,
    problems: &mut Vec<String>,
) -> anyhow::Result<()> {
    for archive in manifest
        .artifacts
        .iter()
        .filter(|a| a.kind.is_archive() && !verified_before(a))
    {
        let sbom = manifest
            .artifacts
            .iter()
            .find(|a| a.kind == ArtifactKind::Sbom && a.target == archive.target);
        let (Some(sbom), true) = (sbom, dir.join(&archive.name).is_file()) else {
            continue; // reported by the other checks
        };
        let Ok(sbom_json) = fs_err::read(dir.join(&sbom.name)) else {
            continue;
        };
        let (required, excluded) =
            sbom_components(&serde_json::from_slice(&sbom_json).unwrap_or_default());
        let top = archive.top_dir.as_deref().unwrap_or_default();
        let wanted: BTreeSet<String> = archive
            .binaries
            .iter()
            .map(|b| format!("{top}/{b}"))
            .collect();
        let mut check = |name: &str, data: &[u8]| {
            let result =
                embedded_runtime(data).map(|embedded| mismatch(&embedded, &required, &excluded));
            match result {
                Ok(None) => {}
                Ok(Some(problem)) => problems.push(format!("{}: {name}: {problem}", archive.name)),
                Err(err) => problems.push(format!("{}: {name}: {err:#}", archive.name)),
            }
        };
        let path = dir.join(&archive.name);
        let format = archive.archive_format()?;
        if format == ArchiveFormat::Zip {
            let mut zip = zip::ZipArchive::new(File::open(&path)?)?;
            let mut budget = super::bounded::Budget::new(&archive.name);
            for name in &wanted {
                let Ok(entry) = zip.by_name(name) else {
                    continue;
                };
                budget.admit(name, entry.size())?;
                let data = super::bounded::read_member(&archive.name, name, entry)?;
                check(name, &data);
            }
        } else {
            archive::read_tar(&path, format, |name, _, _, reader| {
                if wanted.contains(name) {
                    let mut data = Vec::new();
                    reader.read_to_end(&mut data)?;
                    check(name, &data);
                }
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// What differs between a binary's embedded list and its SBOM; `None` when they agree.
pub fn mismatch(embedded: &Packages, required: &Packages, excluded: &Packages) -> Option<String> {
    let linked: Packages = embedded.difference(excluded).cloned().collect();
    if &linked == required {
        return None;
    }
    let show = |set: Vec<&(String, String)>| {
        set.iter()
            .map(|(name, version)| format!("{name} {version}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(format!(
        "its embedded dependency list and the SBOM differ: only embedded: [{}]; only in the \
         SBOM: [{}]",
        show(linked.difference(required).collect()),
        show(required.difference(&linked).collect())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[(&str, &str)]) -> Packages {
        items
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn proc_macros_counted_as_runtime_by_cargo_auditable_are_not_a_mismatch() {
        let embedded = set(&[("regex", "1.0.0"), ("syn", "2.0.0")]);
        let required = set(&[("regex", "1.0.0")]);
        let excluded = set(&[("syn", "2.0.0")]);
        assert_eq!(mismatch(&embedded, &required, &excluded), None);
        let missing = mismatch(&set(&[("syn", "2.0.0")]), &required, &excluded).unwrap();
        assert!(
            missing.contains("only in the SBOM: [regex 1.0.0]"),
            "{missing}"
        );
        let extra = set(&[("regex", "1.0.0"), ("evil", "0.1.0")]);
        let found = mismatch(&extra, &required, &excluded).unwrap();
        assert!(found.contains("only embedded: [evil 0.1.0]"), "{found}");
    }

    #[test]
    fn a_binary_without_the_section_is_named_as_such() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let err = embedded_runtime(&exe).unwrap_err().to_string();
        assert!(err.contains("cargo-auditable"), "{err}");
        assert!(embedded_runtime(b"not a binary").is_err());
    }
}
