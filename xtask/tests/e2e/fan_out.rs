//! Release at scale: `plan --json`, partial dists on separate "runners" merged back with
//! `dist merge`, merge refusals, and the GitHub Actions workflows (actionlint + shellcheck).

use crate::common::builds::{Build, dist as build};
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn plan_json_has_the_documented_shape() {
    let copy = copy_workspace("plan");
    let plan: serde_json::Value =
        serde_json::from_str(&checked(xtask(&copy).args(["plan", "--json"]))).unwrap();
    let version = plan["version"].as_str().unwrap().to_owned();
    let commit = git(&copy, &["rev-parse", "HEAD"]).trim().to_owned();
    let artifacts = |target: &str, ext: &str| {
        serde_json::json!([
            format!("jimini_{version}_{target}.{ext}"),
            format!("jimini_{version}_{target}.cdx.json")
        ])
    };
    let amd64 = serde_json::json!({ "kind": "tag", "tag": "saas-linux-small-amd64" });
    let arm64 = serde_json::json!({ "kind": "tag", "tag": "saas-linux-small-arm64" });
    let expected = serde_json::json!({
        "app": "jimini",
        "version": version,
        "tag": format!("v{version}"),
        "commit": commit,
        // zig links the Apple targets on Linux runners; macOS runners run them (smoke).
        "include": [
            { "target": "aarch64-apple-darwin", "runner": "ubuntu-24.04", "gitlab_runner": amd64, "packages": "", "artifacts": artifacts("aarch64-apple-darwin", "tar.xz") },
            { "target": "aarch64-unknown-linux-gnu", "runner": "ubuntu-24.04-arm", "gitlab_runner": arm64, "packages": "", "artifacts": artifacts("aarch64-unknown-linux-gnu", "tar.xz") },
            { "target": "x86_64-apple-darwin", "runner": "ubuntu-24.04", "gitlab_runner": amd64, "packages": "", "artifacts": artifacts("x86_64-apple-darwin", "tar.xz") },
            { "target": "x86_64-pc-windows-gnu", "runner": "ubuntu-24.04", "gitlab_runner": amd64, "packages": "gcc-mingw-w64-x86-64 wine64 wine", "artifacts": artifacts("x86_64-pc-windows-gnu", "zip") },
            { "target": "x86_64-unknown-linux-gnu", "runner": "ubuntu-24.04", "gitlab_runner": amd64, "packages": "", "artifacts": artifacts("x86_64-unknown-linux-gnu", "tar.xz") },
            { "target": MUSL, "runner": "ubuntu-24.04", "gitlab_runner": amd64, "packages": "", "artifacts": artifacts(MUSL, "tar.xz") },
        ],
        "channels": ["npm", "homebrew", "scoop"],
        "smoke": [
            { "target": "aarch64-apple-darwin", "runner": "macos-14", "gitlab_runner": { "kind": "tag", "tag": "saas-macos-medium-m1" } },
            // Named with the reason: .gitlab-ci.yml has no job for it.
            { "target": "x86_64-apple-darwin", "runner": "macos-13", "gitlab_runner": { "kind": "not-offered", "reason": "GitLab's hosted macOS runners are Apple silicon only (no Intel Mac)" } },
        ]
    });
    assert_eq!(plan, expected);
}

/// `cargo xtask plan --json | head -1`: a reader that closes the pipe ends the command quietly
/// with 141, as SIGPIPE would, not with a panic and its backtrace.
#[test]
fn a_closed_stdout_ends_plan_quietly_with_the_sigpipe_status() {
    let copy = copy_workspace("plan-closed-stdout");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = xtask(&copy)
        .args(["plan", "--json"])
        .env("RUST_BACKTRACE", "1")
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(141), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "",
        "a closed stdout is not an error to report"
    );
}

/// The fixture, its two partial dists (one per "runner") and the one-machine dist of the same
/// targets: named builds, shared with trust.rs and delivery.rs.
fn fan_out() -> (
    &'static PathBuf,
    &'static PathBuf,
    &'static PathBuf,
    &'static PathBuf,
) {
    let (host, musl, single) = (
        build(Build::FixturePartialHost),
        build(Build::FixturePartialMusl),
        build(Build::FixtureHostMusl),
    );
    (&single.workspace, &host.dist, &musl.dist, &single.dist)
}

#[test]
fn merged_partials_equal_a_single_machine_dist() {
    let (checkout, part_a, part_b, single) = fan_out();
    let manifest = read_manifest(part_a);
    assert_eq!(manifest["partial"], true);
    assert!(
        !part_a.join("SHA256SUMS").exists(),
        "a partial dist has no SHA256SUMS"
    );

    let merged = temp_dir("merged").join("dist");
    let output = run(xtask_fast(checkout)
        .args([
            "dist",
            "merge",
            part_a.to_str().unwrap(),
            part_b.to_str().unwrap(),
        ])
        .args([
            "--target",
            &host(),
            "--target",
            MUSL,
            "--out",
            merged.to_str().unwrap(),
        ]));
    assert!(output.status.success(), "{}", stderr(&output));
    checked(
        Command::new("sha256sum")
            .current_dir(&merged)
            .args(["-c", "--strict", "SHA256SUMS"]),
    );
    let (a, b) = (snapshot(&merged), snapshot(single));
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, left), (_, right)) in a.iter().zip(&b) {
        assert!(
            left == right,
            "{name}: merged output differs from the single-machine dist"
        );
    }
}

fn merge_refused(checkout: &Path, dirs: &[&Path], targets: &[&str], needle: &str) {
    let out = temp_dir("refused").join("dist");
    let mut cmd = xtask(checkout);
    cmd.args(["dist", "merge"])
        .args(dirs)
        .arg("--out")
        .arg(&out);
    for target in targets {
        cmd.args(["--target", target]);
    }
    let output = run(&mut cmd);
    assert!(
        !output.status.success(),
        "merge accepted bad partials ({needle})"
    );
    let text = stderr(&output);
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
    assert!(!out.exists(), "a refused merge must not write output");
}

#[test]
fn bad_partials_are_rejected_naming_the_runner() {
    let (checkout, part_a, part_b, _) = fan_out();
    let host = host();
    let both = [host.as_str(), MUSL];

    let tampered = copy_dist(part_b, "tampered");
    let manifest = read_manifest(&tampered);
    let archive = artifact_name(&manifest, "archive");
    let mut bytes = std::fs::read(tampered.join(&archive)).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0xff;
    std::fs::write(tampered.join(&archive), bytes).unwrap();
    merge_refused(
        checkout,
        &[part_a, &tampered],
        &both,
        &format!("partial dist {} is rejected", tampered.display()),
    );

    merge_refused(checkout, &[part_a, part_a], &both, "is in both");
    merge_refused(
        checkout,
        &[part_a],
        &both,
        &format!("no partial holds {MUSL}"),
    );
    // Version, commit and source-date disagreements are unit-tested over manifests
    // (dist::merge::tests); here the refusal reaches the command line.
}

#[test]
fn workflows_pass_actionlint_zizmor_and_shellcheck_and_the_matrix_comes_from_plan() {
    let root = source_root();
    // release.yml is what `plan --github` renders, and a hand edit is caught, naming the fix.
    let copy = copy_workspace("github-check");
    checked(xtask(&copy).args(["plan", "--github", "--check"]));
    let file = copy.join(".github/workflows/release.yml");
    let generated = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        generated.replace("timeout-minutes: 60", "timeout-minutes: 600"),
    )
    .unwrap();
    expect_failure(
        xtask(&copy).args(["plan", "--github", "--check"]),
        "run `cargo xtask plan --github` and commit the result",
    );
    checked(xtask(&copy).args(["plan", "--github"]));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), generated);
    // A workflow of the maintainer's own is never replaced.
    std::fs::write(&file, "name: mine\n").unwrap();
    expect_failure(
        xtask(&copy).args(["plan", "--github"]),
        "was not written by `cargo xtask plan --github`: move it aside",
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "name: mine\n");
    let workflows = [
        root.join(".github/workflows/ci.yml"),
        root.join(".github/workflows/release.yml"),
    ];
    let shellcheck = checked(Command::new("sh").args(["-c", "command -v shellcheck"]));
    let path = format!(
        "{}:{}",
        Path::new(shellcheck.trim()).parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = run(Command::new(ci_tool("actionlint"))
        .current_dir(&root)
        .args(&workflows)
        .env("PATH", path));
    assert!(
        output.status.success(),
        "actionlint:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );

    // zizmor's default persona, offline: no finding at all (a release build restoring a cache
    // that branch builds write was one: cache poisoning).
    let output = run(Command::new(ci_tool("zizmor"))
        .current_dir(&root)
        .arg("--offline")
        .args(&workflows));
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("No findings"),
        "zizmor:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );

    let release = std::fs::read_to_string(&workflows[1]).unwrap();
    assert!(release.contains("cargo xtask plan --json"));
    assert!(release.contains("matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}"));
    assert!(release.contains("cargo xtask dist --target \"$TARGET\" --partial"));
    // The release is signed where the partials meet, and must be.
    assert!(
        release.contains("cargo xtask dist merge --require-signature partials")
            && release.contains("cargo xtask verify --require-signature dist")
            && release.contains("JIMINI_SIGNING_KEY: ${{ secrets.JIMINI_SIGNING_KEY }}")
            && release.contains("minisign -Vm dist/SHA256SUMS -p keys/jimini.pub")
    );
    assert!(release.contains("uses: actions/attest-build-provenance@"));
    // Publishing is `cargo xtask publish` (tests/e2e/publish/), the GitHub release before
    // the crate, the crate before the wheels; no script beside the tool, no globbing.
    let github = release.find("run: cargo xtask publish --to github --require-signature dist");
    let crates = release.find("run: cargo xtask publish --to crates-io --require-signature dist");
    let pypi = release.find("run: cargo xtask publish --to pypi --require-signature dist");
    assert!(
        github.is_some() && github < crates && crates < pypi,
        "{github:?} {crates:?} {pypi:?}"
    );
    for script in [".ci/github/", ".ci/gitlab/", "dist/*", "*.whl"] {
        assert!(
            !release.contains(script),
            "release.yml still names {script}"
        );
    }
    // Every job's logic is a `cargo xtask` command over named directories: no glob picks files.
    let gitlab = std::fs::read_to_string(root.join(".gitlab-ci.yml")).unwrap();
    for line in release.lines().chain(gitlab.lines()) {
        assert!(
            line.trim_start().starts_with('#')
                || !(line.contains("cargo xtask") && line.contains('*')),
            "a glob in a pipeline command: {line}"
        );
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for triple in [
        "x86_64-unknown-linux-gnu",
        MUSL,
        "aarch64-unknown-linux-gnu",
        "x86_64-pc-windows-gnu",
    ] {
        assert!(
            manifest.contains(triple),
            "{triple} is not in the release list"
        );
        assert!(
            !release.contains(triple),
            "release.yml names {triple}: the matrix must come from `cargo xtask plan`"
        );
    }
    for line in release
        .lines()
        .chain(std::fs::read_to_string(&workflows[0]).unwrap().lines())
    {
        if let Some(action) = line
            .trim()
            .strip_prefix("- uses: ")
            .or_else(|| line.trim().strip_prefix("uses: "))
        {
            let reference = action
                .split('@')
                .nth(1)
                .unwrap_or("")
                .split_whitespace()
                .next()
                .unwrap_or("");
            assert!(
                reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit()),
                "{action} is not pinned to a commit"
            );
        }
    }
}
