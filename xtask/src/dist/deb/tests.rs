use super::*;

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
    assert_eq!(
        file_name("jimini", &version("0.3.0-rc.1"), "amd64"),
        "jimini_0.3.0~rc.1_amd64.deb"
    );
}

fn input(dir: &Path) -> DebInput {
    std::fs::create_dir_all(dir).unwrap();
    let write = |name: &str, content: &str| {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    DebInput {
        package: "jimini".into(),
        version: "0.3.0~rc.1".into(),
        arch: "amd64",
        maintainer: "The jimini developers <dev@example.org>".into(),
        section: "net".into(),
        homepage: Some("https://example.org/jimini".into()),
        summary: "A minimal AI-policy gateway: regex rules and an audit log.".into(),
        depends: "libc6 (>= 2.17)".into(),
        binaries: vec![("jimini".into(), write("jimini", "\x7fELF"))],
        assets: vec![(
            write("rules.toml", "[[rule]]\n"),
            "/etc/jimini/rules.toml".into(),
            0o644,
        )],
        readme: Some(write("README.md", "# jimini\n")),
        changelog: Some(write("CHANGELOG.md", "# Changelog\n")),
        license: (
            "MIT License\n\nPermission is granted.\n".into(),
            "MIT".into(),
        ),
        copyright_holder: "2026 The jimini developers".into(),
        source: Some("https://example.org/jimini".into()),
        mtime: 1_700_000_000,
    }
}

#[test]
fn control_copyright_and_layout_are_what_dpkg_and_lintian_expect() {
    let dir = std::env::temp_dir().join(format!("xtask-deb-{}", std::process::id()));
    let input = input(&dir);
    let files = files(&input).unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/etc/jimini/rules.toml",
            "/usr/bin/jimini",
            "/usr/share/doc/jimini/CHANGELOG.md.gz",
            "/usr/share/doc/jimini/README.md",
            "/usr/share/doc/jimini/changelog.gz",
            "/usr/share/doc/jimini/copyright",
        ]
    );
    assert_eq!(
        directories(&files),
        [
            "/etc",
            "/etc/jimini",
            "/usr",
            "/usr/bin",
            "/usr/share",
            "/usr/share/doc",
            "/usr/share/doc/jimini"
        ]
    );
    let control = control(&input, &files);
    assert_eq!(
        control,
        "Package: jimini\nVersion: 0.3.0~rc.1\nArchitecture: amd64\n\
         Maintainer: The jimini developers <dev@example.org>\nInstalled-Size: 13\n\
         Depends: libc6 (>= 2.17)\nSection: net\nPriority: optional\n\
         Homepage: https://example.org/jimini\n\
         Description: minimal AI-policy gateway\n regex rules and an audit log.\n"
    );
    let copyright = copyright(&input);
    assert!(copyright.starts_with(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
    ));
    assert!(
        copyright.ends_with("License: MIT\n MIT License\n .\n Permission is granted.\n"),
        "{copyright}"
    );
    let mut long = input.clone();
    long.summary = format!("Gateway: {}", "word ".repeat(40));
    let text = super::control(&long, &files);
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
    let mut bad = input.clone();
    bad.assets[0].1 = "etc/jimini/".into();
    let err = super::files(&bad).unwrap_err().to_string();
    assert!(err.contains("absolute file path"), "{err}");
}

#[test]
fn the_same_inputs_give_the_same_bytes() {
    let dir = std::env::temp_dir().join(format!("xtask-deb-bytes-{}", std::process::id()));
    let input = input(&dir);
    let a = write(&dir.join("a.deb"), &input).unwrap();
    let b = write(&dir.join("b.deb"), &input).unwrap();
    assert_eq!(a, b);
    let bytes = std::fs::read(dir.join("a.deb")).unwrap();
    // ar's fixed-width header: name 16, mtime 12, uid 6, gid 6, mode 8, size 10.
    let header = format!(
        "!<arch>\n{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n2.0\n",
        "debian-binary", 1_700_000_000, 0, 0, 100644, 4
    );
    assert!(bytes.starts_with(header.as_bytes()));
    let mut later = input.clone();
    later.mtime += 1;
    assert_ne!(write(&dir.join("c.deb"), &later).unwrap().sha256, a.sha256);
    let _ = std::fs::remove_dir_all(&dir);
}
