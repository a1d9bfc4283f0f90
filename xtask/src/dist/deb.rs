//! `jimini_<version>_<arch>.deb`: a Debian binary package of a Linux gnu target.
//!
//! The format is dpkg's: an `ar` archive of `debian-binary` ("2.0"), `control.tar.xz`
//! (control, conffiles, md5sums) and `data.tar.xz` (the files from `/`). The binaries go to
//! `/usr/bin`, the configured assets where the config says (those under `/etc` are conffiles),
//! and README, `changelog.gz` and a machine-readable `copyright` to `/usr/share/doc/<package>`.
//!
//! **Architecture Invariant:** the bytes depend only on the inputs: every tar member and ar
//! member carries `SOURCE_DATE_EPOCH` as its time and root (0:0) as its owner, members are
//! sorted, and the compressors are the pinned ones of [`super::archive`]. Debian's own tools
//! (dpkg-deb, lintian, dpkg) check the result in the tests.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use md5::Digest;

use super::archive::{self, Digest256, HashingWriter};

/// One file of the package: its absolute path on the installed system, mode and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebFile {
    pub path: String,
    pub mode: u32,
    pub content: Vec<u8>,
}

/// Everything a package is made from; [`files`] and [`control`] turn it into the package.
#[derive(Debug, Clone)]
pub struct DebInput {
    pub package: String,
    /// Already in Debian form (see [`debian_version`]).
    pub version: String,
    pub arch: &'static str,
    pub maintainer: String,
    pub section: String,
    pub homepage: Option<String>,
    pub summary: String,
    pub depends: String,
    /// (file name in /usr/bin, built binary).
    pub binaries: Vec<(String, PathBuf)>,
    /// (source, absolute destination, mode).
    pub assets: Vec<(PathBuf, String, u32)>,
    pub readme: Option<PathBuf>,
    pub changelog: Option<PathBuf>,
    /// The text of the license file, and its SPDX name.
    pub license: (String, String),
    pub copyright_holder: String,
    pub source: Option<String>,
    pub mtime: u64,
}

/// The Debian version of a SemVer version: the pre-release separator becomes `~`, which sorts
/// before the release (`0.3.0~rc.1` < `0.3.0`), and a hyphen inside it becomes `.` (a hyphen
/// would start a Debian revision). Build metadata keeps its `+`.
pub fn debian_version(version: &semver::Version) -> String {
    let mut text = format!("{}.{}.{}", version.major, version.minor, version.patch);
    if !version.pre.is_empty() {
        text.push('~');
        text.push_str(&version.pre.as_str().replace('-', "."));
    }
    if !version.build.is_empty() {
        text.push('+');
        text.push_str(&version.build.as_str().replace('-', "."));
    }
    text
}

/// `<package>_<version>_<arch>.deb`, as Debian names package files.
pub fn file_name(package: &str, version: &semver::Version, arch: &str) -> String {
    format!("{package}_{}_{arch}.deb", debian_version(version))
}

/// The package's files, sorted by path.
pub fn files(input: &DebInput) -> anyhow::Result<Vec<DebFile>> {
    let read = |path: &Path| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    let doc = format!("/usr/share/doc/{}", input.package);
    let mut files = Vec::new();
    for (name, source) in &input.binaries {
        files.push(DebFile {
            path: format!("/usr/bin/{name}"),
            mode: 0o755,
            content: read(source)?,
        });
    }
    for (source, destination, mode) in &input.assets {
        if !destination.starts_with('/') || destination.ends_with('/') {
            bail!(
                "deb asset destination {destination:?} must be an absolute file path such as \
                 /etc/{}/config.toml",
                input.package
            );
        }
        files.push(DebFile {
            path: destination.clone(),
            mode: *mode,
            content: read(source)?,
        });
    }
    if let Some(readme) = &input.readme {
        files.push(DebFile {
            path: format!("{doc}/README.md"),
            mode: 0o644,
            content: read(readme)?,
        });
    }
    // The version carries no Debian revision, so dpkg and lintian take the package as native:
    // its `changelog.gz` is a Debian changelog (one entry for this version), and the
    // project's own changelog ships beside it.
    files.push(DebFile {
        path: format!("{doc}/changelog.gz"),
        mode: 0o644,
        content: gzip_max(debian_changelog(input)?.as_bytes())?,
    });
    if let Some(changelog) = &input.changelog {
        let name = changelog
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "CHANGELOG.md".to_owned());
        files.push(DebFile {
            path: format!("{doc}/{name}.gz"),
            mode: 0o644,
            content: gzip_max(&read(changelog)?)?,
        });
    }
    files.push(DebFile {
        path: format!("{doc}/copyright"),
        mode: 0o644,
        content: copyright(input).into_bytes(),
    });
    files.sort_by(|a, b| a.path.cmp(&b.path));
    if let Some(pair) = files.windows(2).find(|pair| pair[0].path == pair[1].path) {
        bail!(
            "two files of the .deb would be {}: rename one",
            pair[0].path
        );
    }
    Ok(files)
}

/// The one-entry Debian changelog of this version, dated `SOURCE_DATE_EPOCH`.
fn debian_changelog(input: &DebInput) -> anyhow::Result<String> {
    let date = time::OffsetDateTime::from_unix_timestamp(input.mtime as i64)?
        .format(&time::format_description::well_known::Rfc2822)?;
    Ok(format!(
        "{} ({}) unstable; urgency=medium\n\n  * Upstream release {}.\n\n -- {}  {date}\n",
        input.package, input.version, input.version, input.maintainer
    ))
}

/// gzip -9n: what Debian policy asks of compressed docs (no name, no time).
fn gzip_max(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(3)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(data)?;
    Ok(gz.finish()?)
}

/// The machine-readable copyright file (DEP-5) for a single-license upstream.
pub fn copyright(input: &DebInput) -> String {
    let (text, spdx) = &input.license;
    let mut out = String::from(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n",
    );
    out.push_str(&format!("Upstream-Name: {}\n", input.package));
    out.push_str(&format!("Upstream-Contact: {}\n", input.maintainer));
    if let Some(source) = &input.source {
        out.push_str(&format!("Source: {source}\n"));
    }
    out.push_str(&format!(
        "\nFiles: *\nCopyright: {}\nLicense: {spdx}\n",
        input.copyright_holder
    ));
    for line in text.trim_end().lines() {
        match line.trim_end() {
            "" => out.push_str(" .\n"),
            line => out.push_str(&format!(" {line}\n")),
        }
    }
    out
}

/// The `control` file.
pub fn control(input: &DebInput, files: &[DebFile]) -> String {
    // dpkg's estimate: kibibytes of the files, rounded up each, plus one per directory.
    let kib: u64 = files
        .iter()
        .map(|f| (f.content.len() as u64).div_ceil(1024))
        .sum::<u64>()
        + directories(files).len() as u64;
    let mut out = format!(
        "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: {}\nInstalled-Size: {kib}\n\
         Depends: {}\nSection: {}\nPriority: optional\n",
        input.package, input.version, input.arch, input.maintainer, input.depends, input.section
    );
    if let Some(homepage) = &input.homepage {
        out.push_str(&format!("Homepage: {homepage}\n"));
    }
    let summary = input.summary.trim_end_matches('.');
    let (short, long) = match summary.split_once(": ") {
        Some((short, long)) => (short, format!("{long}.")),
        None => (summary, format!("{summary}.")),
    };
    // Debian's synopsis is a noun phrase without an article.
    let short = ["A ", "An ", "The "]
        .iter()
        .find_map(|article| short.strip_prefix(article))
        .unwrap_or(short);
    let long = wrap(&long, 79);
    out.push_str(&format!("Description: {short}\n{long}"));
    out
}

/// `text` as extended-description lines: each starts with a space and fits in `width`.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width - 1 {
            out.push_str(&format!(" {line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!(" {line}\n"));
    }
    out
}

/// Every directory the files live in, `/` excluded, sorted.
fn directories(files: &[DebFile]) -> Vec<String> {
    let mut dirs = std::collections::BTreeSet::new();
    for file in files {
        let mut path = Path::new(&file.path).parent();
        while let Some(dir) = path.filter(|d| *d != Path::new("/")) {
            dirs.insert(dir.to_string_lossy().into_owned());
            path = dir.parent();
        }
    }
    dirs.into_iter().collect()
}

/// Writes the package to `out`; returns its digest.
pub fn write(out: &Path, input: &DebInput) -> anyhow::Result<Digest256> {
    let files = files(input)?;
    let mtime = input.mtime;
    let conffiles: String = files
        .iter()
        .filter(|f| f.path.starts_with("/etc/"))
        .map(|f| format!("{}\n", f.path))
        .collect();
    // dpkg checks conffiles by their own hashes; md5sums lists the rest.
    let md5sums: String = files
        .iter()
        .filter(|f| !f.path.starts_with("/etc/"))
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
        content: control(input, &files).into_bytes(),
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
    let data_tar = tar_xz(&files, &directories(&files), mtime)?;

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
        ar.append(&header, data.as_slice())?;
    }
    let (writer, digest) = ar.into_inner()?.finish()?;
    writer
        .into_inner()
        .map_err(|err| err.into_error())?
        .sync_all()?;
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

/// What `verify` finds wrong with a `.deb`: the ar layout dpkg requires, and every file of
/// `data.tar.xz` against the package's own `md5sums` (conffiles aside), so a changed binary
/// is caught even when the package's checksum was changed with it.
pub fn check(path: &Path, artifact: &super::manifest::Artifact) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut members = Vec::new();
    let mut ar = ar::Archive::new(File::open(path)?);
    while let Some(entry) = ar.next_entry() {
        let mut entry = entry?;
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        let mut data = Vec::new();
        io::Read::read_to_end(&mut entry, &mut data)?;
        members.push((name, data));
    }
    let names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
    if names != ["debian-binary", "control.tar.xz", "data.tar.xz"] || members[0].1 != b"2.0\n" {
        problems.push(format!(
            "{}: not a Debian 2.0 package of control.tar.xz and data.tar.xz ({names:?})",
            artifact.name
        ));
        return Ok(problems);
    }
    let read_tar = |data: &[u8]| -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
        let mut files = BTreeMap::new();
        let mut tar = tar::Archive::new(lzma_rust2::XzReader::new(data, false));
        for entry in tar.entries()? {
            let mut entry = entry?;
            if entry.header().entry_type().is_file() {
                let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                let mut content = Vec::new();
                io::Read::read_to_end(&mut entry, &mut content)?;
                files.insert(name.trim_start_matches("./").to_owned(), content);
            }
        }
        Ok(files)
    };
    let control = read_tar(&members[1].1)?;
    let data = read_tar(&members[2].1)?;
    let md5sums = String::from_utf8_lossy(
        control
            .get("md5sums")
            .map(Vec::as_slice)
            .unwrap_or_default(),
    )
    .into_owned();
    let mut listed = std::collections::BTreeSet::new();
    for line in md5sums.lines() {
        let Some((sum, file)) = line.split_once("  ") else {
            continue;
        };
        listed.insert(file.to_owned());
        match data.get(file) {
            Some(content) if hex::encode(md5::Md5::digest(content)) == sum => {}
            Some(_) => problems.push(format!(
                "{}: {file} differs from its md5sums entry",
                artifact.name
            )),
            None => problems.push(format!(
                "{}: {file} is in md5sums but not in the package",
                artifact.name
            )),
        }
    }
    for file in data
        .keys()
        .filter(|f| !f.starts_with("etc/") && !listed.contains(*f))
    {
        problems.push(format!("{}: {file} is not in md5sums", artifact.name));
    }
    Ok(problems)
}

pub mod input;
#[cfg(test)]
mod tests;
