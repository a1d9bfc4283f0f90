//! `cargo xtask release <LEVEL|VERSION>`: bump the workspace version, promote the CHANGELOG,
//! commit `release: vX.Y.Z` and create the annotated tag `vX.Y.Z`. A dry run unless
//! `--execute`; never pushes.
//!
//! **Architecture Invariant:** the release is planned completely (every file's new text, the
//! commit and tag messages) before anything is written, and every refusal is checked before
//! the first write. If anything fails after the first write, every file, the index, HEAD and
//! the tags are put back as they were.

mod bump;
mod manifests;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use semver::Version;
use xshell::{Shell, cmd};

pub use crate::changelog::promote_changelog;
pub use bump::{Bump, Level, next_version};
pub use manifests::{bump_lock, bump_manifest};

use crate::{flags, git};

/// One file's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub path: PathBuf,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasePlan {
    pub current: Version,
    pub version: Version,
    pub tag: String,
    pub edits: Vec<Edit>,
    pub commit_message: String,
    pub tag_message: String,
}

/// What the plan is computed from: file contents and facts, no I/O.
#[derive(Debug, Clone)]
pub struct ReleaseInput {
    pub current: Version,
    pub bump: Bump,
    /// `YYYY-MM-DD` for the CHANGELOG heading.
    pub date: String,
    /// `repository` URL for the compare links.
    pub repository: Option<String>,
    pub members: Vec<String>,
    /// Workspace-relative manifest paths with their text; the root manifest first.
    pub manifests: Vec<(PathBuf, String)>,
    pub lock: String,
    pub changelog: String,
}

pub fn plan(input: &ReleaseInput) -> anyhow::Result<ReleasePlan> {
    let version = next_version(&input.current, &input.bump)?;
    let new = version.to_string();
    let mut edits = Vec::new();
    for (path, text) in &input.manifests {
        let after = bump_manifest(text, &new, &input.members)
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        edits.push(Edit {
            path: path.clone(),
            before: text.clone(),
            after,
        });
    }
    edits.push(Edit {
        path: PathBuf::from("Cargo.lock"),
        before: input.lock.clone(),
        after: bump_lock(&input.lock, &new, &input.members)?,
    });
    let (changelog, section) = promote_changelog(
        &input.changelog,
        &input.current,
        &version,
        &input.date,
        input.repository.as_deref(),
    )?;
    edits.push(Edit {
        path: PathBuf::from("CHANGELOG.md"),
        before: input.changelog.clone(),
        after: changelog,
    });
    edits.retain(|edit| edit.before != edit.after);
    let tag = format!("v{version}");
    Ok(ReleasePlan {
        current: input.current.clone(),
        commit_message: format!("release: {tag}"),
        tag_message: format!("{tag}\n\n{}", section.with_heading()),
        tag,
        version,
        edits,
    })
}

/// The unified diff of one edit, as `git diff` would print it.
pub fn unified_diff(edit: &Edit) -> String {
    let path = edit.path.display().to_string();
    similar::TextDiff::from_lines(&edit.before, &edit.after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

impl ReleasePlan {
    pub fn git_commands(&self) -> Vec<String> {
        let files: Vec<String> = self
            .edits
            .iter()
            .map(|e| e.path.display().to_string())
            .collect();
        vec![
            format!("git add {}", files.join(" ")),
            format!("git commit -m {:?}", self.commit_message),
            format!(
                "git tag -a {} -m <the {} section of CHANGELOG.md>",
                self.tag, self.version
            ),
        ]
    }
}

pub(crate) fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}",
        now.year(),
        now.month() as u8,
        now.day()
    )
}

fn branch_allowed(branch: &str, globs: &[String]) -> anyhow::Result<bool> {
    for glob in globs {
        let pattern = glob::Pattern::new(glob)
            .with_context(|| format!("--allow-branch {glob:?} is not a valid glob"))?;
        if pattern.matches(branch) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What the refusals are decided from, gathered before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub branch: String,
    /// `--allow-branch` globs (default `main`).
    pub allowed_branches: Vec<String>,
    /// `git status --porcelain`: empty when clean.
    pub uncommitted: String,
    pub tag: String,
    pub tag_exists: bool,
}

/// Every refusal of `release`, in the order a user would fix them. Pure.
pub fn check(facts: &Facts) -> anyhow::Result<()> {
    if !branch_allowed(&facts.branch, &facts.allowed_branches)? {
        bail!(
            "on branch {branch}, but releases are made from {}: check out main or pass --allow-branch {branch}",
            facts.allowed_branches.join(", "),
            branch = facts.branch
        );
    }
    if !facts.uncommitted.is_empty() {
        bail!(
            "the working tree has uncommitted changes:\n{}\ncommit or stash them, then release",
            facts.uncommitted
        );
    }
    if facts.tag_exists {
        bail!(
            "tag {} already exists: pick another version, or delete the tag if it was a mistake",
            facts.tag
        );
    }
    Ok(())
}

impl flags::Release {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let root = sh.current_dir();
        let cargo = crate::cargo();
        // Gather, plan, check: nothing is written before every refusal has passed.
        let input = load_input(&root, self.level.clone())?;
        let plan = plan(&input)?;
        check(&Facts {
            branch: git::current_branch(sh)?,
            allowed_branches: if self.allow_branch.is_empty() {
                vec!["main".to_owned()]
            } else {
                self.allow_branch.clone()
            },
            uncommitted: git::uncommitted_changes(sh)?,
            tag_exists: git::tag_exists(sh, &plan.tag),
            tag: plan.tag.clone(),
        })?;

        crate::outln!(
            "release {} -> {} (tag {})\n",
            plan.current,
            plan.version,
            plan.tag
        )?;
        for edit in &plan.edits {
            crate::out!("{}", unified_diff(edit))?;
        }
        crate::outln!()?;
        crate::outln!(
            "{} {}",
            cargo.to_string_lossy(),
            publish_check_args(self.no_verify).join(" ")
        )?;
        if !self.no_verify {
            crate::outln!(
                "{cargo} test --workspace --locked",
                cargo = cargo.to_string_lossy()
            )?;
        }
        for command in plan.git_commands() {
            crate::outln!("{command}")?;
        }
        if !self.execute {
            eprintln!(
                "\ndry run: nothing changed. Rerun with --execute to release {}.",
                plan.version
            );
            return Ok(());
        }
        let head = git::head(sh)?;
        if let Err(err) = execute(sh, &root, &plan, self.no_verify) {
            rollback(sh, &root, &plan, &head);
            return Err(err.context(format!(
                "release {} failed; every file, HEAD and the tags are as before",
                plan.version
            )));
        }
        eprintln!(
            "\nreleased {}: review with `git show {}`, then `git push --follow-tags`",
            plan.version, plan.tag
        );
        Ok(())
    }
}

/// Reads the workspace (one `cargo metadata --locked --offline`, which also proves Cargo.lock is
/// current) and the files the release edits.
fn load_input(root: &Path, bump: Bump) -> anyhow::Result<ReleaseInput> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .cargo_path(crate::cargo())
        .current_dir(root)
        .other_options(vec!["--locked".to_owned(), "--offline".to_owned()])
        .exec()
        .context(
            "`cargo metadata --locked` failed: Cargo.lock is out of date; run `cargo update \
             --workspace`, commit Cargo.lock, then release",
        )?;
    let members = metadata.workspace_packages();
    let current = members
        .first()
        .context("the workspace has no members")?
        .version
        .clone();
    if let Some(other) = members.iter().find(|p| p.version != current) {
        bail!(
            "members disagree on the version ({} is {}, {} is {current}): align them first",
            other.name,
            other.version,
            members[0].name
        );
    }
    let repository = members.iter().find_map(|p| p.repository.clone());
    let mut manifests = vec![(PathBuf::from("Cargo.toml"), read(root, "Cargo.toml")?)];
    for member in &members {
        let relative = member
            .manifest_path
            .strip_prefix(&metadata.workspace_root)
            .context("member outside the workspace")?;
        if relative.as_str() != "Cargo.toml" {
            manifests.push((
                relative.as_std_path().to_owned(),
                read(root, relative.as_str())?,
            ));
        }
    }
    Ok(ReleaseInput {
        current,
        bump,
        date: today(),
        repository,
        members: members.iter().map(|p| p.name.to_string()).collect(),
        manifests,
        lock: read(root, "Cargo.lock")?,
        changelog: read(root, "CHANGELOG.md")
            .context("a release needs CHANGELOG.md in Keep a Changelog form")?,
    })
}

fn read(root: &Path, path: &str) -> anyhow::Result<String> {
    fs_err::read_to_string(root.join(path)).with_context(|| format!("cannot read {path}"))
}

fn execute(sh: &Shell, root: &Path, plan: &ReleasePlan, no_verify: bool) -> anyhow::Result<()> {
    let cargo = crate::cargo();
    for edit in &plan.edits {
        crate::write_atomic(&root.join(&edit.path), edit.after.as_bytes())?;
    }
    cmd!(sh, "{cargo} metadata --locked --offline --format-version 1")
        .quiet()
        .ignore_stdout()
        .run()
        .context("Cargo.lock does not match the bumped manifests")?;
    // crates.io must be able to take the bumped packages: a refusal there is found before the
    // commit, not after the tag is pushed.
    let publish = publish_check_args(no_verify);
    cmd!(sh, "{cargo} {publish...}").run().context(
        "`cargo publish --dry-run` failed: fix what it reports in the package manifests (crates.io \
         would refuse it), then release again",
    )?;
    if !no_verify {
        cmd!(sh, "{cargo} test --workspace --locked")
            .run()
            .context("the tests failed: fix them, then release again")?;
    }
    let files: Vec<&Path> = plan.edits.iter().map(|e| e.path.as_path()).collect();
    cmd!(sh, "git add -- {files...}").run()?;
    let message = &plan.commit_message;
    cmd!(sh, "git commit -q -m {message}")
        .run()
        .context("git commit failed (a hook may have rejected it)")?;
    let tag = &plan.tag;
    cmd!(sh, "git tag -a --cleanup=verbatim {tag} -F -")
        .stdin(&plan.tag_message)
        .run()
        .context("git tag failed")?;
    Ok(())
}

/// `cargo publish --dry-run` of every publishable member, as bumped (so with the edited,
/// uncommitted manifests); `--no-verify` skips its build, as it skips the tests.
fn publish_check_args(no_verify: bool) -> Vec<&'static str> {
    let mut args = vec![
        "publish",
        "--dry-run",
        "--locked",
        "--workspace",
        "--allow-dirty",
    ];
    if no_verify {
        args.push("--no-verify");
    }
    args
}

/// Puts back every planned file, HEAD and the index, and removes the tag if we made it.
fn rollback(sh: &Shell, root: &Path, plan: &ReleasePlan, head: &str) {
    let tag = &plan.tag;
    let tag_commit = format!("refs/tags/{tag}^{{commit}}");
    let tag_target = cmd!(sh, "git rev-parse -q --verify {tag_commit}")
        .quiet()
        .ignore_stderr()
        .read()
        .ok();
    let current_head = git::head(sh).ok();
    if tag_target.is_some() && tag_target != Some(head.to_owned()) {
        let _ = cmd!(sh, "git tag -d {tag}").quiet().ignore_stdout().run();
    }
    if current_head.as_deref() != Some(head) {
        let _ = cmd!(sh, "git reset -q --soft {head}").quiet().run();
    }
    let files: Vec<&Path> = plan.edits.iter().map(|e| e.path.as_path()).collect();
    let _ = cmd!(sh, "git reset -q -- {files...}").quiet().run();
    for edit in &plan.edits {
        if let Err(err) = crate::write_atomic(&root.join(&edit.path), edit.before.as_bytes()) {
            eprintln!(
                "release: could not restore {}: {err:#}; run `git checkout -- {}`",
                edit.path.display(),
                edit.path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests;
