use super::*;
use crate::targets::{Settings, Triple};

fn version(text: &str) -> semver::Version {
    semver::Version::parse(text).unwrap()
}

fn target(triple: &str, glibc: Option<&str>) -> Target {
    let host = Triple::parse("x86_64-unknown-linux-gnu").unwrap();
    let settings = Settings {
        glibc: glibc.map(|g| g.parse().unwrap()),
        ..Settings::default()
    };
    Target::configured(&Triple::parse(triple).unwrap(), &host, &settings)
}

#[test]
fn semver_maps_to_pep440() {
    for (semver, pep440) in [
        ("0.3.0", "0.3.0"),
        ("0.3.0-rc.1", "0.3.0rc1"),
        ("1.0.0-alpha.2", "1.0.0a2"),
        ("1.0.0-beta.3", "1.0.0b3"),
        ("0.2.1-dev.48+g9f4bae0", "0.2.1.dev48+g9f4bae0"),
        ("0.2.1-dev.48+g9f4bae0.dirty", "0.2.1.dev48+g9f4bae0.dirty"),
        ("0.3.0+build-7", "0.3.0+build.7"),
    ] {
        assert_eq!(super::pep440(&version(semver)).unwrap(), pep440, "{semver}");
    }
    for refused in ["0.3.0-preview", "0.3.0-rc.1.2", "0.3.0-pre.1", "0.3.0-rc.x"] {
        let err = super::pep440(&version(refused)).unwrap_err().to_string();
        assert!(
            err.contains(refused) && err.contains("wheel = false"),
            "{err}"
        );
    }
}

#[test]
fn the_glibc_floor_decides_the_manylinux_tag() {
    let tags = |triple, glibc| platform_tags(&target(triple, glibc));
    assert_eq!(
        tags("x86_64-unknown-linux-gnu", Some("2.17")).unwrap(),
        ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]
    );
    assert_eq!(
        tags("aarch64-unknown-linux-gnu", Some("2.17")).unwrap(),
        ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]
    );
    assert_eq!(
        tags("x86_64-unknown-linux-gnu", Some("2.28")).unwrap(),
        ["manylinux_2_28_x86_64"]
    );
    assert_eq!(
        tags("x86_64-unknown-linux-gnu", None),
        None,
        "no floor, no tag"
    );
    assert_eq!(
        tags("x86_64-unknown-linux-musl", None).unwrap(),
        ["musllinux_1_2_x86_64"]
    );
    assert_eq!(tags("x86_64-pc-windows-gnu", None).unwrap(), ["win_amd64"]);
}

#[test]
fn a_wheel_holds_the_scripts_the_license_and_its_metadata() {
    let meta = PackageMeta {
        description: Some("A gateway.".into()),
        homepage: None,
        license: Some("MIT".into()),
        repository: Some("https://example.test/jimini".into()),
        authors: vec![],
        license_holder: None,
        readme: Some("README.md".into()),
        keywords: vec!["policy".into()],
    };
    let binaries = ["jimini".to_owned(), "jimini-server".to_owned()];
    let target = target("x86_64-pc-windows-gnu", None);
    let wheel = plan(&WheelRequest {
        app: "jimini",
        version: &version("0.3.0-rc.1"),
        target: &target,
        binaries: &binaries,
        license_file: Some("LICENSE"),
        meta: &meta,
        classifiers: &["Topic :: Utilities".to_owned()],
        sbom: "jimini-0.3.0-rc.1-x86_64-pc-windows-gnu.cdx.json",
    })
    .unwrap()
    .unwrap();
    assert_eq!(wheel.file, "jimini-0.3.0rc1-py3-none-win_amd64.whl");
    let paths: Vec<&str> = wheel.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "jimini-0.3.0rc1.data/scripts/jimini-server.exe",
            "jimini-0.3.0rc1.data/scripts/jimini.exe",
            "jimini-0.3.0rc1.dist-info/METADATA",
            "jimini-0.3.0rc1.dist-info/WHEEL",
            "jimini-0.3.0rc1.dist-info/licenses/LICENSE",
            "jimini-0.3.0rc1.dist-info/sboms/jimini-0.3.0-rc.1-x86_64-pc-windows-gnu.cdx.json",
        ]
    );
    assert_eq!(wheel.record, "jimini-0.3.0rc1.dist-info/RECORD");
    assert!(wheel.entries[0].mode.is_executable());
    let text = metadata_text(&wheel.metadata, Some("# jimini\n"));
    assert!(text.starts_with("Metadata-Version: 2.4\nName: jimini\nVersion: 0.3.0rc1\n"));
    for line in [
        "License-Expression: MIT",
        "License-File: LICENSE",
        "Project-URL: Repository, https://example.test/jimini",
        "Classifier: Operating System :: Microsoft :: Windows",
        "Description-Content-Type: text/markdown; charset=UTF-8",
        "Classifier: Topic :: Utilities",
        "Keywords: policy",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    assert!(text.ends_with("\n\n# jimini\n"));
    assert!(wheel_text(&wheel.tags).contains("Root-Is-Purelib: false\nTag: py3-none-win_amd64\n"));
}

#[test]
fn the_macos_floor_decides_the_macosx_tag() {
    let host = Triple::parse("x86_64-unknown-linux-gnu").unwrap();
    let settings = Settings {
        macos: Some("11.0".parse().unwrap()),
        ..Settings::default()
    };
    let tags = |triple| {
        platform_tags(&Target::configured(
            &Triple::parse(triple).unwrap(),
            &host,
            &settings,
        ))
    };
    assert_eq!(tags("aarch64-apple-darwin").unwrap(), ["macosx_11_0_arm64"]);
    assert_eq!(tags("x86_64-apple-darwin").unwrap(), ["macosx_11_0_x86_64"]);
}
