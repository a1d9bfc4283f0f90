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

mod fix;
mod probe;

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

pub use fix::{PROCESS_PRNG_C, apt_install, wine_prefix};
pub use probe::{on_path, probe};

use crate::flags;
use crate::targets::{Emulator, Runner, Target, Triple};

/// One missing piece, the targets it keeps from building or running, and how to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    pub fix: Fix,
    /// The targets this problem blocks: a target's mark reads this, never the text.
    pub blocks: Vec<Triple>,
}

impl Problem {
    pub fn blocks(&self, target: &Triple) -> bool {
        self.blocks.contains(target)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fix {
    RustupTarget(String),
    /// `cargo install --locked` of a pinned tool into its own directory.
    CargoInstall(crate::tools::CargoTool),
    /// The pinned zig and cargo-zigbuild wheels, downloaded and unpacked.
    ZigInstall(crate::tools::ZigToolchain),
    Apt(Vec<String>),
    WinePrng,
    Manual(String),
}

impl Fix {
    /// The Debian packages that give this host what `target` needs.
    fn apt_for(target: &Target) -> Fix {
        Fix::Apt(target.apt_packages.iter().map(|p| p.to_string()).collect())
    }

    pub fn command(&self) -> String {
        match self {
            Fix::RustupTarget(target) => format!("rustup target add {target}"),
            Fix::CargoInstall(tool) => format!(
                "cargo install --locked --version {}{} {} (into {})",
                tool.version,
                match tool.features {
                    [] => String::new(),
                    features => format!(" --no-default-features --features {}", features.join(",")),
                },
                tool.name,
                tool.root(Path::new("target")).display()
            ),
            Fix::ZigInstall(tool) => format!(
                "cargo xtask doctor --fix (downloads {} from PyPI into {})",
                tool.describe(),
                tool.root(Path::new("target")).display()
            ),
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
    /// The pinned cargo-auditable, which every dist build runs through, is installed.
    pub cargo_auditable: bool,
    /// The pinned zig and cargo-zigbuild are installed.
    pub zig: bool,
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
    let through_zig: Vec<Triple> = targets
        .iter()
        .filter(|t| t.links_through_zig())
        .map(|t| t.triple.clone())
        .collect();
    if !through_zig.is_empty() && !facts.zig {
        let tool = crate::pins::ZIG;
        problems.push(Problem {
            what: format!(
                "{} (link the gnu targets against the configured glibc floor, and the macOS \
                 targets) are not installed",
                tool.describe()
            ),
            fix: Fix::ZigInstall(tool),
            blocks: through_zig,
        });
    }
    if !facts.cargo_auditable {
        let tool = crate::pins::CARGO_AUDITABLE;
        problems.push(Problem {
            what: format!(
                "{} {} (embeds the dependency list in every binary) is not installed",
                tool.name, tool.version
            ),
            fix: Fix::CargoInstall(tool),
            blocks: targets.iter().map(|t| t.triple.clone()).collect(),
        });
    }
    for info in targets {
        if !info.buildable_on(host) {
            problems.push(Problem {
                what: format!("{} cannot be built on this {host} machine", info.triple),
                fix: Fix::Manual(format!(
                    "build it on a {} runner: `cargo xtask dist --target {} --partial` (see `cargo xtask plan`)",
                    info.github_runner, info.triple
                )),
                blocks: vec![info.triple.clone()],
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
                blocks: vec![info.triple.clone()],
            });
        }
        let apt = || Fix::apt_for(info);
        if let Some(linker) = info.linker()
            && !facts.programs.contains(linker)
        {
            problems.push(Problem {
                what: format!("linker {linker} for {} is not on PATH", info.triple),
                fix: apt(),
                blocks: vec![info.triple.clone()],
            });
        }
        // A cross gcc links against the sysroot; zig brings its own glibc stubs, and then
        // only qemu needs the sysroot, to run the binaries.
        let sysroot_needed = scope == Scope::BuildAndRun || !info.links_through_zig();
        if let Some(sysroot) = info.sysroot.filter(|_| sysroot_needed)
            && !facts.sysroots.contains(sysroot)
        {
            problems.push(Problem {
                what: format!("the C library of {} ({sysroot}) is missing", info.triple),
                fix: apt(),
                blocks: vec![info.triple.clone()],
            });
        }
        if scope == Scope::BuildAndRun {
            problems.extend(runner_problem(info, facts));
        }
    }
    problems
}

/// What keeps this machine from running the target's binaries, if anything.
fn runner_problem(info: &Target, facts: &Facts) -> Option<Problem> {
    let Runner::Emulated { command, emulator } = &info.runner else {
        return None;
    };
    if !facts.programs.contains(&command[0]) {
        return Some(Problem {
            what: format!("runner {} for {} is not on PATH", command[0], info.triple),
            fix: Fix::apt_for(info),
            blocks: vec![info.triple.clone()],
        });
    }
    (*emulator == Emulator::Wine && !facts.wine_prng).then(|| Problem {
        what: format!(
            "{}: wine 8 lacks ProcessPrng (bcryptprimitives.dll), so Rust >= 1.78 Windows \
             binaries cannot start",
            info.triple
        ),
        fix: Fix::WinePrng,
        blocks: vec![info.triple.clone()],
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
                fix::apply(sh, &todo, root)?;
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
        let infos = crate::targets::resolve(&requested, &workspace.config, &host)?;
        check_rust_version(sh, &workspace)?;
        let root = &workspace.root;
        let scope = Scope::BuildAndRun;
        let left = if self.fix {
            converge(sh, &infos, root, scope)?
        } else {
            problems(&infos, &probe(sh, &infos, root)?, scope)
        };
        if self.json {
            let report = serde_json::json!({
                "ok": left.is_empty(),
                "targets": infos.iter().map(|t| &t.triple).collect::<Vec<_>>(),
                "problems": left
                    .iter()
                    .map(|p| serde_json::json!({"what": p.what, "fix": p.fix.command()}))
                    .collect::<Vec<_>>(),
            });
            crate::outln!("{}", serde_json::to_string_pretty(&report)?)?;
        }
        for line in target_marks(&infos, &left) {
            eprintln!("{line}");
        }
        if left.is_empty() {
            let names: Vec<&str> = infos.iter().map(|t| t.triple.as_str()).collect();
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

/// One line per target: ✓, or ✗ with what blocks it (the problems that name it in `blocks`).
pub fn target_marks(targets: &[Target], problems: &[Problem]) -> Vec<String> {
    targets
        .iter()
        .map(|target| {
            let blocking: Vec<&str> = problems
                .iter()
                .filter(|p| p.blocks(&target.triple))
                .map(|p| p.what.as_str())
                .collect();
            if blocking.is_empty() {
                format!("  ✓ {}", target.triple)
            } else {
                format!("  ✗ {}: {}", target.triple, blocking.join("; "))
            }
        })
        .collect()
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

#[cfg(test)]
mod tests;
