//! Shared helpers for the end-to-end tests: temporary copies of this workspace, running the
//! real xtask binary in them, and the pinned CI tools.
#![allow(dead_code)]

pub mod builds;
mod chroot;
pub mod codesign;
mod dists;
pub mod https;
mod workspaces;

#[allow(unused_imports)] // only tests/delivery runs anything in the chroot
pub use chroot::*;
pub use dists::*;
pub use workspaces::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

pub const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

/// The static Linux target, which runs on this machine too.
pub const MUSL: &str = "x86_64-unknown-linux-musl";

/// The real workspace this test was built from.
pub fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// One target directory shared by the end-to-end tests that build the same way, so
/// dependencies build once.
pub fn shared_target_dir() -> PathBuf {
    target_dir("e2e-target")
}

/// A target directory of its own, for builds whose flags, path or profile differ: cargo puts
/// every build's binaries at the same `<triple>/<profile>/` path, so two differing builds in
/// parallel would overwrite each other's binaries before dist packs them.
pub fn target_dir(label: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(label)
}

/// The pinned CI tools (`cargo xtask ci` installs them).
pub fn ci_tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("JIMINI_CI_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| xtask::tools::tools_dir(&source_root()).join("venv/bin"));
    let tool = dir.join(name);
    assert!(
        tool.exists(),
        "{} is missing: run `cargo xtask ci` once to install the test tools",
        tool.display()
    );
    tool
}

/// A pinned tool from crates.io that `cargo xtask ci` installs (see xtask/src/ci.rs).
/// A `PATH` with the pinned npm and npx first (`cargo xtask ci` installs them in the tools
/// cache): the machine's npm may be too old for what the npm tests ask of it.
pub fn npm_path() -> std::ffi::OsString {
    let bin = xtask::tools::tools_dir(&source_root())
        .join(xtask::ci::NPM_CLI_DIR)
        .join("node_modules/.bin");
    assert!(
        bin.join("npm").exists(),
        "{} is missing: run `cargo xtask ci` once to install the test tools",
        bin.join("npm").display()
    );
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&path))).unwrap()
}

pub fn cargo_tool(tool: xtask::tools::CargoTool) -> PathBuf {
    let binary = tool.binary(&source_root().join("target"));
    assert!(
        binary.is_file(),
        "{} {} is not installed at {}: run `cargo xtask ci`, which installs it",
        tool.name,
        tool.version,
        binary.display()
    );
    binary
}

pub(crate) static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh directory `jimini-e2e-<pid>-<n>-<label>` in the system's temporary directory. The
/// first call of a test process removes the directories of earlier test processes that have
/// exited (a failed run's are kept until then, for a look): a dist test leaves gigabytes of
/// workspace copies and target directories, and CI machines run the suite again and again.
pub fn temp_dir(label: &str) -> PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(sweep_exited_runs);
    let dir = std::env::temp_dir().join(format!(
        "jimini-e2e-{}-{}-{label}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sweep_exited_runs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("jimini-e2e-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            // A workspace copy's release key is a file beside its directory.
            let _ = if entry.path().is_dir() {
                std::fs::remove_dir_all(entry.path())
            } else {
                std::fs::remove_file(entry.path())
            };
        }
    }
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|err| panic!("cannot run {cmd:?}: {err}"))
}

pub fn checked(cmd: &mut Command) -> String {
    let output = run(cmd);
    assert!(
        output.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    checked(
        Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1"),
    )
}

/// Cargo profile overrides for tests where the dist profile is not the point: no LTO, parallel
/// codegen, no optimisation. Flags, remaps and reproducibility are unchanged.
pub const FAST_PROFILE: [(&str, &str); 3] = [
    ("CARGO_PROFILE_DIST_LTO", "off"),
    ("CARGO_PROFILE_DIST_CODEGEN_UNITS", "16"),
    ("CARGO_PROFILE_DIST_OPT_LEVEL", "0"),
];

/// `cargo xtask ARGS` in `dir` with [`FAST_PROFILE`] and the fast builds' target directory:
/// the fixture's own in the [`fixture_workspace`] (another path, other remap flags).
pub fn xtask_fast(dir: &Path) -> Command {
    let mut cmd = xtask(dir);
    let label = if dir.ends_with("fixture-ws") {
        "fixture-target-fast"
    } else {
        "e2e-target-fast"
    };
    cmd.envs(FAST_PROFILE)
        .env("CARGO_TARGET_DIR", target_dir(label));
    cmd
}

pub fn commit(dir: &Path, message: &str, date: &str) {
    checked(
        Command::new("git")
            .current_dir(dir)
            .args(["commit", "-q", "--allow-empty", "-m", message])
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1"),
    );
}

/// `cargo xtask ARGS` in `dir`, with the shared target directory.
pub fn xtask(dir: &Path) -> Command {
    let mut cmd = Command::new(XTASK);
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .env("NO_COLOR", "1")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("GITHUB_REF");
    for (profile_var, _) in FAST_PROFILE {
        cmd.env_remove(profile_var);
    }
    cmd
}

/// Runs `cmd`, which must fail with `needle` in its stderr; returns the stderr.
pub fn expect_failure(cmd: &mut Command, needle: &str) -> String {
    let output = run(cmd);
    assert!(!output.status.success(), "{cmd:?} succeeded");
    let text = stderr(&output);
    assert!(
        text.contains(needle),
        "{cmd:?}: expected {needle:?} in:\n{text}"
    );
    text
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn host() -> String {
    let info = checked(Command::new("rustc").arg("-vV"));
    info.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap()
        .to_owned()
}

/// A git repository (branch main) holding the fixture workspace `tests/fixtures/<name>`, one
/// commit.
pub fn fixture_repo(name: &str, label: &str) -> PathBuf {
    let dir = temp_dir(label).join("ws");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
        &dir,
    );
    std::fs::write(dir.join(".gitignore"), "/target/\n/dist/\n/.xtask-*\n").unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "-A"]);
    commit(&dir, "fixture", "2026-01-02T03:04:05Z");
    dir
}

/// The environment of another user on this machine: `HOME` is a fresh directory of its own
/// (so zig's cache starts empty there), the pinned tools sit under it (hard links of this
/// user's, so nothing is downloaded), `PATH` starts with a directory of its own, and rustup and
/// cargo keep their homes.
pub fn other_user_home(label: &str) -> Vec<(&'static str, PathBuf)> {
    let home = temp_dir(label).join("home");
    let own_home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set"));
    let from_home = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| own_home.join(default))
    };
    let target_dir = shared_target_dir();
    let elsewhere = home.join(".cache/jimini-xtask/tools");
    std::fs::create_dir_all(&elsewhere).unwrap();
    for tool in [
        xtask::pins::CARGO_AUDITABLE.root(&target_dir),
        xtask::pins::ZIG.root(&target_dir),
    ] {
        checked(Command::new("cp").arg("-al").arg(tool).arg(&elsewhere));
    }
    let own_bin = home.join(".local/bin");
    std::fs::create_dir_all(&own_bin).unwrap();
    let path = std::env::join_paths(
        std::iter::once(own_bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    vec![
        ("RUSTUP_HOME", from_home("RUSTUP_HOME", ".rustup")),
        ("CARGO_HOME", from_home("CARGO_HOME", ".cargo")),
        ("PATH", PathBuf::from(path)),
        ("HOME", home),
    ]
}

/// Runs `program ARGS` under GNU time: its output and its peak resident set in KiB (the largest
/// of it and its children, as getrusage counts them).
pub fn run_measured(cmd: &mut Command) -> (Output, u64) {
    let report = temp_dir("time").join("time.txt");
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-v")
        .arg("-o")
        .arg(&report)
        .arg(cmd.get_program());
    timed.args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    for (name, value) in cmd.get_envs() {
        match value {
            Some(value) => timed.env(name, value),
            None => timed.env_remove(name),
        };
    }
    let output = run(&mut timed);
    let text = std::fs::read_to_string(&report).unwrap();
    let peak = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak in {text}"));
    (output, peak)
}

/// Spawns a server that announces its port on the first line of its stdout (`… port N …`, or
/// just `N`): the child and N.
pub fn spawn_announcing_port(cmd: &mut Command) -> (std::process::Child, u16) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {cmd:?}: {err}"));
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = match line.split_once(" port ") {
        Some((_, rest)) => rest.split_whitespace().next(),
        None => Some(line.trim()),
    }
    .and_then(|port| port.parse().ok())
    .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child, port)
}
