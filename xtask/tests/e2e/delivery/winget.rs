//! The winget manifests of the whole release list ([`Build::FixtureAll`]): the version,
//! installer and default-locale files each valid against winget's own schema (1.10.0, vendored
//! in packaging/schemas/winget/ with its licence, checked by the pinned check-jsonschema), the
//! installer's URL and SHA-256 the dist's Windows archive, each nested portable binary a file
//! of that archive; a changed digest fails `verify`.

use super::*;

#[test]
fn the_winget_manifests_validate_against_wingets_schemas_and_name_the_windows_archive() {
    let built = build(Build::FixtureAll);
    let dist = &built.dist;
    let manifest = read_manifest(dist);
    let names: Vec<String> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "winget-manifest")
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    let id = "JiminiDev.Jimini";
    assert_eq!(
        names,
        [
            format!("{id}.installer.yaml"),
            format!("{id}.locale.en-US.yaml"),
            format!("{id}.yaml"),
        ]
    );
    let schemas = source_root().join("packaging/schemas/winget");
    for (file, kind) in names.iter().zip(["installer", "defaultLocale", "version"]) {
        let schema = schemas.join(format!("manifest.{kind}.1.10.0.json"));
        assert_valid(&schema, &dist.join(file));
    }

    let installer = std::fs::read_to_string(dist.join(&names[0])).unwrap();
    let value = |key: &str| {
        installer
            .lines()
            .find_map(|l| l.trim_start_matches(['-', ' ']).strip_prefix(key))
            .map(|v| v.trim().trim_matches('"').to_owned())
            .unwrap_or_else(|| panic!("{key} in:\n{installer}"))
    };
    let url = value("InstallerUrl:");
    let archive = url.rsplit('/').next().unwrap();
    let listed = listed(&manifest, archive);
    assert_eq!(listed["target"], "x86_64-pc-windows-gnu");
    assert_eq!(
        value("InstallerSha256:"),
        listed["sha256"].as_str().unwrap().to_uppercase()
    );
    let top = listed["top_dir"].as_str().unwrap();
    let files: Vec<&str> = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    let nested: Vec<String> = installer
        .lines()
        .filter_map(|l| {
            l.trim_start_matches(['-', ' '])
                .strip_prefix("RelativeFilePath:")
        })
        .map(|v| v.trim().trim_matches('"').replace("\\\\", "\\"))
        .collect();
    assert_eq!(nested.len(), 3, "{installer}");
    for path in &nested {
        let (dir, file) = path.split_once('\\').unwrap();
        assert_eq!(dir, top);
        assert!(files.contains(&file), "{file} in {files:?}");
    }

    let tampered = copy_dist(dist, "winget-tampered");
    let sha = value("InstallerSha256:");
    std::fs::write(
        tampered.join(&names[0]),
        installer.replace(&sha, &"0".repeat(64)),
    )
    .unwrap();
    expect_failure(
        xtask(&built.workspace).arg("verify").arg(&tampered),
        &format!("{}: sha256 is", names[0]),
    );
}
