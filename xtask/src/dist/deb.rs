//! `jimini_<version>_<arch>.deb`: a Debian binary package of a Linux gnu target.
//!
//! The format is dpkg's: an `ar` archive of `debian-binary` ("2.0"), `control.tar.xz`
//! (control, conffiles, md5sums) and `data.tar.xz` (the files from `/`). What goes where, the
//! control fields and the copyright are decided in [`plan`]; this module writes the bytes,
//! [`text`] the control, copyright and changelog texts, [`check`] what `verify` checks.
//!
//! **Architecture Invariant:** the bytes depend only on the plan and the sources' bytes:
//! every tar member and ar member carries `SOURCE_DATE_EPOCH` as its time and root (0:0) as
//! its owner, members are sorted, and the compressors are the pinned ones of
//! [`super::archive`]. Debian's own tools (dpkg-deb, lintian, dpkg) check the result in the
//! tests.

pub mod check;
pub mod plan;
pub mod text;

use fs_err::File;
use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use md5::Digest;

use super::archive::{self, Digest256, HashingWriter};
use super::plan::entry::{Generated, Source};
pub use plan::{DebPlan, debian_version, file_name};

/// One file of the package: its absolute path on the installed system, mode and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebFile {
    pub path: String,
    pub mode: u32,
    pub content: Vec<u8>,
}

/// The planned files with their bytes: `read` gives a binary's or a workspace file's bytes.
pub fn files(
    plan: &DebPlan,
    mtime: u64,
    read: &dyn Fn(&Source) -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<Vec<DebFile>> {
    let mut files = Vec::new();
    for entry in &plan.entries {
        let content = match &entry.source {
            // A man page is rendered and gzipped before packing.
            Source::Binary { .. } | Source::File { .. } | Source::ManPage { .. } => {
                read(&entry.source)?
            }
            Source::Gzipped { path } => gzip_max(&read(&Source::File { path: path.clone() })?)?,
            Source::Generated {
                what: Generated::DebianChangelog,
            } => gzip_max(text::debian_changelog(&plan.control, mtime)?.as_bytes())?,
            Source::Generated {
                what:
                    Generated::WheelMetadata
                    | Generated::WheelInfo
                    | Generated::Sbom
                    | Generated::NpmPackageJson
                    | Generated::NpmLauncher
                    | Generated::NpmCommand,
            } => anyhow::bail!("{:?} has no place in a .deb", entry.source),
            Source::Generated {
                what: Generated::DebianCopyright,
            } => {
                let license = read(&Source::File {
                    path: plan.copyright.license_file.clone(),
                })?;
                text::copyright(&plan.copyright, &String::from_utf8_lossy(&license)).into_bytes()
            }
        };
        files.push(DebFile {
            path: entry.path.clone(),
            mode: entry.mode.0,
            content,
        });
    }
    Ok(files)
}

/// gzip -9n: what Debian policy asks of compressed docs (no name, no time).
pub(super) fn gzip_max(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(3)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(data)?;
    Ok(gz.finish()?)
}

/// Writes the package to `out`; returns its digest.
pub fn write(
    out: &Path,
    plan: &DebPlan,
    mtime: u64,
    read: &dyn Fn(&Source) -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<Digest256> {
    let files = files(plan, mtime, read)?;
    let conffiles: String = plan
        .conffiles
        .iter()
        .map(|path| format!("{path}\n"))
        .collect();
    // dpkg checks conffiles by their own hashes; md5sums lists the rest.
    let md5sums: String = files
        .iter()
        .filter(|f| !plan.conffiles.contains(&f.path))
        .map(|f| {
            format!(
                "{}  {}\n",
                hex::encode(md5::Md5::digest(&f.content)),
                &f.path[1..]
            )
        })
        .collect();
    let mut control_files = vec![DebFile {
        path: "/control".into(),
        mode: 0o644,
        content: text::control(&plan.control, &files).into_bytes(),
    }];
    if !conffiles.is_empty() {
        control_files.push(DebFile {
            path: "/conffiles".into(),
            mode: 0o644,
            content: conffiles.into_bytes(),
        });
    }
    control_files.push(DebFile {
        path: "/md5sums".into(),
        mode: 0o644,
        content: md5sums.into_bytes(),
    });
    let control_tar = tar_xz(&control_files, &[], mtime)?;
    let data_tar = tar_xz(&files, &text::directories(&files), mtime)?;

    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let hashing = HashingWriter::new(BufWriter::new(file));
    let mut ar = ar::Builder::new(hashing);
    for (name, data) in [
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar.xz", control_tar),
        ("data.tar.xz", data_tar),
    ] {
        let mut header = ar::Header::new(name.as_bytes().to_vec(), data.len() as u64);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mode(0o100644);
        ar.append(&header, data.as_slice())
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    let (writer, digest) = ar
        .into_inner()?
        .finish()
        .with_context(|| format!("cannot write {}", out.display()))?;
    writer
        .into_inner()
        .map_err(|err| err.into_error())
        .and_then(|file| file.sync_all())
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(digest)
}

/// A tar.xz of `./` and `dirs` (0755) then `files`, every member root-owned at `mtime`.
fn tar_xz(files: &[DebFile], dirs: &[String], mtime: u64) -> anyhow::Result<Vec<u8>> {
    let xz = lzma_rust2::XzWriter::new(Vec::new(), archive::xz_options())?;
    let mut tar = tar::Builder::new(xz);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut members: BTreeMap<String, (tar::EntryType, u32, &[u8])> = BTreeMap::new();
    members.insert("./".into(), (tar::EntryType::Directory, 0o755, &[]));
    for dir in dirs {
        members.insert(format!(".{dir}/"), (tar::EntryType::Directory, 0o755, &[]));
    }
    for file in files {
        members.insert(
            format!(".{}", file.path),
            (tar::EntryType::Regular, file.mode, &file.content),
        );
    }
    for (name, (kind, mode, content)) in members {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        archive::set_common(&mut header, mode, mtime, content.len() as u64);
        tar.append_data(&mut header, name, io::Cursor::new(content))?;
    }
    Ok(tar.into_inner()?.finish()?)
}

#[cfg(test)]
mod tests;
