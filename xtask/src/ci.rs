//! `cargo xtask ci`: the README's test command and everything `.ci/run` runs.
//!
//! First installs what the tests need and a fresh machine lacks (idempotent): rustfmt and
//! clippy, the release targets' toolchains and runners (`doctor --fix`), Debian tools, and
//! pinned Python validators in a virtualenv in the tools cache. Then `cargo fmt --check`,
//! clippy with `-D warnings`, every test with `--locked`, then the shipped package's clippy on
//! the other release targets' OSes and CPUs and its tests on each emulated release target
//! (qemu, wine; ci/emulated.rs).
//!
//! The versions of every tool are pinned in `pins.rs`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use xshell::{Shell, cmd};

use crate::flags;
use crate::pins::DEBIAN_CHROOT;

mod emulated;
mod install;
pub use install::NPM_CLI_DIR;
use install::install;

use crate::tools::tools_dir;

impl flags::Ci {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let root = sh.current_dir();
        let cargo = crate::cargo();
        // One `cargo metadata` for the installs and the emulated test runs.
        let workspace = crate::workspace::Workspace::load(sh)?;
        let host = crate::context::host_triple(sh)?;
        let targets = crate::targets::resolve(&["all".to_owned()], &workspace.config, &host)?;
        let foreign = emulated::Foreign::of(&targets, &host);
        // The wine prefix (with doctor's ProcessPrng shim) lives in the tools cache beside the
        // other test tools, so a fresh clone does not make one again (15-25 s of wineboot);
        // .cargo/config.toml's `target/wine-prefix` gives way to it, as cargo's `[env]` does
        // to the environment.
        sh.set_var("WINEPREFIX", tools_dir(&root).join("wine-prefix"));
        if !self.no_install {
            let mut needed = targets.clone();
            needed.extend(foreign.emulated.iter().cloned());
            install(sh, &root, &needed, &workspace)?;
        }
        // Before the first build the target directory does not exist yet: its file system is
        // the workspace's.
        let target_dir = if workspace.target_dir.exists() {
            &workspace.target_dir
        } else {
            &root
        };
        let system_tmp = std::env::temp_dir();
        let written = [
            (target_dir.as_path(), TARGET_DIR_NEEDS_GIB),
            (system_tmp.as_path(), TMPDIR_NEEDS_GIB),
        ];
        for warning in disk_warnings(sh, &written)? {
            eprintln!("{warning}");
        }
        let bin = tools_dir(&root).join("venv/bin");
        cmd!(sh, "{cargo} fmt --all --check")
            .run()
            .context("formatting differs: run `cargo fmt --all` and commit the result")?;
        cmd!(
            sh,
            "{cargo} clippy --workspace --all-targets --locked -- -D warnings"
        )
        .run()
        .context("clippy found problems: fix the warnings above")?;
        let package = &workspace.config.package;
        foreign.lint(sh, package)?;
        let tmp = tests_tmpdir()?;
        let kept = format!(
            "their files are kept in {} until the next run",
            tmp.display()
        );
        // --no-fail-fast: one run reports every failing test binary, not only the first. One
        // test more than cores: the end-to-end tests spend much of their time waiting on a
        // single-threaded link, an emulator or a server, which leaves a core idle.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) + 1;
        let threads = threads.to_string();
        cmd!(
            sh,
            "{cargo} test --workspace --locked --no-fail-fast -- --test-threads {threads}"
        )
        .env("JIMINI_CI_TOOLS", &bin)
        .env("JIMINI_DEBIAN_CHROOT", DEBIAN_CHROOT.dir(&root))
        .env("TMPDIR", &tmp)
        .run()
        .with_context(|| format!("tests failed: see the failures above; {kept}"))?;
        foreign.test(sh, package, &tmp, &kept)?;
        fs_err::remove_dir_all(&tmp)?;
        eprintln!("ci: all checks passed");
        Ok(())
    }
}

/// What a full run writes, measured on a fresh clone, with a margin: about 5 GiB of builds in
/// the target directory, up to about 1 GiB of scratch in the tests' TMPDIR.
const TARGET_DIR_NEEDS_GIB: u64 = 6;
const TMPDIR_NEEDS_GIB: u64 = 2;

/// A disk that fills midway fails the run with a compiler's "No space left on device" long
/// after the cause: say it first, once for each file system the run writes to, with what the
/// run writes there (the needs of paths on one file system add up).
fn disk_warnings(sh: &Shell, written: &[(&Path, u64)]) -> anyhow::Result<Vec<String>> {
    let paths: Vec<&Path> = written.iter().map(|(path, _)| *path).collect();
    // POSIX format: one line per path, "filesystem 1024-blocks used available capacity mount".
    let report = cmd!(sh, "df -P -k {paths...}")
        .quiet()
        .read()
        .context("`df` failed: cannot tell how much disk space is free")?;
    // (mount point, available GiB, needed GiB), in the order of `written`.
    let mut file_systems: Vec<(String, u64, u64)> = Vec::new();
    for (line, (_, needs)) in report.lines().skip(1).zip(written) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(available), Some(mount)) = (fields.get(3), fields.last()) else {
            continue;
        };
        let available_gib = available.parse::<u64>().unwrap_or(u64::MAX) / (1024 * 1024);
        match file_systems.iter_mut().find(|(seen, _, _)| seen == mount) {
            Some((_, _, needed)) => *needed += needs,
            None => file_systems.push(((*mount).to_owned(), available_gib, *needs)),
        }
    }
    Ok(file_systems
        .into_iter()
        .filter(|(_, available, needed)| available < needed)
        .map(|(mount, available, needed)| {
            format!(
                "ci: warning: only {available} GiB free on {mount}; a full run writes about \
                 {needed} GiB there and fails midway on a full disk: free some space first"
            )
        })
        .collect())
}

/// Marks a directory as made by [`tests_tmpdir`]: only such directories are ever removed.
const TESTS_TMPDIR_MARK: &str = ".jimini-ci-tests-tmpdir";

/// The tests' own TMPDIR, `jimini-ci-<pid>` in the system's temporary directory, removed once
/// every test has passed. The end-to-end tests leave gigabytes there (workspace copies, dists,
/// target directories), and a CI machine that runs the suite again and again would fill its
/// disk. After a failure it is kept for a look, and the next run removes it.
fn tests_tmpdir() -> anyhow::Result<PathBuf> {
    let base = std::env::temp_dir();
    for entry in fs_err::read_dir(&base)? {
        let path = entry?.path();
        let pid = path.file_name().and_then(|name| {
            name.to_str()?
                .strip_prefix("jimini-ci-")?
                .parse::<u32>()
                .ok()
        });
        let exited = pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
        if exited && path.join(TESTS_TMPDIR_MARK).is_file() {
            fs_err::remove_dir_all(&path)?;
        }
    }
    let dir = base.join(format!("jimini-ci-{}", std::process::id()));
    fs_err::create_dir_all(&dir)?;
    fs_err::write(dir.join(TESTS_TMPDIR_MARK), "")?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real small file system (a tmpfs: the tests run as root) gets one warning, though two
    /// of the paths are on it; the message names its mount point and what both need together.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_short_disk_is_named_once_before_the_run() {
        let scratch = crate::util::scratch("ci-disk");
        let mount = scratch.path().join("small");
        fs_err::create_dir(&mount).unwrap();
        let sh = Shell::new().unwrap();
        cmd!(sh, "mount -t tmpfs -o size=64m tmpfs {mount}")
            .quiet()
            .run()
            .expect("mounting a tmpfs needs root: run the tests as root");
        fs_err::create_dir(mount.join("target")).unwrap();
        let warnings = disk_warnings(&sh, &[(&mount.join("target"), 6), (&mount, 2)]);
        cmd!(sh, "umount {mount}").quiet().run().unwrap();
        let warnings = warnings.unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains(&format!(
                "only 0 GiB free on {}; a full run writes about 8 GiB there",
                mount.display()
            )),
            "{warnings:?}"
        );
    }
}
