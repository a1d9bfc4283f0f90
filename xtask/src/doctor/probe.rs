//! Observing the machine: which Rust targets, programs and files exist.

use std::collections::BTreeSet;
use std::path::Path;

use xshell::{Shell, cmd};

use super::Facts;
use super::fix::{wine_prefix, wine_prng_dll};
use crate::targets::{Runner, Target, Triple};

/// Observes the facts [`problems`] needs for `targets`.
pub fn probe(sh: &Shell, targets: &[Target], root: &Path) -> anyhow::Result<Facts> {
    let host = crate::context::host_triple(sh)?;
    let mut programs = BTreeSet::new();
    for info in targets {
        let runner = match &info.runner {
            Runner::Emulated { command, .. } => command.first().map(String::as_str),
            _ => None,
        };
        for program in info.linker().into_iter().chain(runner) {
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
        wine_prng: wine_prng_dll(&wine_prefix(sh, root)).is_file(),
        cargo_auditable: crate::pins::CARGO_AUDITABLE.is_installed(&root.join("target")),
        zig: crate::pins::ZIG.is_installed(&root.join("target")),
        host,
    })
}

pub fn on_path(program: &str) -> bool {
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
    fs_err::read_dir(libdir.trim()).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
    })
}
