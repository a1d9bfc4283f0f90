//! The workspaces the end-to-end tests run the xtask in: copies of this workspace (the real
//! app), and the app-shaped fixture (this workspace with `app/`'s sources replaced by
//! `tests/fixtures/app-shaped`, which builds every release target in seconds).
//!
//! The shared ones sit at fixed paths, because the remap flags name the workspace path and a
//! new path would rebuild every crate; they are made again in place when their files change.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{XTASK, checked, commit, git, run, source_root, target_dir, temp_dir, xtask_fast};

/// A git repository holding a copy of the tracked files of this workspace, one commit.
pub fn copy_workspace(label: &str) -> PathBuf {
    let dir = temp_dir(label);
    fill(&dir, &Layout::App);
    dir
}

/// The tracked (and untracked, not ignored) files of this workspace that exist.
fn workspace_files() -> Vec<String> {
    let source = source_root();
    let files = checked(Command::new("git").current_dir(&source).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]));
    files
        .split('\0')
        .filter(|f| !f.is_empty() && source.join(f).is_file())
        .map(str::to_owned)
        .collect()
}

/// Which app a workspace holds.
enum Layout {
    /// This workspace as it is.
    App,
    /// `app/src`, `app/tests` and `app/benches` replaced by the fixture's sources; app's
    /// dependencies cut to the fixture's; `Cargo.lock` the real one less what no longer links.
    AppShaped,
}

const FIXTURE: &str = "xtask/tests/fixtures/app-shaped";

/// The files `layout` copies: (path in the workspace, path in this repository).
fn files_of(layout: &Layout) -> Vec<(String, String)> {
    let files = workspace_files();
    match layout {
        Layout::App => files.into_iter().map(|f| (f.clone(), f)).collect(),
        Layout::AppShaped => {
            // The tooling itself is the tested binary (see `cargo_xtask_dir`), not a crate to
            // compile again in the fixture.
            let replaced = |f: &str| {
                ["app/src/", "app/tests/", "app/benches/", "xtask/"]
                    .iter()
                    .any(|dir| f.starts_with(dir))
            };
            let mut copied: Vec<(String, String)> = files
                .iter()
                .filter(|f| !replaced(f))
                .map(|f| (f.clone(), f.clone()))
                .collect();
            let prefix = format!("{FIXTURE}/src/");
            copied.extend(files.iter().filter_map(|f| {
                let inside = f.strip_prefix(&prefix)?;
                Some((format!("app/src/{inside}"), f.clone()))
            }));
            copied
        }
    }
}

/// Fills `dir` with `layout`'s files, a release key of its own, and one git commit.
fn fill(dir: &Path, layout: &Layout) {
    let source = source_root();
    for (to, from) in files_of(layout) {
        let to = dir.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(source.join(from), &to).unwrap();
    }
    if let Layout::AppShaped = layout {
        shape_app_manifest(&dir.join("app/Cargo.toml"));
        edit_toml(&dir.join("Cargo.toml"), |root| {
            root["workspace"]["members"] = toml_edit::value(toml_edit::Array::from_iter(["app"]));
        });
        // `cargo xtask` runs the tested binary (`cargo-tested-xtask` on PATH, an external
        // subcommand) instead of compiling the tooling again. An alias, not none: the config
        // files of the directories above (this repository's own, with the real alias) count.
        edit_toml(&dir.join(".cargo/config.toml"), |config| {
            config["alias"]["xtask"] = toml_edit::value("tested-xtask");
        });
        // The real lock, less the packages the fixture no longer links: every version kept.
        checked(Command::new(env!("CARGO")).current_dir(dir).args([
            "update",
            "--workspace",
            "--offline",
            "--quiet",
        ]));
    }
    // The project's release key pair is not ours to use: each copy gets its own, made by the
    // real `keygen`, with the secret key beside the copy (see `release_key`), and a key
    // history of its own.
    std::fs::remove_file(dir.join("keys/jimini.pub")).unwrap();
    std::fs::remove_dir_all(dir.join("keys/history")).unwrap();
    let secret = release_key(dir);
    let _ = std::fs::remove_file(&secret);
    checked(
        Command::new(XTASK)
            .current_dir(dir)
            .args(["keygen", "--unencrypted", "--secret-key"])
            .arg(&secret),
    );
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    commit(dir, "initial", "2026-01-02T03:04:05Z");
}

fn edit_toml(path: &Path, change: impl FnOnce(&mut toml_edit::DocumentMut)) {
    let mut document: toml_edit::DocumentMut =
        std::fs::read_to_string(path).unwrap().parse().unwrap();
    change(&mut document);
    std::fs::write(path, document.to_string()).unwrap();
}

/// A directory holding `cargo-tested-xtask`, which cargo runs for `cargo xtask ARGS` in the
/// app-shaped fixture (its alias names it): the tested xtask binary.
pub fn cargo_xtask_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cargo-xtask-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("cargo-tested-xtask");
    // cargo passes the subcommand's name first.
    let text = format!("#!/bin/sh\nshift\nexec '{XTASK}' \"$@\"\n");
    if std::fs::read_to_string(&script).ok().as_deref() != Some(text.as_str()) {
        let partial = dir.join(format!("cargo-tested-xtask.{}", std::process::id()));
        std::fs::write(&partial, &text).unwrap();
        std::fs::set_permissions(
            &partial,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        std::fs::rename(&partial, &script).unwrap();
    }
    dir
}

/// The app's manifest with the fixture's dependencies (`hex`; `libc` on Unix; the real
/// build.rs keeps `time`) and an empty `server` feature; names, binaries and metadata stay.
fn shape_app_manifest(path: &Path) {
    let mut manifest: toml_edit::DocumentMut =
        std::fs::read_to_string(path).unwrap().parse().unwrap();
    let mut features = toml_edit::Table::new();
    features["default"] = toml_edit::value(toml_edit::Array::from_iter(["server"]));
    features["server"] = toml_edit::value(toml_edit::Array::new());
    manifest["features"] = toml_edit::Item::Table(features);
    let mut dependencies = toml_edit::Table::new();
    dependencies["hex"]["workspace"] = toml_edit::value(true);
    manifest["dependencies"] = toml_edit::Item::Table(dependencies);
    // The server's signal handling, as the app's (through tokio) on Unix.
    let mut unix = toml_edit::Table::new();
    unix["libc"]["workspace"] = toml_edit::value(true);
    let mut platform = toml_edit::Table::new();
    platform.set_implicit(true);
    let mut cfg = toml_edit::Table::new();
    cfg["dependencies"] = toml_edit::Item::Table(unix);
    platform["cfg(unix)"] = toml_edit::Item::Table(cfg);
    manifest["target"] = toml_edit::Item::Table(platform);
    manifest.remove("dev-dependencies");
    std::fs::write(path, manifest.to_string()).unwrap();
}

/// The unencrypted secret key of the release key pair of a workspace copy.
pub fn release_key(workspace: &Path) -> PathBuf {
    workspace.with_extension("release-key")
}

/// A workspace of `layout` at the fixed path `<target tmpdir>/<name>`, prepared once under a
/// lock, made again in place only when the files it copies changed.
fn prepared(name: &str, layout: Layout) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let source = source_root();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    // How a layout is made counts too: a change here makes the workspaces again.
    include_str!("workspaces.rs").hash(&mut hasher);
    for (to, from) in files_of(&layout) {
        to.hash(&mut hasher);
        std::fs::read(source.join(&from)).unwrap().hash(&mut hasher);
    }
    let content = format!("{:016x}", hasher.finish());
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = base.join(name);
    let lock = std::fs::File::create(base.join(format!("{name}.lock"))).unwrap();
    lock.lock().unwrap();
    let ready = dir.with_extension("ready");
    if std::fs::read_to_string(&ready).ok().as_deref() != Some(content.as_str()) {
        let _ = std::fs::remove_file(&ready);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        fill(&dir, &layout);
        std::fs::write(&ready, content).unwrap();
    }
    dir
}

/// One copy of this workspace (the real app) at a fixed path, shared by every test binary
/// that only reads it and writes its dists elsewhere: dist.rs builds the app's host dist with
/// the dist profile there.
pub fn shared_workspace() -> PathBuf {
    static SHARED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| prepared("shared-ws", Layout::App))
        .clone()
}

/// The app-shaped fixture workspace at a fixed path, shared like [`shared_workspace`]: the
/// packaging, signing, merging, publishing and verifying tests run there (cross.rs, tests/delivery,
/// tests/trust, fan_out.rs, tests/gitlab), with the fast profile ([`xtask_fast`] gives it a target
/// directory of its own). tests/gitlab/main.rs runs its pipeline there, writing only what
/// `.gitignore` ignores, and removes it and its tag afterwards.
pub fn fixture_workspace() -> PathBuf {
    static FIXTURE_WS: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    FIXTURE_WS
        .get_or_init(|| prepared("fixture-ws", Layout::AppShaped))
        .clone()
}

/// `git clone` of a local repository, as a second machine or runner would check it out.
pub fn clone_repo(from: &Path, to: &Path) {
    checked(Command::new("git").args(["clone", "-q"]).arg(from).arg(to));
}

/// Clones of [`fixture_workspace`] at fixed paths of their own, each at the fixture's commit
/// (reset on first use in a run), each with its own target directory (other remap flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixtureClone {
    /// For the reproducibility-across-paths check (cross.rs): never committed to.
    Paths,
    /// For the kill test, which commits to it.
    Kills,
    /// For the key rotation test (tests/trust/keys.rs), which commits to it.
    Keys,
}

impl FixtureClone {
    fn name(self) -> &'static str {
        match self {
            FixtureClone::Paths => "fixture-clone-ws",
            FixtureClone::Kills => "fixture-kill-ws",
            FixtureClone::Keys => "fixture-keys-ws",
        }
    }
}

/// The clone `which` of the fixture, made or reset once per run.
pub fn cloned_workspace(which: FixtureClone) -> PathBuf {
    static CLONES: [std::sync::OnceLock<PathBuf>; 3] = [const { std::sync::OnceLock::new() }; 3];
    CLONES[which as usize]
        .get_or_init(|| {
            let fixture = fixture_workspace();
            let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            let dir = base.join(which.name());
            let lock = std::fs::File::create(base.join(format!("{}.lock", which.name()))).unwrap();
            lock.lock().unwrap();
            let head = git(&fixture, &["rev-parse", "HEAD"]);
            let fetched = dir.join(".git").is_dir()
                && run(Command::new("git")
                    .current_dir(&dir)
                    .args(["fetch", "-q"])
                    .arg(&fixture)
                    .arg("HEAD"))
                .status
                .success();
            if fetched {
                // Only files that differ are rewritten, so cargo's fingerprints stay warm.
                git(&dir, &["reset", "-q", "--hard", head.trim()]);
                git(&dir, &["clean", "-q", "-fd"]);
            } else {
                let _ = std::fs::remove_dir_all(&dir);
                clone_repo(&fixture, &dir);
            }
            dir
        })
        .clone()
}

/// [`xtask_fast`] in the clone `which`, with that clone's own target directory.
pub fn xtask_fast_clone(which: FixtureClone) -> Command {
    let mut cmd = xtask_fast(&cloned_workspace(which));
    cmd.env(
        "CARGO_TARGET_DIR",
        target_dir(&format!("{}-target", which.name())),
    );
    cmd
}
