//! Snapshot versions of dist, without, at and after a release tag.

use super::*;
use crate::common::*;

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
