//! The jimini release tooling, as a library so that benchmarks and tests can call the stages.
//!
//! Each command is a module with a pure `plan` step (unit-tested) and an `execute`/`run` step
//! that does the I/O. See ARCHITECTURE.md for the map.

pub mod changelog;
pub mod ci;
pub mod context;
pub mod dist;
pub mod docker;
pub mod doctor;
pub mod errors;
pub mod flags;
pub mod git;
pub mod http;
pub mod keygen;
pub mod keys;
pub mod pins;
pub mod plan;
pub mod progress;
pub mod publish;
pub mod rebuild;
pub mod release;
pub mod secrets;
pub mod signing;
pub mod smoke;
pub mod stdout;
pub mod targets;
pub mod tools;
pub mod util;
pub mod verify;
pub mod version;
pub mod workspace;

use anyhow::Context;

/// A shell rooted at the workspace that `cargo xtask` was invoked in.
pub fn shell() -> anyhow::Result<xshell::Shell> {
    let sh = xshell::Shell::new()?;
    let root = workspace::locate_root(&sh)?;
    sh.change_dir(&root);
    Ok(sh)
}

/// [`shell`], or outside a workspace a shell in the current directory (for `verify`, which a
/// user who downloaded a release runs without a checkout).
pub fn shell_anywhere() -> anyhow::Result<xshell::Shell> {
    let sh = xshell::Shell::new()?;
    if let Some(root) = workspace::try_locate_root(&sh) {
        sh.change_dir(&root);
    }
    Ok(sh)
}

/// The `cargo` that runs us (`$CARGO`), so a toolchain override is honoured.
pub fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers never see half.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("xtask-tmp");
    fs_err::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs_err::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}
