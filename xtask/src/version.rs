//! Which version a dist carries: the workspace version on its release commit, a SemVer snapshot
//! version derived from the tree and the history anywhere else.
//!
//! A version counts as released when any witness says so: the tag `vX.Y.Z`, a commit
//! `release: vX.Y.Z` in the history, or a dated `## [X.Y.Z] - DATE` section in CHANGELOG.md
//! (whose commit is the one that added that heading). Tags are a cross-check, not a need: a
//! clone without tags gets the same version as one with them.
//!
//! **Architecture Invariant:** the snapshot version is computed, never written: `dist` on an
//! unreleased commit leaves every tracked file as it was and passes the version to the build
//! through `JIMINI_BUILD_VERSION`.

use anyhow::bail;
use semver::{BuildMetadata, Prerelease, Version};

use crate::git::{Anchor, GitState, ReleaseWitnesses};

pub fn release_tag(version: &Version) -> String {
    format!("v{version}")
}

/// The `## [X.Y.Z] - DATE` heading of `version` in a Keep a Changelog text, when it is dated.
pub fn dated_changelog_heading(changelog: &str, version: &Version) -> Option<String> {
    crate::changelog::dated_heading(changelog, version)
}

/// The commit that released the workspace version, if any witness says it was released.
/// `Ok(None)` means unreleased; two witnesses naming different commits are an error.
pub fn release_anchor(
    version: &Version,
    witnesses: &ReleaseWitnesses,
) -> anyhow::Result<Option<Anchor>> {
    let tag = release_tag(version);
    if let (Some(tagged), Some(commit)) = (&witnesses.tag, &witnesses.release_commit)
        && tagged.commit != commit.commit
    {
        bail!(
            "the tag {tag} points at {} but the commit `release: {tag}` is {}: move the tag \
             (`git tag -f -a {tag} {}`) or delete the stray one, so that both name the release",
            tagged.commit,
            commit.commit,
            commit.commit
        );
    }
    let changelog = witnesses
        .changelog_commit
        .as_ref()
        .filter(|_| witnesses.changelog_dated);
    Ok(witnesses
        .tag
        .clone()
        .or_else(|| witnesses.release_commit.clone())
        .or_else(|| changelog.cloned()))
}

/// The version of a dist built from `git` with the workspace at `workspace`.
///
/// - On the release commit of the workspace version, clean: the workspace version.
/// - After it: next patch, `-dev.N+g<hash>` (`0.2.1-dev.3+g3f2a9c1`), N counted from the release
///   commit; a released pre-release gets `.dev.N` appended (`0.3.0-rc.1.dev.2`).
/// - Before the workspace version is released: `<workspace>-dev.N+g<hash>`, N counted from the
///   last release of any version (or the first commit). It sorts below the coming release.
/// - A dirty tree adds `.dirty` to the build metadata and is never the plain version.
///
/// `github_ref` is `GITHUB_REF`: on a tag build, the tag must be the workspace's version.
pub fn dist_version(
    workspace: &Version,
    git: Option<&GitState>,
    github_ref: Option<&str>,
) -> anyhow::Result<Version> {
    let tag = release_tag(workspace);
    if let Some(pushed) = github_ref.and_then(|r| r.strip_prefix("refs/tags/")) {
        if pushed != tag {
            bail!(
                "GITHUB_REF is the tag {pushed} but the workspace version is {workspace} \
                 (tag {tag}): release with `cargo xtask release` so that tag and version agree"
            );
        }
        return Ok(workspace.clone());
    }
    let Some(git) = git else {
        return Ok(workspace.clone());
    };
    let released = release_anchor(workspace, &git.release)?;
    let dated_without_history = released.is_none() && git.release.changelog_dated;
    let since = match &released {
        Some(anchor) if anchor.since == 0 && !git.dirty => return Ok(workspace.clone()),
        Some(anchor) => anchor.since,
        // Dated in CHANGELOG.md, but the history that dated it is not here (a shallow clone).
        None if dated_without_history => git.total_commits,
        None => git
            .last_release
            .as_ref()
            .map_or(git.total_commits, |a| a.since),
    };
    let mut version = workspace.clone();
    let dev = format!("dev.{since}");
    let is_released = released.is_some() || dated_without_history;
    if is_released && workspace.pre.is_empty() {
        version.patch += 1;
    }
    version.pre = if workspace.pre.is_empty() {
        Prerelease::new(&dev)?
    } else {
        Prerelease::new(&format!("{}.{dev}", workspace.pre))?
    };
    let build = if git.dirty {
        format!("g{}.dirty", git.short_commit)
    } else {
        format!("g{}", git.short_commit)
    };
    version.build = BuildMetadata::new(&build)?;
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "3f2a9c1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const RELEASE: &str = "51efd04bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn at(commit: &str, since: u64) -> Option<Anchor> {
        Some(Anchor {
            commit: commit.to_owned(),
            since,
        })
    }

    /// A clean clone with no tags and no witnesses, 20 commits deep.
    fn git() -> GitState {
        GitState {
            commit: HEAD.to_owned(),
            short_commit: "3f2a9c1".to_owned(),
            commit_time: 1_764_000_000,
            dirty: false,
            release: ReleaseWitnesses::default(),
            last_release: None,
            total_commits: 20,
        }
    }

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    fn version(workspace: &str, git: &GitState) -> String {
        dist_version(&v(workspace), Some(git), None)
            .unwrap()
            .to_string()
    }

    #[test]
    fn no_tags_but_the_release_commit_in_history() {
        let mut state = git();
        state.release.release_commit = at(RELEASE, 15);
        let out = version("0.2.0", &state);
        assert_eq!(out, "0.2.1-dev.15+g3f2a9c1");
        assert!(v(&out) > v("0.2.0") && v(&out) < v("0.2.1"));
        state.release.release_commit = at(RELEASE, 0);
        state.commit = RELEASE.to_owned();
        assert_eq!(version("0.2.0", &state), "0.2.0");
    }

    #[test]
    fn tag_present_agrees_or_is_an_error_naming_both() {
        let mut state = git();
        state.release.tag = at(RELEASE, 3);
        assert_eq!(version("0.2.0", &state), "0.2.1-dev.3+g3f2a9c1");
        state.release.release_commit = at(RELEASE, 3);
        assert_eq!(version("0.2.0", &state), "0.2.1-dev.3+g3f2a9c1");
        state.release.tag = at(HEAD, 0);
        let err = dist_version(&v("0.2.0"), Some(&state), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(HEAD) && err.contains(RELEASE) && err.contains("v0.2.0"),
            "{err}"
        );
    }

    #[test]
    fn tag_missing_but_changelog_dated() {
        let mut state = git();
        state.release.changelog_dated = true;
        state.release.changelog_commit = at(RELEASE, 4);
        assert_eq!(version("0.2.0", &state), "0.2.1-dev.4+g3f2a9c1");
        // The dated heading came with the root commit of a shallow or squashed history.
        state.release.changelog_commit = None;
        assert_eq!(version("0.2.0", &state), "0.2.1-dev.20+g3f2a9c1");
        // A commit that only mentions the heading, with the tree no longer dated, counts not.
        state.release.changelog_dated = false;
        state.release.changelog_commit = at(RELEASE, 4);
        assert_eq!(version("0.2.0", &state), "0.2.0-dev.20+g3f2a9c1");
    }

    #[test]
    fn unreleased_version_counts_from_the_last_release_of_any_version() {
        let mut state = git();
        assert_eq!(version("0.3.0", &state), "0.3.0-dev.20+g3f2a9c1");
        state.last_release = at(RELEASE, 2);
        let out = version("0.3.0", &state);
        assert_eq!(out, "0.3.0-dev.2+g3f2a9c1");
        assert!(v(&out) < v("0.3.0"));
    }

    #[test]
    fn pre_release_versions() {
        let mut state = git();
        state.last_release = at(RELEASE, 2);
        assert_eq!(version("0.3.0-rc.1", &state), "0.3.0-rc.1.dev.2+g3f2a9c1");
        state.release.release_commit = at(RELEASE, 2);
        let out = version("0.3.0-rc.1", &state);
        assert_eq!(out, "0.3.0-rc.1.dev.2+g3f2a9c1");
        assert!(v(&out) > v("0.3.0-rc.1") && v(&out) < v("0.3.0"));
        state.release.release_commit = at(HEAD, 0);
        assert_eq!(version("0.3.0-rc.1", &state), "0.3.0-rc.1");
    }

    #[test]
    fn dirty_trees_are_marked_and_never_the_release() {
        let mut state = git();
        state.dirty = true;
        state.release.release_commit = at(HEAD, 0);
        assert_eq!(version("0.2.0", &state), "0.2.1-dev.0+g3f2a9c1.dirty");
        state.release = ReleaseWitnesses::default();
        assert_eq!(version("0.2.0", &state), "0.2.0-dev.20+g3f2a9c1.dirty");
    }

    #[test]
    fn github_tag_must_match_the_workspace() {
        let ok = dist_version(&v("0.2.0"), None, Some("refs/tags/v0.2.0")).unwrap();
        assert_eq!(ok, v("0.2.0"));
        let err = dist_version(&v("0.2.0"), None, Some("refs/tags/v0.2.1")).unwrap_err();
        assert!(err.to_string().contains("v0.2.1") && err.to_string().contains("0.2.0"));
        let mut state = git();
        state.release.tag = at(RELEASE, 1);
        let branch = dist_version(&v("0.2.0"), Some(&state), Some("refs/heads/main"));
        assert_eq!(branch.unwrap().to_string(), "0.2.1-dev.1+g3f2a9c1");
    }

    #[test]
    fn without_git_the_workspace_version_is_used() {
        assert_eq!(dist_version(&v("1.0.0"), None, None).unwrap(), v("1.0.0"));
    }

    #[test]
    fn changelog_headings_are_found_only_when_dated() {
        let text = "## [Unreleased]\n\n## [0.2.0] - 2026-11-25\n\n## [0.1.0] - 2026-01-01\n";
        assert_eq!(
            dated_changelog_heading(text, &v("0.2.0")).as_deref(),
            Some("## [0.2.0] - 2026-11-25")
        );
        assert_eq!(dated_changelog_heading(text, &v("0.3.0")), None);
        assert_eq!(
            dated_changelog_heading("## [0.3.0] - \n", &v("0.3.0")),
            None
        );
    }
}
