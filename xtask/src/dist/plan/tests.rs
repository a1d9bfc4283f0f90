use super::*;
use crate::dist::plan::entry::Source;
use crate::signing::KeySource;

const HOST: &str = "x86_64-unknown-linux-gnu";

pub(crate) fn config() -> DistConfig {
    DistConfig {
        package: "jimini".into(),
        profile: "dist".into(),
        targets: vec![
            HOST.into(),
            "x86_64-pc-windows-gnu".into(),
            "aarch64-unknown-linux-gnu".into(),
        ],
        include: vec!["README.md".into(), "LICENSE".into(), "README.md".into()],
        installer: Some("install.sh".into()),
        public_key: None,
        glibc: Some("2.34".into()),
        macos: None,
        unix_archive: None,
        windows_archive: None,
        deb: None,
        wheel: None,
        man_pages: Some("app/help".into()),
        rpm: false,
        homebrew: None,
        scoop: None,
        winget: None,
        npm: None,
    }
}

fn host() -> Triple {
    Triple::parse(HOST).unwrap()
}

fn inputs() -> BuildInputs {
    BuildInputs {
        cargo: "/home/u/.cargo/bin/cargo".into(),
        auditable: "/w/target/xtask-tools/cargo-auditable-0.7.7/bin/cargo-auditable".into(),
        path: "/usr/bin".into(),
        zig: crate::dist::build::ZigInputs {
            cargo_zigbuild: "/c/zig/bin/cargo-zigbuild".into(),
            zig: "/c/zig/ziglang/zig".into(),
        },
        target_dir: PathBuf::from("/w/target"),
        cargo_home: PathBuf::from("/home/u/.cargo"),
        remaps: vec!["--remap-path-prefix=/w=/build".into()],
        user: Default::default(),
    }
}

pub(crate) fn planned(config: &DistConfig, targets: &[String]) -> anyhow::Result<DistPlan> {
    let host = host();
    let build = inputs();
    plan(&PlanInput {
        config,
        binaries: vec![
            "jimini".into(),
            "jimini-server".into(),
            "jimini-admin".into(),
        ],
        host: &host,
        version: &semver::Version::new(0, 2, 0),
        commit: "3f2a9c1".repeat(5) + "aaaaa",
        short_commit: "3f2a9c1".into(),
        source_date_epoch: 1_700_000_000,
        requested_targets: targets,
        out: PathBuf::from("/w/dist"),
        partial: false,
        build: &build,
        package_dir: "app".into(),
        meta: Default::default(),
        public_key_exists: false,
        keyring: None,
        release_notes: None,
        signing: Default::default(),
        binstall: None,
    })
}

fn files(target: &TargetPlan) -> Vec<&str> {
    target.binaries.iter().map(|b| b.file.as_str()).collect()
}

fn triples(plan: &DistPlan) -> Vec<&str> {
    plan.targets().map(|t| t.triple.as_str()).collect()
}

#[test]
fn default_is_the_host_only() {
    let plan = planned(&config(), &[]).unwrap();
    assert_eq!(triples(&plan), vec![HOST]);
    let target = &plan.targets[0];
    assert_eq!(
        target.archive,
        "jimini_0.2.0_x86_64-unknown-linux-gnu.tar.xz"
    );
    assert_eq!(
        target.sbom,
        "jimini_0.2.0_x86_64-unknown-linux-gnu.cdx.json"
    );
    assert_eq!(
        target.artifact_dir,
        Path::new("/w/target/x86_64-unknown-linux-gnu")
    );
    assert_eq!(files(target), ["jimini", "jimini-admin", "jimini-server"]);
    assert_eq!(
        plan.include,
        ["LICENSE", "README.md"],
        "sorted and deduplicated"
    );
}

#[test]
fn all_expands_the_release_list_sorted_and_windows_gets_zip_and_exe() {
    let requested = vec!["all".to_owned(), HOST.to_owned()];
    let plan = planned(&config(), &requested).unwrap();
    assert_eq!(
        triples(&plan),
        ["aarch64-unknown-linux-gnu", "x86_64-pc-windows-gnu", HOST]
    );
    let windows = &plan.targets[1];
    assert_eq!(windows.archive, "jimini_0.2.0_x86_64-pc-windows-gnu.zip");
    assert_eq!(
        files(windows),
        ["jimini-admin.exe", "jimini-server.exe", "jimini.exe"]
    );
    // Each target in a cargo run of its own (the gnu targets link against the glibc floor
    // through zig), so that no target's features reach another's binaries.
    let built: Vec<&str> = plan.builds.iter().map(|b| b.target.as_str()).collect();
    assert_eq!(
        built,
        ["aarch64-unknown-linux-gnu", "x86_64-pc-windows-gnu", HOST]
    );
    assert_eq!(
        plan.builds[0].driver,
        crate::dist::build::CargoDriver::CargoZigbuild
    );
    assert_eq!(
        plan.builds[1].driver,
        crate::dist::build::CargoDriver::Cargo
    );
    let zig = plan.builds[0].argv.join(" ");
    assert!(
        zig.contains("--target aarch64-unknown-linux-gnu.2.34 --message-format"),
        "{zig}"
    );
    assert_eq!(plan.builds[0].env["CARGO"], "/c/zig/bin/cargo-zigbuild");
    let plain = plan.builds[1].argv.join(" ");
    assert!(
        plain.contains("--target x86_64-pc-windows-gnu --message-format"),
        "{plain}"
    );
    assert_eq!(plan.builds[1].env["CARGO"], "/home/u/.cargo/bin/cargo");
    // Without a floor too: cargo would unify the features of the targets of one run.
    let mut config = config();
    config.glibc = None;
    let plan = planned(&config, &requested).unwrap();
    assert_eq!(plan.builds.len(), 3);
    for (build, target) in plan.builds.iter().zip(&plan.targets) {
        let argv = build.argv.join(" ");
        assert_eq!(argv.matches("--target ").count(), 1, "{argv}");
        assert!(
            argv.contains(&format!("--target {} ", target.target.triple)),
            "{argv}"
        );
    }
}

#[test]
fn unknown_targets_and_bad_includes_are_refused_with_the_fix() {
    let requested = vec!["linux".to_owned()];
    let err = planned(&config(), &requested).unwrap_err().to_string();
    assert!(
        err.contains("unknown target \"linux\"") && err.contains("all"),
        "{err}"
    );

    let mut config = config();
    config.include = vec!["../secret".into()];
    let err = planned(&config, &[]).unwrap_err().to_string();
    assert!(err.contains("relative path inside the workspace"), "{err}");

    config.include = vec![];
    config.targets = vec!["x86_64 linux".into()];
    let all = vec!["all".to_owned()];
    let err = planned(&config, &all).unwrap_err().to_string();
    assert!(
        err.contains("unknown target \"x86_64 linux\" in [workspace.metadata.xtask-dist] targets"),
        "{err}"
    );
    config.targets = vec![];
    let err = planned(&config, &all).unwrap_err().to_string();
    assert!(err.contains("targets is empty"), "{err}");
}

#[test]
fn the_installer_gets_the_platforms_of_the_whole_release_list() {
    let plan = planned(&config(), &[]).unwrap();
    let installer = plan.installer.unwrap();
    assert_eq!(installer.template, "install.sh");
    assert_eq!(
        installer.platforms,
        "Linux aarch64 gnu aarch64-unknown-linux-gnu tar.xz 2.34\n\
         Linux arm64 gnu aarch64-unknown-linux-gnu tar.xz 2.34\n\
         Linux x86_64 gnu x86_64-unknown-linux-gnu tar.xz 2.34\n\
         Linux amd64 gnu x86_64-unknown-linux-gnu tar.xz 2.34"
    );
    let floors: Vec<_> = plan
        .targets
        .iter()
        .map(|t| t.target.glibc_floor())
        .collect();
    assert_eq!(
        floors,
        [Some(&crate::targets::GlibcVersion(vec![2, 34]))],
        "the host is a glibc target"
    );
    // The archive format is a setting per platform class.
    let mut config = config();
    config.unix_archive = Some("tar.gz".into());
    let all = vec!["all".to_owned()];
    let plan = planned(&config, &all).unwrap();
    let archives: Vec<&str> = plan.targets.iter().map(|t| t.archive.as_str()).collect();
    assert!(
        archives
            .iter()
            .all(|a| a.ends_with(".tar.gz") || a.ends_with("windows-gnu.zip")),
        "{archives:?}"
    );
    assert!(
        plan.installer
            .unwrap()
            .platforms
            .contains("aarch64-unknown-linux-gnu tar.gz")
    );
    config.windows_archive = Some("rar".into());
    let err = planned(&config, &all).unwrap_err().to_string();
    assert!(err.contains("windows-archive = \"rar\""), "{err}");
    let mut config = self::config();
    config.glibc = Some("two".into());
    let err = planned(&config, &[]).unwrap_err().to_string();
    assert!(
        err.contains("glibc = \"two\"") && err.contains("2.17"),
        "{err}"
    );
}

#[test]
fn describe_shows_the_exact_command_and_every_artifact() {
    let plan = planned(&config(), &[]).unwrap();
    let text = plan.describe();
    assert!(
        text.contains(
            "/c/zig/bin/cargo-zigbuild build --locked --profile dist -p jimini --bins --target x86_64-unknown-linux-gnu.2.34 --message-format=json-render-diagnostics"
        ),
        "{text}"
    );
    assert!(text.contains("JIMINI_BUILD_VERSION=0.2.0"), "{text}");
    assert!(text.contains("CARGO=/c/zig/bin/cargo-zigbuild"), "{text}");
    assert!(
        text.contains("PATH=/w/target/xtask-tools/cargo-auditable-0.7.7/bin:/usr/bin")
            && text.contains("RUSTC_WORKSPACE_WRAPPER=cargo-auditable "),
        "{text}"
    );
    assert!(text.contains("SHA256SUMS") && text.contains("dist-manifest.json"));
}

fn planned_signing(
    config: &DistConfig,
    public_key_exists: bool,
    signing: SigningRequest,
    partial: bool,
) -> anyhow::Result<DistPlan> {
    let host = host();
    let build = inputs();
    plan(&PlanInput {
        config,
        binaries: vec!["jimini".into()],
        host: &host,
        version: &semver::Version::new(0, 2, 0),
        commit: "c".repeat(40),
        short_commit: "ccccccc".into(),
        source_date_epoch: 1_700_000_000,
        requested_targets: &[],
        out: PathBuf::from("/w/dist"),
        partial,
        build: &build,
        package_dir: "app".into(),
        meta: Default::default(),
        public_key_exists,
        keyring: None,
        release_notes: None,
        signing,
        binstall: None,
    })
}

fn with_key(require: bool) -> SigningRequest {
    SigningRequest {
        key: Some(KeySource::File("/secrets/release.key".into())),
        require,
    }
}

#[test]
fn a_signed_plan_ships_the_public_key_and_names_the_signature() {
    let plan = planned_signing(&config(), true, with_key(true), false).unwrap();
    assert_eq!(plan.signing.public_key.as_deref(), Some("keys/jimini.pub"));
    assert!(plan.include.contains(&"keys/jimini.pub".to_owned()));
    assert!(
        plan.describe()
            .contains("SHA256SUMS.minisig (signed with /secrets/release.key)"),
        "{}",
        plan.describe()
    );
    use crate::dist::manifest::ArtifactKind;
    assert_eq!(
        plan.signing.signs_each,
        [
            ArtifactKind::Archive,
            ArtifactKind::FallbackArchive,
            ArtifactKind::Deb,
            ArtifactKind::Wheel,
            ArtifactKind::Rpm,
            ArtifactKind::NpmPackage
        ]
    );
    let json = serde_json::to_value(&plan.signing).unwrap();
    assert_eq!(json["signs_each"][0], "archive", "{json}");
    let unsigned = planned_signing(&config(), true, SigningRequest::default(), false).unwrap();
    assert_eq!(unsigned.signing.key, None);
    assert!(unsigned.signing.signs_each.is_empty());
    assert!(unsigned.include.contains(&"keys/jimini.pub".to_owned()));
    assert!(unsigned.describe().contains("unsigned"));
    let no_key_yet = planned_signing(&config(), false, SigningRequest::default(), false).unwrap();
    assert_eq!(no_key_yet.signing.public_key, None);
}

#[test]
fn signing_mismatches_are_refused_before_anything_runs() {
    let error = |result: anyhow::Result<DistPlan>| result.unwrap_err().to_string();
    let required = SigningRequest {
        key: None,
        require: true,
    };
    assert!(error(planned_signing(&config(), true, required, false)).contains("--signing-key"));
    assert!(error(planned_signing(&config(), false, with_key(false), false)).contains("keygen"));
    assert!(error(planned_signing(&config(), true, with_key(false), true)).contains("dist merge"));
    // A key in the environment reaches every GitLab job unless scoped: a partial ignores it,
    // unless the signature is asked for.
    let ambient = |require| SigningRequest {
        key: Some(KeySource::Environment),
        require,
    };
    let partial = planned_signing(&config(), true, ambient(false), true).unwrap();
    assert_eq!(partial.signing.key, None);
    assert!(partial.signing.ignores_ambient_key);
    assert!(error(planned_signing(&config(), true, ambient(true), true)).contains("dist merge"));
    let mut configured = config();
    configured.public_key = Some("keys/other.pub".into());
    let missing = error(planned_signing(
        &configured,
        false,
        SigningRequest::default(),
        false,
    ));
    assert!(
        missing.contains("keys/other.pub") && missing.contains("keygen"),
        "{missing}"
    );
}

mod packages;

#[test]
fn a_file_name_a_release_host_would_rename_is_refused() {
    let err = check_upload_safe("jimini_0.3.0~rc.1_amd64.deb").unwrap_err();
    assert!(err.to_string().contains("renamed when uploaded"), "{err}");
    assert!(check_upload_safe("jimini 0.3.0.zip").is_err());
    assert!(check_upload_safe(".jimini.tar.xz").is_err());
    check_upload_safe("jimini-0.2.1-dev.3+g9f4bae0-x86_64-unknown-linux-gnu.tar.xz").unwrap();
    check_upload_safe("jimini_0.3.0-rc.1_amd64.deb").unwrap();
}
