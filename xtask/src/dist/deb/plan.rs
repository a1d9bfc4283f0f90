//! The plan of a target's `.deb`: every control field and every file with its mode and
//! source, decided from the settings and the package's metadata before anything compiles.
//!
//! **Architecture Invariant:** nothing about a package is decided after the build; the writer
//! only turns this plan into bytes (and fills in `Installed-Size`, which is arithmetic).

use anyhow::bail;
use serde::{Serialize, Serializer};

use crate::dist::plan::entry::{Generated, Mode, PackageEntry, Source};
use crate::targets::{GlibcVersion, Target};
use crate::workspace::DebConfig;

/// The shipped package's metadata that a package's control data and copyright read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageMeta {
    pub description: Option<String>,
    pub homepage: Option<String>,
    /// SPDX expression from `license`.
    pub license: Option<String>,
    pub repository: Option<String>,
    pub authors: Vec<String>,
    /// The holder named by the license file's `Copyright` line, if it has one.
    pub license_holder: Option<String>,
    /// The README (`readme` in Cargo.toml), relative to the workspace root.
    pub readme: Option<String>,
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DebPlan {
    /// `<package>_<version>_<arch>.deb`.
    pub file: String,
    pub control: DebControl,
    /// Sorted by path.
    pub entries: Vec<PackageEntry>,
    /// The entries dpkg keeps a user's changes to (`conffiles`): every file under `/etc`, as
    /// Debian policy (10.7.2) requires. md5sums lists the others.
    pub conffiles: Vec<String>,
    pub copyright: Copyright,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DebControl {
    pub package: String,
    /// In Debian form (see [`debian_version`]).
    pub version: String,
    pub architecture: &'static str,
    pub maintainer: String,
    pub section: String,
    pub priority: &'static str,
    pub homepage: Option<String>,
    pub depends: Depends,
    /// The synopsis and the extended description, as the control file writes them.
    pub synopsis: String,
    pub description: String,
}

/// What the package depends on: `libc6 (>= floor)`, the configured glibc floor, decided before
/// anything compiles; `dist` refuses a binary that needs a newer glibc (`inspect`), so the
/// field holds for what ships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Depends {
    Libc6AtLeast(GlibcVersion),
}

impl Depends {
    /// The field's value.
    pub fn field(&self) -> String {
        match self {
            Depends::Libc6AtLeast(floor) => format!("libc6 (>= {floor})"),
        }
    }
}

impl Serialize for Depends {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.field())
    }
}

/// The DEP-5 copyright file's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Copyright {
    pub upstream_name: String,
    pub upstream_contact: String,
    pub source: Option<String>,
    pub holder: String,
    /// SPDX name of the license.
    pub license: String,
    /// The workspace file whose text follows the `License:` field.
    pub license_file: String,
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

/// `<package>_<version>_<arch>.deb`, as Debian names package files, with the release's own
/// version: the Debian form's `~` (`0.3.0~rc.1`) is renamed to `.` by GitHub's asset upload,
/// and a file whose name changes on the way no longer matches `SHA256SUMS`. The control file
/// keeps the Debian version, which is what dpkg and apt compare.
pub fn file_name(package: &str, version: &semver::Version, arch: &str) -> String {
    format!("{package}_{version}_{arch}.deb")
}

/// The include file that is the license text: the first named `LICENSE*` or `COPYING*`.
pub fn license_file(include: &[String]) -> Option<&str> {
    include_named(include, |name| {
        name.starts_with("license") || name.starts_with("copying")
    })
}

fn include_named(include: &[String], wanted: impl Fn(&str) -> bool) -> Option<&str> {
    include
        .iter()
        .find(|path| {
            let name = path.rsplit('/').next().unwrap_or(path).to_lowercase();
            wanted(&name)
        })
        .map(String::as_str)
}

/// The `Copyright` line of a license text: `Copyright (c) 2026 The jimini developers` →
/// `2026 The jimini developers`.
pub fn copyright_holder(license_text: &str) -> Option<String> {
    license_text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("Copyright")?;
        Some(
            rest.trim_start_matches([' ', ':'])
                .trim_start_matches("(c)")
                .trim()
                .to_owned(),
        )
    })
}

/// What a `.deb` is planned from.
pub struct DebRequest<'a> {
    pub config: &'a DebConfig,
    pub app: &'a str,
    pub version: &'a semver::Version,
    pub target: &'a Target,
    /// The shipped binaries' names (without `.exe`).
    pub binaries: &'a [String],
    /// The include files, sorted.
    pub include: &'a [String],
    pub meta: &'a PackageMeta,
    /// Where the binaries' help texts are, when the project ships man pages.
    pub man_pages: Option<&'a str>,
}

const KEY: &str = "[workspace.metadata.xtask-dist.deb]";

/// The `.deb` of `request.target`, or `None` for a target without a Debian architecture.
pub fn plan(request: &DebRequest) -> anyhow::Result<Option<DebPlan>> {
    let Some(architecture) = request.target.deb_arch else {
        return Ok(None);
    };
    let (config, app, meta) = (request.config, request.app, request.meta);
    let Some(floor) = request.target.glibc_floor() else {
        bail!(
            "a .deb of {} needs a glibc floor for its Depends field (nothing else bounds the \
             glibc the binaries need): set glibc = \"2.17\" in [workspace.metadata.xtask-dist], \
             or remove {KEY}",
            request.target.triple
        );
    };
    let entries = entries(request)?;
    let conffiles = entries
        .iter()
        .filter(|entry| entry.path.starts_with("/etc/"))
        .map(|entry| entry.path.clone())
        .collect();
    let Some(license_file) = license_file(request.include) else {
        bail!(
            "a .deb needs the license text for its copyright file: add the LICENSE file to \
             [workspace.metadata.xtask-dist] include"
        );
    };
    let summary = meta.description.clone().unwrap_or_else(|| app.to_owned());
    let (synopsis, description) = synopsis_and_description(&summary);
    Ok(Some(DebPlan {
        file: file_name(app, request.version, architecture),
        control: DebControl {
            package: app.to_owned(),
            version: debian_version(request.version),
            architecture,
            maintainer: config.maintainer.clone(),
            section: config.section.clone(),
            priority: "optional",
            homepage: meta.homepage.clone(),
            depends: Depends::Libc6AtLeast(floor.clone()),
            synopsis,
            description,
        },
        entries,
        conffiles,
        copyright: Copyright {
            upstream_name: app.to_owned(),
            upstream_contact: config.maintainer.clone(),
            source: meta.repository.clone(),
            holder: meta
                .license_holder
                .clone()
                .unwrap_or_else(|| meta.authors.join(", ")),
            license: meta
                .license
                .clone()
                .unwrap_or_else(|| "see-below".to_owned()),
            license_file: license_file.to_owned(),
        },
    }))
}

/// Every file of the package, sorted by path: the binaries, the configured assets, the docs.
fn entries(request: &DebRequest) -> anyhow::Result<Vec<PackageEntry>> {
    let app = request.app;
    let doc = format!("/usr/share/doc/{app}");
    let mut entries: Vec<PackageEntry> = request
        .binaries
        .iter()
        .map(|name| PackageEntry::binary(format!("/usr/bin/{name}"), name))
        .collect();
    for [source, destination, mode] in &request.config.assets {
        let Some(mode) = Mode::parse(mode) else {
            bail!(
                "{KEY} assets: mode {mode:?} of {destination} is not an octal permission mode: \
                 write it like \"644\""
            );
        };
        if !destination.starts_with('/') || destination.ends_with('/') {
            bail!(
                "{KEY} assets: destination {destination:?} must be an absolute file path such \
                 as /etc/{app}/config.toml"
            );
        }
        entries.push(PackageEntry::file(destination.clone(), source, mode));
    }
    if let Some(readme) = include_named(request.include, |n| n == "readme.md" || n == "readme") {
        entries.push(PackageEntry::file(
            format!("{doc}/README.md"),
            readme,
            Mode::FILE,
        ));
    }
    // The version carries no Debian revision, so dpkg and lintian take the package as native:
    // its `changelog.gz` is a Debian changelog (one entry for this version), and the project's
    // own changelog ships beside it.
    entries.push(generated(
        format!("{doc}/changelog.gz"),
        Generated::DebianChangelog,
    ));
    if let Some(changelog) = include_named(request.include, |n| n.starts_with("changelog")) {
        let name = changelog.rsplit('/').next().unwrap_or(changelog);
        entries.push(PackageEntry {
            path: format!("{doc}/{name}.gz"),
            mode: Mode::FILE,
            source: Source::Gzipped {
                path: changelog.to_owned(),
            },
        });
    }
    entries.push(generated(
        format!("{doc}/copyright"),
        Generated::DebianCopyright,
    ));
    if let Some(dir) = request.man_pages {
        for binary in request.binaries {
            let path = format!("/usr/share/man/man1/{binary}.1.gz");
            entries.push(PackageEntry::man_page(path, binary, dir, true));
        }
    }
    entries.sort();
    if let Some(pair) = entries.windows(2).find(|pair| pair[0].path == pair[1].path) {
        bail!(
            "{KEY}: two files of the .deb would be {}: change one asset's destination",
            pair[0].path
        );
    }
    Ok(entries)
}

fn generated(path: String, what: Generated) -> PackageEntry {
    PackageEntry {
        path,
        mode: Mode::FILE,
        source: Source::Generated { what },
    }
}

/// `A minimal gateway: regex rules.` → (`minimal gateway`, `Regex rules.`-style long text).
/// Debian's synopsis is a noun phrase without an article; the rest is the extended text.
/// The synopsis of `summary` with its first letter in upper case, as the RPM summary, the
/// formula's desc and the Scoop and winget descriptions are written.
pub fn capitalized_synopsis(summary: &str) -> String {
    let (synopsis, _) = synopsis_and_description(summary);
    let mut chars = synopsis.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub fn synopsis_and_description(summary: &str) -> (String, String) {
    let summary = summary.trim_end_matches('.');
    let (short, long) = match summary.split_once(": ") {
        Some((short, long)) => (short, format!("{long}.")),
        None => (summary, format!("{summary}.")),
    };
    let short = ["A ", "An ", "The "]
        .iter()
        .find_map(|article| short.strip_prefix(article))
        .unwrap_or(short);
    (short.to_owned(), long)
}
