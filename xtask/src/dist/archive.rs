//! Deterministic `.tar.xz`, `.tar.gz` and `.zip` writers that stream their inputs.
//!
//! **Architecture Invariant:** the bytes of an archive depend only on the entries' contents,
//! names and executable bits and on `mtime`: entries sorted, owner 0:0 with empty names, modes
//! 0755/0644, gzip header without a timestamp or file name, deflate by zlib-rs, xz by
//! lzma-rust2 at preset 6 (one block, CRC64) — the encoders change the bytes, so they are pinned
//! in the workspace manifest and by the golden-hash tests here. Files are streamed, never read
//! whole, so memory stays flat whatever the payload (xz preset 6: an 8 MiB dictionary, under
//! 100 MiB for the encoder).

use fs_err::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};

use crate::targets::ArchiveFormat;

/// One file to put in an archive, below the archive's top directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Path inside the top directory, `/`-separated.
    pub name: String,
    pub source: PathBuf,
    pub executable: bool,
}

/// Size and SHA-256 of a written file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest256 {
    pub size: u64,
    pub sha256: String,
}

/// A writer that hashes and counts what passes through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    pub fn finish(mut self) -> io::Result<(W, Digest256)> {
        self.inner.flush()?;
        let digest = Digest256 {
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
        };
        Ok((self.inner, digest))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Streams a file through SHA-256.
pub fn digest_file(path: &Path) -> anyhow::Result<Digest256> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut writer = HashingWriter::new(io::sink());
    io::copy(&mut file, &mut writer).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(writer.finish()?.1)
}

fn mode(entry: &Entry) -> u32 {
    if entry.executable { 0o755 } else { 0o644 }
}

fn sorted(entries: &[Entry]) -> Vec<&Entry> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    sorted
}

/// The xz preset: liblzma's default, the size/time balance `xz` itself picks.
pub const XZ_PRESET: u32 = 6;

pub(crate) fn xz_options() -> lzma_rust2::XzOptions {
    lzma_rust2::XzOptions::with_preset(XZ_PRESET)
}

pub fn write_tar_gz(
    out: &Path,
    top_dir: &str,
    entries: &[Entry],
    mtime: u64,
) -> anyhow::Result<Digest256> {
    write_tar(out, |hashing| {
        let gz = GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(hashing, Compression::default());
        let gz = append_tar(gz, top_dir, entries, mtime)?;
        Ok(gz.finish()?)
    })
}

pub fn write_tar_xz(
    out: &Path,
    top_dir: &str,
    entries: &[Entry],
    mtime: u64,
) -> anyhow::Result<Digest256> {
    write_tar(out, |hashing| {
        let xz = lzma_rust2::XzWriter::new(hashing, xz_options())?;
        let xz = append_tar(xz, top_dir, entries, mtime)?;
        Ok(xz.finish()?)
    })
}

type Hashing = HashingWriter<BufWriter<File>>;

/// Creates `out`, runs `compress` over its hashing writer, and makes the file durable.
fn write_tar(
    out: &Path,
    compress: impl FnOnce(Hashing) -> anyhow::Result<Hashing>,
) -> anyhow::Result<Digest256> {
    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let hashing = compress(HashingWriter::new(BufWriter::with_capacity(
        256 * 1024,
        file,
    )))?;
    let (writer, digest) = hashing.finish()?;
    writer
        .into_inner()
        .map_err(|err| err.into_error())?
        .sync_all()?;
    Ok(digest)
}

/// The normalised tar stream of the entries below `top_dir`, written into `writer`.
fn append_tar<W: Write>(
    writer: W,
    top_dir: &str,
    entries: &[Entry],
    mtime: u64,
) -> anyhow::Result<W> {
    let mut tar = tar::Builder::new(writer);
    tar.mode(tar::HeaderMode::Deterministic);

    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    set_common(&mut dir, 0o755, mtime, 0);
    tar.append_data(&mut dir, format!("{top_dir}/"), io::empty())?;

    for entry in sorted(entries) {
        let source = File::open(&entry.source)
            .with_context(|| format!("cannot open {}", entry.source.display()))?;
        let size = source.metadata()?.len();
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        set_common(&mut header, mode(entry), mtime, size);
        tar.append_data(&mut header, format!("{top_dir}/{}", entry.name), source)
            .with_context(|| format!("cannot archive {}", entry.source.display()))?;
    }
    Ok(tar.into_inner()?)
}

pub(crate) fn set_common(header: &mut tar::Header, mode: u32, mtime: u64, size: u64) {
    header.set_mode(mode);
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(size);
    // Empty owner names: nothing about the building machine's users leaks into the archive.
    let _ = header.set_username("");
    let _ = header.set_groupname("");
}

pub fn write_zip(
    out: &Path,
    top_dir: &str,
    entries: &[Entry],
    mtime: u64,
) -> anyhow::Result<Digest256> {
    use zip::write::SimpleFileOptions;
    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut zip = zip::ZipWriter::new(io::BufWriter::with_capacity(256 * 1024, file));
    let modified = zip_time(mtime)?;
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(modified)
        .system(zip::System::Unix);
    zip.add_directory(format!("{top_dir}/"), options.unix_permissions(0o755))?;
    for entry in sorted(entries) {
        let mut source = File::open(&entry.source)
            .with_context(|| format!("cannot open {}", entry.source.display()))?;
        let large = source.metadata()?.len() >= u32::MAX as u64;
        zip.start_file(
            format!("{top_dir}/{}", entry.name),
            options.unix_permissions(mode(entry)).large_file(large),
        )?;
        io::copy(&mut source, &mut zip)
            .with_context(|| format!("cannot archive {}", entry.source.display()))?;
    }
    let writer = zip.finish()?;
    writer
        .into_inner()
        .map_err(|err| err.into_error())?
        .sync_all()?;
    digest_file(out)
}

/// Zip timestamps are local DOS times from 1980 on; earlier epochs clamp to 1980-01-01.
pub fn zip_time(mtime: u64) -> anyhow::Result<zip::DateTime> {
    let at = time::OffsetDateTime::from_unix_timestamp(mtime as i64)
        .context("SOURCE_DATE_EPOCH is out of range")?;
    if at.year() < 1980 {
        return Ok(zip::DateTime::default());
    }
    zip::DateTime::from_date_and_time(
        at.year() as u16,
        at.month() as u8,
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
    )
    .map_err(|err| anyhow::anyhow!("cannot express {mtime} as a zip time: {err}"))
}

/// The decompressed tar stream of a `.tar.gz` or `.tar.xz` file of the planned (or recorded)
/// `format`.
pub fn tar_stream(path: &Path, format: ArchiveFormat) -> anyhow::Result<Box<dyn Read>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let file = io::BufReader::new(file);
    match format {
        ArchiveFormat::TarXz => Ok(Box::new(lzma_rust2::XzReader::new(file, false))),
        ArchiveFormat::TarGz => Ok(Box::new(flate2::read::GzDecoder::new(file))),
        ArchiveFormat::Zip => anyhow::bail!("{} is a zip file, not a tar", path.display()),
    }
}

/// Streams every entry of a `.tar.gz` or `.tar.xz` through `visit` (name, mode, kind, reader),
/// each admitted by its declared size first ([`super::bounded`]): a reader gets at most
/// [`super::bounded::MAX_MEMBER_BYTES`] from one entry.
pub fn read_tar(
    path: &Path,
    format: ArchiveFormat,
    mut visit: impl FnMut(&str, u32, tar::EntryType, &mut dyn Read) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let package = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut budget = super::bounded::Budget::new(&package);
    let mut archive = tar::Archive::new(tar_stream(path, format)?);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        budget.admit(&name, entry.header().size()?)?;
        let mode = entry.header().mode()?;
        let kind = entry.header().entry_type();
        visit(&name, mode, kind, &mut entry)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
