//! The texts of a `.deb`: `control`, the DEP-5 `copyright` and the one-entry Debian changelog.

use std::path::Path;

use super::DebFile;
use super::plan::{Copyright, DebControl};

/// The one-entry Debian changelog of this version, dated `SOURCE_DATE_EPOCH`.
pub fn debian_changelog(control: &DebControl, mtime: u64) -> anyhow::Result<String> {
    let date = time::OffsetDateTime::from_unix_timestamp(mtime as i64)?
        .format(&time::format_description::well_known::Rfc2822)?;
    Ok(format!(
        "{} ({}) unstable; urgency=medium\n\n  * Upstream release {}.\n\n -- {}  {date}\n",
        control.package, control.version, control.version, control.maintainer
    ))
}

/// The machine-readable copyright file (DEP-5) for a single-license upstream.
pub fn copyright(copyright: &Copyright, license_text: &str) -> String {
    let mut out = String::from(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n",
    );
    out.push_str(&format!("Upstream-Name: {}\n", copyright.upstream_name));
    out.push_str(&format!(
        "Upstream-Contact: {}\n",
        copyright.upstream_contact
    ));
    if let Some(source) = &copyright.source {
        out.push_str(&format!("Source: {source}\n"));
    }
    out.push_str(&format!(
        "\nFiles: *\nCopyright: {}\nLicense: {}\n",
        copyright.holder, copyright.license
    ));
    for line in license_text.trim_end().lines() {
        match line.trim_end() {
            "" => out.push_str(" .\n"),
            line => out.push_str(&format!(" {line}\n")),
        }
    }
    out
}

/// The `control` file.
pub fn control(control: &DebControl, files: &[DebFile]) -> String {
    // dpkg's estimate: kibibytes of the files, rounded up each, plus one per directory.
    let kib: u64 = files
        .iter()
        .map(|f| (f.content.len() as u64).div_ceil(1024))
        .sum::<u64>()
        + directories(files).len() as u64;
    let mut out = format!(
        "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: {}\nInstalled-Size: {kib}\n\
         Depends: {}\nSection: {}\nPriority: {}\n",
        control.package,
        control.version,
        control.architecture,
        control.maintainer,
        control.depends.field(),
        control.section,
        control.priority,
    );
    if let Some(homepage) = &control.homepage {
        out.push_str(&format!("Homepage: {homepage}\n"));
    }
    let long = wrap(&control.description, 79);
    out.push_str(&format!("Description: {}\n{long}", control.synopsis));
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
pub fn directories(files: &[DebFile]) -> Vec<String> {
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
