use super::*;
use crate::dist::archive::Digest256;
use crate::dist::build::{BuildStep, CargoDriver};
use crate::targets::Triple;

const RUSTC: &str = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\ncommit-hash: 59807616e1fa2540724bfbb7bbbb0e1e6a1bd3a9\ncommit-date: 2026-04-14\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\nLLVM version: 20.1.8\n";

fn artifact(name: &str, kind: ArtifactKind, sha: char) -> Artifact {
    Artifact::new(
        name,
        kind,
        None,
        Digest256 {
            sha256: sha.to_string().repeat(64),
            size: 1,
        },
    )
}

fn manifest(targets: &[&str], artifacts: Vec<Artifact>) -> Manifest {
    Manifest {
        format: crate::dist::manifest::FORMAT.into(),
        format_version: crate::dist::manifest::FORMAT_VERSION,
        app: "jimini".into(),
        version: "0.3.0".into(),
        commit: "c".repeat(40),
        source_date_epoch: 1_700_000_000,
        source_date: "2023-11-14T22:13:20Z".into(),
        partial: false,
        targets: targets.iter().map(|t| Triple::parse(t).unwrap()).collect(),
        artifacts,
    }
}

fn facts(argv_target: &str) -> BuildFacts {
    facts_of(&[argv_target])
}

/// Each target's own build command, as the plan gives it ([`crate::dist::build::step`]).
fn facts_of(targets: &[&str]) -> BuildFacts {
    let argv_of = |target: &str| -> Vec<String> {
        let mut argv: Vec<String> = ["/home/u/.cargo/bin/cargo", "build", "--target", target]
            .map(String::from)
            .to_vec();
        argv.extend([
            "--config",
            "build.rustflags=[\"--remap-path-prefix=/w/jimini=/build\", \"--remap-path-prefix=/home/u/.cargo=/cargo\", \"--remap-path-prefix=/w/jimini/target=/target\"]",
        ]
        .map(String::from));
        argv
    };
    let env = BTreeMap::from([("SOURCE_DATE_EPOCH".to_owned(), "1700000000".to_owned())]);
    let replacements = [
        ("/w/jimini".to_owned(), "$WORKSPACE"),
        ("/w/jimini/target".to_owned(), "$CARGO_TARGET_DIR"),
        ("/home/u/.cargo".to_owned(), "$CARGO_HOME"),
    ];
    BuildFacts {
        repository: "https://github.com/jimini-dev/jimini".into(),
        profile: "dist".into(),
        invocations: {
            let mut invocations: Vec<Invocation> = targets
                .iter()
                .map(|target| {
                    portable_invocation(
                        &step_of(argv_of(target), env.clone(), CargoDriver::Cargo),
                        &replacements,
                    )
                })
                .collect();
            invocations.sort();
            invocations
        },
        cargo_lock_sha256: "l".repeat(64),
        rustc: RUSTC.into(),
        builder_id: "local".into(),
    }
}

#[test]
fn subjects_are_the_archives_sboms_and_installer_and_paths_are_portable() {
    let manifest = manifest(
        &["x86_64-unknown-linux-gnu"],
        vec![
            artifact("a.tar.gz", ArtifactKind::Archive, 'a'),
            artifact("a.cdx.json", ArtifactKind::Sbom, 'b'),
            artifact("install.sh", ArtifactKind::Installer, 'c'),
            artifact("SHA256SUMS", ArtifactKind::Checksums, 'd'),
        ],
    );
    let statement = statement(&manifest, &facts("x86_64-unknown-linux-gnu")).unwrap();
    let names: Vec<&str> = statement.subject.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a.cdx.json", "a.tar.gz", "install.sh"]);
    assert_eq!(statement.subject[1].digest["sha256"], "a".repeat(64));
    let json = String::from_utf8(to_line(&statement)).unwrap();
    assert!(json.ends_with("}\n") && json.lines().count() == 1);
    for machine_path in ["/w/jimini", "/home/u"] {
        assert!(!json.contains(machine_path), "{machine_path} in {json}");
    }
    let cargo = &statement
        .predicate
        .build_definition
        .internal_parameters
        .cargo[0];
    assert_eq!(
        cargo.argv[..4],
        ["cargo", "build", "--target", "x86_64-unknown-linux-gnu"]
    );
    assert!(
        cargo.argv[5].contains("$CARGO_TARGET_DIR=/target"),
        "{}",
        cargo.argv[5]
    );
    assert!(json.contains(r#""startedOn":"2023-11-14T22:13:20Z""#));
    assert!(json.contains("pkg:generic/rustc@1.95.0"));
    assert!(json.contains(&format!(
        "git+https://github.com/jimini-dev/jimini@{}",
        "c".repeat(40)
    )));
    assert!(problems(&statement, &manifest).is_empty());
}

#[test]
fn verify_finds_missing_extra_and_changed_subjects() {
    let files = vec![
        artifact("a.tar.gz", ArtifactKind::Archive, 'a'),
        artifact("install.sh", ArtifactKind::Installer, 'c'),
    ];
    let mut statement = statement(
        &manifest(&["x86_64-unknown-linux-gnu"], files.clone()),
        &facts("x"),
    )
    .unwrap();
    let mut changed = files.clone();
    changed[0].sha256 = "f".repeat(64);
    changed.push(artifact("b.tar.gz", ArtifactKind::Archive, 'b'));
    let problems_found = problems(&statement, &manifest(&[], changed));
    assert_eq!(problems_found.len(), 2, "{problems_found:?}");
    statement.subject.push(Subject {
        name: "evil".into(),
        digest: BTreeMap::new(),
    });
    let extra = problems(&statement, &manifest(&[], files));
    assert!(extra.iter().any(|p| p.contains("evil")), "{extra:?}");
}

#[test]
fn merged_statements_join_targets_invocations_and_subjects() {
    let one = manifest(
        &["x86_64-unknown-linux-gnu"],
        vec![artifact("a.tar.gz", ArtifactKind::Archive, 'a')],
    );
    let two = manifest(
        &["aarch64-unknown-linux-gnu"],
        vec![artifact("b.tar.gz", ArtifactKind::Archive, 'b')],
    );
    let partials = [
        statement(&one, &facts("x86_64-unknown-linux-gnu")).unwrap(),
        statement(&two, &facts("aarch64-unknown-linux-gnu")).unwrap(),
    ];
    let whole = manifest(
        &["aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu"],
        vec![
            artifact("a.tar.gz", ArtifactKind::Archive, 'a'),
            artifact("b.tar.gz", ArtifactKind::Archive, 'b'),
        ],
    );
    let merged = merge(&partials, &whole).unwrap();
    let single = statement(
        &whole,
        &facts_of(&["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]),
    )
    .unwrap();
    assert_eq!(
        merged, single,
        "a merge says what one machine building both says"
    );
    let definition = &merged.predicate.build_definition;
    assert_eq!(definition.internal_parameters.cargo.len(), 2);
    assert_eq!(definition.external_parameters.targets.len(), 2);
    assert_eq!(
        definition.resolved_dependencies.len(),
        3,
        "the same source, lock and rustc"
    );
    assert!(problems(&merged, &whole).is_empty());
    let mut other_version = partials[1].clone();
    other_version
        .predicate
        .build_definition
        .external_parameters
        .version = "9.9.9".into();
    assert!(merge(&[partials[0].clone(), other_version], &whole).is_err());
}

#[test]
fn the_builder_is_the_pipeline_on_github_or_gitlab_and_local_elsewhere() {
    assert_eq!(builder_id(|_| None), "local");
    let github = |name: &str| match name {
        "GITHUB_ACTIONS" => Some("true".to_owned()),
        "GITHUB_WORKFLOW_REF" => {
            Some("jimini-dev/jimini/.github/workflows/release.yml@refs/tags/v0.3.0".to_owned())
        }
        _ => None,
    };
    assert_eq!(
        builder_id(github),
        "https://github.com/jimini-dev/jimini/.github/workflows/release.yml@refs/tags/v0.3.0"
    );
    let gitlab = |ci: &'static str| {
        move |name: &str| match name {
            "GITLAB_CI" => Some(ci.to_owned()),
            "CI_PROJECT_URL" => Some("https://gitlab.com/jimini-dev/jimini".to_owned()),
            "CI_COMMIT_TAG" => Some("v0.3.0".to_owned()),
            _ => None,
        }
    };
    assert_eq!(
        builder_id(gitlab("true")),
        "https://gitlab.com/jimini-dev/jimini/.gitlab-ci.yml@refs/tags/v0.3.0"
    );
    // gitlab-ci-local says GITLAB_CI=false: a run on this machine.
    assert_eq!(builder_id(gitlab("false")), "local");
    // A rebuild states the builder of the dist it reproduces, wherever it runs.
    let rebuild = |name: &str| match name {
        BUILDER_ID_VAR => Some("https://github.com/o/r/release.yml@refs/tags/v1".to_owned()),
        other => gitlab("true")(other),
    };
    assert_eq!(
        builder_id(rebuild),
        "https://github.com/o/r/release.yml@refs/tags/v1"
    );
}

#[test]
fn the_tool_running_cargo_is_recorded_by_name_and_machine_paths_are_not() {
    let argv: Vec<String> = [
        "/home/u/.cache/jimini-xtask/tools/zig/bin/cargo-zigbuild",
        "build",
        "--target",
        "x86_64-unknown-linux-gnu.2.17",
    ]
    .map(String::from)
    .to_vec();
    let zig = BTreeMap::from([
        (
            "CARGO".to_owned(),
            "/home/u/.cache/jimini-xtask/tools/zig/bin/cargo-zigbuild".to_owned(),
        ),
        (
            "CARGO_ZIGBUILD_PYTHON_PATH".to_owned(),
            "/home/u/.cache/zig/ziglang/zig.no-python".to_owned(),
        ),
        (
            "CARGO_ZIGBUILD_ZIG_PATH".to_owned(),
            "/home/u/.cache/zig/ziglang/zig".to_owned(),
        ),
        (
            "PATH".to_owned(),
            "/home/u/.cache/jimini-xtask/tools/cargo-auditable-0.7.7/bin:/usr/bin".to_owned(),
        ),
        (
            "RUSTC_WORKSPACE_WRAPPER".to_owned(),
            "cargo-auditable".to_owned(),
        ),
    ]);
    let invocation =
        portable_invocation(&step_of(argv.clone(), zig, CargoDriver::CargoZigbuild), &[]);
    assert_eq!(invocation.argv[0], "cargo");
    assert_eq!(
        invocation.env,
        BTreeMap::from([
            ("CARGO".to_owned(), "cargo-zigbuild".to_owned()),
            (
                "RUSTC_WORKSPACE_WRAPPER".to_owned(),
                "cargo-auditable".to_owned()
            )
        ])
    );
    let plain = BTreeMap::from([("CARGO".to_owned(), "/home/u/.cargo/bin/cargo".to_owned())]);
    assert!(
        portable_invocation(&step_of(argv, plain, CargoDriver::Cargo), &[])
            .env
            .is_empty()
    );
}

/// A planned build step with this argv and environment.
fn step_of(argv: Vec<String>, env: BTreeMap<String, String>, driver: CargoDriver) -> BuildStep {
    BuildStep {
        target: Triple::parse("x86_64-unknown-linux-gnu").unwrap(),
        driver,
        glibc: None,
        macos: None,
        target_arg: "x86_64-unknown-linux-gnu".to_owned(),
        argv,
        env,
    }
}
