//! Fixing what doctor found: rustup targets, Debian packages (as root or through `sudo -n`),
//! and the ProcessPrng shim that wine 8 needs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use super::probe::on_path;
use super::{Fix, Problem};

/// Runs one round's fixes: all apt packages in one `apt-get install`, then the rest.
pub(super) fn apply(sh: &Shell, problems: &[Problem], root: &Path) -> anyhow::Result<()> {
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
            Fix::CargoInstall(tool) => {
                tool.install(sh, &root.join("target"))?;
            }
            Fix::ZigInstall(tool) => tool.install(sh, &root.join("target"))?,
            Fix::Manual(_) | Fix::Apt(_) => {}
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

/// The wine prefix smoke runs and `cargo test --target *-windows-gnu` use: `WINEPREFIX` as
/// `sh` sees it (.cargo/config.toml sets `target/wine-prefix` for what cargo runs; `ci` keeps
/// its own in the tools cache), else `target/wine-prefix`.
pub fn wine_prefix(sh: &Shell, root: &Path) -> PathBuf {
    sh.var_os("WINEPREFIX")
        .filter(|prefix| !prefix.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/wine-prefix"))
}

pub(super) fn wine_prng_dll(prefix: &Path) -> PathBuf {
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
    let prefix = wine_prefix(sh, root);
    fs_err::create_dir_all(prefix.parent().context("wine prefix has no parent")?)?;
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
        // wineboot returns while its wineserver still writes the new prefix; a program started
        // in that window printed nothing (seen on a fresh machine). Wait until it is done.
        cmd!(sh, "wineserver -w")
            .env("WINEPREFIX", &prefix)
            .quiet()
            .run()
            .context("`wineserver -w` failed: is wine installed (apt-get install wine wine64)?")?;
    }
    // The shim's source and build are removed however the build ends.
    crate::util::in_tempdir("wine-prng", |work| {
        let source = work.join("prng.c");
        fs_err::write(&source, PROCESS_PRNG_C)?;
        let dll = work.join("bcryptprimitives.dll");
        cmd!(
            sh,
            "x86_64-w64-mingw32-gcc -shared -O2 -o {dll} {source} -ladvapi32"
        )
        .run()
        .context("cannot compile the ProcessPrng shim: is gcc-mingw-w64-x86-64 installed?")?;
        fs_err::copy(&dll, wine_prng_dll(&prefix))
            .context("cannot install bcryptprimitives.dll into the wine prefix")?;
        Ok(())
    })?;
    eprintln!(
        "doctor: installed ProcessPrng shim into {}",
        prefix.display()
    );
    Ok(())
}
