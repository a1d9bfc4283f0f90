//! `cargo xtask doctor`: is this machine ready to dist the configured targets? Each missing
//! piece is named with the exact command that installs it; `--fix` runs those commands until
//! nothing is missing. `dist` runs the same checks first, so it fails fast instead of deep
//! inside cargo.
//!
//! Three steps, so that the logic is testable without a machine: [`probe`] observes
//! [`Facts`] (which Rust targets, programs and files exist), [`problems`] is a pure function from
//! facts to what is missing and its [`Fix`], and [`converge`] repeats probe → fix until nothing
//! is missing or a round fixes nothing.
//!
//! **Architecture Invariant:** a fix never needs a second `doctor --fix` run. Some problems only
//! show once another is fixed (the wine shim needs wine), so `--fix` loops; it stops with the
//! problems it could not fix when a round changes nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::flags;
use crate::targets::{Emulator, Runner, Target, Triple};

/// One missing piece and how to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    pub fix: Fix,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fix {
    RustupTarget(String),
    Apt(Vec<String>),
    WinePrng,
    Manual(String),
}

impl Fix {
    pub fn command(&self) -> String {
        match self {
            Fix::RustupTarget(target) => format!("rustup target add {target}"),
            Fix::Apt(packages) => format!("apt-get install -y {}", packages.join(" ")),
            Fix::WinePrng => {
                "cargo xtask doctor --fix (builds bcryptprimitives.dll into the wine prefix)"
                    .to_owned()
            }
            Fix::Manual(text) => text.clone(),
        }
    }
}

pub fn describe(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {}\n    fix: {}", p.what, p.fix.command()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What doctor observed on this machine: everything [`problems`] decides from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub host: Triple,
    /// Targets whose Rust standard library is installed.
    pub rust_targets: BTreeSet<String>,
    /// Programs found on PATH (of those the targets name).
    pub programs: BTreeSet<String>,
    /// The targets' C library directories (sysroots) that exist.
    pub sysroots: BTreeSet<String>,
    /// The wine prefix holds the ProcessPrng shim.
    pub wine_prng: bool,
}

/// Which checks apply: building only (what `dist` needs), or running the binaries here too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Build,
    BuildAndRun,
}

/// What is missing to build `targets` (and, with [`Scope::BuildAndRun`], to run their binaries).
pub fn problems(targets: &[Target], facts: &Facts, scope: Scope) -> Vec<Problem> {
    let mut problems = Vec::new();
    let host = &facts.host;
    for info in targets {
        if !info.buildable_on(host) {
            problems.push(Problem {
                what: format!("{} cannot be built on this {host} machine", info.triple),
                fix: Fix::Manual(format!(
                    "build it on a {} runner: `cargo xtask dist --target {} --partial` (see `cargo xtask plan`)",
                    info.github_runner, info.triple
                )),
            });
            continue;
        }
        if !facts.rust_targets.contains(info.triple.as_str()) {
            problems.push(Problem {
                what: format!(
                    "the Rust standard library for {} is not installed",
                    info.triple
                ),
                fix: Fix::RustupTarget(info.triple.to_string()),
            });
        }
        let apt = || Fix::Apt(info.apt_packages.iter().map(|p| p.to_string()).collect());
        if let Some(linker) = info.linker
            && !facts.programs.contains(linker)
        {
            problems.push(Problem {
                what: format!("linker {linker} for {} is not on PATH", info.triple),
                fix: apt(),
            });
        }
        if let Some(sysroot) = info.sysroot
            && !facts.sysroots.contains(sysroot)
        {
            problems.push(Problem {
                what: format!("the C library of {} ({sysroot}) is missing", info.triple),
                fix: apt(),
            });
        }
        if scope == Scope::BuildAndRun
            && let Runner::Emulated { command, emulator } = &info.runner
        {
            if !facts.programs.contains(&command[0]) {
                problems.push(Problem {
                    what: format!("runner {} for {} is not on PATH", command[0], info.triple),
                    fix: apt(),
                });
            } else if *emulator == Emulator::Wine && !facts.wine_prng {
                problems.push(Problem {
                    what: format!(
                        "{}: wine 8 lacks ProcessPrng (bcryptprimitives.dll), so Rust >= 1.78 \
                         Windows binaries cannot start",
                        info.triple
                    ),
                    fix: Fix::WinePrng,
                });
            }
        }
    }
    problems
}

/// Observes the facts [`problems`] needs for `targets`.
pub fn probe(sh: &Shell, targets: &[Target], root: &Path) -> anyhow::Result<Facts> {
    let host = crate::context::host_triple(sh)?;
    let mut programs = BTreeSet::new();
    for info in targets {
        let runner = match &info.runner {
            Runner::Emulated { command, .. } => command.first().map(String::as_str),
            _ => None,
        };
        for program in info.linker.into_iter().chain(runner) {
            if on_path(program) {
                programs.insert(program.to_owned());
            }
        }
    }
    Ok(Facts {
        rust_targets: targets
            .iter()
            .filter(|info| target_installed(sh, &info.triple))
            .map(|info| info.triple.to_string())
            .collect(),
        programs,
        sysroots: targets
            .iter()
            .filter_map(|info| info.sysroot)
            .filter(|sysroot| Path::new(sysroot).join("lib").is_dir())
            .map(str::to_owned)
            .collect(),
        wine_prng: wine_prng_dll(&wine_prefix(root)).is_file(),
        host,
    })
}

/// The build-side checks `dist` runs before building.
pub fn build_problems(sh: &Shell, targets: &[Target], root: &Path) -> anyhow::Result<Vec<Problem>> {
    Ok(problems(targets, &probe(sh, targets, root)?, Scope::Build))
}

/// At most this many rounds of fixes; each round can only uncover what the last one installed.
const MAX_ROUNDS: usize = 5;

/// What happened to one round's problems.
#[derive(Debug, PartialEq, Eq)]
pub enum Round {
    Done,
    /// Apply these fixes, then look again.
    Fix(Vec<Problem>),
    /// The last round's fixes changed nothing: these remain.
    Stuck(Vec<Problem>),
}

/// The decision of one round, from this round's problems and the previous round's.
pub fn next_round(current: Vec<Problem>, previous: Option<&[Problem]>) -> Round {
    if current.is_empty() {
        Round::Done
    } else if previous == Some(current.as_slice())
        || current.iter().all(|p| matches!(p.fix, Fix::Manual(_)))
    {
        Round::Stuck(current)
    } else {
        Round::Fix(current)
    }
}

/// Probes and fixes until nothing is missing; returns what could not be fixed.
pub fn converge(
    sh: &Shell,
    targets: &[Target],
    root: &Path,
    scope: Scope,
) -> anyhow::Result<Vec<Problem>> {
    let mut previous: Option<Vec<Problem>> = None;
    for round in 1..=MAX_ROUNDS {
        let current = problems(targets, &probe(sh, targets, root)?, scope);
        match next_round(current, previous.as_deref()) {
            Round::Done => return Ok(Vec::new()),
            Round::Stuck(left) => return Ok(left),
            Round::Fix(todo) => {
                eprintln!("doctor: round {round}: fixing {} problem(s)", todo.len());
                apply(sh, &todo, root)?;
                previous = Some(todo);
            }
        }
    }
    Ok(problems(targets, &probe(sh, targets, root)?, scope))
}

impl flags::Doctor {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let workspace = crate::workspace::Workspace::load(sh)?;
        let host = crate::context::host_triple(sh)?;
        let requested = if self.targets.is_empty() {
            vec!["all".to_owned()]
        } else {
            self.targets.clone()
        };
        let triples = crate::dist::resolve_targets(&requested, &workspace.config, &host)?;
        let infos: Vec<Target> = triples.iter().map(|t| Target::new(t, &host)).collect();
        check_rust_version(sh, &workspace)?;
        let root = &workspace.root;
        let left = if self.fix {
            converge(sh, &infos, root, Scope::BuildAndRun)?
        } else {
            problems(&infos, &probe(sh, &infos, root)?, Scope::BuildAndRun)
        };
        for info in &infos {
            let missing = left.iter().any(|p| p.what.contains(info.triple.as_str()));
            eprintln!("  {} {}", if missing { "✗" } else { "✓" }, info.triple);
        }
        if left.is_empty() {
            let names: Vec<&str> = triples.iter().map(Triple::as_str).collect();
            eprintln!("doctor: ready to dist {}", names.join(", "));
            return Ok(());
        }
        if self.fix {
            bail!(
                "doctor could not fix {} problem(s):\n{}",
                left.len(),
                describe(&left)
            )
        }
        bail!(
            "doctor found {} problem(s):\n{}\nrun `cargo xtask doctor --fix` to install them",
            left.len(),
            describe(&left)
        )
    }
}

fn check_rust_version(sh: &Shell, workspace: &crate::workspace::Workspace) -> anyhow::Result<()> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = cmd!(sh, "{rustc} --version")
        .quiet()
        .read()
        .context("rustc is not installed: see https://rustup.rs")?;
    let current = version
        .split_whitespace()
        .nth(1)
        .and_then(|v| semver::Version::parse(v).ok())
        .context("cannot parse `rustc --version`")?;
    if let Some(required) = workspace.shipped_package()?.rust_version.as_ref()
        && current < *required
    {
        bail!(
            "rustc {current} is older than the workspace's rust-version {required}: run `rustup update`"
        );
    }
    eprintln!("  ✓ rustc {current}");
    Ok(())
}

/// Runs one round's fixes: all apt packages in one `apt-get install`, then the rest.
fn apply(sh: &Shell, problems: &[Problem], root: &Path) -> anyhow::Result<()> {
    let mut apt: Vec<String> = problems
        .iter()
        .filter_map(|p| match &p.fix {
            Fix::Apt(packages) => Some(packages.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    apt.sort();
    apt.dedup();
    apt_install(sh, &apt)?;
    let mut done = BTreeSet::new();
    for problem in problems {
        if !done.insert(problem.fix.clone()) {
            continue;
        }
        match &problem.fix {
            Fix::RustupTarget(target) => cmd!(sh, "rustup target add {target}")
                .run()
                .with_context(|| format!("`rustup target add {target}` failed"))?,
            Fix::WinePrng => install_wine_prng(sh, root)?,
            Fix::Manual(_) | Fix::Apt(_) => {}
        }
    }
    Ok(())
}

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| {
        let candidate = dir.join(program);
        candidate.is_file() || candidate.with_extension("exe").is_file()
    })
}

fn target_installed(sh: &Shell, triple: &Triple) -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let Ok(libdir) = cmd!(sh, "{rustc} --print target-libdir --target {triple}")
        .quiet()
        .ignore_stderr()
        .read()
    else {
        return false;
    };
    std::fs::read_dir(libdir.trim()).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
    })
}

/// Installs Debian packages: directly as root, through `sudo -n` otherwise (CI runners).
pub fn apt_install(sh: &Shell, packages: &[String]) -> anyhow::Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    if !on_path("apt-get") {
        bail!(
            "apt-get is not available: install {} with your package manager",
            packages.join(" ")
        );
    }
    let is_root = cmd!(sh, "id -u")
        .quiet()
        .read()
        .is_ok_and(|id| id.trim() == "0");
    let (program, prefix): (&str, Vec<&str>) = if is_root {
        ("apt-get", vec![])
    } else if cmd!(sh, "sudo -n true")
        .quiet()
        .ignore_stderr()
        .run()
        .is_ok()
    {
        (
            "sudo",
            vec!["-n", "DEBIAN_FRONTEND=noninteractive", "apt-get"],
        )
    } else {
        bail!(
            "installing packages needs root: run `sudo apt-get install -y {}`",
            packages.join(" ")
        );
    };
    let update_prefix = prefix.clone();
    cmd!(sh, "{program} {update_prefix...} update -qq")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()
        .context("`apt-get update` failed: check the network and /etc/apt/sources.list")?;
    cmd!(
        sh,
        "{program} {prefix...} install -y -qq --no-install-recommends {packages...}"
    )
    .env("DEBIAN_FRONTEND", "noninteractive")
    .run()
    .with_context(|| format!("`apt-get install {}` failed", packages.join(" ")))?;
    Ok(())
}

/// The wine prefix smoke runs and `cargo test --target *-windows-gnu` use.
pub fn wine_prefix(root: &Path) -> PathBuf {
    std::env::var_os("WINEPREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/wine-prefix"))
}

fn wine_prng_dll(prefix: &Path) -> PathBuf {
    prefix.join("drive_c/windows/system32/bcryptprimitives.dll")
}

/// Debian 12's wine 8 has no `ProcessPrng`; a two-line DLL forwarding it to `RtlGenRandom`
/// (SystemFunction036) lets Rust >= 1.78 binaries start (rust-lang/rust#121337).
pub const PROCESS_PRNG_C: &str = r#"#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    return SystemFunction036(data, (ULONG)length);
}
"#;

fn install_wine_prng(sh: &Shell, root: &Path) -> anyhow::Result<()> {
    let prefix = wine_prefix(root);
    std::fs::create_dir_all(prefix.parent().context("wine prefix has no parent")?)?;
    if !prefix.join("drive_c/windows/system32").is_dir() {
        cmd!(sh, "wineboot --init")
            .env("WINEPREFIX", &prefix)
            .env("WINEDEBUG", "-all")
            // No Mono or Gecko installer prompts: the smoke runs need neither.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .quiet()
            .ignore_stderr()
            .run()
            .context(
                "`wineboot --init` failed: is wine installed (apt-get install wine wine64)?",
            )?;
    }
    let work = crate::util::tempdir("wine-prng")?;
    let source = work.join("prng.c");
    std::fs::write(&source, PROCESS_PRNG_C)?;
    let dll = work.join("bcryptprimitives.dll");
    cmd!(
        sh,
        "x86_64-w64-mingw32-gcc -shared -O2 -o {dll} {source} -ladvapi32"
    )
    .run()
    .context("cannot compile the ProcessPrng shim: is gcc-mingw-w64-x86-64 installed?")?;
    std::fs::copy(&dll, wine_prng_dll(&prefix))
        .context("cannot install bcryptprimitives.dll into the wine prefix")?;
    std::fs::remove_dir_all(&work)?;
    eprintln!(
        "doctor: installed ProcessPrng shim into {}",
        prefix.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "x86_64-unknown-linux-gnu";
    const RELEASE: [&str; 4] = [
        "x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-gnu",
        "x86_64-pc-windows-gnu",
    ];

    fn triple(text: &str) -> Triple {
        Triple::parse(text).unwrap()
    }

    fn infos(triples: &[&str]) -> Vec<Target> {
        triples
            .iter()
            .map(|t| Target::new(&triple(t), &triple(HOST)))
            .collect()
    }

    /// A fresh Debian 12 machine: rustup's stable toolchain for the host, nothing else.
    fn fresh() -> Facts {
        Facts {
            host: triple(HOST),
            rust_targets: [HOST.to_owned()].into(),
            programs: BTreeSet::new(),
            sysroots: BTreeSet::new(),
            wine_prng: false,
        }
    }

    /// What running a fix does to the machine, as far as the facts go. A package installs the
    /// programs and files it ships; the shim only installs where wine and mingw are present.
    fn simulate(facts: &mut Facts, fix: &Fix) {
        match fix {
            Fix::RustupTarget(t) => {
                facts.rust_targets.insert(t.clone());
            }
            Fix::Apt(packages) => {
                for package in packages {
                    let programs: &[&str] = match package.as_str() {
                        "gcc-aarch64-linux-gnu" => &["aarch64-linux-gnu-gcc"],
                        "qemu-user" => &["qemu-aarch64"],
                        "gcc-mingw-w64-x86-64" => &["x86_64-w64-mingw32-gcc"],
                        "wine" => &["wine"],
                        _ => &[],
                    };
                    facts
                        .programs
                        .extend(programs.iter().map(|p| p.to_string()));
                    if package == "libc6-dev-arm64-cross" {
                        facts
                            .sysroots
                            .insert(crate::targets::QEMU_AARCH64_SYSROOT.into());
                    }
                }
            }
            Fix::WinePrng => {
                if facts.programs.contains("wine")
                    && facts.programs.contains("x86_64-w64-mingw32-gcc")
                {
                    facts.wine_prng = true;
                }
            }
            Fix::Manual(_) => {}
        }
    }

    /// Runs the convergence loop over simulated facts; returns the rounds it took and what is left.
    fn converge_simulated(targets: &[Target], mut facts: Facts) -> (usize, Round) {
        let mut previous: Option<Vec<Problem>> = None;
        for round in 1..=MAX_ROUNDS {
            match next_round(
                problems(targets, &facts, Scope::BuildAndRun),
                previous.as_deref(),
            ) {
                Round::Fix(todo) => {
                    for p in &todo {
                        simulate(&mut facts, &p.fix);
                    }
                    previous = Some(todo);
                }
                end => return (round, end),
            }
        }
        panic!("did not converge in {MAX_ROUNDS} rounds");
    }

    #[test]
    fn nothing_installed_converges_to_everything_installed() {
        let targets = infos(&RELEASE);
        let first = problems(&targets, &fresh(), Scope::BuildAndRun);
        // The shim problem cannot be seen before wine exists: that is why one pass was not enough.
        assert!(!first.iter().any(|p| p.fix == Fix::WinePrng), "{first:?}");
        assert!(
            first
                .iter()
                .any(|p| p.fix == Fix::RustupTarget(RELEASE[1].into()))
        );
        let (rounds, end) = converge_simulated(&targets, fresh());
        assert_eq!(end, Round::Done);
        assert_eq!(rounds, 3, "apt + rustup, then the wine shim, then nothing");
    }

    #[test]
    fn a_wine_without_the_shim_needs_one_round() {
        let mut facts = fresh();
        facts.rust_targets.insert(RELEASE[3].into());
        facts.programs = ["wine", "x86_64-w64-mingw32-gcc"].map(String::from).into();
        let targets = infos(&RELEASE[3..]);
        assert_eq!(
            problems(&targets, &facts, Scope::BuildAndRun)
                .iter()
                .map(|p| &p.fix)
                .collect::<Vec<_>>(),
            [&Fix::WinePrng]
        );
        assert!(problems(&targets, &facts, Scope::Build).is_empty());
        assert_eq!(converge_simulated(&targets, facts), (2, Round::Done));
    }

    #[test]
    fn a_fix_that_changes_nothing_stops_and_names_what_is_left() {
        // apt "succeeds" but the shim cannot be built: mingw is missing from the package list.
        let mut facts = fresh();
        facts.rust_targets.insert(RELEASE[3].into());
        facts.programs.insert("wine".into());
        let mut targets = infos(&RELEASE[3..]);
        targets[0].apt_packages = vec!["wine"];
        let (rounds, end) = converge_simulated(&targets, facts);
        let Round::Stuck(left) = end else {
            panic!("expected to be stuck, got {end:?}")
        };
        assert_eq!(rounds, 2);
        assert!(
            describe(&left).contains("linker x86_64-w64-mingw32-gcc"),
            "{left:?}"
        );
    }

    #[test]
    fn foreign_platforms_are_named_with_their_runner_and_never_retried() {
        let targets = infos(&["aarch64-apple-darwin", "x86_64-pc-windows-msvc"]);
        let found = problems(&targets, &fresh(), Scope::Build);
        assert_eq!(found.len(), 2);
        assert!(describe(&found).contains("build it on a macos-14 runner"));
        assert!(describe(&found).contains("build it on a windows-2022 runner"));
        assert_eq!(converge_simulated(&targets, fresh()).0, 1);
    }

    #[test]
    fn everything_installed_is_done_at_once() {
        let mut facts = fresh();
        let targets = infos(&RELEASE);
        for _ in 0..3 {
            for p in problems(&targets, &facts, Scope::BuildAndRun) {
                simulate(&mut facts, &p.fix);
            }
        }
        assert!(problems(&targets, &facts, Scope::BuildAndRun).is_empty());
        assert_eq!(converge_simulated(&targets, facts), (1, Round::Done));
    }
}
