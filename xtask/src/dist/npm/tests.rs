use super::*;
use crate::dist::plan::tests::{config, planned};
use crate::workspace::NpmConfig;

fn npm_config() -> crate::workspace::DistConfig {
    let mut config = config();
    config.targets.push("x86_64-unknown-linux-musl".into());
    config.targets.push("aarch64-apple-darwin".into());
    config.npm = Some(NpmConfig {
        scope: "@jimini".into(),
        name: None,
    });
    config
}

#[test]
fn each_target_gets_a_platform_package_with_npms_os_cpu_and_libc_fields() {
    let plan = planned(&npm_config(), &["all".into()]).unwrap();
    let packages: Vec<(&str, &serde_json::Value)> = plan
        .targets
        .iter()
        .map(|t| {
            let npm = t.npm.as_ref().unwrap();
            (npm.name.as_str(), &npm.package_json)
        })
        .collect();
    let find = |name: &str| packages.iter().find(|(n, _)| *n == name).unwrap().1;
    let gnu = find("@jimini/cli-linux-x64");
    assert_eq!(gnu["os"], serde_json::json!(["linux"]));
    assert_eq!(gnu["cpu"], serde_json::json!(["x64"]));
    assert_eq!(gnu["libc"], serde_json::json!(["glibc"]));
    assert_eq!(gnu["version"], "0.2.0");
    assert_eq!(gnu["publishConfig"]["access"], "public");
    assert_eq!(
        find("@jimini/cli-linux-x64-musl")["libc"],
        serde_json::json!(["musl"])
    );
    assert_eq!(
        find("@jimini/cli-linux-arm64")["cpu"],
        serde_json::json!(["arm64"])
    );
    let mac = find("@jimini/cli-darwin-arm64");
    assert_eq!(mac["os"], serde_json::json!(["darwin"]));
    assert!(mac.get("libc").is_none(), "libc is a Linux field");
    let windows = plan
        .targets
        .iter()
        .find(|t| t.target.triple.as_str() == "x86_64-pc-windows-gnu")
        .unwrap();
    let npm = windows.npm.as_ref().unwrap();
    assert_eq!(npm.name, "@jimini/cli-win32-x64");
    assert_eq!(npm.file, "jimini_0.2.0_npm-win32-x64.tgz");
    let paths: Vec<&str> = npm.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "LICENSE",
            "bin/jimini-admin.exe",
            "bin/jimini-server.exe",
            "bin/jimini.exe",
            "package.json"
        ]
    );
    assert!(npm.entries[1].mode.is_executable());
    // No install script in any package.
    for (_, document) in &packages {
        assert!(document.get("scripts").is_none());
    }
}

#[test]
fn the_main_package_pins_every_platform_of_the_release_list_and_has_a_command_per_binary() {
    // A dist of one target still writes the main package of the whole release list.
    let plan = planned(&npm_config(), &[]).unwrap();
    let main = plan.npm.as_ref().unwrap();
    assert_eq!(main.name, "jimini");
    assert_eq!(main.file, "jimini_0.2.0_npm.tgz");
    let pinned = main.package_json["optionalDependencies"]
        .as_object()
        .unwrap();
    assert_eq!(
        pinned.keys().collect::<Vec<_>>(),
        [
            "@jimini/cli-darwin-arm64",
            "@jimini/cli-linux-arm64",
            "@jimini/cli-linux-x64",
            "@jimini/cli-linux-x64-musl",
            "@jimini/cli-win32-x64"
        ]
    );
    assert!(pinned.values().all(|v| v == "0.2.0"), "{pinned:?}");
    assert_eq!(
        main.package_json["bin"]["jimini-server"],
        "bin/jimini-server.js"
    );
    assert!(main.package_json.get("scripts").is_none());
    assert!(main.package_json.get("publishConfig").is_none());
    let launcher = launcher("jimini", &main.platforms);
    assert!(launcher.contains(r#"const APP = "jimini";"#), "{launcher}");
    assert!(
        launcher.contains(r#"{"os":"win32","cpu":"x64","libc":null,"package":"@jimini/cli-win32-x64","exe":".exe"}"#),
        "{launcher}"
    );
    assert!(
        !launcher.contains("__"),
        "a placeholder is left: {launcher}"
    );
}

#[test]
fn bad_npm_names_are_refused_before_anything_compiles() {
    for (scope, name, fix) in [
        ("jimini", None, "write it as \"@name\""),
        ("@Jimini", None, "write it as \"@name\""),
        ("@", None, "write it as \"@name\""),
        (
            "@jimini",
            Some("Jimini CLI"),
            "set [workspace.metadata.xtask-dist.npm] name",
        ),
        (
            "@jimini",
            Some(".hidden"),
            "set [workspace.metadata.xtask-dist.npm] name",
        ),
    ] {
        let mut config = npm_config();
        config.npm = Some(NpmConfig {
            scope: scope.into(),
            name: name.map(str::to_owned),
        });
        let err = planned(&config, &[]).unwrap_err().to_string();
        assert!(err.contains(fix), "{scope} {name:?}: {err}");
    }
}

#[test]
fn two_writes_give_the_same_bytes_and_the_check_reads_them_back() {
    let plan = planned(&npm_config(), &[]).unwrap();
    let platform = plan.targets[0].npm.as_ref().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let read = |source: &Source| Ok(format!("bytes of {source:?}").into_bytes());
    let write_at = |name: &str| {
        let path = dir.path().join(name);
        write(&path, platform, "jimini", 1_700_000_000, &read).unwrap();
        fs_err::read(path).unwrap()
    };
    let (a, b) = (write_at("a.tgz"), write_at("b.tgz"));
    assert_eq!(a, b);
    let mut artifact = Artifact::new(
        &platform.file,
        crate::dist::manifest::ArtifactKind::NpmPackage,
        Some(&plan.targets[0].target.triple),
        archive::digest_file(&dir.path().join("a.tgz")).unwrap(),
    );
    artifact.package = Some(platform.name.clone());
    artifact.files = platform.entries.iter().map(|e| e.path.clone()).collect();
    artifact.binaries = vec![
        "jimini".into(),
        "jimini-admin".into(),
        "jimini-server".into(),
    ];
    let manifest = |version: &str| Manifest {
        format: crate::dist::manifest::FORMAT.into(),
        format_version: crate::dist::manifest::FORMAT_VERSION,
        app: "jimini".into(),
        version: version.into(),
        commit: "c".into(),
        source_date_epoch: 0,
        source_date: String::new(),
        partial: false,
        targets: vec![],
        artifacts: vec![],
    };
    let (problems, binaries) =
        check(&dir.path().join("a.tgz"), &artifact, &manifest("0.2.0")).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(binaries.len(), 3);
    assert!(binaries["jimini"].starts_with(b"bytes of Binary"));

    let (problems, _) = check(&dir.path().join("a.tgz"), &artifact, &manifest("0.3.0")).unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("says version \"0.2.0\", the dist is 0.3.0")),
        "{problems:?}"
    );
    artifact.files.push("bin/extra".into());
    artifact.package = Some("@other/cli".into());
    let (problems, _) = check(&dir.path().join("a.tgz"), &artifact, &manifest("0.2.0")).unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
}
