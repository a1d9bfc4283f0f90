//! Releases from GitLab CI: the committed `.gitlab-ci.yml` is what the plan gives and GitLab's
//! schema takes it, and its tag pipeline runs end to end under gitlab-ci-local (a GitLab
//! runner emulator: its shell executor runs each job's script here and passes the artifacts
//! between jobs as GitLab does).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use crate::publish::text;

fn gitlab_ci_local() -> PathBuf {
    let tool = xtask::tools::tools_dir(&source_root())
        .join("gitlab-ci-local/node_modules/.bin/gitlab-ci-local");
    assert!(
        tool.exists(),
        "{} is missing: run `cargo xtask ci` once to install the test tools",
        tool.display()
    );
    tool
}

#[test]
fn the_committed_pipeline_is_what_the_plan_gives_and_gitlab_s_schema_takes_it() {
    let copy = copy_workspace("gitlab-check");
    checked(xtask(&copy).args(["plan", "--gitlab", "--check"]));
    // A hand edit is caught, and the error names the fix.
    let file = copy.join(".gitlab-ci.yml");
    let generated = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        generated.replace("timeout: 60 minutes", "timeout: 5 hours"),
    )
    .unwrap();
    expect_failure(
        xtask(&copy).args(["plan", "--gitlab", "--check"]),
        "run `cargo xtask plan --gitlab` and commit the result",
    );
    checked(xtask(&copy).args(["plan", "--gitlab"]));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), generated);
    // A pipeline of the maintainer's own is never replaced.
    let own = "build:\n  script: [make]\n";
    std::fs::write(&file, own).unwrap();
    expect_failure(
        xtask(&copy).args(["plan", "--gitlab"]),
        "was not written by `cargo xtask plan --gitlab`: move it aside",
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), own);

    // GitLab's published schema (vendored by the pinned check-jsonschema), and proof that the
    // check can fail.
    let schema = |path: &Path| {
        run(Command::new(ci_tool("check-jsonschema"))
            .args(["--builtin-schema", "vendor.gitlab-ci"])
            .arg(path))
    };
    let committed = source_root().join(".gitlab-ci.yml");
    let output = schema(&committed);
    assert!(output.status.success(), "{}", text(&output));
    std::fs::write(
        &file,
        generated.replace("interruptible: false", "interruptible: never"),
    )
    .unwrap();
    assert!(
        !schema(&file).status.success(),
        "the schema took a bad value"
    );

    // As gitlab-ci-local reads the file: a default-branch pipeline (its default: branch main)
    // tests and makes a host dist, nothing else; a tag pipeline's `needs` all resolve.
    std::fs::write(&file, &generated).unwrap();
    let home = temp_dir("gitlab-ci-local-home");
    let default_branch: serde_json::Value = serde_json::from_str(&checked(
        Command::new(gitlab_ci_local())
            .current_dir(&copy)
            .arg("--home")
            .arg(&home)
            .arg("--list-json"),
    ))
    .unwrap();
    let active: Vec<&str> = default_branch
        .as_array()
        .unwrap()
        .iter()
        .filter(|job| job["when"] != "never")
        .map(|job| job["name"].as_str().unwrap())
        .collect();
    assert_eq!(active, ["test", "dist"]);
    checked(
        Command::new(gitlab_ci_local())
            .current_dir(&copy)
            .arg("--home")
            .arg(&home)
            .args([
                "--validate-dependency-chain",
                "--variable",
                "CI_COMMIT_TAG=v0.2.0",
            ]),
    );

    // What GitLab offers no runner for is named, not dropped.
    assert!(generated.contains(
        "# smoke:x86_64-apple-darwin: not in this pipeline: GitLab's hosted macOS runners are \
         Apple silicon only"
    ));
    // A tag pipeline's first check (both CIs): the tag must be this commit's release.
    let wrong = expect_failure(
        xtask(&copy).args(["plan", "--json", "--expect-tag", "v9.9.9"]),
        "the tag v9.9.9 is not this commit's release: the workspace says v",
    );
    assert!(wrong.contains("cargo xtask release"), "{wrong}");
    let plan = checked(xtask(&copy).arg("plan"));
    assert!(
        plan.contains("not on GitLab: smoke x86_64-apple-darwin"),
        "{plan}"
    );
    // Images by digest; no secret in the file.
    for line in generated
        .lines()
        .filter(|l| l.trim_start().starts_with("image: docker"))
    {
        assert!(line.contains("@sha256:"), "{line}");
    }
    assert!(!generated.contains("untrusted comment"));
}

/// What the pipeline test leaves in the shared workspace (all of it gitignored), removed
/// however the test ends: later test binaries read that workspace.
struct PipelineLeftovers {
    workspace: PathBuf,
    tag: String,
}

impl Drop for PipelineLeftovers {
    fn drop(&mut self) {
        self.remove();
    }
}

impl PipelineLeftovers {
    fn remove(&self) {
        let _ = Command::new("git")
            .current_dir(&self.workspace)
            .args(["tag", "-d", &self.tag])
            .output();
        for entry in std::fs::read_dir(&self.workspace)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "partials" || name == "dist" || name == ".gitlab-ci-local" {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// The tag pipeline, every job this machine can run (all but the macOS runs), with the
/// committed file as it is: runner tags mean nothing to gitlab-ci-local and its
/// `--force-shell-executor` runs the jobs of the Rust image here; variables come the way
/// GitLab's do. It runs in the shared workspace with the fast profile and that workspace's
/// target directory, where cross.rs built every target already: the pipeline is the point, so it
/// runs on the app-shaped fixture.
#[test]
fn the_tag_pipeline_runs_end_to_end_and_gives_the_one_machine_dist() {
    let workspace = fixture_workspace();
    let plan: serde_json::Value =
        serde_json::from_str(&checked(xtask(&workspace).args(["plan", "--json"]))).unwrap();
    let tag = plan["tag"].as_str().unwrap().to_owned();
    let leftovers = PipelineLeftovers {
        workspace: workspace.clone(),
        tag: tag.clone(),
    };
    // A run that was killed could not clean up after itself.
    leftovers.remove();
    git(&workspace, &["tag", &tag]);
    let key_file = release_key(&workspace);
    let key_line = std::fs::read_to_string(&key_file)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    // The jobs run here: the machine's npm is the same after them.
    let npm_version = || checked(Command::new("npm").arg("--version"));
    let npm_before = npm_version();
    let home = temp_dir("gitlab-ci-local-home");
    // The jobs' `cargo xtask` is the tested binary (the fixture has no tooling crate to build).
    let path = std::env::join_paths(
        std::iter::once(cargo_xtask_dir())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let pipeline = |jobs: &[String]| {
        let mut cmd = Command::new(gitlab_ci_local());
        cmd.current_dir(&workspace)
            .env("PATH", &path)
            .args(["--force-shell-executor", "--concurrency", "1", "--no-color"])
            .arg("--home")
            .arg(&home)
            .args(["--variable", &format!("CI_COMMIT_TAG={tag}")])
            // A throw-away key (the workspace copy's own), as a masked variable holds it.
            .args(["--variable", &format!("JIMINI_SIGNING_KEY={key_line}")])
            .args(["--variable", "JIMINI_PUBLISH_DRY_RUN=1"])
            .args([
                "--variable",
                &format!(
                    "CARGO_TARGET_DIR={}",
                    target_dir("fixture-target-fast").display()
                ),
            ]);
        for (name, value) in FAST_PROFILE {
            cmd.args(["--variable", &format!("{name}={value}")]);
        }
        cmd.args(jobs)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("CARGO_TARGET_DIR");
        run(&mut cmd)
    };

    // The jobs of a tag pipeline, as gitlab-ci-local reads them from the file.
    let listed = checked(
        Command::new(gitlab_ci_local())
            .current_dir(&workspace)
            .arg("--home")
            .arg(&home)
            .args(["--list-json", "--variable", &format!("CI_COMMIT_TAG={tag}")]),
    );
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let mut jobs: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|job| job["when"] != "never")
        .map(|job| job["name"].as_str().unwrap().to_owned())
        .collect();
    let targets: Vec<&str> = plan["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["target"].as_str().unwrap())
        .collect();
    let mut expected: Vec<String> = vec!["plan".into()];
    expected.extend(targets.iter().map(|t| format!("build:{t}")));
    expected.extend([
        "smoke:aarch64-apple-darwin".into(),
        "merge".into(),
        "release".into(),
        "crates-io".into(),
        "pypi".into(),
        "npm".into(),
        "homebrew".into(),
        "scoop".into(),
        "verify-release".into(),
    ]);
    assert_eq!(
        jobs.iter().collect::<BTreeSet<_>>(),
        expected.iter().collect::<BTreeSet<_>>()
    );
    // The one job a Mac runs (release.yml's smoke job runs the same script), and the check of
    // the published release, which a dry run (below) does not publish (its rules skip it;
    // tests/e2e/publish/verify_url.rs runs `verify --published` against a served release).
    jobs.retain(|job| !job.starts_with("smoke:") && job != "verify-release");

    // A build job that fails (its output directory holds a file of the maintainer's): the
    // pipeline stops, the merge never runs.
    let windows = workspace.join("partials/x86_64-pc-windows-gnu");
    std::fs::create_dir_all(&windows).unwrap();
    std::fs::write(windows.join("notes.txt"), "mine").unwrap();
    let failed = pipeline(&[
        "plan".into(),
        "build:x86_64-pc-windows-gnu".into(),
        "merge".into(),
    ]);
    let log = text(&failed);
    assert!(!failed.status.success(), "{log}");
    assert!(log.contains("FAIL  build:x86_64-pc-windows-gnu"), "{log}");
    assert!(!log.contains("PASS  merge"), "{log}");
    assert!(!workspace.join("dist").exists(), "the merge ran:\n{log}");
    assert_eq!(
        std::fs::read_to_string(windows.join("notes.txt")).unwrap(),
        "mine"
    );

    // The maintainer moves the file away and runs the pipeline again: it completes.
    std::fs::remove_dir_all(&windows).unwrap();
    let started = std::time::Instant::now();
    let passed = pipeline(&jobs);
    let log = text(&passed);
    // The wall time, and each job's, for the record (`cargo test -- --nocapture`).
    eprintln!("the tag pipeline took {:?}", started.elapsed());
    for line in log.lines().filter(|l| l.contains(" finished in ")) {
        eprintln!("  {}", line.trim());
    }
    assert!(passed.status.success(), "{log}");
    for job in &jobs {
        assert!(log.contains(&format!("PASS  {job}")), "{job}:\n{log}");
    }

    let dist = workspace.join("dist");
    checked(xtask(&workspace).args(["verify", "--require-signature", dist.to_str().unwrap()]));
    // Byte for byte the dist of one machine, signed with the same key.
    let single = temp_dir("gitlab-single").join("dist");
    checked(
        xtask_fast(&workspace)
            .args(["dist", "--quiet", "--target", "all"])
            .arg("--signing-key")
            .arg(&key_file)
            .arg("--out")
            .arg(&single),
    );
    let (merged, one_machine) = (snapshot(&dist), snapshot(&single));
    let names = |files: &[(String, Vec<u8>)]| -> Vec<String> {
        files.iter().map(|(name, _)| name.clone()).collect()
    };
    assert_eq!(names(&merged), names(&one_machine));
    // Every file but the signature: minisign's signatures are hedged (random noise in each
    // Ed25519 signature, against fault attacks), so two signatures of one SHA256SUMS differ.
    // Each is checked by minisign itself instead.
    let differing: Vec<&str> = merged
        .iter()
        .zip(&one_machine)
        .filter(|((name, a), (_, b))| a != b && name != "SHA256SUMS.minisig")
        .map(|((name, _), _)| name.as_str())
        .collect();
    for dir in [&dist, &single] {
        checked(
            Command::new("minisign")
                .arg("-Vm")
                .arg(dir.join("SHA256SUMS"))
                .arg("-p")
                .arg(workspace.join("keys/jimini.pub")),
        );
    }
    if !differing.is_empty() {
        let kept = copy_dist(&dist, "gitlab-pipeline-dist");
        panic!(
            "{differing:?} differ between the pipeline ({}) and one machine ({})",
            kept.display(),
            single.display()
        );
    }

    // The publish jobs in dry-run mode: the release every file of the dist, PyPI the wheels,
    // crates.io the crate, and nothing else.
    let would = |job: &str| -> BTreeSet<String> {
        log.lines()
            .filter(|line| line.starts_with(&format!("{job} ")))
            .filter_map(|line| line.split_once("> would upload ").map(|(_, rest)| rest))
            .map(|rest| rest.split(' ').next().unwrap().to_owned())
            .collect()
    };
    let files: BTreeSet<String> = names(&merged).into_iter().collect();
    assert_eq!(would("release"), files);
    let wheels: BTreeSet<String> = files
        .iter()
        .filter(|f| f.ends_with(".whl"))
        .cloned()
        .collect();
    assert_eq!(wheels.len(), 6, "{wheels:?}");
    assert_eq!(would("pypi"), wheels);
    let version = plan["version"].as_str().unwrap();
    assert_eq!(
        would("crates-io"),
        BTreeSet::from([format!("jimini-{version}.crate")])
    );
    // No secret in the log.
    assert!(!log.contains(&key_line));

    // The smoke command of the macOS jobs (both CIs), on this machine's own partial.
    let host = host();
    let smoke =
        checked(xtask(&workspace).args(["smoke", &format!("partials/{host}"), "--target", &host]));
    assert!(
        smoke.starts_with(&format!("jimini {version}"))
            && smoke.contains("jimini check: decision: block")
            && smoke.contains(r#"/health {"status":"ok"}, stopped cleanly on SIGTERM"#),
        "{smoke}"
    );
    // A partial without that target's archive: named, nothing run.
    expect_failure(
        xtask(&workspace).args([
            "smoke",
            &format!("partials/{host}"),
            "--target",
            "aarch64-apple-darwin",
        ]),
        "has no archive for aarch64-apple-darwin",
    );
    assert_eq!(npm_version(), npm_before, "a job changed the machine's npm");
    drop(leftovers);
}
