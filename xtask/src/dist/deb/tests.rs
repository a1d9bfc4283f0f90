use super::plan::{DebRequest, PackageMeta, copyright_holder};
use super::*;
use crate::targets::{Settings, Target, Triple};
use crate::workspace::DebConfig;

fn version(text: &str) -> semver::Version {
    semver::Version::parse(text).unwrap()
}

#[test]
fn semver_pre_releases_sort_before_the_release_in_debian_form() {
    assert_eq!(debian_version(&version("0.3.0")), "0.3.0");
    assert_eq!(debian_version(&version("0.3.0-rc.1")), "0.3.0~rc.1");
    assert_eq!(
        debian_version(&version("0.2.1-dev.38+ge9850a3.dirty")),
        "0.2.1~dev.38+ge9850a3.dirty"
    );
    // A hyphen would start a Debian revision.
    assert_eq!(debian_version(&version("1.0.0-alpha-2")), "1.0.0~alpha.2");
    // The file keeps the release's version: GitHub would rename a `~` on upload.
    assert_eq!(
        file_name("jimini", &version("0.3.0-rc.1"), "amd64"),
        "jimini_0.3.0-rc.1_amd64.deb"
    );
}

fn config() -> DebConfig {
    DebConfig {
        maintainer: "The jimini developers <dev@example.org>".into(),
        section: "net".into(),
        assets: vec![[
            "app/rules/default.toml".into(),
            "/etc/jimini/rules.toml".into(),
            "644".into(),
        ]],
    }
}

fn meta() -> PackageMeta {
    PackageMeta {
        description: Some("A minimal AI-policy gateway: regex rules and an audit log.".into()),
        homepage: Some("https://example.org/jimini".into()),
        license: Some("MIT".into()),
        repository: Some("https://example.org/jimini".into()),
        authors: vec!["The jimini developers".into()],
        license_holder: copyright_holder(
            "MIT License\n\nCopyright (c) 2026 The jimini developers\n",
        ),
        readme: None,
        keywords: vec![],
    }
}

fn target(glibc: Option<&str>) -> Target {
    let host = Triple::parse("x86_64-unknown-linux-gnu").unwrap();
    let settings = Settings {
        glibc: glibc.map(|g| g.parse().unwrap()),
        ..Settings::default()
    };
    Target::configured(&host, &host, &settings)
}

fn planned(config: &DebConfig, target: &Target) -> anyhow::Result<Option<DebPlan>> {
    plan::plan(&DebRequest {
        config,
        app: "jimini",
        version: &version("0.3.0-rc.1"),
        target,
        binaries: &["jimini".to_owned()],
        include: &["CHANGELOG.md".into(), "LICENSE".into(), "README.md".into()],
        meta: &meta(),
        man_pages: Some("app/help"),
    })
}

fn read(source: &Source) -> anyhow::Result<Vec<u8>> {
    Ok(match source {
        Source::Binary { name } => format!("\x7fELF {name}").into_bytes(),
        Source::File { path } if path == "LICENSE" => {
            b"MIT License\n\nPermission is granted.\n".to_vec()
        }
        Source::File { path } => format!("# {path}\n").into_bytes(),
        // Rendered and gzipped before the writer runs.
        Source::ManPage { binary, .. } => format!("man page of {binary}").into_bytes(),
        other => panic!("the writer reads {other:?} itself"),
    })
}

#[test]
fn the_plan_holds_every_file_and_control_field() {
    let plan = planned(&config(), &target(Some("2.17"))).unwrap().unwrap();
    let paths: Vec<(&str, u32)> = plan
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e.mode.0))
        .collect();
    assert_eq!(
        paths,
        [
            ("/etc/jimini/rules.toml", 0o644),
            ("/usr/bin/jimini", 0o755),
            ("/usr/share/doc/jimini/CHANGELOG.md.gz", 0o644),
            ("/usr/share/doc/jimini/README.md", 0o644),
            ("/usr/share/doc/jimini/changelog.gz", 0o644),
            ("/usr/share/doc/jimini/copyright", 0o644),
            ("/usr/share/man/man1/jimini.1.gz", 0o644),
        ]
    );
    assert_eq!(
        serde_json::to_value(&plan.entries[6].source).unwrap(),
        serde_json::json!({"kind": "man-page", "binary": "jimini", "help": "app/help/jimini.txt", "gzip": true})
    );
    assert_eq!(plan.file, "jimini_0.3.0-rc.1_amd64.deb");
    assert_eq!(plan.copyright.holder, "2026 The jimini developers");
    assert_eq!(plan.copyright.license_file, "LICENSE");
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["control"]["depends"], "libc6 (>= 2.17)");
    assert_eq!(json["entries"][0]["mode"], "0644");
    assert_eq!(
        json["entries"][0]["source"],
        serde_json::json!({"kind": "file", "path": "app/rules/default.toml"})
    );
    // The conffiles are planned: every file under /etc, nothing else.
    assert_eq!(plan.conffiles, ["/etc/jimini/rules.toml"]);
    assert_eq!(
        json["conffiles"],
        serde_json::json!(["/etc/jimini/rules.toml"])
    );
    // Without a floor nothing bounds the glibc the binaries need: no Depends to plan.
    let err = planned(&config(), &target(None)).unwrap_err().to_string();
    assert!(
        err.contains("needs a glibc floor for its Depends field")
            && err.contains("set glibc = \"2.17\" in [workspace.metadata.xtask-dist]"),
        "{err}"
    );
}

#[test]
fn bad_settings_are_refused_naming_the_key() {
    let mut bad_mode = config();
    bad_mode.assets[0][2] = "rw-r--r--".into();
    let err = planned(&bad_mode, &target(Some("2.17")))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[workspace.metadata.xtask-dist.deb] assets: mode \"rw-r--r--\""),
        "{err}"
    );
    let mut relative = config();
    relative.assets[0][1] = "etc/jimini/".into();
    let err = planned(&relative, &target(Some("2.17")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("absolute file path"), "{err}");
    let mut twice = config();
    twice.assets[0][1] = "/usr/bin/jimini".into();
    let err = planned(&twice, &target(Some("2.17")))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("two files of the .deb would be /usr/bin/jimini"),
        "{err}"
    );
}

#[test]
fn control_copyright_and_layout_are_what_dpkg_and_lintian_expect() {
    let plan = planned(&config(), &target(Some("2.17"))).unwrap().unwrap();
    let files = files(&plan, 1_700_000_000, &read).unwrap();
    assert_eq!(
        text::directories(&files),
        [
            "/etc",
            "/etc/jimini",
            "/usr",
            "/usr/bin",
            "/usr/share",
            "/usr/share/doc",
            "/usr/share/doc/jimini",
            "/usr/share/man",
            "/usr/share/man/man1"
        ]
    );
    let control = text::control(&plan.control, &files);
    assert_eq!(
        control,
        "Package: jimini\nVersion: 0.3.0~rc.1\nArchitecture: amd64\n\
         Maintainer: The jimini developers <dev@example.org>\nInstalled-Size: 16\n\
         Depends: libc6 (>= 2.17)\nSection: net\nPriority: optional\n\
         Homepage: https://example.org/jimini\n\
         Description: minimal AI-policy gateway\n regex rules and an audit log.\n"
    );
    let copyright = files
        .iter()
        .find(|f| f.path == "/usr/share/doc/jimini/copyright")
        .unwrap();
    let copyright = String::from_utf8(copyright.content.clone()).unwrap();
    assert!(copyright.starts_with(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
    ));
    assert!(
        copyright.ends_with("License: MIT\n MIT License\n .\n Permission is granted.\n"),
        "{copyright}"
    );
    let mut long = plan.control.clone();
    long.description = "word ".repeat(40);
    let text = text::control(&long, &files);
    let description: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Description"))
        .collect();
    assert!(description.len() > 2, "{text}");
    assert!(
        description[1..]
            .iter()
            .all(|l| l.starts_with(' ') && l.len() <= 79),
        "{text}"
    );
}

#[test]
fn the_same_inputs_give_the_same_bytes() {
    let scratch = crate::util::scratch("deb-bytes");
    let dir = scratch.path();
    let plan = planned(&config(), &target(Some("2.17"))).unwrap().unwrap();
    let at = |name: &str, mtime| write(&dir.join(name), &plan, mtime, &read).unwrap();
    let a = at("a.deb", 1_700_000_000);
    assert_eq!(a, at("b.deb", 1_700_000_000));
    let bytes = std::fs::read(dir.join("a.deb")).unwrap();
    // ar's fixed-width header: name 16, mtime 12, uid 6, gid 6, mode 8, size 10.
    let header = format!(
        "!<arch>\n{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n2.0\n",
        "debian-binary", 1_700_000_000, 0, 0, 100644, 4
    );
    assert!(bytes.starts_with(header.as_bytes()));
    assert_ne!(at("c.deb", 1_700_000_001).sha256, a.sha256);
}

#[test]
fn the_rpm_has_the_debs_files_in_rpms_places() {
    use crate::dist::rpm::plan::{Role, plan as rpm_plan};
    let target = target(Some("2.17"));
    let deb = planned(&config(), &target).unwrap().unwrap();
    let version = version("0.3.0-rc.1");
    let rpm = rpm_plan(&deb, &target, &version, Some("- Added: RPMs.\n"))
        .unwrap()
        .unwrap();
    assert_eq!(rpm.file, "jimini-0.3.0-rc.1-1.x86_64.rpm");
    assert_eq!((rpm.version.as_str(), rpm.arch), ("0.3.0~rc.1", "x86_64"));
    assert_eq!(rpm.requires, ["libc.so.6(GLIBC_2.17)(64bit)"]);
    assert_eq!(rpm.summary, "Minimal AI-policy gateway");
    let files: Vec<(&str, Role)> = rpm
        .entries
        .iter()
        .map(|e| (e.entry.path.as_str(), e.role))
        .collect();
    assert_eq!(
        files,
        [
            ("/etc/jimini/rules.toml", Role::Config),
            ("/usr/bin/jimini", Role::Plain),
            ("/usr/share/doc/jimini/CHANGELOG.md", Role::Doc),
            ("/usr/share/doc/jimini/README.md", Role::Doc),
            ("/usr/share/licenses/jimini/LICENSE", Role::License),
            ("/usr/share/man/man1/jimini.1.gz", Role::Doc),
        ]
    );
    assert_eq!(rpm.changelog.text, "- Added: RPMs.");
    assert!(rpm.changelog.author.ends_with(" - 0.3.0~rc.1-1"));
    assert!(rpm.description.lines().all(|l| l.len() <= 79));
    // No RPM architecture, no RPM; a snapshot's entry says what it is.
    let arm_less = Target::configured(
        &Triple::parse("x86_64-unknown-linux-musl").unwrap(),
        &Triple::parse("x86_64-unknown-linux-gnu").unwrap(),
        &Settings::default(),
    );
    assert_eq!(rpm_plan(&deb, &arm_less, &version, None).unwrap(), None);
    let snapshot = rpm_plan(&deb, &target, &version, None).unwrap().unwrap();
    assert!(snapshot.changelog.text.contains("a build between releases"));
}
