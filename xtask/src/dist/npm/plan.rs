//! The npm packages (pure): one package per Node platform holding that target's binaries
//! (`@scope/cli-linux-x64`, with npm's `os`, `cpu` and `libc` fields), and the main package
//! whose `optionalDependencies` pin every platform package of the release list at the exact
//! version and whose commands run the installed one. npm picks the platform package by those
//! fields: no install script, so `--ignore-scripts`, proxies and offline mirrors change nothing
//! (esbuild's, Biome's and Turbo's way).

use anyhow::bail;
use serde::Serialize;
use serde_json::json;

use crate::dist::plan::entry::{Generated, Mode, PackageEntry};
use crate::dist::plan::{Binary, PlanInput};
use crate::targets::{NodePlatform, Target};
use crate::workspace::NpmConfig;

/// One npm package: its name, the tarball's file name in the dist, its `package.json` and
/// every file of the tarball (below `package/`, as `npm pack` writes them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NpmPackagePlan {
    pub name: String,
    pub file: String,
    pub package_json: serde_json::Value,
    /// Sorted by path.
    pub entries: Vec<PackageEntry>,
    /// The main package's commands: what its launcher runs (empty for a platform package).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<LauncherPlatform>,
}

/// A platform package as the main package's launcher looks for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LauncherPlatform {
    pub os: &'static str,
    pub cpu: &'static str,
    pub libc: Option<&'static str>,
    pub package: String,
    /// `.exe` on Windows.
    pub exe: &'static str,
}

/// What the packages are planned from.
pub struct NpmRequest<'a> {
    pub config: &'a NpmConfig,
    pub input: &'a PlanInput<'a>,
    /// The license file among the include files, shipped in every package.
    pub license_file: Option<&'a str>,
}

/// The main package's npm name: the configured one, else the app's.
pub fn main_name(config: &NpmConfig, app: &str) -> String {
    config.name.clone().unwrap_or_else(|| app.to_owned())
}

/// `@scope/cli-<os>-<cpu>[-musl]`.
pub fn platform_name(config: &NpmConfig, platform: &NodePlatform) -> String {
    format!("{}/cli-{}", config.scope, platform.suffix())
}

/// The tarball of a package: `<app>_<version>_npm[-<platform>].tgz`. Not npm pack's
/// `<name>-<version>.tgz`: pip reads a `<app>-<version>.tgz` beside the wheels as the app's
/// source distribution.
fn file_name(app: &str, version: &semver::Version, platform: Option<&NodePlatform>) -> String {
    match platform {
        Some(platform) => format!("{app}_{version}_npm-{}.tgz", platform.suffix()),
        None => format!("{app}_{version}_npm.tgz"),
    }
}

/// The version npm gives a package: SemVer without build metadata (npm drops it, so a
/// snapshot's `+g<commit>` could never be asked for).
pub fn npm_version(version: &semver::Version) -> String {
    let mut version = version.clone();
    version.build = semver::BuildMetadata::EMPTY;
    version.to_string()
}

/// The configuration refused before anything compiles: npm's rules for names.
pub fn check_config(config: &NpmConfig, app: &str) -> anyhow::Result<()> {
    let valid = |part: &str| {
        !part.is_empty()
            && !part.starts_with(['.', '_'])
            && part.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_')
            })
    };
    let Some(scope) = config.scope.strip_prefix('@').filter(|s| valid(s)) else {
        bail!(
            "[workspace.metadata.xtask-dist.npm] scope = {:?} is not an npm scope: write it \
             as \"@name\" (lowercase letters, digits, '-', '.', '_'), the npm organisation or \
             user that publishes the platform packages",
            config.scope
        );
    };
    let name = main_name(config, app);
    if !valid(&name) || name.len() > 214 || scope.len() + 20 > 214 {
        bail!(
            "the npm package name {name:?} is not valid on npm (lowercase letters, digits, \
             '-', '.', '_', at most 214 characters): set [workspace.metadata.xtask-dist.npm] \
             name"
        );
    }
    Ok(())
}

/// The platform package of `target`, when Node has names for it.
pub fn platform_package(
    request: &NpmRequest,
    target: &Target,
    binaries: &[Binary],
) -> Option<NpmPackagePlan> {
    let platform = target.node?;
    let input = request.input;
    let app = &input.config.package;
    let name = platform_name(request.config, &platform);
    let mut document = common_fields(request, &name);
    let libc = match platform.libc {
        Some(libc) => format!(", {libc}"),
        None => String::new(),
    };
    document["description"] = json!(format!(
        "The {app} binaries for {} {}{libc} (installed by the {} package)",
        platform.os,
        platform.cpu,
        main_name(request.config, app)
    ));
    document["os"] = json!([platform.os]);
    document["cpu"] = json!([platform.cpu]);
    if let Some(libc) = platform.libc {
        document["libc"] = json!([libc]);
    }
    // Yarn PnP: binaries must be on disk to be run.
    document["preferUnplugged"] = json!(true);
    let mut entries: Vec<PackageEntry> = binaries
        .iter()
        .map(|binary| PackageEntry::binary(format!("bin/{}", binary.file), &binary.name))
        .collect();
    entries.extend(shared_entries(request));
    entries.sort();
    Some(NpmPackagePlan {
        name,
        file: file_name(app, input.version, Some(&platform)),
        package_json: document,
        entries,
        platforms: vec![],
    })
}

/// The main package: a command per binary, each running that binary of the platform package
/// npm installed, and every platform package of the release list pinned at this version.
pub fn main_package(
    request: &NpmRequest,
    release: &[Target],
) -> anyhow::Result<Option<NpmPackagePlan>> {
    let input = request.input;
    let app = &input.config.package;
    let version = npm_version(input.version);
    let mut platforms: Vec<LauncherPlatform> = release
        .iter()
        .filter_map(|target| {
            let platform = target.node?;
            Some(LauncherPlatform {
                os: platform.os,
                cpu: platform.cpu,
                libc: platform.libc,
                package: platform_name(request.config, &platform),
                exe: target.exe_suffix,
            })
        })
        .collect();
    platforms.sort();
    if platforms.is_empty() {
        bail!(
            "[workspace.metadata.xtask-dist.npm] needs a release target Node runs on (Linux, \
             macOS or Windows on x86_64 or aarch64): add one to `targets`, or remove the npm \
             section"
        );
    }
    let name = main_name(request.config, app);
    let mut document = common_fields(request, &name);
    if let Some(description) = &input.meta.description {
        document["description"] = json!(description);
    }
    let mut bin = serde_json::Map::new();
    let mut entries = vec![PackageEntry::generated(
        "lib/launch.js".to_owned(),
        Generated::NpmLauncher,
    )];
    for binary in &input.binaries {
        let path = format!("bin/{binary}.js");
        bin.insert(binary.clone(), json!(path));
        let mut entry = PackageEntry::generated(path, Generated::NpmCommand);
        entry.mode = Mode::EXECUTABLE;
        entries.push(entry);
    }
    document["bin"] = serde_json::Value::Object(bin);
    document["optionalDependencies"] = platforms
        .iter()
        .map(|p| (p.package.clone(), json!(version)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    // The launcher's JavaScript (child_process, process.report) needs Node 14.
    document["engines"] = json!({ "node": ">=14" });
    if let Some(readme) = &input.meta.readme {
        entries.push(PackageEntry::file(
            "README.md".to_owned(),
            readme,
            Mode::FILE,
        ));
    }
    entries.extend(shared_entries(request));
    entries.sort();
    Ok(Some(NpmPackagePlan {
        name,
        file: file_name(app, input.version, None),
        package_json: document,
        entries,
        platforms,
    }))
}

/// What both kinds of package say: name, version, licence, where the project lives, and that
/// a scoped package is public.
fn common_fields(request: &NpmRequest, name: &str) -> serde_json::Value {
    let meta = &request.input.meta;
    let mut document = json!({
        "name": name,
        "version": npm_version(request.input.version),
    });
    if let Some(license) = &meta.license {
        document["license"] = json!(license);
    }
    if let Some(homepage) = meta.homepage.as_ref().or(meta.repository.as_ref()) {
        document["homepage"] = json!(homepage);
    }
    if let Some(repository) = &meta.repository {
        document["repository"] = json!({
            "type": "git",
            "url": format!("git+{}.git", repository.trim_end_matches('/').trim_end_matches(".git")),
        });
    }
    if name.starts_with('@') {
        document["publishConfig"] = json!({ "access": "public" });
    }
    document
}

/// `package.json` and the licence, in every package.
fn shared_entries(request: &NpmRequest) -> Vec<PackageEntry> {
    let mut entries = vec![PackageEntry::generated(
        "package.json".to_owned(),
        Generated::NpmPackageJson,
    )];
    if let Some(license) = request.license_file {
        let name = license.rsplit('/').next().unwrap_or(license);
        entries.push(PackageEntry::file(name.to_owned(), license, Mode::FILE));
    }
    entries
}
