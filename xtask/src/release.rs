//! `cargo xtask release <LEVEL|VERSION>`: bump the workspace version, promote the CHANGELOG,
//! commit `release: vX.Y.Z` and create the annotated tag `vX.Y.Z`. A dry run unless
//! `--execute`; never pushes.
//!
//! **Architecture Invariant:** the release is planned completely (every file's new text, the
//! commit and tag messages) before anything is written, and every refusal is checked before
//! the first write. If anything fails after the first write, every file, the index, HEAD and
//! the tags are put back as they were.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use semver::{Prerelease, Version};
use toml_edit::{DocumentMut, Item, Value};
use xshell::{Shell, cmd};

use crate::{flags, git};

pub const LEVELS_HELP: &str = "\
Levels (pre-release semantics follow cargo-release):
  major     1.4.2 -> 2.0.0        2.0.0-rc.1 -> 2.0.0
  minor     0.1.0 -> 0.2.0        0.3.0-beta.2 -> 0.3.0
  patch     0.2.0 -> 0.2.1        0.2.1-rc.1 -> 0.2.1
  alpha     0.2.0 -> 0.2.1-alpha.1, 0.2.1-alpha.1 -> 0.2.1-alpha.2
  beta      0.2.1-alpha.2 -> 0.2.1-beta.1
  rc        0.2.0 -> 0.2.1-rc.1,  0.2.1-rc.1 -> 0.2.1-rc.2
  release   0.2.1-rc.2 -> 0.2.1   (drops the pre-release)
  X.Y.Z     any SemVer 2.0 version greater than the current one

Without --execute: prints the diff of every file and the git commands, changes nothing.
With --execute: writes the files, checks Cargo.lock offline, runs `cargo test --workspace
--locked` (unless --no-verify), commits `release: vX.Y.Z` and tags `vX.Y.Z` (annotated, with the
version's CHANGELOG section). It never pushes: `git push --follow-tags` when you are ready.

Refuses (and changes nothing) on: a dirty tree, a branch not matching --allow-branch (default
main), an existing tag, a version not greater than the current one, an empty [Unreleased]
section, an out-of-date Cargo.lock, failing tests.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Major,
    Minor,
    Patch,
    Alpha,
    Beta,
    Rc,
    Release,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bump {
    Level(Level),
    Version(Version),
}

pub fn parse_bump(text: &str) -> anyhow::Result<Bump> {
    Ok(Bump::Level(match text {
        "major" => Level::Major,
        "minor" => Level::Minor,
        "patch" => Level::Patch,
        "alpha" => Level::Alpha,
        "beta" => Level::Beta,
        "rc" => Level::Rc,
        "release" => Level::Release,
        other => {
            let version = Version::parse(other.strip_prefix('v').unwrap_or(other)).map_err(|err| {
                anyhow::anyhow!(
                    "{other:?} is neither a level (major, minor, patch, alpha, beta, rc, release) \
                     nor a SemVer version: {err}"
                )
            })?;
            return Ok(Bump::Version(version));
        }
    }))
}

const PRE_LABELS: [&str; 3] = ["alpha", "beta", "rc"];

/// `(label, number)` of a `label.N` pre-release.
fn pre_parts(pre: &Prerelease) -> Option<(&str, u64)> {
    let (label, number) = pre.as_str().split_once('.')?;
    Some((label, number.parse().ok()?))
}

pub fn next_version(current: &Version, bump: &Bump) -> anyhow::Result<Version> {
    let mut next = Version::new(current.major, current.minor, current.patch);
    let is_pre = !current.pre.is_empty();
    let level = match bump {
        Bump::Version(version) => {
            if version <= current {
                bail!(
                    "{version} is not greater than the current version {current}: pick a higher version"
                );
            }
            return Ok(version.clone());
        }
        Bump::Level(level) => *level,
    };
    match level {
        Level::Major => {
            if !(is_pre && current.minor == 0 && current.patch == 0) {
                next = Version::new(current.major + 1, 0, 0);
            }
        }
        Level::Minor => {
            if !(is_pre && current.patch == 0) {
                next = Version::new(current.major, current.minor + 1, 0);
            }
        }
        Level::Patch => {
            if !is_pre {
                next.patch += 1;
            }
        }
        Level::Release => {
            if !is_pre {
                bail!(
                    "{current} is not a pre-release, so `release` has nothing to drop: use major, minor or patch"
                );
            }
        }
        Level::Alpha | Level::Beta | Level::Rc => {
            let label = match level {
                Level::Alpha => "alpha",
                Level::Beta => "beta",
                _ => "rc",
            };
            let rank = |l: &str| PRE_LABELS.iter().position(|x| *x == l);
            let number = match pre_parts(&current.pre) {
                None if is_pre => bail!(
                    "{current} has a pre-release ({}) that is not alpha.N, beta.N or rc.N: give the version explicitly",
                    current.pre
                ),
                None => {
                    next.patch += 1;
                    1
                }
                Some((current_label, n)) if current_label == label => n + 1,
                Some((current_label, _)) if rank(current_label) < rank(label) => 1,
                Some((current_label, _)) => {
                    bail!(
                        "{current} is already past {label} ({current_label}): use `release` or a later level"
                    )
                }
            };
            next.pre = Prerelease::new(&format!("{label}.{number}"))?;
        }
    }
    Ok(next)
}

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
        tag_message: format!("{tag}\n\n{section}"),
        tag,
        version,
        edits,
    })
}

/// Replaces a string value, keeping its surrounding whitespace and comments.
fn set_string(item: &mut Item, new: &str) {
    if let Some(value) = item.as_value_mut() {
        let decor = value.decor().clone();
        let mut replacement = Value::from(new);
        *replacement.decor_mut() = decor;
        *value = replacement;
    }
}

fn bump_dependency_tables(table: &mut dyn toml_edit::TableLike, new: &str, members: &[String]) {
    for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(deps) = table.get_mut(key).and_then(Item::as_table_like_mut) else {
            continue;
        };
        for (name, dep) in deps.iter_mut() {
            let Some(dep) = dep.as_table_like_mut() else {
                continue;
            };
            let package = dep
                .get("package")
                .and_then(Item::as_str)
                .unwrap_or(name.get())
                .to_owned();
            if members.contains(&package)
                && dep.get("path").is_some()
                && let Some(version) = dep.get_mut("version")
            {
                set_string(version, new);
            }
        }
    }
}

pub fn bump_manifest(text: &str, new: &str, members: &[String]) -> anyhow::Result<String> {
    let mut doc: DocumentMut = text.parse()?;
    if let Some(workspace) = doc.get_mut("workspace").and_then(Item::as_table_like_mut) {
        if let Some(version) = workspace
            .get_mut("package")
            .and_then(Item::as_table_like_mut)
            .and_then(|package| package.get_mut("version"))
            .filter(|v| v.is_str())
        {
            set_string(version, new);
        }
        bump_dependency_tables(workspace, new, members);
    }
    if let Some(version) = doc
        .get_mut("package")
        .and_then(Item::as_table_like_mut)
        .and_then(|package| package.get_mut("version"))
        .filter(|v| v.is_str())
    {
        set_string(version, new);
    }
    bump_dependency_tables(doc.as_table_mut(), new, members);
    if let Some(targets) = doc.get_mut("target").and_then(Item::as_table_like_mut) {
        for (_, target) in targets.iter_mut() {
            if let Some(target) = target.as_table_like_mut() {
                bump_dependency_tables(target, new, members);
            }
        }
    }
    Ok(doc.to_string())
}

pub fn bump_lock(text: &str, new: &str, members: &[String]) -> anyhow::Result<String> {
    let mut doc: DocumentMut = text.parse().context("Cargo.lock is not valid TOML")?;
    if let Some(packages) = doc
        .get_mut("package")
        .and_then(Item::as_array_of_tables_mut)
    {
        for package in packages.iter_mut() {
            let local = package.get("source").is_none();
            let member = package
                .get("name")
                .and_then(Item::as_str)
                .is_some_and(|n| members.iter().any(|m| m == n));
            if local
                && member
                && let Some(version) = package.get_mut("version")
            {
                set_string(version, new);
            }
        }
    }
    Ok(doc.to_string())
}

/// Moves the `[Unreleased]` entries under `## [X.Y.Z] - DATE` and updates the compare links.
/// Returns the new text and the version's section (for the tag message).
pub fn promote_changelog(
    text: &str,
    previous: &Version,
    version: &Version,
    date: &str,
    repository: Option<&str>,
) -> anyhow::Result<(String, String)> {
    const HEADING: &str = "## [Unreleased]";
    let start = text
        .find(HEADING)
        .context("CHANGELOG.md has no `## [Unreleased]` section: add one above the releases")?;
    let body_start = start + HEADING.len();
    let body_end = text[body_start..]
        .find("\n## ")
        .map(|i| body_start + i + 1)
        .unwrap_or_else(|| {
            text[body_start..]
                .find("\n[")
                .map(|i| body_start + i + 1)
                .unwrap_or(text.len())
        });
    let entries = text[body_start..body_end].trim();
    if entries.is_empty() {
        bail!(
            "CHANGELOG.md's [Unreleased] section is empty: describe the changes in this release first"
        );
    }
    let section = format!("## [{version}] - {date}\n\n{entries}\n");
    let mut out = String::new();
    out.push_str(&text[..start]);
    out.push_str(&format!("{HEADING}\n\n{section}\n"));
    out.push_str(&text[body_end..]);

    if let Some(repo) = repository.map(|r| r.trim_end_matches('/')) {
        let unreleased_link = format!("[Unreleased]: {repo}/compare/v{version}...HEAD");
        let previous_tag_known = out.contains(&format!("[{previous}]:"));
        let version_link = if previous_tag_known {
            format!("[{version}]: {repo}/compare/v{previous}...v{version}")
        } else {
            format!("[{version}]: {repo}/releases/tag/v{version}")
        };
        let mut lines: Vec<String> = out.lines().map(str::to_owned).collect();
        match lines.iter().position(|l| l.starts_with("[Unreleased]:")) {
            Some(index) => {
                lines[index] = unreleased_link;
                lines.insert(index + 1, version_link);
            }
            None => {
                if lines.last().is_some_and(|l| !l.is_empty()) {
                    lines.push(String::new());
                }
                lines.push(unreleased_link);
                lines.push(version_link);
            }
        }
        out = lines.join("\n");
        out.push('\n');
    }
    Ok((out, section.trim_end().to_owned()))
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

fn today() -> String {
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

impl flags::Release {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let root = sh.current_dir();
        let cargo = crate::cargo();
        let bump = parse_bump(&self.level)?;

        // Refusals first: nothing is written before all of them pass.
        let globs = if self.allow_branch.is_empty() {
            vec!["main".to_owned()]
        } else {
            self.allow_branch.clone()
        };
        let branch = git::current_branch(sh)?;
        if !branch_allowed(&branch, &globs)? {
            bail!(
                "on branch {branch}, but releases are made from {}: check out main or pass --allow-branch {branch}",
                globs.join(", ")
            );
        }
        let dirty = git::uncommitted_changes(sh)?;
        if !dirty.is_empty() {
            bail!(
                "the working tree has uncommitted changes:\n{dirty}\ncommit or stash them, then release"
            );
        }
        cmd!(sh, "{cargo} metadata --locked --offline --format-version 1")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .context("Cargo.lock is out of date: run `cargo update --workspace`, commit Cargo.lock, then release")?;
        let input = load_input(&root, sh, bump)?;
        let plan = plan(&input)?;
        if git::tag_exists(sh, &plan.tag) {
            bail!(
                "tag {} already exists: pick another version, or delete the tag if it was a mistake",
                plan.tag
            );
        }

        println!(
            "release {} -> {} (tag {})\n",
            plan.current, plan.version, plan.tag
        );
        for edit in &plan.edits {
            print!("{}", unified_diff(edit));
        }
        println!();
        if !self.no_verify {
            println!(
                "{cargo} test --workspace --locked",
                cargo = cargo.to_string_lossy()
            );
        }
        for command in plan.git_commands() {
            println!("{command}");
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

fn load_input(root: &Path, sh: &Shell, bump: Bump) -> anyhow::Result<ReleaseInput> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .cargo_path(crate::cargo())
        .current_dir(root)
        .no_deps()
        .other_options(vec!["--locked".to_owned(), "--offline".to_owned()])
        .exec()
        .context("cannot read the workspace with `cargo metadata`")?;
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
    let _ = sh;
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
    std::fs::read_to_string(root.join(path)).with_context(|| format!("cannot read {path}"))
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
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    fn bump(current: &str, level: &str) -> String {
        next_version(&v(current), &parse_bump(level).unwrap())
            .map(|v| v.to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn levels_from_release_versions() {
        assert_eq!(bump("0.1.0", "major"), "1.0.0");
        assert_eq!(bump("0.1.0", "minor"), "0.2.0");
        assert_eq!(bump("0.2.0", "patch"), "0.2.1");
        assert_eq!(bump("0.2.0", "alpha"), "0.2.1-alpha.1");
        assert_eq!(bump("0.2.0", "beta"), "0.2.1-beta.1");
        assert_eq!(bump("0.2.0", "rc"), "0.2.1-rc.1");
        assert!(bump("0.2.0", "release").starts_with("error: 0.2.0 is not a pre-release"));
    }

    #[test]
    fn levels_from_pre_release_versions() {
        assert_eq!(bump("0.2.1-rc.1", "rc"), "0.2.1-rc.2");
        assert_eq!(bump("0.2.1-rc.2", "release"), "0.2.1");
        assert_eq!(bump("0.2.1-alpha.3", "alpha"), "0.2.1-alpha.4");
        assert_eq!(bump("0.2.1-alpha.3", "beta"), "0.2.1-beta.1");
        assert_eq!(bump("0.2.1-beta.2", "rc"), "0.2.1-rc.1");
        assert!(bump("0.2.1-rc.1", "alpha").contains("already past alpha"));
        assert_eq!(bump("0.2.1-rc.1", "patch"), "0.2.1");
        assert_eq!(bump("0.3.0-beta.1", "minor"), "0.3.0");
        assert_eq!(bump("0.3.1-beta.1", "minor"), "0.4.0");
        assert_eq!(bump("2.0.0-rc.1", "major"), "2.0.0");
        assert_eq!(bump("2.1.0-rc.1", "major"), "3.0.0");
        assert!(bump("1.0.0-nightly", "rc").contains("not alpha.N"));
    }

    #[test]
    fn explicit_versions_must_be_greater() {
        assert_eq!(bump("0.2.0", "1.0.0-rc.1"), "1.0.0-rc.1");
        assert_eq!(bump("0.2.0", "v0.3.0"), "0.3.0");
        assert!(bump("0.2.0", "0.2.0").contains("not greater"));
        assert!(
            bump("0.2.0", "0.2.0-rc.1").contains("not greater"),
            "pre-releases sort lower"
        );
        assert!(
            parse_bump("huge")
                .unwrap_err()
                .to_string()
                .contains("neither a level")
        );
    }

    const ROOT: &str = r#"[workspace]
members = ["a", "b"]

[workspace.package]
# the one version of the workspace
version = "0.1.0"   # bumped by `cargo xtask release`

[workspace.dependencies]
a = { path = "a", version = "0.1.0" }
regex = "1.0.0"
"#;

    const MEMBER: &str = r#"[package]
name = "b"
version = "0.1.0" # own version

[dependencies]
a = { path = "../a", version = "=0.1.0" }
other = { version = "0.1.0" }

[target.'cfg(unix)'.dependencies]
a2 = { package = "a", path = "../a", version = "0.1.0" }
"#;

    #[test]
    fn manifests_keep_comments_and_bump_only_workspace_versions() {
        let members = vec!["a".to_owned(), "b".to_owned()];
        let root = bump_manifest(ROOT, "0.2.0", &members).unwrap();
        assert!(root.contains("# the one version of the workspace\nversion = \"0.2.0\"   # bumped by `cargo xtask release`"), "{root}");
        assert!(
            root.contains(r#"a = { path = "a", version = "0.2.0" }"#),
            "{root}"
        );
        assert!(root.contains(r#"regex = "1.0.0""#));
        let member = bump_manifest(MEMBER, "0.2.0", &members).unwrap();
        assert!(
            member.contains("version = \"0.2.0\" # own version"),
            "{member}"
        );
        assert!(
            member.contains(r#"a = { path = "../a", version = "0.2.0" }"#),
            "{member}"
        );
        assert!(
            member.contains(r#"other = { version = "0.1.0" }"#),
            "{member}"
        );
        assert!(
            member.contains(r#"a2 = { package = "a", path = "../a", version = "0.2.0" }"#),
            "{member}"
        );
    }

    #[test]
    fn lock_bumps_only_local_members() {
        let lock = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        let bumped = bump_lock(lock, "0.2.0", &["a".to_owned()]).unwrap();
        assert_eq!(bumped.matches("0.2.0").count(), 1, "{bumped}");
    }

    const CHANGELOG: &str = "# Changelog\n\n## [Unreleased]\n\n### Added\n- Thing.\n\n## [0.1.0] - 2026-01-01\n\n- First.\n\n[Unreleased]: https://x.test/r/compare/v0.1.0...HEAD\n[0.1.0]: https://x.test/r/releases/tag/v0.1.0\n";

    #[test]
    fn changelog_promotes_unreleased_and_links() {
        let (text, section) = promote_changelog(
            CHANGELOG,
            &v("0.1.0"),
            &v("0.2.0"),
            "2026-11-25",
            Some("https://x.test/r"),
        )
        .unwrap();
        assert_eq!(section, "## [0.2.0] - 2026-11-25\n\n### Added\n- Thing.");
        assert!(text.contains("## [Unreleased]\n\n## [0.2.0] - 2026-11-25\n\n### Added\n- Thing.\n\n## [0.1.0] - 2026-01-01"), "{text}");
        assert!(text.contains("[Unreleased]: https://x.test/r/compare/v0.2.0...HEAD\n[0.2.0]: https://x.test/r/compare/v0.1.0...v0.2.0\n[0.1.0]:"), "{text}");
    }

    #[test]
    fn first_release_links_to_the_tag_and_empty_unreleased_is_refused() {
        let first = "# Changelog\n\n## [Unreleased]\n\n- New.\n\n[Unreleased]: https://x.test/r/commits/main\n";
        let (text, _) = promote_changelog(
            first,
            &v("0.1.0"),
            &v("0.2.0"),
            "2026-11-25",
            Some("https://x.test/r"),
        )
        .unwrap();
        assert!(text.ends_with("[Unreleased]: https://x.test/r/compare/v0.2.0...HEAD\n[0.2.0]: https://x.test/r/releases/tag/v0.2.0\n"), "{text}");
        let err =
            promote_changelog(&text, &v("0.2.0"), &v("0.3.0"), "2026-11-26", None).unwrap_err();
        assert!(
            err.to_string().contains("[Unreleased] section is empty"),
            "{err}"
        );
    }

    #[test]
    fn branch_globs() {
        assert!(branch_allowed("main", &["main".into()]).unwrap());
        assert!(branch_allowed("release/1.x", &["release/*".into()]).unwrap());
        assert!(!branch_allowed("feature", &["main".into(), "release/*".into()]).unwrap());
    }
}
