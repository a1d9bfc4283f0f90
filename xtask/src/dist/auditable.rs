//! The dependency list cargo-auditable embeds in every shipped binary (the `.dep-v0` section:
//! zlib-compressed JSON, `{"packages": [{"name", "version", "source", "kind"?, "root"?}]}`),
//! read back and held against the target's SBOM.
//!
//! The two count differently in one place: cargo-auditable records a proc-macro crate that a
//! normal dependency brings in (and the crates it uses) as `runtime`, although nothing of it is
//! linked; the SBOM lists those as `excluded`. So the rule is: the embedded runtime packages,
//! without the root package and without the SBOM's excluded components, are exactly the SBOM's
//! required components.

use std::collections::BTreeSet;
use std::io::Read;

use anyhow::{Context, bail};
use object::{Object, ObjectSection};

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
