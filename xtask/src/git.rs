//! The git facts the tooling needs, each read with one checked `git` call.

use anyhow::Context;
use xshell::{Shell, cmd};

/// Where HEAD stands relative to the releases, as far as the tree and the history tell.
/// Tags are only one witness: clones and CI checkouts often have none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitState {
    pub commit: String,
    pub short_commit: String,
    pub commit_time: i64,
    /// Tracked files differ from HEAD, or untracked files that git does not ignore exist.
    pub dirty: bool,
    /// The witnesses of a release of the workspace version.
    pub release: ReleaseWitnesses,
    /// The newest commit of any release (`release: v*` or a `v*` tag), for unreleased builds.
    pub last_release: Option<Anchor>,
    /// Commits in HEAD's history (shallow clones count only what they hold).
    pub total_commits: u64,
}

/// A commit in HEAD's history and how many commits HEAD is past it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub commit: String,
    pub since: u64,
}

/// Where each kind of evidence puts the release of the workspace version, if anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseWitnesses {
    /// The commit the tag `v<version>` points at.
    pub tag: Option<Anchor>,
    /// The newest commit whose subject is `release: v<version>`.
    pub release_commit: Option<Anchor>,
    /// CHANGELOG.md in the tree dates the version's section (`## [X.Y.Z] - DATE`).
    pub changelog_dated: bool,
    /// The commit that added that dated heading.
    pub changelog_commit: Option<Anchor>,
}

pub fn is_repository(sh: &Shell) -> bool {
    cmd!(sh, "git rev-parse --is-inside-work-tree")
        .quiet()
        .ignore_stderr()
        .read()
        .is_ok_and(|out| out.trim() == "true")
}

/// Reads HEAD, the dirty state and the witnesses of a release of `version`, whose dated
/// CHANGELOG heading, if the tree has one, is `changelog_heading`.
pub fn state(
    sh: &Shell,
    version: &semver::Version,
    changelog_heading: Option<&str>,
) -> anyhow::Result<GitState> {
    let commit = head(sh)?;
    let short_commit = cmd!(sh, "git rev-parse --short=7 HEAD").quiet().read()?;
    let commit_time = cmd!(sh, "git log -1 --format=%ct HEAD").quiet().read()?;
    let commit_time = commit_time
        .trim()
        .parse()
        .context("git printed a non-numeric commit time")?;
    let tag = crate::version::release_tag(version);
    let tag_commit = {
        let reference = format!("refs/tags/{tag}^{{commit}}");
        cmd!(sh, "git rev-parse -q --verify {reference}")
            .quiet()
            .ignore_stderr()
            .read()
            .ok()
    };
    let subject = format!("release: {tag}");
    let releases = release_commits(sh)?;
    let release_commit = newest_with_subject(&releases, |s| s == subject);
    let changelog_commit = match changelog_heading {
        Some(heading) => {
            let found = cmd!(sh, "git log -1 --format=%H -S {heading} -- CHANGELOG.md")
                .quiet()
                .read()?;
            Some(found.trim().to_owned()).filter(|c| !c.is_empty())
        }
        None => None,
    };
    let last_release = last_release(sh, &releases)?;
    let total_commits = cmd!(sh, "git rev-list --count HEAD").quiet().read()?;
    let anchor_of = |c: Option<String>| c.map(|c| anchor(sh, c.trim())).transpose();
    Ok(GitState {
        commit,
        short_commit: short_commit.trim().to_owned(),
        commit_time,
        dirty: !uncommitted_changes(sh)?.is_empty(),
        release: ReleaseWitnesses {
            tag: anchor_of(tag_commit)?,
            release_commit: anchor_of(release_commit)?,
            changelog_dated: changelog_heading.is_some(),
            changelog_commit: anchor_of(changelog_commit)?,
        },
        last_release,
        total_commits: total_commits
            .trim()
            .parse()
            .context("git rev-list --count printed no number")?,
    })
}

/// The nearer of the newest `release: v*` commit and the nearest `v*` tag.
fn last_release(sh: &Shell, releases: &[(String, String)]) -> anyhow::Result<Option<Anchor>> {
    let by_subject = newest_with_subject(releases, |s| {
        s.strip_prefix("release: v")
            .is_some_and(|v| semver::Version::parse(v).is_ok())
    });
    let by_tag = cmd!(sh, "git describe --tags --abbrev=0 --match v[0-9]*")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
        .map(|t| format!("{}^{{commit}}", t.trim()))
        .and_then(|r| cmd!(sh, "git rev-parse {r}").quiet().read().ok());
    let mut anchors = Vec::new();
    for commit in by_subject.into_iter().chain(by_tag) {
        anchors.push(anchor(sh, commit.trim())?);
    }
    Ok(anchors.into_iter().min_by_key(|a| a.since))
}

/// `(commit, subject)` of every commit in HEAD's history whose subject starts `release: v`,
/// newest first: one `git log` for every question about releases.
fn release_commits(sh: &Shell) -> anyhow::Result<Vec<(String, String)>> {
    let (format, pattern) = ("--format=%H %s", "^release: v");
    let log = cmd!(sh, "git log {format} --grep {pattern}")
        .quiet()
        .read()?;
    Ok(log
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(commit, subject)| (commit.to_owned(), subject.to_owned()))
        .collect())
}

/// The newest of `releases` whose subject satisfies `wanted`.
fn newest_with_subject(
    releases: &[(String, String)],
    wanted: impl Fn(&str) -> bool,
) -> Option<String> {
    releases
        .iter()
        .find(|(_, subject)| wanted(subject))
        .map(|(commit, _)| commit.clone())
}

fn anchor(sh: &Shell, commit: &str) -> anyhow::Result<Anchor> {
    let range = format!("{commit}..HEAD");
    let since = cmd!(sh, "git rev-list --count {range}").quiet().read()?;
    Ok(Anchor {
        commit: commit.to_owned(),
        since: since
            .trim()
            .parse()
            .context("git rev-list --count printed no number")?,
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

/// `git status --porcelain`: empty when the tree matches HEAD and nothing that git does not
/// ignore is untracked (an untracked source file changes what is built).
pub fn uncommitted_changes(sh: &Shell) -> anyhow::Result<String> {
    let status = cmd!(sh, "git status --porcelain --untracked-files=normal")
        .quiet()
        .read()?;
    Ok(status.trim().to_owned())
}
