use super::*;

fn t(text: &str) -> Triple {
    Triple::parse(text).unwrap()
}

fn target(text: &str) -> Target {
    Target::new(&t(text), &t("x86_64-unknown-linux-gnu"))
}

#[test]
fn windows_ships_zip_and_exe_and_runs_under_wine() {
    let windows = target("x86_64-pc-windows-gnu");
    assert_eq!(windows.archive, ArchiveFormat::Zip);
    assert_eq!(windows.exe_suffix, ".exe");
    assert_eq!(
        windows.runner,
        Runner::Emulated {
            command: vec!["wine".to_owned()],
            emulator: Emulator::Wine,
        }
    );
    assert_eq!(windows.linker(), Some("x86_64-w64-mingw32-gcc"));
    assert!(windows.cross_on_ci);
    assert_eq!(windows.uname, None, "install.sh is for Linux");
}

#[test]
fn linux_targets_on_a_linux_host() {
    assert_eq!(target("x86_64-unknown-linux-gnu").runner, Runner::Native);
    let musl = target("x86_64-unknown-linux-musl");
    assert_eq!(
        (
            musl.runner.clone(),
            musl.libc,
            musl.linker(),
            musl.cross_on_ci
        ),
        (Runner::Native, Libc::MuslStatic, None, false)
    );
    let arm = target("aarch64-unknown-linux-gnu");
    assert_eq!(arm.libc, Libc::Glibc);
    assert!(matches!(
        arm.runner,
        Runner::Emulated { ref command, emulator: Emulator::Qemu } if command[0] == "qemu-aarch64"
    ));
    assert!(arm.apt_packages.contains(&"gcc-aarch64-linux-gnu"));
    assert_eq!(arm.sysroot, Some(QEMU_AARCH64_SYSROOT));
    assert!(!arm.cross_on_ci, "built natively on an arm runner");
    let uname = arm.uname.unwrap();
    assert_eq!((uname.os, uname.libc), ("Linux", "gnu"));
    assert!(uname.machines.contains(&"arm64"));
}

#[test]
fn platforms_this_machine_cannot_run_are_configurable() {
    let linux = t("x86_64-unknown-linux-gnu");
    for (triple, runner) in [
        ("aarch64-apple-darwin", "macos-14"),
        ("x86_64-apple-darwin", "macos-13"),
        ("x86_64-pc-windows-msvc", "windows-2022"),
    ] {
        let target = target(triple);
        assert_eq!(target.runner, Runner::Unavailable, "{triple}");
        assert_eq!(target.github_runner, runner);
        assert!(!target.buildable_on(&linux), "{triple}");
        assert!(target.buildable_on(&t(triple)), "{triple}");
    }
    let mac = t("aarch64-apple-darwin");
    assert_eq!(Target::new(&mac, &mac).runner, Runner::Native);
    assert!(target("x86_64-pc-windows-gnu").buildable_on(&linux));
}

#[test]
fn triple_shape() {
    assert!(Triple::parse("x86_64-unknown-linux-gnu").is_some());
    assert!(Triple::parse("aarch64-apple-darwin").is_some());
    assert!(Triple::parse("linux").is_none());
    assert!(Triple::parse("x86_64 unknown").is_none());
}

fn zig_settings() -> Settings {
    Settings {
        glibc: Some("2.17".parse().unwrap()),
        ..Settings::default()
    }
}

#[test]
fn a_glibc_floor_links_the_glibc_targets_through_zig_and_only_those() {
    let host = t("x86_64-unknown-linux-gnu");
    let arm = Target::configured(&t("aarch64-unknown-linux-gnu"), &host, &zig_settings());
    assert!(arm.links_through_zig());
    assert_eq!(arm.linker(), None, "zig links it: no cross gcc");
    assert_eq!(arm.cargo_target_arg(), "aarch64-unknown-linux-gnu.2.17");
    assert!(!arm.apt_packages.iter().any(|p| p.starts_with("gcc")));
    assert!(
        arm.apt_packages.contains(&"qemu-user"),
        "it still runs under qemu"
    );
    assert_eq!(arm.sysroot, Some(QEMU_AARCH64_SYSROOT));
    for other in ["x86_64-unknown-linux-musl", "x86_64-pc-windows-gnu"] {
        let target = Target::configured(&t(other), &host, &zig_settings());
        assert!(!target.links_through_zig(), "{other}");
        assert_eq!(target.cargo_target_arg(), other);
    }
}

#[test]
fn the_os_decides_the_executable_suffix_and_archive() {
    let settings = Settings {
        unix_archive: ArchiveFormat::TarGz,
        ..Settings::default()
    };
    let host = t("x86_64-unknown-linux-gnu");
    let windows = Target::configured(&t("x86_64-pc-windows-msvc"), &host, &settings);
    assert_eq!(
        (windows.os, windows.archive),
        (Os::Windows, ArchiveFormat::Zip)
    );
    assert_eq!(windows.binary_file("jimini"), "jimini.exe");
    let mac = Target::configured(&t("aarch64-apple-darwin"), &host, &settings);
    assert_eq!((mac.os, mac.archive), (Os::MacOs, ArchiveFormat::TarGz));
    assert_eq!(mac.binary_file("jimini"), "jimini");
}

#[test]
fn a_glibc_suffix_on_a_target_names_the_setting() {
    let config: crate::workspace::DistConfig = serde_json::from_value(serde_json::json!({
        "package": "jimini",
        "targets": ["aarch64-unknown-linux-gnu.2.17"],
    }))
    .unwrap();
    let host = t("x86_64-unknown-linux-gnu");
    for requested in [
        vec!["aarch64-unknown-linux-gnu.2.17".to_owned()],
        vec!["all".to_owned()],
    ] {
        let err = resolve_triples(&requested, &config, &host)
            .unwrap_err()
            .to_string();
        assert!(err.contains("glibc = \"2.17\""), "{err}");
        assert!(
            err.contains("name the target as aarch64-unknown-linux-gnu"),
            "{err}"
        );
    }
    let err = resolve_triples(&["linux".to_owned()], &config, &host)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("unknown target \"linux\" in --target"),
        "{err}"
    );
}

#[test]
fn archive_formats_serialise_as_their_extensions_and_arches_by_their_names() {
    for format in ArchiveFormat::ALL {
        let json = serde_json::to_string(&format).unwrap();
        assert_eq!(json, format!("\"{}\"", format.extension()));
        assert_eq!(
            serde_json::from_str::<ArchiveFormat>(&json).unwrap(),
            format
        );
    }
    let host = Triple::parse("x86_64-unknown-linux-gnu").unwrap();
    let cases = [
        ("aarch64-apple-darwin", "aarch64", "arm64", Some("arm64")),
        ("x86_64-pc-windows-gnu", "x86_64", "x86_64", Some("amd64")),
        (
            "riscv64gc-unknown-linux-gnu",
            "riscv64gc",
            "riscv64gc",
            None,
        ),
    ];
    for (triple, name, apple, windows) in cases {
        let target = Target::new(&Triple::parse(triple).unwrap(), &host);
        assert_eq!(target.arch.name(), name);
        assert_eq!(target.arch.apple(), apple);
        assert_eq!(target.arch.windows(), windows);
        assert_eq!(
            serde_json::to_string(&target.arch).unwrap(),
            format!("\"{name}\"")
        );
    }
}

/// `.cargo/config.toml` lets plain `cargo test --target T` link and run the cross targets; its
/// linkers and runners must be the table's.
#[test]
fn cargo_config_agrees_with_the_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../.cargo/config.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let config: toml_edit::DocumentMut = text.parse().unwrap();
    let tables = config["target"].as_table().unwrap();
    let host = t("x86_64-unknown-linux-gnu");
    for (name, table) in tables.iter() {
        let target = Target::new(&t(name), &host);
        let linker = table.get("linker").and_then(|l| l.as_str());
        assert_eq!(linker, target.linker(), "{name}: linker");
        let runner: Vec<&str> = table["runner"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let Runner::Emulated { command, .. } = &target.runner else {
            panic!("{name} has a runner in .cargo/config.toml but none in the table");
        };
        assert!(
            runner.ends_with(&command.iter().map(String::as_str).collect::<Vec<_>>()),
            "{name}: runner {runner:?} does not end with the table's {command:?}"
        );
    }
    for triple in ["aarch64-unknown-linux-gnu", "x86_64-pc-windows-gnu"] {
        assert!(
            tables.contains_key(triple),
            "{triple} is missing from .cargo/config.toml"
        );
    }
}

#[test]
fn with_a_macos_floor_zig_links_the_apple_targets_on_any_machine() {
    let settings = Settings {
        macos: Some("11.0".parse().unwrap()),
        ..Settings::default()
    };
    let linux = t("x86_64-unknown-linux-gnu");
    let mac = Target::configured(&t("aarch64-apple-darwin"), &linux, &settings);
    assert_eq!(
        mac.linkage,
        Linkage::ZigApple {
            macos: "11.0".parse().unwrap()
        }
    );
    assert!(mac.links_through_zig() && mac.buildable_on(&linux));
    assert_eq!(mac.cargo_target_arg(), "aarch64-apple-darwin");
    assert_eq!(mac.github_runner, "ubuntu-24.04");
    assert_eq!(mac.smoke_runner, Some("macos-14"));
    let linux_amd64 = GitlabRunner::Tag {
        tag: "saas-linux-small-amd64",
    };
    assert_eq!(mac.gitlab_runner, linux_amd64);
    assert_eq!(
        mac.gitlab_smoke_runner,
        Some(GitlabRunner::Tag {
            tag: "saas-macos-medium-m1"
        })
    );
    let intel = Target::configured(&t("x86_64-apple-darwin"), &linux, &settings);
    assert!(matches!(
        intel.gitlab_smoke_runner,
        Some(GitlabRunner::NotOffered { reason }) if reason.contains("Apple silicon only")
    ));
    assert_eq!(
        target("aarch64-unknown-linux-gnu").gitlab_runner,
        GitlabRunner::Tag {
            tag: "saas-linux-small-arm64"
        }
    );
    assert!(
        mac.apt_packages.is_empty(),
        "zig and the rustup target only"
    );
    assert_eq!(mac.runner, Runner::Unavailable);
    assert_eq!(
        install_table(&[mac]),
        "Darwin arm64 system aarch64-apple-darwin tar.xz 11.0"
    );
    // Without the setting they are built on a Mac, natively.
    let native = Target::new(&t("x86_64-apple-darwin"), &linux);
    assert!(!native.buildable_on(&linux));
    assert_eq!(native.macos_floor(), None);
    let err = "10".parse::<MacOsVersion>().unwrap_err();
    assert!(err.contains("11.0"), "{err}");
}
