//! The git facts the tooling needs, each read with one checked `git` call.

use anyhow::Context;
use xshell::{Shell, cmd};

/// Where HEAD stands relative to the release tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitState {
    pub commit: String,
    pub short_commit: String,
    pub commit_time: i64,
    /// Tags that point at HEAD.
    pub tags_at_head: Vec<String>,
    /// Commits since the nearest `v*` tag (or since the root when there is none).
    pub commits_since_tag: u64,
    /// Whether a tag for the workspace's own version exists anywhere.
    pub version_tag_exists: bool,
    /// Tracked files differ from HEAD.
    pub dirty: bool,
}

pub fn is_repository(sh: &Shell) -> bool {
    cmd!(sh, "git rev-parse --is-inside-work-tree")
        .quiet()
        .ignore_stderr()
        .read()
        .is_ok_and(|out| out.trim() == "true")
}

pub fn state(sh: &Shell, version_tag: &str) -> anyhow::Result<GitState> {
    let commit = head(sh)?;
    let short_commit = cmd!(sh, "git rev-parse --short=7 HEAD").quiet().read()?;
    let commit_time = cmd!(sh, "git log -1 --format=%ct HEAD").quiet().read()?;
    let commit_time = commit_time
        .trim()
        .parse()
        .context("git printed a non-numeric commit time")?;
    let tags_at_head = cmd!(sh, "git tag --points-at HEAD").quiet().read()?;
    let nearest_tag = cmd!(sh, "git describe --tags --abbrev=0 --match v[0-9]*")
        .quiet()
        .ignore_stderr()
        .read()
        .ok();
    let commits_since_tag = match &nearest_tag {
        Some(tag) => cmd!(sh, "git rev-list --count {tag}..HEAD")
            .quiet()
            .read()?,
        None => cmd!(sh, "git rev-list --count HEAD").quiet().read()?,
    };
    let version_tag_exists = tag_exists(sh, version_tag);
    let dirty = !uncommitted_changes(sh)?.is_empty();
    Ok(GitState {
        commit,
        short_commit: short_commit.trim().to_owned(),
        commit_time,
        tags_at_head: tags_at_head.lines().map(str::to_owned).collect(),
        commits_since_tag: commits_since_tag
            .trim()
            .parse()
            .context("git rev-list --count")?,
        version_tag_exists,
        dirty,
    })
}

pub fn current_branch(sh: &Shell) -> anyhow::Result<String> {
    Ok(cmd!(sh, "git symbolic-ref --short -q HEAD")
        .quiet()
        .read()
        .context("HEAD is detached: check out the branch you release from")?
        .trim()
        .to_owned())
}

pub fn tag_exists(sh: &Shell, tag: &str) -> bool {
    let reference = format!("refs/tags/{tag}");
    cmd!(sh, "git rev-parse -q --verify {reference}")
        .quiet()
        .ignore_stdout()
        .run()
        .is_ok()
}

/// The full hash of HEAD.
pub fn head(sh: &Shell) -> anyhow::Result<String> {
    let commit = cmd!(sh, "git rev-parse HEAD")
        .quiet()
        .read()
        .context("cannot read HEAD: is there a commit?")?;
    Ok(commit.trim().to_owned())
}

/// `git status --porcelain` for tracked files: empty when the tree matches HEAD.
pub fn uncommitted_changes(sh: &Shell) -> anyhow::Result<String> {
    let status = cmd!(sh, "git status --porcelain --untracked-files=no")
        .quiet()
        .read()?;
    Ok(status.trim().to_owned())
}
