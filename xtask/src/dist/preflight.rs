//! Everything that can be known to fail before the build: every planned package's workspace
//! files, the installer template, the pinned tools (installed on first use), toolchains and
//! runners.
//!
//! **Architecture Invariant:** a dist whose inputs are missing fails here, in seconds, never
//! after the compile.

use std::collections::BTreeSet;

use anyhow::bail;

use super::DistPlan;
use super::smoke::{self, SmokeScope};
use crate::context::ReleaseContext;
use crate::progress::Progress;

pub fn check(
    sh: &xshell::Shell,
    context: &ReleaseContext,
    plan: &DistPlan,
    smoke: Option<SmokeScope>,
    progress: &Progress,
) -> anyhow::Result<()> {
    let root = &context.workspace.root;
    for include in &plan.include {
        if !root.join(include).is_file() {
            bail!(
                "include file {include} does not exist: create it or remove it from \
                 [workspace.metadata.xtask-dist] include in Cargo.toml"
            );
        }
    }
    let deb_files: BTreeSet<&str> = plan
        .targets
        .iter()
        .filter_map(|t| t.deb.as_ref())
        .flat_map(|deb| deb.entries.iter().filter_map(|e| e.workspace_file()))
        .collect();
    for file in deb_files {
        if !root.join(file).is_file() {
            bail!(
                "{file} does not exist: create it or fix its entry in \
                 [workspace.metadata.xtask-dist.deb] assets in Cargo.toml"
            );
        }
    }
    if let Some(installer) = plan.installer.as_ref().map(|i| &i.template)
        && !root.join(installer).is_file()
    {
        bail!(
            "installer {installer} does not exist: create it or remove `installer` from \
             [workspace.metadata.xtask-dist]"
        );
    }
    if let Some(scope) = smoke {
        smoke::check_runners(&plan.targets, scope)?;
    }
    install_pinned_tools(sh, context, plan, progress)?;
    let targets: Vec<_> = plan.targets().cloned().collect();
    let problems = crate::doctor::build_problems(sh, &targets, root)?;
    if !problems.is_empty() {
        bail!(
            "{}\nrun `cargo xtask doctor --fix` to install what is missing",
            crate::doctor::describe(&problems)
        );
    }
    Ok(())
}

/// cargo-auditable runs every build; zig and cargo-zigbuild link the targets with a glibc
/// floor. Both live in the machine's tools cache, shared by every checkout.
fn install_pinned_tools(
    sh: &xshell::Shell,
    context: &ReleaseContext,
    plan: &DistPlan,
    progress: &Progress,
) -> anyhow::Result<()> {
    let target_dir = &context.build.target_dir;
    let auditable = crate::pins::CARGO_AUDITABLE;
    if !auditable.is_installed(target_dir) {
        let step = progress.step(format!(
            "install {} {} (once per machine)",
            auditable.name, auditable.version
        ));
        auditable.install(sh, target_dir)?;
        step.done();
    }
    let zig = crate::pins::ZIG;
    if plan.targets().any(|t| t.links_through_zig()) && !zig.is_installed(target_dir) {
        let step = progress.step(format!("install {} (once per machine)", zig.describe()));
        zig.install(sh, target_dir)?;
        step.done();
    }
    Ok(())
}
