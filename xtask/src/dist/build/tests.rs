use super::*;

fn triple(text: &str) -> Triple {
    Triple::parse(text).unwrap()
}

fn inputs(user: UserRustflags, remaps: &[&str]) -> BuildInputs {
    BuildInputs {
        cargo: "cargo".into(),
        auditable: "/c/auditable/bin/cargo-auditable".into(),
        path: "/usr/bin:/bin".into(),
        zig: ZigInputs {
            cargo_zigbuild: "/c/zig/bin/cargo-zigbuild".into(),
            zig: "/c/zig/ziglang/zig".into(),
        },
        target_dir: PathBuf::from("/w/target"),
        cargo_home: PathBuf::from("/home/u/.cargo"),
        remaps: remaps.iter().map(|r| r.to_string()).collect(),
        user,
    }
}

fn step_for(user: UserRustflags, remaps: &[&str]) -> BuildStep {
    step_of_target("x86_64-unknown-linux-gnu", user, remaps)
}

fn step_of_target(target: &str, user: UserRustflags, remaps: &[&str]) -> BuildStep {
    let host = triple("x86_64-unknown-linux-gnu");
    let target = Target::new(&triple(target), &host);
    let request = BuildRequest {
        package: "jimini",
        profile: "dist",
        target: &target,
        version: "0.2.1-dev.3+g3f2a9c1",
        short_commit: "3f2a9c1",
        source_date_epoch: 1_700_000_000,
    };
    step(&request, &inputs(user, remaps))
}

#[test]
fn one_invocation_per_target_with_build_info_env() {
    let step = step_for(UserRustflags::default(), &["--remap-path-prefix=/h=/cargo"]);
    let joined = step.argv.join(" ");
    assert!(
        joined.starts_with("cargo build --locked --profile dist -p jimini --bins"),
        "{joined}"
    );
    assert!(
        joined.contains("--target x86_64-unknown-linux-gnu "),
        "{joined}"
    );
    assert_eq!(
        step.argv.iter().filter(|a| *a == "--target").count(),
        1,
        "{joined}"
    );
    assert_eq!(step.target, triple("x86_64-unknown-linux-gnu"));
    assert_eq!(step.driver, CargoDriver::Cargo);
    assert!(!step.links_through_zig());
    assert_eq!(step.env["SOURCE_DATE_EPOCH"], "1700000000");
    assert_eq!(step.env[VERSION_VAR], "0.2.1-dev.3+g3f2a9c1");
    assert_eq!(step.env[COMMIT_VAR], "3f2a9c1");
    assert_eq!(step.env["CARGO"], "cargo", "the cargo that runs the build");
    assert_eq!(step.env["RUSTC_WORKSPACE_WRAPPER"], "cargo-auditable");
    assert_eq!(step.env["PATH"], "/c/auditable/bin:/usr/bin:/bin");
    assert_eq!(step.env.len(), 7, "only what dist sets: {:?}", step.env);
    assert!(
        step.argv
            .contains(&r#"build.rustflags=["--remap-path-prefix=/h=/cargo"]"#.to_owned())
    );
}

#[test]
fn env_rustflags_are_extended_not_replaced() {
    let user = UserRustflags {
        plain_env: Some("-C  target-cpu=native".into()),
        ..Default::default()
    };
    let step = step_for(user, &["--remap-path-prefix=/a b=/x"]);
    assert_eq!(
        step.env["CARGO_ENCODED_RUSTFLAGS"],
        "-C\x1ftarget-cpu=native\x1f--remap-path-prefix=/a b=/x"
    );
    assert!(
        !step.argv.iter().any(|a| a.contains("rustflags")),
        "no --config when env wins"
    );

    let user = UserRustflags {
        encoded_env: Some("-Cdebuginfo=1".into()),
        plain_env: Some("ignored".into()),
        ..Default::default()
    };
    let step = step_for(user, &["-Zx"]);
    assert_eq!(step.env["CARGO_ENCODED_RUSTFLAGS"], "-Cdebuginfo=1\x1f-Zx");
}

#[test]
fn config_and_env_target_rustflags_get_ours_appended_per_target() {
    let user = UserRustflags {
        target_specific: ["x86_64-pc-windows-gnu".to_owned()].into(),
        ..Default::default()
    };
    let step = step_of_target("x86_64-pc-windows-gnu", user, &["-Ca"]);
    assert!(
        step.argv
            .contains(&r#"target.x86_64-pc-windows-gnu.rustflags=["-Ca"]"#.to_owned())
    );
    assert!(
        !step
            .argv
            .iter()
            .any(|a| a.starts_with("target.x86_64-unknown-linux-gnu"))
    );
    assert!(step.argv.contains(&r#"build.rustflags=["-Ca"]"#.to_owned()));

    let user = UserRustflags {
        target_env: ["X86_64_UNKNOWN_LINUX_GNU".to_owned()].into(),
        ..Default::default()
    };
    let step = step_for(user, &["-Ca"]);
    assert!(
        step.argv
            .contains(&r#"target.x86_64-unknown-linux-gnu.rustflags=["-Ca"]"#.to_owned())
    );
}

/// Recorded: `cargo build -p jimini --bins --target x86_64-unknown-linux-gnu --target
/// x86_64-unknown-linux-musl --message-format=json`, paths rewritten to `/w`.
const TWO_TARGETS: &str = include_str!("../../../test_data/cargo-build-two-targets.jsonl");

fn messages() -> Vec<Message> {
    Message::parse_stream(TWO_TARGETS.as_bytes())
        .map(Result::unwrap)
        .collect()
}

fn jimini() -> PackageId {
    PackageId {
        repr: "path+file:///w/app#jimini@0.2.0".into(),
    }
}

#[test]
fn artifacts_are_sorted_into_the_planned_targets() {
    let (gnu, musl) = (
        triple("x86_64-unknown-linux-gnu"),
        triple("x86_64-unknown-linux-musl"),
    );
    let gnu_dir = Path::new("/w/target/x86_64-unknown-linux-gnu");
    let musl_dir = Path::new("/w/target/x86_64-unknown-linux-musl");
    let out = collect(
        &messages(),
        &jimini(),
        &[(&gnu, gnu_dir), (&musl, musl_dir)],
    )
    .unwrap();
    for (triple, dir) in [(&gnu, gnu_dir), (&musl, musl_dir)] {
        let build = &out.targets[triple];
        assert_eq!(
            build.binaries.keys().collect::<Vec<_>>(),
            ["jimini", "jimini-admin", "jimini-server"]
        );
        assert!(build.binaries.values().all(|p| p.starts_with(dir)));
        let names: BTreeSet<&str> = build.linked.iter().map(|id| id.repr.as_str()).collect();
        assert!(names.iter().any(|n| n.contains("#regex@")), "{names:?}");
        assert!(
            names.iter().any(|n| n.ends_with("#jimini@0.2.0")),
            "the app's lib"
        );
        assert!(
            !names.iter().any(|n| n.contains("serde_derive")),
            "proc-macros are host-only"
        );
    }
    assert_eq!(out.targets[&gnu].linked, out.targets[&musl].linked);
    assert!(
        out.proc_macros
            .iter()
            .any(|id| id.repr.contains("serde_derive"))
    );
    assert!(out.host_libraries.is_superset(&out.proc_macros));
}

#[test]
fn a_planned_target_that_built_nothing_is_an_error() {
    let (gnu, arm) = (
        triple("x86_64-unknown-linux-gnu"),
        triple("aarch64-unknown-linux-gnu"),
    );
    let dirs = [
        (&gnu, Path::new("/w/target/x86_64-unknown-linux-gnu")),
        (&arm, Path::new("/w/target/aarch64-unknown-linux-gnu")),
    ];
    let err = collect(&messages(), &jimini(), &dirs)
        .unwrap_err()
        .to_string();
    assert!(err.contains("aarch64-unknown-linux-gnu"), "{err}");
}

#[test]
fn a_glibc_floor_builds_through_cargo_zigbuild_with_the_floor_in_the_target() {
    let host = triple("x86_64-unknown-linux-gnu");
    let settings = crate::targets::Settings {
        glibc: Some("2.17".parse().unwrap()),
        ..Default::default()
    };
    let aarch64 = triple("aarch64-unknown-linux-gnu");
    let target = Target::configured(&aarch64, &host, &settings);
    let request = BuildRequest {
        package: "jimini",
        profile: "dist",
        target: &target,
        version: "0.3.0",
        short_commit: "3f2a9c1",
        source_date_epoch: 1_700_000_000,
    };
    let step = step(&request, &inputs(UserRustflags::default(), &[]));
    let joined = step.argv.join(" ");
    assert!(
        joined.starts_with("/c/zig/bin/cargo-zigbuild build "),
        "{joined}"
    );
    assert!(
        joined.contains("--target aarch64-unknown-linux-gnu.2.17 "),
        "{joined}"
    );
    assert_eq!(step.env["CARGO"], "/c/zig/bin/cargo-zigbuild");
    assert_eq!(step.env["CARGO_ZIGBUILD_ZIG_PATH"], "/c/zig/ziglang/zig");
    // Never a machine's own `python3 -m ziglang`.
    assert!(!Path::new(&step.env["CARGO_ZIGBUILD_PYTHON_PATH"]).exists());
    assert_eq!(step.target, aarch64);
    assert_eq!(step.target_arg, "aarch64-unknown-linux-gnu.2.17");
    assert_eq!(step.driver, CargoDriver::CargoZigbuild);
    assert!(step.links_through_zig());
    // The rustflags are keyed by the plain triple, as cargo reads them.
    assert!(
        !joined.contains("target.aarch64-unknown-linux-gnu.2.17"),
        "{joined}"
    );
}

#[test]
fn the_wrapper_gets_the_cargo_flags_cargo_auditable_would_pass_it() {
    let step = step_for(UserRustflags::default(), &["--remap-path-prefix=/h=/cargo"]);
    let args: serde_json::Value =
        serde_json::from_str(&step.env["CARGO_AUDITABLE_ORIG_ARGS"]).unwrap();
    assert_eq!(args["locked"], true);
    assert_eq!(args["offline"], false);
    assert_eq!(args["frozen"], false);
    assert_eq!(
        args["config"],
        serde_json::json!([r#"build.rustflags=["--remap-path-prefix=/h=/cargo"]"#])
    );
}
