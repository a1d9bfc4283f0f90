//! `cargo xtask doctor`: is this machine ready to dist the configured targets? Each missing
//! piece is named with the exact command that installs it; `--fix` runs those commands.
//! `dist` runs the same checks first, so it fails fast instead of deep inside cargo.
//! Also home of the smoke runs, which use the same runners.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::dist::TargetPlan;
use crate::dist::manifest::{ArtifactKind, Manifest};
use crate::flags;
use crate::progress::Progress;
use crate::targets::{self, Runner, TargetInfo};

/// One missing piece and how to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    pub fix: Fix,
}

#[derive(Debug, Clone, PartialEq, Eq)]
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

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| {
        let candidate = dir.join(program);
        candidate.is_file() || candidate.with_extension("exe").is_file()
    })
}

fn target_installed(sh: &Shell, triple: &str) -> bool {
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

/// The wine prefix smoke runs and `cargo test --target *-windows-gnu` use.
pub fn wine_prefix(root: &Path) -> PathBuf {
    std::env::var_os("WINEPREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/wine-prefix"))
}

fn wine_prng_dll(prefix: &Path) -> PathBuf {
    prefix.join("drive_c/windows/system32/bcryptprimitives.dll")
}

/// What is missing to build `targets` (and, with `runners`, to run their binaries here).
pub fn problems_for(
    sh: &Shell,
    targets: &[TargetInfo],
    runners: bool,
) -> anyhow::Result<Vec<Problem>> {
    let mut problems = Vec::new();
    let host = crate::plan::host_triple(sh)?;
    for info in targets {
        // Apple and MSVC targets need their own SDKs: only a machine of that platform builds them.
        let needs_apple_host = info.triple.contains("-apple-") && !host.contains("-apple-");
        let needs_windows_host = info.triple.ends_with("-msvc") && !host.contains("-windows-");
        let buildable_here = !needs_apple_host && !needs_windows_host;
        if !buildable_here {
            problems.push(Problem {
                what: format!("{} cannot be built on this {host} machine", info.triple),
                fix: Fix::Manual(format!(
                    "build it on a {} runner: `cargo xtask dist --target {} --partial` (see `cargo xtask plan`)",
                    info.github_runner, info.triple
                )),
            });
            continue;
        }
        if !target_installed(sh, &info.triple) {
            problems.push(Problem {
                what: format!(
                    "the Rust standard library for {} is not installed",
                    info.triple
                ),
                fix: Fix::RustupTarget(info.triple.clone()),
            });
        }
        let apt = || Fix::Apt(info.apt_packages.iter().map(|p| p.to_string()).collect());
        if let Some(linker) = info.linker
            && !on_path(linker)
        {
            problems.push(Problem {
                what: format!("linker {linker} for {} is not on PATH", info.triple),
                fix: apt(),
            });
        }
        if info.triple == "aarch64-unknown-linux-gnu"
            && !Path::new(targets::QEMU_AARCH64_SYSROOT)
                .join("lib")
                .is_dir()
        {
            problems.push(Problem {
                what: format!(
                    "the aarch64 C library ({}) is missing",
                    targets::QEMU_AARCH64_SYSROOT
                ),
                fix: apt(),
            });
        }
        if runners && let Runner::Emulated { command } = &info.runner {
            if !on_path(&command[0]) {
                problems.push(Problem {
                    what: format!("runner {} for {} is not on PATH", command[0], info.triple),
                    fix: apt(),
                });
            } else if command[0] == "wine"
                && !wine_prng_dll(&wine_prefix(sh.current_dir().as_path())).is_file()
            {
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
    Ok(problems)
}

/// The build-side checks `dist` runs before building.
pub fn target_problems(sh: &Shell, targets: &[TargetInfo]) -> anyhow::Result<Vec<Problem>> {
    problems_for(sh, targets, false)
}

impl flags::Doctor {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let workspace = crate::workspace::Workspace::load(sh)?;
        let host = crate::plan::host_triple(sh)?;
        let requested = if self.targets.is_empty() {
            vec!["all".to_owned()]
        } else {
            self.targets.clone()
        };
        let triples = crate::dist::resolve_targets(&requested, &workspace.config, &host)?;
        let infos: Vec<TargetInfo> = triples.iter().map(|t| targets::info(t, &host)).collect();
        check_rust_version(sh, &workspace)?;
        let mut problems = problems_for(sh, &infos, true)?;
        if self.fix && !problems.is_empty() {
            fix(sh, &problems, &workspace.root)?;
            problems = problems_for(sh, &infos, true)?;
        }
        for info in &infos {
            let missing = problems.iter().any(|p| p.what.contains(&info.triple));
            eprintln!("  {} {}", if missing { "✗" } else { "✓" }, info.triple);
        }
        if problems.is_empty() {
            eprintln!("doctor: ready to dist {}", triples.join(", "));
            Ok(())
        } else {
            bail!(
                "doctor found {} problem(s):\n{}{}",
                problems.len(),
                describe(&problems),
                if self.fix {
                    ""
                } else {
                    "\nrun `cargo xtask doctor --fix` to install them"
                }
            )
        }
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

fn fix(sh: &Shell, problems: &[Problem], root: &Path) -> anyhow::Result<()> {
    let mut apt: Vec<String> = problems
        .iter()
        .filter_map(|p| {
            if let Fix::Apt(packages) = &p.fix {
                Some(packages.clone())
            } else {
                None
            }
        })
        .flatten()
        .collect();
    apt.sort();
    apt.dedup();
    apt_install(sh, &apt)?;
    for problem in problems {
        match &problem.fix {
            Fix::RustupTarget(target) => cmd!(sh, "rustup target add {target}").run()?,
            Fix::WinePrng => install_wine_prng(sh, root)?,
            Fix::Manual(text) => {
                eprintln!("doctor: cannot fix automatically: {}: {text}", problem.what)
            }
            Fix::Apt(_) => {}
        }
    }
    Ok(())
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
        .run()?;
    cmd!(
        sh,
        "{program} {prefix...} install -y -qq --no-install-recommends {packages...}"
    )
    .env("DEBIAN_FRONTEND", "noninteractive")
    .run()
    .context("apt-get install failed")?;
    Ok(())
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
            .quiet()
            .ignore_stderr()
            .run()
            .context(
                "`wineboot --init` failed: is wine installed (apt-get install wine wine64)?",
            )?;
    }
    let work = tempdir("wine-prng")?;
    let source = work.join("prng.c");
    std::fs::write(&source, PROCESS_PRNG_C)?;
    let dll = work.join("bcryptprimitives.dll");
    cmd!(
        sh,
        "x86_64-w64-mingw32-gcc -shared -O2 -o {dll} {source} -ladvapi32"
    )
    .run()?;
    std::fs::copy(&dll, wine_prng_dll(&prefix))
        .context("cannot install bcryptprimitives.dll into the wine prefix")?;
    std::fs::remove_dir_all(&work)?;
    eprintln!(
        "doctor: installed ProcessPrng shim into {}",
        prefix.display()
    );
    Ok(())
}

pub fn tempdir(label: &str) -> anyhow::Result<PathBuf> {
    let dir =
        std::env::temp_dir().join(format!("xtask-{label}-{}-{}", std::process::id(), nanos()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A sample run of the shipped CLI: it must block a US SSN with exit code 3.
const SMOKE_BINARY: &str = "jimini";
const SMOKE_ARGS: [&str; 2] = ["check", "my ssn is 123-45-6789"];
const SMOKE_EXIT: i32 = 3;
const SMOKE_STDOUT: &str = "decision: block";

/// Extracts every archive of `dir` and runs its binaries through the target's runner.
pub fn smoke(
    dir: &Path,
    manifest: &Manifest,
    targets: &[TargetPlan],
    progress: &Progress,
    root: &Path,
) -> anyhow::Result<()> {
    for artifact in manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Archive)
    {
        let Some(target) = targets
            .iter()
            .find(|t| Some(&t.info.triple) == artifact.target.as_ref())
        else {
            continue;
        };
        let prefix: Vec<String> = match &target.info.runner {
            Runner::Native => vec![],
            Runner::Emulated { command } => command.clone(),
            Runner::Unavailable => {
                progress.note(format!(
                    "{}: no runner on this machine, smoke run skipped",
                    target.info.triple
                ));
                continue;
            }
        };
        let work = tempdir("smoke")?;
        extract(&dir.join(&artifact.name), &work)?;
        let top = work.join(artifact.top_dir.as_deref().unwrap_or_default());
        for binary in &artifact.binaries {
            let name = binary.trim_end_matches(target.info.exe_suffix);
            let output = run_binary(&prefix, &top.join(binary), &["--version"], root)?;
            let expected = format!("{name} {} (", manifest.version);
            if !output.0.starts_with(&expected) {
                bail!(
                    "smoke: {binary} for {} printed {:?} for --version, expected it to start with {expected:?}",
                    target.info.triple,
                    output.0
                );
            }
            progress.note(format!("{}: {}", target.info.triple, output.0.trim()));
            if name == SMOKE_BINARY {
                let (stdout, code) = run_binary(&prefix, &top.join(binary), &SMOKE_ARGS, root)?;
                if code != Some(SMOKE_EXIT) || !stdout.starts_with(SMOKE_STDOUT) {
                    bail!(
                        "smoke: `{binary} check` on {} gave exit {code:?} and {stdout:?}; expected {SMOKE_EXIT} and {SMOKE_STDOUT:?}",
                        target.info.triple
                    );
                }
            }
        }
        std::fs::remove_dir_all(&work)?;
    }
    Ok(())
}

fn run_binary(
    prefix: &[String],
    binary: &Path,
    args: &[&str],
    root: &Path,
) -> anyhow::Result<(String, Option<i32>)> {
    let mut command = match prefix.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    command.args(args);
    if prefix.first().is_some_and(|p| p == "wine") {
        command
            .env("WINEPREFIX", wine_prefix(root))
            .env("WINEDEBUG", "-all");
    }
    let output = command
        .output()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    Ok((
        String::from_utf8_lossy(&output.stdout).into_owned(),
        output.status.code(),
    ))
}

/// Unpacks a verified archive (tar.gz or zip) into `into`.
pub fn extract(archive: &Path, into: &Path) -> anyhow::Result<()> {
    let file = std::fs::File::open(archive)
        .with_context(|| format!("cannot open {}", archive.display()))?;
    if archive.extension().is_some_and(|e| e == "zip") {
        zip::ZipArchive::new(file)?.extract(into)?;
    } else {
        tar::Archive::new(flate2::read::GzDecoder::new(file)).unpack(into)?;
    }
    Ok(())
}
