//! `dist-manifest.json` and `SHA256SUMS`: what a dist holds, for machines.
//!
//! **Architecture Invariant:** `SHA256SUMS` is rendered from the manifest's artifact list, never
//! by scanning the directory, so a stray file can neither slip in nor be vouched for.
//! The schema is documented in ARCHITECTURE.md ("dist-manifest.json"); bump `FORMAT_VERSION` on
//! any incompatible change.

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::targets::{Arch, ArchiveFormat, Triple};

pub const FILE_NAME: &str = "dist-manifest.json";
pub const CHECKSUMS_FILE: &str = "SHA256SUMS";
pub const FORMAT: &str = "jimini-dist-manifest";
pub const FORMAT_VERSION: u32 = 6;

/// The files a manifest of ours lists, whatever its format version: enough to know that a
/// directory is an earlier dist (one made by an older xtask included) that may be replaced.
pub fn listed_files(bytes: &[u8]) -> Option<std::collections::BTreeSet<String>> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if value["format"] != FORMAT {
        return None;
    }
    value["artifacts"]
        .as_array()?
        .iter()
        .map(|artifact| artifact["name"].as_str().map(str::to_owned))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub app: String,
    pub version: String,
    pub commit: String,
    pub source_date_epoch: i64,
    /// `SOURCE_DATE_EPOCH` as RFC 3339, for people.
    pub source_date: String,
    /// One runner's share of a fanned-out release (no `SHA256SUMS`); see `dist merge`.
    pub partial: bool,
    pub targets: Vec<Triple>,
    /// Sorted by name.
    pub artifacts: Vec<Artifact>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    Archive,
    /// The same files as the target's `.tar.xz` archive as `.tar.gz`, for machines without
    /// `xz` (install.sh takes it there).
    FallbackArchive,
    Sbom,
    Checksums,
    Installer,
    /// The in-toto statement with the SLSA provenance of the other artifacts.
    Provenance,
    /// A Debian package of a Linux glibc target.
    Deb,
    /// A Python wheel of a target's binaries (`pip install`).
    Wheel,
    /// An RPM of a Linux glibc target (`dnf install`, `rpm -i`).
    Rpm,
    /// The Homebrew formula of the release's archives (`<app>.rb`, for a tap).
    HomebrewFormula,
    /// The Scoop manifest of the release's Windows archives (`<app>.json`, for a bucket).
    ScoopManifest,
    /// One of the three winget manifests of the release's Windows archives (for winget-pkgs).
    WingetManifest,
    /// An npm package tarball (`package` names it): a target's binaries (with `target`), or
    /// the main package whose commands run them.
    NpmPackage,
    /// The minisign signature of one package (`signs` names it), for clients that fetch that
    /// file by itself and check it with the release key (cargo-binstall).
    Signature,
}

impl ArtifactKind {
    /// An archive of a target's files, in any of its formats.
    pub fn is_archive(self) -> bool {
        matches!(self, ArtifactKind::Archive | ArtifactKind::FallbackArchive)
    }

    /// The packages a client downloads by themselves: a signed release gives each a
    /// `<file>.sig`.
    pub const SIGNED_ALONE: [ArtifactKind; 6] = [
        ArtifactKind::Archive,
        ArtifactKind::FallbackArchive,
        ArtifactKind::Deb,
        ArtifactKind::Wheel,
        ArtifactKind::Rpm,
        ArtifactKind::NpmPackage,
    ];

    pub fn signed_alone(self) -> bool {
        Self::SIGNED_ALONE.contains(&self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    pub name: String,
    pub kind: ArtifactKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Triple>,
    /// Every artifact of a target: its CPU architecture (from the plan's `Target`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<Arch>,
    /// Archives (both kinds): how the file is packed, so no reader goes by its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ArchiveFormat>,
    pub size: u64,
    pub sha256: String,
    /// Archives: the executables inside, relative to the archive's top directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binaries: Vec<String>,
    /// Archives: every file inside, relative to the top directory, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Archives: the one top-level directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_dir: Option<String>,
    /// Linux glibc archives: the newest `GLIBC_x.y` symbol version any binary needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glibc_min: Option<String>,
    /// Linux musl archives: every binary checked to be statically linked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_binaries: Option<bool>,
    /// macOS archives: the newest `minos` (oldest macOS) any binary needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macos_min: Option<String>,
    /// Signatures: the artifact this one signs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signs: Option<String>,
    /// npm packages: the package's name on the registry (`@jimini/cli-linux-x64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

impl Artifact {
    /// An artifact with just the facts every kind has; archives add their contents after.
    pub fn new(
        name: &str,
        kind: ArtifactKind,
        target: Option<&Triple>,
        digest: crate::dist::archive::Digest256,
    ) -> Artifact {
        Artifact {
            name: name.to_owned(),
            kind,
            target: target.cloned(),
            arch: None,
            format: None,
            size: digest.size,
            sha256: digest.sha256,
            binaries: vec![],
            files: vec![],
            top_dir: None,
            glibc_min: None,
            static_binaries: None,
            macos_min: None,
            signs: None,
            package: None,
        }
    }

    /// An artifact for the file at `path`, hashed as it is on disk.
    pub fn of_file(
        name: &str,
        kind: ArtifactKind,
        target: Option<&Triple>,
        path: &std::path::Path,
    ) -> anyhow::Result<Artifact> {
        Ok(Artifact::new(
            name,
            kind,
            target,
            crate::dist::archive::digest_file(path)?,
        ))
    }

    /// An artifact of `target`'s, with the facts its `Target` carries.
    pub fn of_target(
        name: &str,
        kind: ArtifactKind,
        target: &crate::targets::Target,
        digest: crate::dist::archive::Digest256,
    ) -> Artifact {
        let mut artifact = Artifact::new(name, kind, Some(&target.triple), digest);
        artifact.arch = Some(target.arch.clone());
        artifact
    }

    /// An archive's recorded format.
    pub fn archive_format(&self) -> anyhow::Result<ArchiveFormat> {
        self.format
            .with_context(|| format!("{FILE_NAME} records no format for {}", self.name))
    }

    /// A target's artifact's recorded CPU architecture.
    pub fn target_arch(&self) -> anyhow::Result<&Arch> {
        self.arch
            .as_ref()
            .with_context(|| format!("{FILE_NAME} records no arch for {}", self.name))
    }

    /// What a reader relies on instead of the file name: archives name their format (and the
    /// name agrees with it), a target's artifacts their architecture.
    fn check_facts(&self) -> anyhow::Result<()> {
        if self.kind.is_archive() {
            let format = self.archive_format()?;
            anyhow::ensure!(
                self.name.ends_with(&format!(".{}", format.extension())),
                "{FILE_NAME}: {} is recorded as {} but is not named so",
                self.name,
                format.extension()
            );
        } else if self.format.is_some() {
            anyhow::bail!(
                "{FILE_NAME}: {} is no archive but records a format",
                self.name
            );
        }
        if self.target.is_some() {
            self.target_arch()?;
        }
        anyhow::ensure!(
            (self.kind == ArtifactKind::Signature) == self.signs.is_some(),
            "{FILE_NAME}: {} must name the file it signs if and only if it is a signature",
            self.name
        );
        Ok(())
    }
}

impl Manifest {
    /// The manifest of the dist directory `dir`.
    pub fn read(dir: &std::path::Path) -> anyhow::Result<Manifest> {
        let path = dir.join(FILE_NAME);
        let bytes = fs_err::read(&path).with_context(|| {
            format!(
                "cannot read {}: is this a dist directory? run `cargo xtask dist`",
                path.display()
            )
        })?;
        Manifest::from_json(&bytes)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut json = serde_json::to_vec_pretty(self).expect("the manifest serialises");
        json.push(b'\n');
        json
    }

    pub fn from_json(bytes: &[u8]) -> anyhow::Result<Manifest> {
        let manifest: Manifest = serde_json::from_slice(bytes)
            .map_err(|err| anyhow::anyhow!("{FILE_NAME} is not a valid dist manifest: {err}"))?;
        if manifest.format != FORMAT || manifest.format_version != FORMAT_VERSION {
            anyhow::bail!(
                "{FILE_NAME} is format {} v{}; this xtask reads {FORMAT} v{FORMAT_VERSION}",
                manifest.format,
                manifest.format_version
            );
        }
        for artifact in &manifest.artifacts {
            artifact.check_facts()?;
        }
        Ok(manifest)
    }

    /// The `sha256sum -c` file for every artifact except the checksum file itself.
    pub fn render_checksums(&self) -> String {
        let mut lines: Vec<String> = self
            .artifacts
            .iter()
            .filter(|a| a.kind != ArtifactKind::Checksums)
            .map(|a| format!("{}  {}\n", a.sha256, a.name))
            .collect();
        lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
        lines.concat()
    }

    pub fn sort(&mut self) {
        self.artifacts.sort_by(|a, b| a.name.cmp(&b.name));
        self.targets.sort();
    }
}

/// Writes `SHA256SUMS` (unless partial) and `dist-manifest.json` into `dir`, adding the
/// checksum file to the manifest's artifacts.
pub fn write(manifest: &mut Manifest, dir: &std::path::Path) -> anyhow::Result<()> {
    manifest
        .artifacts
        .retain(|a| a.kind != ArtifactKind::Checksums);
    manifest.sort();
    if !manifest.partial {
        let path = dir.join(CHECKSUMS_FILE);
        fs_err::write(&path, manifest.render_checksums())?;
        let checksums = Artifact::of_file(CHECKSUMS_FILE, ArtifactKind::Checksums, None, &path)?;
        manifest.artifacts.push(checksums);
        manifest.sort();
    }
    fs_err::write(dir.join(FILE_NAME), manifest.to_json())?;
    Ok(())
}

/// Parses a `sha256sum` file into (name, hex) pairs, rejecting anything `sha256sum -c` would not.
pub fn parse_checksums(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    text.lines()
        .enumerate()
        .map(|(index, line)| {
            let (hash, name) = line
                .split_once("  ")
                .filter(|(h, n)| {
                    h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) && !n.is_empty()
                })
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{CHECKSUMS_FILE} line {} is not `<sha256>  <file>`",
                        index + 1
                    )
                })?;
            Ok((name.to_owned(), hash.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
