use super::*;
use crate::targets::{Target, Triple};

fn planned(triple: &str) -> TargetPlan {
    let triple = Triple::parse(triple).unwrap();
    let target = Target::new(&triple, &Triple::parse("x86_64-unknown-linux-gnu").unwrap());
    let stem = format!("jimini_0.3.0_{triple}");
    TargetPlan {
        archive: format!("{stem}.{}", target.archive.extension()),
        sbom: format!("{stem}.cdx.json"),
        fallback_archive: None,
        binaries: ["jimini", "jimini-server"]
            .iter()
            .map(|b| crate::dist::plan::Binary {
                file: target.binary_file(b),
                name: b.to_string(),
            })
            .collect(),
        stem,
        artifact_dir: "/t".into(),
        archive_entries: vec![],
        deb: None,
        wheel: None,
        rpm: None,
        npm: None,
        target,
    }
}

fn ours() -> Binstall {
    Binstall::from_metadata(&serde_json::json!({
        "binstall": {
            "pkg-url": "{ repo }/releases/download/v{ version }/{ name }_{ version }_{ target }{ archive-suffix }",
            "bin-dir": "{ name }_{ version }_{ target }/{ bin }{ binary-ext }",
            "pkg-fmt": "txz",
            "overrides": { "x86_64-pc-windows-gnu": { "pkg-fmt": "zip" } }
        }
    }))
    .unwrap()
    .unwrap()
}

#[test]
fn the_metadata_names_exactly_what_dist_writes_on_every_platform() {
    let targets: Vec<TargetPlan> = [
        "x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-gnu",
        "x86_64-pc-windows-gnu",
    ]
    .iter()
    .map(|t| planned(t))
    .collect();
    check(&ours(), "jimini", "0.3.0", &targets, None).unwrap();
    assert_eq!(
        Binstall::from_metadata(&serde_json::json!({})).unwrap(),
        None
    );
}

#[test]
fn a_rename_or_a_wrong_format_is_refused_naming_both_sides() {
    let targets = vec![
        planned("x86_64-unknown-linux-gnu"),
        planned("x86_64-pc-windows-gnu"),
    ];
    let mut renamed = ours();
    renamed.pkg_url = Some("{ repo }/releases/download/v{ version }/{ name }-{ target }-v{ version }{ archive-suffix }".into());
    let err = check(&renamed, "jimini", "0.3.0", &targets, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pkg-url gives jimini-x86_64-unknown-linux-gnu-v0.3.0.tar.xz")
            && err.contains("dist writes jimini_0.3.0_x86_64-unknown-linux-gnu.tar.xz")
            && err.contains("[package.metadata.binstall]"),
        "{err}"
    );
    let mut no_override = ours();
    no_override.overrides.clear();
    let err = check(&no_override, "jimini", "0.3.0", &targets, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pkg-fmt is \"txz\" for x86_64-pc-windows-gnu"),
        "{err}"
    );
    let mut flat = ours();
    flat.bin_dir = Some("{ bin }{ binary-ext }".into());
    let err = check(&flat, "jimini", "0.3.0", &targets, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bin-dir gives jimini.exe for x86_64-pc-windows-gnu")
            && err.contains("jimini_0.3.0_x86_64-pc-windows-gnu/jimini.exe"),
        "{err}"
    );
}

#[test]
fn the_signing_key_must_be_the_release_key() {
    let targets = vec![planned("x86_64-unknown-linux-gnu")];
    let err = check(&ours(), "jimini", "0.3.0", &targets, Some("RWQcurrent"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("there is no signing key") && err.contains("pubkey = \"RWQcurrent\""),
        "{err}"
    );
    let mut signed = ours();
    signed.signing = Some(BinstallSigning {
        algorithm: "minisign".into(),
        pubkey: "RWQold".into(),
        file: None,
    });
    let err = check(&signed, "jimini", "0.3.0", &targets, Some("RWQcurrent"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"RWQold\"") && err.contains("cargo xtask rotate-key"),
        "{err}"
    );
    signed.signing.as_mut().unwrap().pubkey = "RWQcurrent".into();
    check(&signed, "jimini", "0.3.0", &targets, Some("RWQcurrent")).unwrap();
    signed.signing.as_mut().unwrap().file = Some("{ url }.minisig".into());
    let err = check(&signed, "jimini", "0.3.0", &targets, Some("RWQcurrent"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("{ url }.sig"), "{err}");
}
