//! End to end: `cargo xtask release` in temporary git repositories holding a small fixture
//! workspace, and snapshot versions of `dist` around release tags.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn fixture_target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fixture-target")
}

/// A git repository (branch main) holding the release fixture workspace, one commit.
fn fixture(label: &str) -> PathBuf {
    fixture_repo("release-ws", label)
}

fn release(dir: &Path, args: &[&str]) -> std::process::Output {
    run(xtask(dir)
        .arg("release")
        .args(args)
        .env("CARGO_TARGET_DIR", fixture_target_dir())
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_GLOBAL", "/dev/null"))
}

/// Every file below `dir` except `.git` and `target`, with its bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == ".git" || name == "target" {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                walk(root, &entry.path(), out);
            } else {
                let relative = entry
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .display()
                    .to_string();
                out.push((relative, std::fs::read(entry.path()).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Everything a failed release must leave exactly as it was.
fn state(dir: &Path) -> (Vec<(String, Vec<u8>)>, String, String, String) {
    (
        tree(dir),
        git(dir, &["rev-parse", "HEAD"]),
        git(dir, &["tag", "-l"]),
        git(dir, &["status", "--porcelain"]),
    )
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[test]
fn dry_run_prints_diff_and_commands_and_changes_nothing() {
    let dir = fixture("dry");
    let before = state(&dir);
    let output = release(&dir, &["minor"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("--- a/Cargo.toml\n+++ b/Cargo.toml"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "-version = \"0.1.0\" # workspace version\n+version = \"0.2.0\" # workspace version"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("+## [0.2.0] - "), "{stdout}");
    assert!(
        stdout.contains("git commit -m \"release: v0.2.0\""),
        "{stdout}"
    );
    assert!(stdout.contains("git tag -a v0.2.0"), "{stdout}");
    assert!(stderr(&output).contains("dry run: nothing changed"));
    assert_eq!(state(&dir), before);
}

#[test]
fn execute_bumps_everything_commits_and_tags() {
    let dir = fixture("execute");
    let output = release(&dir, &["minor", "--execute"]);
    assert!(output.status.success(), "{}", stderr(&output));

    assert_eq!(
        git(&dir, &["log", "-1", "--format=%s"]).trim(),
        "release: v0.2.0"
    );
    assert_eq!(
        git(&dir, &["cat-file", "-t", "v0.2.0"]).trim(),
        "tag",
        "the tag must be annotated"
    );
    assert_eq!(
        git(&dir, &["rev-parse", "v0.2.0^{commit}"]),
        git(&dir, &["rev-parse", "HEAD"])
    );
    let tag_message = git(&dir, &["tag", "-l", "--format=%(contents)", "v0.2.0"]);
    assert!(
        tag_message.contains("## [0.2.0] - ") && tag_message.contains("- The answer."),
        "{tag_message}"
    );
    assert!(
        git(&dir, &["status", "--porcelain"]).is_empty(),
        "everything is committed"
    );

    let root = read(&dir, "Cargo.toml");
    assert!(root.contains("# The release command bumps this line and keeps these comments.\nversion = \"0.2.0\" # workspace version"), "{root}");
    assert!(
        root.contains(
            "fixture-core = { path = \"core\", version = \"0.2.0\" } # intra-workspace requirement"
        ),
        "{root}"
    );
    let cli = read(&dir, "cli/Cargo.toml");
    assert!(
        cli.contains("version = \"0.2.0\" # declares its own version"),
        "{cli}"
    );
    assert!(
        cli.contains("fixture-core = { path = \"../core\", version = \"0.2.0\" }"),
        "{cli}"
    );
    let lock = read(&dir, "Cargo.lock");
    assert_eq!(lock.matches("version = \"0.2.0\"").count(), 2, "{lock}");
    let changelog = read(&dir, "CHANGELOG.md");
    assert!(
        changelog.contains("## [Unreleased]\n\n## [0.2.0] - "),
        "{changelog}"
    );
    assert!(changelog.contains("[Unreleased]: https://example.test/fixture/compare/v0.2.0...HEAD\n[0.2.0]: https://example.test/fixture/compare/v0.1.0...v0.2.0\n"), "{changelog}");
    checked(Command::new(env!("CARGO")).current_dir(&dir).args([
        "metadata",
        "--locked",
        "--offline",
        "--format-version",
        "1",
    ]));
}

fn add_changelog_entry(dir: &Path, entry: &str, date: &str) {
    let text = read(dir, "CHANGELOG.md").replacen(
        "## [Unreleased]\n",
        &format!("## [Unreleased]\n\n- {entry}\n"),
        1,
    );
    std::fs::write(dir.join("CHANGELOG.md"), text).unwrap();
    git(dir, &["add", "CHANGELOG.md"]);
    commit(dir, entry, date);
}

#[test]
fn pre_release_chain_through_rc_to_release() {
    let dir = fixture("chain");
    let steps = [
        ("rc", "0.1.1-rc.1"),
        ("rc", "0.1.1-rc.2"),
        ("release", "0.1.1"),
        ("beta", "0.1.2-beta.1"),
        ("rc", "0.1.2-rc.1"),
        ("major", "1.0.0"),
    ];
    for (index, (level, expected)) in steps.iter().enumerate() {
        if index > 0 {
            add_changelog_entry(&dir, &format!("change {index}"), "2026-02-01T00:00:00Z");
        }
        let output = release(&dir, &[level, "--execute", "--no-verify"]);
        assert!(output.status.success(), "{level}: {}", stderr(&output));
        assert_eq!(
            git(&dir, &["describe", "--tags", "--exact-match"]).trim(),
            format!("v{expected}"),
            "{level}"
        );
        assert!(
            read(&dir, "Cargo.toml")
                .contains(&format!("version = \"{expected}\" # workspace version"))
        );
    }
}

fn refused(dir: &Path, args: &[&str], needle: &str) {
    let before = state(dir);
    let output = release(dir, args);
    assert!(!output.status.success(), "{args:?} was not refused");
    let text = stderr(&output);
    assert!(
        text.contains(needle),
        "{args:?}: expected {needle:?} in:\n{text}"
    );
    assert_eq!(state(dir), before, "{args:?} changed something");
}

#[test]
fn refusals_name_the_fix_and_change_nothing() {
    let dir = fixture("refusals");

    std::fs::write(
        dir.join("core/src/lib.rs"),
        read(&dir, "core/src/lib.rs") + "\n// dirty\n",
    )
    .unwrap();
    refused(&dir, &["minor", "--execute"], "uncommitted changes");
    git(&dir, &["checkout", "--", "core/src/lib.rs"]);

    git(&dir, &["checkout", "-q", "-b", "feature"]);
    refused(
        &dir,
        &["minor", "--execute"],
        "on branch feature, but releases are made from main",
    );
    let allowed = release(&dir, &["minor", "--allow-branch", "feat*"]);
    assert!(
        allowed.status.success(),
        "--allow-branch glob: {}",
        stderr(&allowed)
    );
    git(&dir, &["checkout", "-q", "main"]);

    git(&dir, &["tag", "v0.2.0"]);
    refused(&dir, &["minor", "--execute"], "tag v0.2.0 already exists");
    git(&dir, &["tag", "-d", "v0.2.0"]);

    refused(
        &dir,
        &["0.1.0", "--execute"],
        "not greater than the current version 0.1.0",
    );
    refused(&dir, &["0.1.0-rc.1", "--execute"], "not greater");

    let changelog = read(&dir, "CHANGELOG.md");
    std::fs::write(
        dir.join("CHANGELOG.md"),
        changelog.replace("### Added\n- The answer.\n\n## [0.1.0]", "## [0.1.0]"),
    )
    .unwrap();
    git(&dir, &["commit", "-qam", "empty unreleased"]);
    refused(
        &dir,
        &["minor", "--execute"],
        "[Unreleased] section is empty",
    );
    std::fs::write(dir.join("CHANGELOG.md"), &changelog).unwrap();
    git(&dir, &["commit", "-qam", "entries back"]);

    let lock = read(&dir, "Cargo.lock");
    std::fs::write(
        dir.join("Cargo.lock"),
        lock.replace("dependencies = [\n \"fixture-core\",\n]\n", ""),
    )
    .unwrap();
    git(&dir, &["commit", "-qam", "stale lock"]);
    refused(&dir, &["minor", "--execute"], "Cargo.lock is out of date");
    std::fs::write(dir.join("Cargo.lock"), &lock).unwrap();
    git(&dir, &["commit", "-qam", "lock fresh again"]);

    let lib = read(&dir, "core/src/lib.rs");
    std::fs::write(
        dir.join("core/src/lib.rs"),
        lib.replace(
            "assert_eq!(super::answer(), 42)",
            "assert_eq!(super::answer(), 41)",
        ),
    )
    .unwrap();
    git(&dir, &["commit", "-qam", "failing test"]);
    refused(&dir, &["minor", "--execute"], "the tests failed");
}

#[test]
fn a_package_crates_io_would_refuse_is_refused_before_the_commit() {
    let dir = fixture("publish-check");
    let manifest = read(&dir, "core/Cargo.toml");
    std::fs::write(
        dir.join("core/Cargo.toml"),
        manifest.replace("[package]\n", "[package]\nreadme = \"MISSING.md\"\n"),
    )
    .unwrap();
    git(&dir, &["commit", "-qam", "a readme that is not there"]);
    refused(
        &dir,
        &["minor", "--execute", "--no-verify"],
        "`cargo publish --dry-run` failed",
    );
    assert!(git(&dir, &["tag", "-l", "v0.2.0"]).is_empty());
}

#[test]
fn a_rejected_commit_restores_every_file_and_leaves_no_tag() {
    let dir = fixture("hook");
    let hook = dir.join(".git/hooks/commit-msg");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'hook: commits need a ticket number' >&2\nexit 1\n",
    )
    .unwrap();
    checked(Command::new("chmod").args(["755", hook.to_str().unwrap()]));
    refused(
        &dir,
        &["minor", "--execute", "--no-verify"],
        "every file, HEAD and the tags are as before",
    );
    assert!(git(&dir, &["tag", "-l", "v0.2.0"]).is_empty());
}

/// `dist --dry-run --json` in a copy of this workspace: the version a dist would carry.
fn dist_version(dir: &Path, github_ref: Option<&str>) -> Result<String, String> {
    let mut cmd = xtask(dir);
    cmd.args(["dist", "--dry-run", "--json"]);
    if let Some(github_ref) = github_ref {
        cmd.env("GITHUB_REF", github_ref);
    }
    let output = run(&mut cmd);
    if !output.status.success() {
        return Err(stderr(&output));
    }
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    Ok(plan["version"].as_str().unwrap().to_owned())
}

#[test]
fn snapshot_versions_without_at_and_after_a_tag() {
    let dir = copy_workspace("snapshot");
    let workspace_version = checked(
        Command::new(env!("CARGO"))
            .current_dir(&dir)
            .args(["pkgid", "-p", "jimini"]),
    )
    .trim()
    .rsplit(['@', '#'])
    .next()
    .unwrap()
    .to_owned();
    let short = |dir: &Path| {
        git(dir, &["rev-parse", "--short=7", "HEAD"])
            .trim()
            .to_owned()
    };

    let next = semver_patch_bump(&workspace_version);
    let changelog = std::fs::read_to_string(dir.join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains(&format!("## [{workspace_version}] - ")),
        "the workspace version is released in CHANGELOG.md"
    );
    assert!(git(&dir, &["tag"]).is_empty(), "the copy has no tags");

    // The commit that dated the CHANGELOG section is the release, without any tag.
    assert_eq!(dist_version(&dir, None).unwrap(), workspace_version);
    commit(&dir, "work 1", "2026-03-01T00:00:00Z");
    assert_eq!(
        dist_version(&dir, None).unwrap(),
        format!("{next}-dev.1+g{}", short(&dir))
    );

    // An untracked file that git does not ignore changes the build: dirty.
    std::fs::write(dir.join("scratch.rs"), "fn main() {}").unwrap();
    assert_eq!(
        dist_version(&dir, None).unwrap(),
        format!("{next}-dev.1+g{}.dirty", short(&dir))
    );
    std::fs::remove_file(dir.join("scratch.rs")).unwrap();

    // A `release: vX.Y.Z` commit in the history is the release, counted from.
    let tag = format!("v{workspace_version}");
    commit(&dir, &format!("release: {tag}"), "2026-03-02T00:00:00Z");
    let release_commit = git(&dir, &["rev-parse", "HEAD"]).trim().to_owned();
    assert_eq!(dist_version(&dir, None).unwrap(), workspace_version);
    for n in 1..=3 {
        commit(&dir, &format!("work {n}"), "2026-03-03T00:00:00Z");
    }
    assert_eq!(
        dist_version(&dir, None).unwrap(),
        format!("{next}-dev.3+g{}", short(&dir))
    );

    // A tag that agrees changes nothing; one on another commit is an error naming both.
    git(&dir, &["tag", "-a", &tag, "-m", "release", &release_commit]);
    assert_eq!(
        dist_version(&dir, None).unwrap(),
        format!("{next}-dev.3+g{}", short(&dir))
    );
    assert_eq!(
        dist_version(&dir, Some(&format!("refs/tags/{tag}"))).unwrap(),
        workspace_version
    );
    let mismatch = dist_version(&dir, Some("refs/tags/v9.9.9")).unwrap_err();
    assert!(
        mismatch.contains("GITHUB_REF is the tag v9.9.9"),
        "{mismatch}"
    );
    git(&dir, &["tag", "-f", "-a", &tag, "-m", "release", "HEAD"]);
    let head = git(&dir, &["rev-parse", "HEAD"]).trim().to_owned();
    let disagree = dist_version(&dir, None).unwrap_err();
    assert!(
        disagree.contains(&head) && disagree.contains(&release_commit),
        "{disagree}"
    );
    assert!(
        git(&dir, &["status", "--porcelain"]).is_empty(),
        "dist must not touch tracked files"
    );
}

fn semver_patch_bump(version: &str) -> String {
    let mut parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap()).collect();
    parts[2] += 1;
    format!("{}.{}.{}", parts[0], parts[1], parts[2])
}
