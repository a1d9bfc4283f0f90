//! The shipped package on the release targets other than the host's: clippy for each other OS
//! and CPU (code behind `cfg(unix)` or `cfg(windows)` has warnings the host's lints never see),
//! and its tests on each emulated target (qemu, wine).

use std::path::Path;

use anyhow::Context;
use xshell::{Shell, cmd};

use crate::targets::{Os, Runner, Target, Triple};

/// The release targets other than the host's that `ci` lints and tests the shipped package on.
#[derive(Debug)]
pub(super) struct Foreign {
    /// Linted with clippy: the emulated targets, and one target of each other OS this machine
    /// builds that neither the host nor an emulated target is (an Apple target: the package
    /// must at least type-check there, though nothing here runs it).
    pub linted: Vec<Target>,
    /// The package's tests run on these, through the runners in .cargo/config.toml.
    pub emulated: Vec<Target>,
}

impl Foreign {
    pub fn of(targets: &[Target], host: &Triple) -> Foreign {
        let emulated = emulated_test_targets(targets, host);
        let host_os = Target::new(host, host).os;
        let mut linted = emulated.clone();
        for target in targets {
            let seen = target.os == host_os || linted.iter().any(|t| t.os == target.os);
            if !seen && target.os != Os::Other && target.buildable_on(host) {
                linted.push(target.clone());
            }
        }
        Foreign { linted, emulated }
    }

    pub fn is_empty(&self) -> bool {
        self.linted.is_empty()
    }

    /// "aarch64-unknown-linux-gnu, x86_64-pc-windows-gnu and aarch64-apple-darwin"
    pub fn describe(&self) -> String {
        let triples: Vec<&str> = self.linted.iter().map(|t| t.triple.as_str()).collect();
        match triples.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// Clippy for `package` on each OS and CPU in `linted`.
    pub fn lint(&self, sh: &Shell, package: &str) -> anyhow::Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let cargo = crate::cargo();
        let linted = target_args(&self.linted);
        cmd!(
            sh,
            "{cargo} clippy --locked -p {package} {linted...} --all-targets -- -D warnings"
        )
        .run()
        .with_context(|| {
            format!(
                "clippy found problems on {}: fix the warnings above",
                self.describe()
            )
        })
    }

    /// The tests of `package` on each emulated target.
    pub fn test(&self, sh: &Shell, package: &str, tmp: &Path, kept: &str) -> anyhow::Result<()> {
        if self.emulated.is_empty() {
            return Ok(());
        }
        let cargo = crate::cargo();
        // One cargo run for every emulated target: the host's build scripts and proc-macros
        // compile once, and cargo runs each target's tests through its runner.
        let emulated = target_args(&self.emulated);
        cmd!(
            sh,
            "{cargo} test --locked --no-fail-fast -p {package} {emulated...}"
        )
        .env("TMPDIR", tmp)
        .run()
        .with_context(|| {
            let triples: Vec<&str> = self.emulated.iter().map(|t| t.triple.as_str()).collect();
            format!(
                "{package}'s tests fail on {}: see the failures above; {kept}",
                triples.join(" or ")
            )
        })
    }
}

fn target_args(targets: &[Target]) -> Vec<String> {
    targets
        .iter()
        .flat_map(|t| ["--target".to_owned(), t.triple.to_string()])
        .collect()
}

/// The release targets this machine emulates, as plain `cargo test --target` builds them: the
/// shipped package's own tests run on each through the runners in .cargo/config.toml (qemu,
/// wine), linked by the linker named there (a cross gcc), never through zig, so doctor must
/// install that linker too.
pub(super) fn emulated_test_targets(targets: &[Target], host: &Triple) -> Vec<Target> {
    targets
        .iter()
        .filter(|t| matches!(t.runner, Runner::Emulated { .. }))
        .map(|t| Target::new(&t.triple, host))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::Settings;

    const HOST: &str = "x86_64-unknown-linux-gnu";

    /// The release list `triples` as planned on an x86_64 Linux host under `settings`.
    fn release(triples: &[&str], settings: &Settings) -> Vec<Target> {
        let host = Triple::parse(HOST).unwrap();
        triples
            .iter()
            .map(|t| Target::configured(&Triple::parse(t).unwrap(), &host, settings))
            .collect()
    }

    #[test]
    fn emulated_test_runs_link_with_the_cross_gcc_even_when_dist_links_through_zig() {
        let settings = Settings {
            glibc: Some("2.17".parse().unwrap()),
            ..Settings::default()
        };
        let release = release(
            &["aarch64-unknown-linux-gnu", "x86_64-pc-windows-gnu", HOST],
            &settings,
        );
        assert!(release[0].links_through_zig());
        let emulated = emulated_test_targets(&release, &Triple::parse(HOST).unwrap());
        let linkers: Vec<_> = emulated
            .iter()
            .map(|t| (t.triple.as_str(), t.linker()))
            .collect();
        assert_eq!(
            linkers,
            [
                ("aarch64-unknown-linux-gnu", Some("aarch64-linux-gnu-gcc")),
                ("x86_64-pc-windows-gnu", Some("x86_64-w64-mingw32-gcc")),
            ]
        );
    }

    /// The Apple targets type-check here (zig links them): one of them is linted, as the
    /// emulated targets are; the host's own OS and CPU are the host clippy's.
    #[test]
    fn clippy_covers_each_other_os_once_and_tests_run_on_the_emulated_targets() {
        let host = Triple::parse(HOST).unwrap();
        let settings = Settings {
            macos: Some("11.0".parse().unwrap()),
            ..Settings::default()
        };
        let release = release(
            &[
                HOST,
                "x86_64-unknown-linux-musl",
                "aarch64-unknown-linux-gnu",
                "x86_64-pc-windows-gnu",
                "aarch64-apple-darwin",
                "x86_64-apple-darwin",
                "x86_64-pc-windows-msvc",
            ],
            &settings,
        );
        let foreign = Foreign::of(&release, &host);
        let triples = |targets: &[Target]| -> Vec<String> {
            targets.iter().map(|t| t.triple.to_string()).collect()
        };
        assert_eq!(
            triples(&foreign.emulated),
            ["aarch64-unknown-linux-gnu", "x86_64-pc-windows-gnu"]
        );
        assert_eq!(
            triples(&foreign.linted),
            [
                "aarch64-unknown-linux-gnu",
                "x86_64-pc-windows-gnu",
                "aarch64-apple-darwin"
            ]
        );
        assert_eq!(
            foreign.describe(),
            "aarch64-unknown-linux-gnu, x86_64-pc-windows-gnu and aarch64-apple-darwin"
        );
        // Nothing else to run: the host's own clippy and tests are all.
        let host_only = Foreign::of(&release[..2], &host);
        assert!(host_only.is_empty() && host_only.emulated.is_empty());
    }
}
