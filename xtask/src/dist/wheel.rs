//! `<name>-<pep440>-py3-none-<platform>.whl`: the binaries of a target as a wheel, for `pip`,
//! `pipx` and `uv`.
//!
//! A wheel is a zip (PEP 427, the binary distribution format): the planned entries in path
//! order, then `RECORD` (every entry's urlsafe-base64 SHA-256 without padding and its size,
//! which pip checks on install). What goes in is decided in [`plan`]; [`check`] is what
//! `verify` checks.
//!
//! **Architecture Invariant:** the bytes depend only on the plan and the sources' bytes: every
//! member carries `SOURCE_DATE_EPOCH` as its time, 0755 or 0644 as its mode, and deflate at
//! [`DEFLATE_LEVEL`] by the workspace's zlib-rs.

pub mod check;
pub mod plan;

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::archive::{self, Digest256};
use super::plan::entry::{Generated, Source};
pub use plan::WheelPlan;

/// The pinned deflate level of every member.
pub const DEFLATE_LEVEL: i64 = 9;

/// The planned entries with their bytes: `read` gives a binary's or a workspace file's bytes.
pub fn files(
    plan: &WheelPlan,
    read: &dyn Fn(&Source) -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<Vec<(String, u32, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in &plan.entries {
        let content = match &entry.source {
            Source::Binary { .. } | Source::File { .. } => read(&entry.source)?,
            Source::Generated {
                what: Generated::WheelMetadata,
            } => {
                let readme = match &plan.metadata.readme {
                    Some(path) => Some(read(&Source::File { path: path.clone() })?),
                    None => None,
                };
                let readme = readme.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
                plan::metadata_text(&plan.metadata, readme.as_deref()).into_bytes()
            }
            Source::Generated {
                what: Generated::WheelInfo,
            } => plan::wheel_text(&plan.tags).into_bytes(),
            // The SBOM is written before the packages; `read` gives its bytes.
            Source::Generated {
                what: Generated::Sbom,
            } => read(&entry.source)?,
            other => bail!("{other:?} has no place in a wheel"),
        };
        files.push((entry.path.clone(), entry.mode.0, content));
    }
    Ok(files)
}

/// One `RECORD` line: `path,sha256=<urlsafe base64, no padding>,size`.
pub fn record_line(path: &str, content: &[u8]) -> String {
    let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(content));
    format!("{path},sha256={digest},{}", content.len())
}

/// Writes the wheel of `plan` to `out`.
pub fn write(
    out: &Path,
    plan: &WheelPlan,
    mtime: u64,
    read: &dyn Fn(&Source) -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<Digest256> {
    use zip::write::SimpleFileOptions;
    let files = files(plan, read)?;
    let file = fs_err::File::create(out)?;
    let mut zip = zip::ZipWriter::new(io::BufWriter::with_capacity(256 * 1024, file));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .last_modified_time(archive::zip_time(mtime)?)
        .system(zip::System::Unix);
    let mut record = String::new();
    for (path, mode, content) in &files {
        zip.start_file(path.as_str(), options.unix_permissions(*mode))?;
        zip.write_all(content)
            .with_context(|| format!("cannot write {path} into {}", out.display()))?;
        record.push_str(&record_line(path, content));
        record.push('\n');
    }
    record.push_str(&format!("{},,\n", plan.record));
    zip.start_file(plan.record.as_str(), options.unix_permissions(0o644))?;
    zip.write_all(record.as_bytes())?;
    let writer = zip.finish()?;
    writer
        .into_inner()
        .map_err(|err| err.into_error())?
        .sync_all()?;
    archive::digest_file(out)
}
