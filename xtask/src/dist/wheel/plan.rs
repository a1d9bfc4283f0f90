//! The wheel of a target, as plan data: its PEP 440 version, its platform tags (from the
//! target's OS, architecture, C library and glibc floor), every entry, and the metadata.
//!
//! A wheel is what `pip`, `pipx` and `uv` install: the binaries go to the environment's
//! `bin/` (`Scripts\` on Windows) from `<name>-<version>.data/scripts/`, as ruff and uv ship
//! theirs. The target's SBOM is in `.dist-info/sboms/` (PEP 770). The `RECORD` is written by
//! the writer (it holds the entries' digests) and is last.

use anyhow::bail;
use serde::Serialize;

use crate::dist::deb::plan::PackageMeta;
use crate::dist::plan::entry::{Generated, Mode, PackageEntry};
use crate::targets::{Libc, Linkage, Os, Target};

/// The musl version Rust's `*-linux-musl` targets link statically (1.2.3 since Rust 1.71):
/// `musllinux_1_2` says "runs where musl 1.2 runs", and static binaries run anywhere.
pub const MUSLLINUX: (u32, u32) = (1, 2);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WheelPlan {
    /// `<name>-<pep440>-py3-none-<platform tags joined by '.'>.whl`.
    pub file: String,
    pub version: String,
    /// Every tag, `py3-none-<platform>`.
    pub tags: Vec<String>,
    /// Sorted by path; the writer adds `<dist-info>/RECORD` after them.
    pub entries: Vec<PackageEntry>,
    pub record: String,
    pub metadata: WheelMetadata,
}

/// The core metadata (`METADATA`, Metadata-Version 2.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WheelMetadata {
    pub name: String,
    pub version: String,
    pub summary: Option<String>,
    /// The workspace file that is the long description (Markdown), if any.
    pub readme: Option<String>,
    pub license_expression: Option<String>,
    /// Below `<dist-info>/licenses/`.
    pub license_files: Vec<String>,
    pub keywords: Vec<String>,
    pub classifiers: Vec<String>,
    /// `(label, url)`.
    pub project_urls: Vec<(String, String)>,
}

pub struct WheelRequest<'a> {
    pub app: &'a str,
    pub version: &'a semver::Version,
    pub target: &'a Target,
    pub binaries: &'a [String],
    /// The workspace's license file, if one is included.
    pub license_file: Option<&'a str>,
    pub meta: &'a PackageMeta,
    /// Classifiers from `[workspace.metadata.xtask-dist.wheel]`, after dist's own.
    pub classifiers: &'a [String],
    /// The file name of the target's SBOM, which the wheel carries (PEP 770).
    pub sbom: &'a str,
}

/// The wheel of `request.target`, or `None` for a target that has no platform tag.
pub fn plan(request: &WheelRequest) -> anyhow::Result<Option<WheelPlan>> {
    let Some(platforms) = platform_tags(request.target) else {
        return Ok(None);
    };
    let version = pep440(request.version)?;
    let name = request.app.replace('-', "_");
    let data = format!("{name}-{version}.data");
    let info = format!("{name}-{version}.dist-info");
    let mut entries: Vec<PackageEntry> = request
        .binaries
        .iter()
        .map(|binary| {
            PackageEntry::binary(
                format!("{data}/scripts/{}", request.target.binary_file(binary)),
                binary,
            )
        })
        .collect();
    let license_files: Vec<String> = request
        .license_file
        .map(|file| file.rsplit('/').next().unwrap_or(file).to_owned())
        .into_iter()
        .collect();
    if let (Some(source), Some(name)) = (request.license_file, license_files.first()) {
        entries.push(PackageEntry::file(
            format!("{info}/licenses/{name}"),
            source,
            Mode::FILE,
        ));
    }
    // PEP 770: SBOMs of what the wheel holds, in `.dist-info/sboms/`, listed in RECORD like
    // every member (pip-audit and SBOM scanners read them from installed packages).
    for (file, what) in [
        ("METADATA", Generated::WheelMetadata),
        ("WHEEL", Generated::WheelInfo),
        (&format!("sboms/{}", request.sbom), Generated::Sbom),
    ] {
        entries.push(PackageEntry::generated(format!("{info}/{file}"), what));
    }
    entries.sort();
    let tags: Vec<String> = platforms.iter().map(|p| format!("py3-none-{p}")).collect();
    let meta = request.meta;
    let project_urls = [
        ("Homepage", &meta.homepage),
        ("Repository", &meta.repository),
    ]
    .into_iter()
    .filter_map(|(label, url)| Some((label.to_owned(), url.clone()?)))
    .collect();
    Ok(Some(WheelPlan {
        file: format!("{name}-{version}-py3-none-{}.whl", platforms.join(".")),
        record: format!("{info}/RECORD"),
        metadata: WheelMetadata {
            name: request.app.to_owned(),
            version: version.clone(),
            summary: meta.description.clone(),
            readme: meta.readme.clone(),
            license_expression: meta.license.clone(),
            license_files,
            keywords: meta.keywords.clone(),
            classifiers: classifiers(request.target)
                .into_iter()
                .chain(request.classifiers.iter().cloned())
                .collect(),
            project_urls,
        },
        version,
        tags,
        entries,
    }))
}

/// The platform tags a target's binaries satisfy: the glibc floor decides the manylinux tag
/// (with its legacy alias), static musl is `musllinux_1_2`, Windows `win_amd64`/`win_arm64`.
/// A glibc target without a floor has none: nothing bounds the glibc it needs.
pub fn platform_tags(target: &Target) -> Option<Vec<String>> {
    let arch = target.arch.name();
    match (target.os, target.libc, &target.linkage) {
        (Os::Linux, Libc::Glibc, Linkage::Zig { glibc }) => {
            let (major, minor) = (*glibc.0.first()?, *glibc.0.get(1)?);
            let mut tags = vec![format!("manylinux_{major}_{minor}_{arch}")];
            let legacy = match (major, minor) {
                (2, 5) => Some("manylinux1"),
                (2, 12) => Some("manylinux2010"),
                (2, 17) => Some("manylinux2014"),
                _ => None,
            };
            tags.extend(legacy.map(|legacy| format!("{legacy}_{arch}")));
            Some(tags)
        }
        (Os::Linux, Libc::MuslStatic, _) => {
            let (major, minor) = MUSLLINUX;
            Some(vec![format!("musllinux_{major}_{minor}_{arch}")])
        }
        (Os::MacOs, _, Linkage::ZigApple { macos }) => {
            let (major, minor) = (*macos.0.first()?, macos.0.get(1).copied().unwrap_or(0));
            let arch = target.arch.apple();
            Some(vec![format!("macosx_{major}_{minor}_{arch}")])
        }
        (Os::Windows, _, _) => target
            .arch
            .windows()
            .map(|arch| vec![format!("win_{arch}")]),
        _ => None,
    }
}

/// Trove classifiers that are true of every wheel, and of this target's OS.
fn classifiers(target: &Target) -> Vec<String> {
    let os = match target.os {
        Os::Linux => Some("Operating System :: POSIX :: Linux"),
        Os::Windows => Some("Operating System :: Microsoft :: Windows"),
        Os::MacOs => Some("Operating System :: MacOS"),
        Os::Other => None,
    };
    [
        Some("Environment :: Console"),
        Some("Programming Language :: Rust"),
        os,
        Some("Topic :: Security"),
    ]
    .into_iter()
    .flatten()
    .map(str::to_owned)
    .collect()
}

/// The PEP 440 form of a SemVer version: `0.3.0-rc.1` → `0.3.0rc1`, `-alpha.N`/`-beta.N` →
/// `aN`/`bN`, `0.2.1-dev.48+g9f4bae0` → `0.2.1.dev48+g9f4bae0` (build metadata is the local
/// segment). A pre-release PEP 440 cannot say is refused, naming the version.
pub fn pep440(version: &semver::Version) -> anyhow::Result<String> {
    let release = format!("{}.{}.{}", version.major, version.minor, version.patch);
    let pre: Vec<&str> = version.pre.as_str().split('.').collect();
    let suffix = match pre.as_slice() {
        [""] => String::new(),
        [label, number] if number.parse::<u64>().is_ok() => {
            let number: u64 = number.parse()?;
            match *label {
                "alpha" | "a" => format!("a{number}"),
                "beta" | "b" => format!("b{number}"),
                "rc" => format!("rc{number}"),
                "dev" => format!(".dev{number}"),
                _ => bail!(unexpressible(version)),
            }
        }
        _ => bail!(unexpressible(version)),
    };
    let local = version.build.as_str();
    if local.is_empty() {
        return Ok(format!("{release}{suffix}"));
    }
    let local = local.replace('-', ".").to_ascii_lowercase();
    Ok(format!("{release}{suffix}+{local}"))
}

fn unexpressible(version: &semver::Version) -> String {
    format!(
        "version {version} has a pre-release PEP 440 cannot express for the wheels: use \
         -alpha.N, -beta.N, -rc.N or -dev.N, or turn wheels off with `wheel = false` in \
         [workspace.metadata.xtask-dist]"
    )
}

/// `METADATA`: Metadata-Version 2.4 headers, then the README as the body.
pub fn metadata_text(meta: &WheelMetadata, readme: Option<&str>) -> String {
    let mut text = format!(
        "Metadata-Version: 2.4\nName: {}\nVersion: {}\n",
        meta.name, meta.version
    );
    let mut header = |key: &str, value: &str| text.push_str(&format!("{key}: {value}\n"));
    if let Some(summary) = &meta.summary {
        header("Summary", summary);
    }
    if !meta.keywords.is_empty() {
        header("Keywords", &meta.keywords.join(","));
    }
    if let Some(license) = &meta.license_expression {
        header("License-Expression", license);
    }
    for file in &meta.license_files {
        header("License-File", file);
    }
    for classifier in &meta.classifiers {
        header("Classifier", classifier);
    }
    for (label, url) in &meta.project_urls {
        header("Project-URL", &format!("{label}, {url}"));
    }
    if readme.is_some() {
        header("Description-Content-Type", "text/markdown; charset=UTF-8");
    }
    if let Some(readme) = readme {
        text.push('\n');
        text.push_str(readme);
    }
    text
}

/// `WHEEL`: a binary wheel of no Python code, every tag.
pub fn wheel_text(tags: &[String]) -> String {
    let mut text = format!(
        "Wheel-Version: 1.0\nGenerator: jimini-xtask {}\nRoot-Is-Purelib: false\n",
        env!("CARGO_PKG_VERSION")
    );
    for tag in tags {
        text.push_str(&format!("Tag: {tag}\n"));
    }
    text
}

#[cfg(test)]
mod tests;
