//! `cargo xtask dist`: build the shipped package for each target and package it.
//!
//! Steps: plan (pure, [`plan`]) → preflight → the planned cargo builds → per target the
//! archive, SBOM and `.deb` → seal (provenance, manifest, `SHA256SUMS`, signature, `verify`)
//! → atomic swap into the output directory. [`execute`] lists them in order.
//!
//! **Architecture Invariant:** output is assembled in a staging directory beside the output
//! directory and swapped in with one rename, only after `verify` passed; a killed run leaves
//! the previous output complete, and the next run removes its leftovers. A lock file beside
//! the output directory keeps two runs from interleaving.
//!
//! **Architecture Invariant:** `dist` never edits a tracked file. The snapshot version reaches
//! the binaries through the environment.

pub mod archive;
pub mod auditable;
pub mod binstall;
pub mod bounded;
pub mod build;
pub mod channels;
pub mod deb;
pub mod execute;
pub mod homebrew;
pub mod inspect;
pub mod manifest;
pub mod manpage;
pub mod merge;
pub mod npm;
pub mod output;
pub mod package;
pub mod plan;
pub mod preflight;
pub mod provenance;
pub mod reuse;
pub mod rpm;
pub mod rustflags;
pub mod sbom;
pub mod scoop;
pub mod seal;
pub mod smoke;
pub mod wheel;
pub mod winget;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;

pub use plan::{DistPlan, PlanInput, TargetPlan, plan};

use crate::flags;
use crate::progress::Progress;

/// The install script's name in a dist.
pub const INSTALLER_NAME: &str = "install.sh";
/// Replaced by the dist version in the shipped install script.
pub const INSTALLER_VERSION_PLACEHOLDER: &str = "__JIMINI_VERSION__";
/// Replaced by the release's platform table ([`crate::targets::install_table`]).
pub const INSTALLER_PLATFORMS_PLACEHOLDER: &str = "__JIMINI_PLATFORMS__";
/// Replaced by the archives' name pattern ([`plan::InstallerPlan::stem_pattern`]).
pub const INSTALLER_STEM_PLACEHOLDER: &str = "__JIMINI_ARCHIVE_STEM__";
/// Replaced by the release's minisign public key (base64), empty for an unsigned project.
pub const INSTALLER_PUBLIC_KEYS_PLACEHOLDER: &str = "__JIMINI_PUBLIC_KEYS__";
pub const INSTALLER_REVOKED_KEYS_PLACEHOLDER: &str = "__JIMINI_REVOKED_KEYS__";

impl flags::Dist {
    pub fn run(self, sh: &xshell::Shell) -> anyhow::Result<()> {
        let progress = Progress::new(self.quiet);
        let context = crate::context::ReleaseContext::load(sh)?;
        let out = match &self.out {
            Some(out) => std::env::current_dir()?.join(out),
            None => context.workspace.root.join("dist"),
        };
        let signing = self.signing.request();
        let plan = context.dist_plan(&self.targets, self.partial, out, signing)?;
        if self.dry_run {
            // The plan is the command's output, like `plan` and `release`: on stdout.
            if self.json {
                crate::outln!("{}", serde_json::to_string_pretty(&plan)?)?;
            } else {
                crate::out!("{}", plan.describe())?;
            }
            return Ok(());
        }
        let manifest = execute::execute(sh, &context, &plan, &progress, self.smoke)?;
        if self.json {
            crate::out!("{}", String::from_utf8(manifest.to_json())?)?;
        }
        Ok(())
    }
}

/// The binary names of `package` that a default-feature build produces.
pub fn shipped_binaries(package: &cargo_metadata::Package) -> Vec<String> {
    let default: BTreeSet<&str> = package
        .features
        .get("default")
        .map(|features| features.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut names: Vec<String> = package
        .targets
        .iter()
        .filter(|t| t.is_bin())
        .filter(|t| {
            t.required_features
                .iter()
                .all(|f| default.contains(f.as_str()))
        })
        .map(|t| t.name.clone())
        .collect();
    names.sort();
    names
}

pub(crate) fn ensure_parent(path: &Path) -> anyhow::Result<PathBuf> {
    let parent = path
        .parent()
        .context("the output directory has no parent")?
        .to_owned();
    fs_err::create_dir_all(&parent).with_context(|| {
        format!(
            "cannot create {}: pick a writable --out directory",
            parent.display()
        )
    })?;
    Ok(parent)
}
