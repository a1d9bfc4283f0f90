//! The uploads of the hosts that take some of the dist's files: npm's packages, a tap's
//! formula, a bucket's manifest.

use super::Upload;
use crate::dist::manifest::{ArtifactKind, Manifest};

/// The one file a tap or bucket gets, at `<dir>/<file>` of the `repository`; none for a
/// pre-release, which would move every `brew install`/`scoop install` user onto it (as
/// goreleaser's `skip_upload: auto` and cargo-dist do).
pub(super) fn repository_upload(
    manifest: &Manifest,
    kind: ArtifactKind,
    repository: Option<&str>,
    (dir, prerelease): (&str, bool),
    what: &str,
) -> anyhow::Result<(String, Vec<Upload>)> {
    let Some(repository) = repository else {
        anyhow::bail!("publishing {what}");
    };
    let Some(file) = manifest.artifacts.iter().find(|a| a.kind == kind) else {
        anyhow::bail!("the dist has no {what}: make it with that configuration");
    };
    if prerelease {
        return Ok((
            format!(
                "{repository} {dir}/{}: nothing, {} is a pre-release (the {dir} keeps the \
                 latest release)",
                file.name, manifest.version
            ),
            vec![],
        ));
    }
    Ok((
        format!("{repository} {dir}/{}", file.name),
        vec![Upload {
            file: file.name.clone(),
            sha256: file.sha256.clone(),
            size: file.size,
            destination: format!("{dir}/{}", file.name),
            package: None,
        }],
    ))
}

/// The npm packages: the platform packages by name, then the main package.
pub(super) fn npm_uploads(manifest: &Manifest, registry: &str) -> anyhow::Result<Vec<Upload>> {
    let mut packages: Vec<&crate::dist::manifest::Artifact> = manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::NpmPackage)
        .collect();
    if packages.is_empty() {
        anyhow::bail!(
            "the dist has no npm packages: configure [workspace.metadata.xtask-dist.npm] or \
             publish without --to npm"
        );
    }
    packages.sort_by_key(|a| (a.target.is_none(), a.name.clone()));
    packages
        .into_iter()
        .map(|artifact| {
            let package = artifact.package.clone().ok_or_else(|| {
                anyhow::anyhow!("the manifest names no npm package for {}", artifact.name)
            })?;
            Ok(Upload {
                file: artifact.name.clone(),
                sha256: artifact.sha256.clone(),
                size: artifact.size,
                destination: format!(
                    "{}/{}",
                    registry.trim_end_matches('/'),
                    package.replace('/', "%2f")
                ),
                package: Some(package),
            })
        })
        .collect()
}
