//! `verify URL`: a published release, checked from where users download it. `SHA256SUMS`, its
//! signature and the manifest are fetched first, then every file the manifest lists, each
//! bounded by the size the manifest gives it (a host that sends more is serving other bytes,
//! and is cut off), into a private directory that `verify DIR`'s checks then read.
//!
//! **Architecture Invariant:** over HTTPS only, never more bytes than the manifest allows per
//! file and [`MAX_RELEASE_BYTES`] in all, streamed to disk: memory stays flat whatever the
//! host serves.

use std::path::Path;

use anyhow::{Context, bail};

use crate::dist::manifest::{self, Manifest};
use crate::http::{Client, TooLarge};
use crate::signing::SIGNATURE_FILE;

/// The most one release may hold in all: far above any release (six targets' archives,
/// packages and wheels are tens of megabytes), far below what would fill a disk.
pub const MAX_RELEASE_BYTES: u64 = 4 << 30;
const MAX_CHECKSUMS_BYTES: u64 = 1 << 20;
const MAX_SIGNATURE_BYTES: u64 = 64 << 10;
const MAX_MANIFEST_BYTES: u64 = 16 << 20;

/// Whether a `verify` argument is a URL rather than a directory.
pub fn is_url(argument: &str) -> bool {
    argument.contains("://")
}

/// Downloads the release at `base` into `into`; returns the manifest and what could not be
/// fetched as problems (a file the host lacks or serves longer than listed).
pub fn download(
    base: &str,
    into: &Path,
    client: &Client,
) -> anyhow::Result<(Manifest, Vec<String>)> {
    if !base.starts_with("https://") {
        bail!(
            "{base}: verify downloads a release over HTTPS only (an attacker on the path could \
             serve anything over plain HTTP)"
        );
    }
    let base = if base.ends_with('/') {
        base.to_owned()
    } else {
        format!("{base}/")
    };
    let fetch = |name: &str, max: u64| -> anyhow::Result<Fetched> {
        let path = into.join(name);
        let mut file = fs_err::File::create(&path)?;
        let url = format!("{base}{name}");
        let result = client.download(&url, &[], max, &mut file);
        drop(file);
        let fetched = match result {
            Ok(200) => Fetched::Whole,
            Ok(status) => Fetched::Status(status),
            Err(err) if err.is::<TooLarge>() => Fetched::TooLong,
            Err(err) => return Err(err),
        };
        if fetched != Fetched::Whole {
            fs_err::remove_file(&path)?;
        }
        Ok(fetched)
    };
    match fetch(manifest::CHECKSUMS_FILE, MAX_CHECKSUMS_BYTES)? {
        Fetched::Whole => {}
        other => bail!(
            "{base}{}: {}: is {base} a release's download URL (e.g. \
             https://github.com/OWNER/REPO/releases/download/vX.Y.Z/)?",
            manifest::CHECKSUMS_FILE,
            other.describe(MAX_CHECKSUMS_BYTES)
        ),
    }
    let mut problems = Vec::new();
    match fetch(SIGNATURE_FILE, MAX_SIGNATURE_BYTES)? {
        Fetched::Whole | Fetched::Status(404) => {}
        other => problems.push(format!(
            "{SIGNATURE_FILE}: {}",
            other.describe(MAX_SIGNATURE_BYTES)
        )),
    }
    match fetch(manifest::FILE_NAME, MAX_MANIFEST_BYTES)? {
        Fetched::Whole => {}
        other => bail!(
            "{base}{}: {}",
            manifest::FILE_NAME,
            other.describe(MAX_MANIFEST_BYTES)
        ),
    }
    let manifest = Manifest::from_json(&fs_err::read(into.join(manifest::FILE_NAME))?)
        .with_context(|| format!("{base}{}", manifest::FILE_NAME))?;
    let mut total: u64 = 0;
    for artifact in &manifest.artifacts {
        if artifact.kind == manifest::ArtifactKind::Checksums {
            continue;
        }
        // `verify DIR`'s checks name a listed name that is not a plain file name.
        if artifact.name.contains(['/', '\\']) || artifact.name.starts_with('.') {
            continue;
        }
        total = total.saturating_add(artifact.size);
        if total > MAX_RELEASE_BYTES {
            bail!(
                "the manifest lists more than {MAX_RELEASE_BYTES} bytes in all, more than a \
                 release of this tool can hold: not downloading it"
            );
        }
        match fetch(&artifact.name, artifact.size)? {
            Fetched::Whole => {}
            other => problems.push(format!(
                "{}: {}",
                artifact.name,
                other.describe(artifact.size)
            )),
        }
    }
    Ok((manifest, problems))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fetched {
    Whole,
    Status(u16),
    TooLong,
}

impl Fetched {
    fn describe(self, max: u64) -> String {
        match self {
            Fetched::Whole => "fetched".into(),
            Fetched::Status(404) => "the host does not serve it (HTTP 404)".into(),
            Fetched::Status(status) => format!("the host answered HTTP {status}"),
            Fetched::TooLong => format!(
                "the host serves more than the {max} bytes it may have: other bytes (cut off)"
            ),
        }
    }
}
