//! What a target's `.deb` is made of, gathered from the workspace: its binaries, the
//! configured assets, the docs among the include files, and the package's metadata.

use std::fs;
use std::path::Path;

use anyhow::Context;

use super::DebInput;
use crate::context::ReleaseContext;
use crate::dist::archive::Entry;
use crate::dist::manifest::Artifact;
use crate::dist::plan::{DistPlan, TargetPlan};

/// What the target's `.deb` is made of: its binaries, the configured assets, the docs among
/// the include files, and the package's metadata.
pub fn for_target(
    context: &ReleaseContext,
    plan: &DistPlan,
    target: &TargetPlan,
    entries: &[Entry],
    archive: &Artifact,
) -> anyhow::Result<DebInput> {
    let root = &context.workspace.root;
    let config = context
        .workspace
        .config
        .deb
        .as_ref()
        .context("a .deb was planned without [workspace.metadata.xtask-dist.deb]")?;
    let package = context.workspace.shipped_package()?;
    let include = |wanted: &dyn Fn(&str) -> bool| {
        plan.include
            .iter()
            .find(|path| {
                Path::new(path)
                    .file_name()
                    .is_some_and(|name| wanted(&name.to_string_lossy().to_lowercase()))
            })
            .map(|path| root.join(path))
    };
    let license_file = include(&|name| name.starts_with("license") || name.starts_with("copying"))
        .context(
            "a .deb needs the license text for its copyright file: add the LICENSE file to \
             [workspace.metadata.xtask-dist] include",
        )?;
    let license_text = fs::read_to_string(&license_file)
        .with_context(|| format!("cannot read {}", license_file.display()))?;
    let copyright_holder = license_text
        .lines()
        .find_map(|line| {
            let rest = line.trim().strip_prefix("Copyright")?;
            Some(
                rest.trim_start_matches([' ', ':'])
                    .trim_start_matches("(c)")
                    .trim()
                    .to_owned(),
            )
        })
        .unwrap_or_else(|| package.authors.join(", "));
    let depends = match (&target.glibc_floor, &archive.glibc_min) {
        (Some(floor), _) => format!("libc6 (>= {floor})"),
        (None, Some(measured)) => format!("libc6 (>= {measured})"),
        (None, None) => "libc6".to_owned(),
    };
    let mut assets = Vec::new();
    for [source, destination, mode] in &config.assets {
        let mode = u32::from_str_radix(mode, 8).map_err(|_| {
            anyhow::anyhow!(
                "[workspace.metadata.xtask-dist.deb] assets: mode {mode:?} of {destination} is \
                 not octal: write it like \"644\""
            )
        })?;
        assets.push((root.join(source), destination.clone(), mode));
    }
    Ok(DebInput {
        package: plan.app.clone(),
        version: super::debian_version(&semver::Version::parse(&plan.version)?),
        arch: target
            .target
            .deb_arch
            .context("a .deb was planned for a target without a Debian architecture")?,
        maintainer: config.maintainer.clone(),
        section: config.section.clone(),
        homepage: package.homepage.clone(),
        summary: package
            .description
            .clone()
            .unwrap_or_else(|| plan.app.clone()),
        depends,
        binaries: entries
            .iter()
            .filter(|e| e.executable)
            .map(|e| (e.name.clone(), e.source.clone()))
            .collect(),
        assets,
        readme: include(&|name| name == "readme.md" || name == "readme"),
        changelog: include(&|name| name.starts_with("changelog")),
        license: (
            license_text,
            package
                .license
                .clone()
                .unwrap_or_else(|| "see-below".to_owned()),
        ),
        copyright_holder,
        source: package.repository.clone(),
        mtime: plan.source_date_epoch as u64,
    })
}
