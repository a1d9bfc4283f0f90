//! The Scoop manifest of the whole release list ([`Build::FixtureAll`]): valid against Scoop's
//! own schema (vendored in packaging/schemas/scoop/ with its licence, checked by the pinned
//! check-jsonschema), each `url` and `hash` a file of the dist with its digest, the archive's
//! top directory as `extract_dir` and the binaries inside it; a changed hash fails `verify`.

use super::*;

#[test]
fn the_scoop_manifest_validates_against_scoops_schema_and_names_the_windows_archive() {
    let built = build(Build::FixtureAll);
    let dist = &built.dist;
    let manifest = read_manifest(dist);
    let name = artifact_name(&manifest, "scoop-manifest");
    assert_eq!(name, "jimini.json");
    let path = dist.join(&name);
    let schema = source_root().join("packaging/schemas/scoop/schema.json");
    assert_valid(&schema, &path);

    let scoop: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(scoop["version"], manifest["version"]);
    let x64 = &scoop["architecture"]["64bit"];
    let url = x64["url"].as_str().unwrap();
    let archive = url.rsplit('/').next().unwrap();
    let listed = listed(&manifest, archive);
    assert_eq!(listed["target"], "x86_64-pc-windows-gnu");
    assert_eq!(x64["hash"], listed["sha256"]);
    assert_eq!(x64["extract_dir"], listed["top_dir"]);
    // The archive holds what `bin` names, in `extract_dir`.
    let files: Vec<&str> = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for binary in scoop["bin"].as_array().unwrap() {
        assert!(
            files.contains(&binary.as_str().unwrap()),
            "{binary} in {files:?}"
        );
    }
    let template = scoop["autoupdate"]["architecture"]["64bit"]["url"]
        .as_str()
        .unwrap();
    assert_eq!(
        template.replace("$version", manifest["version"].as_str().unwrap()),
        url
    );

    let tampered = copy_dist(dist, "scoop-tampered");
    let text = std::fs::read_to_string(&path).unwrap();
    let hash = x64["hash"].as_str().unwrap();
    std::fs::write(tampered.join(&name), text.replace(hash, &"0".repeat(64))).unwrap();
    expect_failure(
        xtask(&built.workspace).arg("verify").arg(&tampered),
        &format!("{name}: sha256 is"),
    );
}
