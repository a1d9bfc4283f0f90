//! The packages' entries and control fields as plan data, and settings refused by the plan.

use super::*;

fn deb_config() -> DistConfig {
    let mut config = config();
    config.include.push("app/rules/default.toml".into());
    config.deb = Some(crate::workspace::DebConfig {
        maintainer: "Dev <dev@example.org>".into(),
        section: "net".into(),
        assets: vec![[
            "packaging/server.env".into(),
            "/etc/jimini/server.env".into(),
            "600".into(),
        ]],
    });
    config
}

#[test]
fn every_package_lists_its_entries_and_control_fields_in_the_json_plan() {
    let plan = planned(&deb_config(), &["all".to_owned()]).unwrap();
    let json = serde_json::to_value(&plan).unwrap();
    let arm = &json["targets"][0];
    assert_eq!(arm["target"]["triple"], "aarch64-unknown-linux-gnu");
    assert_eq!(arm["target"]["linkage"]["kind"], "zig");
    assert_eq!(arm["target"]["linkage"]["glibc"], "2.34");
    let archive: Vec<(&str, &str)> = arm["archive_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["path"].as_str().unwrap(), e["mode"].as_str().unwrap()))
        .collect();
    assert_eq!(
        archive,
        [
            ("LICENSE", "0644"),
            ("README.md", "0644"),
            ("jimini", "0755"),
            ("jimini-admin", "0755"),
            ("jimini-server", "0755"),
            ("man/man1/jimini-admin.1", "0644"),
            ("man/man1/jimini-server.1", "0644"),
            ("man/man1/jimini.1", "0644"),
            ("rules/default.toml", "0644"),
        ]
    );
    let deb = &arm["deb"];
    assert_eq!(deb["file"], "jimini_0.2.0_arm64.deb");
    assert_eq!(deb["control"]["architecture"], "arm64");
    assert_eq!(deb["control"]["depends"], "libc6 (>= 2.34)");
    assert_eq!(deb["control"]["maintainer"], "Dev <dev@example.org>");
    let env = deb["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/etc/jimini/server.env")
        .unwrap();
    assert_eq!(env["mode"], "0600");
    assert_eq!(env["source"]["path"], "packaging/server.env");
    assert_eq!(deb["copyright"]["license_file"], "LICENSE");
    // Windows gets no .deb.
    assert!(json["targets"][1]["deb"].is_null());
}

#[test]
fn a_bad_deb_asset_mode_is_refused_by_the_plan_naming_the_key() {
    let mut config = deb_config();
    config.deb.as_mut().unwrap().assets[0][2] = "0x180".into();
    let err = planned(&config, &[]).unwrap_err().to_string();
    assert!(
        err.contains("[workspace.metadata.xtask-dist.deb] assets: mode \"0x180\""),
        "{err}"
    );
}

#[test]
fn quiet_does_not_change_the_plan_and_glibc_suffixes_are_refused() {
    // `--quiet` is applied when the build runs (CARGO_TERM_QUIET), never in the planned argv.
    let plan = planned(&config(), &[]).unwrap();
    assert!(
        plan.builds
            .iter()
            .all(|b| !b.argv.contains(&"--quiet".to_owned()))
    );
    let err = planned(&config(), &["aarch64-unknown-linux-gnu.2.17".to_owned()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("glibc = \"2.17\""), "{err}");
}

#[test]
fn man_pages_go_into_every_archive_but_windows_from_the_help_texts() {
    let plan = planned(&config(), &[]).unwrap();
    for target in &plan.targets {
        let pages: Vec<(&str, &Source)> = target
            .archive_entries
            .iter()
            .filter(|e| e.path.starts_with("man/"))
            .map(|e| (e.path.as_str(), &e.source))
            .collect();
        if target.target.os == crate::targets::Os::Windows {
            assert!(pages.is_empty(), "{pages:?}");
            continue;
        }
        let paths: Vec<&str> = pages.iter().map(|(path, _)| *path).collect();
        assert_eq!(
            paths,
            [
                "man/man1/jimini-admin.1",
                "man/man1/jimini-server.1",
                "man/man1/jimini.1"
            ]
        );
        assert_eq!(
            *pages[2].1,
            Source::ManPage {
                binary: "jimini".into(),
                help: "app/help/jimini.txt".into(),
                gzip: false
            }
        );
    }
}
