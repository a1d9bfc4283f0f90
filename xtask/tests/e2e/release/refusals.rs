//! What release refuses, and that a refused or failed release changes nothing.

use super::*;
use crate::common::*;

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
