//! End to end: `cargo xtask release` in temporary git repositories holding a small fixture
//! workspace, and snapshot versions of `dist` around release tags.

mod refusals;
mod snapshots;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
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
