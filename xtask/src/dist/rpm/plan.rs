//! The plan of a target's RPM, made from its `.deb`'s plan: the same files in the same places
//! (binaries in `/usr/bin`, the assets, the docs and man pages), with RPM's conventions where
//! they differ: the licence under `/usr/share/licenses` (`%license`), docs uncompressed
//! (`%doc`), systemd units under `/usr/lib/systemd/system` (disabled: no scriptlet enables
//! them), what the `.deb` keeps as conffiles as `%config(noreplace)`, `Requires` on glibc's
//! symbol version of the floor, and a `%changelog` entry from the release notes.
//!
//! **Architecture Invariant:** like the `.deb`, everything is decided before the build.

use anyhow::bail;
use serde::Serialize;

use crate::dist::deb::plan::{DebPlan, Depends, debian_version};
use crate::dist::plan::entry::{Generated, PackageEntry, Source};
use crate::targets::Target;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RpmPlan {
    /// `<name>-<version>-<release>.<arch>.rpm`, with the release's SemVer version (a `~`
    /// would be renamed on upload, as for the `.deb`).
    pub file: String,
    pub name: String,
    /// RPM's form: a pre-release after `~`, which sorts before the release (as in Debian).
    pub version: String,
    pub release: &'static str,
    pub arch: &'static str,
    pub license: String,
    /// The RPM group (no distribution requires one; rpmlint wants the tag).
    pub group: &'static str,
    pub summary: String,
    pub description: String,
    pub url: Option<String>,
    pub packager: String,
    pub requires: Vec<String>,
    /// Sorted by path.
    pub entries: Vec<RpmEntry>,
    pub changelog: RpmChangelog,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RpmEntry {
    #[serde(flatten)]
    pub entry: PackageEntry,
    pub role: Role,
}

/// What RPM records about a file besides its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Plain,
    /// `%config(noreplace)`: an upgrade keeps the administrator's edits.
    Config,
    Doc,
    License,
}

/// `text` as lines of at most `width` columns (words longer than that stay whole).
fn wrapped(text: &str, width: usize) -> String {
    let mut lines: Vec<String> = vec![];
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines.join("\n")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RpmChangelog {
    /// `Packager <mail> - <version>-<release>`, as rpmlint expects the entry's header.
    pub author: String,
    pub text: String,
}

/// The RPM of `deb`'s target, or `None` for a target without an RPM architecture. `notes`: the
/// version's CHANGELOG section, when it has one. Pure.
pub fn plan(
    deb: &DebPlan,
    target: &Target,
    version: &semver::Version,
    notes: Option<&str>,
) -> anyhow::Result<Option<RpmPlan>> {
    let Some(arch) = target.rpm_arch else {
        return Ok(None);
    };
    let name = deb.control.package.clone();
    let doc = format!("/usr/share/doc/{name}/");
    let mut entries = vec![];
    for entry in &deb.entries {
        let mut entry = entry.clone();
        let role = match (&entry.source, entry.path.as_str()) {
            // RPM's own %changelog replaces the Debian one.
            (
                Source::Generated {
                    what: Generated::DebianChangelog,
                },
                _,
            ) => continue,
            (
                Source::Generated {
                    what: Generated::DebianCopyright,
                },
                _,
            ) => {
                let license = &deb.copyright.license_file;
                let file = license.rsplit('/').next().unwrap_or(license);
                entry.path = format!("/usr/share/licenses/{name}/{file}");
                entry.source = Source::File {
                    path: license.clone(),
                };
                Role::License
            }
            (Source::Gzipped { path }, at) if at.starts_with(&doc) => {
                let file = path.rsplit('/').next().unwrap_or(path);
                entry.path = format!("{doc}{file}");
                entry.source = Source::File { path: path.clone() };
                Role::Doc
            }
            (_, at) if at.starts_with(&doc) || at.starts_with("/usr/share/man/") => Role::Doc,
            (_, at) if deb.conffiles.iter().any(|c| c == at) => Role::Config,
            _ => Role::Plain,
        };
        if let Some(unit) = entry.path.strip_prefix("/lib/systemd/") {
            entry.path = format!("/usr/lib/systemd/{unit}");
        }
        entries.push(RpmEntry { entry, role });
    }
    entries.sort_by(|a, b| a.entry.path.cmp(&b.entry.path));
    if let Some(pair) = entries
        .windows(2)
        .find(|pair| pair[0].entry.path == pair[1].entry.path)
    {
        bail!("two files of the RPM would be {}", pair[0].entry.path);
    }
    let requires = match &deb.control.depends {
        Depends::Libc6AtLeast(floor) => vec![format!("libc.so.6(GLIBC_{floor})(64bit)")],
    };
    let version_text = debian_version(version);
    let release = "1";
    let notes = notes
        .map(|notes| notes.trim().to_owned())
        .filter(|notes| !notes.is_empty())
        .unwrap_or_else(|| format!("- {name} {version}: a build between releases"));
    Ok(Some(RpmPlan {
        file: format!("{name}-{version}-{release}.{arch}.rpm"),
        version: version_text.clone(),
        release,
        arch,
        license: deb.copyright.license.clone(),
        group: "Applications/Internet",
        summary: crate::dist::deb::plan::capitalized_synopsis(&deb.control.synopsis),
        description: wrapped(&deb.control.description, 79),
        url: deb.control.homepage.clone(),
        packager: deb.control.maintainer.clone(),
        requires,
        entries,
        changelog: RpmChangelog {
            author: format!("{} - {version_text}-{release}", deb.control.maintainer),
            text: notes,
        },
        name,
    }))
}
