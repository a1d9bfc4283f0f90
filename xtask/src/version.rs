//! Which version a dist carries: the workspace version on its release tag, a SemVer snapshot
//! version derived from git anywhere else.
//!
//! **Architecture Invariant:** the snapshot version is computed, never written: `dist` on an
//! untagged commit leaves every tracked file as it was and passes the version to the build
//! through `JIMINI_BUILD_VERSION`.

use anyhow::bail;
use semver::{BuildMetadata, Prerelease, Version};

use crate::git::GitState;

pub fn release_tag(version: &Version) -> String {
    format!("v{version}")
}

/// The version of a dist built from `git` with the workspace at `workspace`.
///
/// - On the commit tagged `v<workspace>`: the workspace version.
/// - After a released version: next patch, `-dev.N+g<hash>` (`0.2.1-dev.3+g3f2a9c1`).
/// - Before the workspace version is released: `<workspace>-dev.N+g<hash>`, or
///   `<pre>.dev.N` appended to an existing pre-release. Both sort below the coming release.
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
    if git.tags_at_head.contains(&tag) && !git.dirty {
        return Ok(workspace.clone());
    }
    let mut version = workspace.clone();
    let dev = format!("dev.{}", git.commits_since_tag);
    if git.version_tag_exists && workspace.pre.is_empty() {
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

    fn git(tags_at_head: &[&str], since: u64, tagged: bool) -> GitState {
        GitState {
            commit: "3f2a9c1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned(),
            short_commit: "3f2a9c1".to_owned(),
            commit_time: 1_764_000_000,
            tags_at_head: tags_at_head.iter().map(|t| t.to_string()).collect(),
            commits_since_tag: since,
            version_tag_exists: tagged,
            dirty: false,
        }
    }

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn tagged_commit_uses_the_plain_version() {
        let version = dist_version(&v("0.2.0"), Some(&git(&["v0.2.0"], 0, true)), None).unwrap();
        assert_eq!(version.to_string(), "0.2.0");
    }

    #[test]
    fn commits_after_a_release_bump_the_patch() {
        let version = dist_version(&v("0.2.0"), Some(&git(&[], 3, true)), None).unwrap();
        assert_eq!(version.to_string(), "0.2.1-dev.3+g3f2a9c1");
        assert!(version > v("0.2.0") && version < v("0.2.1"));
    }

    #[test]
    fn unreleased_version_gets_a_dev_prerelease_of_itself() {
        let version = dist_version(&v("0.1.0"), Some(&git(&[], 12, false)), None).unwrap();
        assert_eq!(version.to_string(), "0.1.0-dev.12+g3f2a9c1");
        assert!(version < v("0.1.0"));
        let version = dist_version(&v("0.3.0-rc.1"), Some(&git(&[], 2, false)), None).unwrap();
        assert_eq!(version.to_string(), "0.3.0-rc.1.dev.2+g3f2a9c1");
    }

    #[test]
    fn released_prerelease_then_more_commits() {
        let version = dist_version(&v("0.3.0-rc.1"), Some(&git(&[], 2, true)), None).unwrap();
        assert_eq!(version.to_string(), "0.3.0-rc.1.dev.2+g3f2a9c1");
        assert!(version > v("0.3.0-rc.1") && version < v("0.3.0"));
    }

    #[test]
    fn other_tags_at_head_do_not_count_and_dirty_is_marked() {
        let mut state = git(&["v0.1.9", "nightly"], 0, false);
        state.dirty = true;
        let version = dist_version(&v("0.2.0"), Some(&state), None).unwrap();
        assert_eq!(version.to_string(), "0.2.0-dev.0+g3f2a9c1.dirty");
    }

    #[test]
    fn github_tag_must_match_the_workspace() {
        let ok = dist_version(&v("0.2.0"), None, Some("refs/tags/v0.2.0")).unwrap();
        assert_eq!(ok, v("0.2.0"));
        let err = dist_version(&v("0.2.0"), None, Some("refs/tags/v0.2.1")).unwrap_err();
        assert!(err.to_string().contains("v0.2.1") && err.to_string().contains("0.2.0"));
        let branch = dist_version(
            &v("0.2.0"),
            Some(&git(&[], 1, true)),
            Some("refs/heads/main"),
        );
        assert_eq!(branch.unwrap().to_string(), "0.2.1-dev.1+g3f2a9c1");
    }

    #[test]
    fn without_git_the_workspace_version_is_used() {
        assert_eq!(dist_version(&v("1.0.0"), None, None).unwrap(), v("1.0.0"));
    }
}
