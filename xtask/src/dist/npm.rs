//! The npm packages' tarballs, as `npm pack` makes them (`package/` and the files below it,
//! gzip), written from their planned entries with fixed modes, owners and times, so two
//! builds give the same bytes; and `verify`'s check of a tarball in a dist.

pub mod plan;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use flate2::{Compression, GzBuilder};

use crate::dist::archive::{self, Digest256, HashingWriter};
use crate::dist::manifest::{Artifact, Manifest};
use crate::dist::plan::entry::{Generated, Source};
use plan::LauncherPlatform;
pub use plan::NpmPackagePlan;

/// Every file of a tarball is below this directory (npm's rule).
const TOP: &str = "package";

const LAUNCHER: &str = include_str!("npm/launch.js");

/// Each command of the main package: its file name is the command (`bin/jimini.js`).
const COMMAND: &str = "#!/usr/bin/env node\n\"use strict\";\n\
    require(\"../lib/launch.js\").run(require(\"path\").basename(__filename, \".js\"));\n";

/// `package.json` as written: two-space indent, final newline.
pub fn package_json(plan: &NpmPackagePlan) -> String {
    let mut text = serde_json::to_string_pretty(&plan.package_json).expect("JSON values serialise");
    text.push('\n');
    text
}

/// The launcher with the app's name and the platform packages it looks for.
pub fn launcher(app: &str, platforms: &[LauncherPlatform]) -> String {
    let quoted = serde_json::to_string(app).expect("strings serialise");
    let table = serde_json::to_string(platforms).expect("the table serialises");
    LAUNCHER
        .replace("__APP__'s", &format!("{app}'s"))
        .replace("__APP__", &quoted)
        .replace("__PLATFORMS__", &table)
}

/// Writes the tarball of `plan` at `out`; `read` gives the bytes of a binary or workspace file.
pub fn write(
    out: &Path,
    plan: &NpmPackagePlan,
    app: &str,
    mtime: u64,
    read: &dyn Fn(&Source) -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<Digest256> {
    let file =
        fs_err::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let gz = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(HashingWriter::new(file), Compression::best());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for entry in &plan.entries {
        let bytes = match &entry.source {
            Source::Generated {
                what: Generated::NpmPackageJson,
            } => package_json(plan).into_bytes(),
            Source::Generated {
                what: Generated::NpmLauncher,
            } => launcher(app, &plan.platforms).into_bytes(),
            Source::Generated {
                what: Generated::NpmCommand,
            } => COMMAND.as_bytes().to_vec(),
            other => read(other)?,
        };
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        archive::set_common(&mut header, entry.mode.0, mtime, bytes.len() as u64);
        tar.append_data(
            &mut header,
            format!("{TOP}/{}", entry.path),
            bytes.as_slice(),
        )
        .with_context(|| format!("cannot pack {} into {}", entry.path, plan.file))?;
    }
    let gz = tar.into_inner()?;
    let (file, digest) = gz.finish()?.finish()?;
    file.sync_all()?;
    Ok(digest)
}

/// A platform package's binaries: file name → bytes.
pub type Binaries = BTreeMap<String, Vec<u8>>;

/// What `verify` asks of an npm tarball: every member below `package/`, regular, the files the
/// manifest records (its `files`); a `package.json` of this package at the dist's version; a
/// platform package's binaries executable, a main package's dependencies pinned at the
/// version. Returns the problems and the binaries' bytes (by file name) for the comparison
/// with the target's archive.
pub fn check(
    path: &Path,
    artifact: &Artifact,
    manifest: &Manifest,
) -> anyhow::Result<(Vec<String>, Binaries)> {
    let mut problems = vec![];
    let mut files = vec![];
    let mut binaries = BTreeMap::new();
    let mut document = None;
    archive::read_tar(
        path,
        crate::targets::ArchiveFormat::TarGz,
        |name, mode, kind, reader| {
            let Some(file) = name.strip_prefix("package/") else {
                problems.push(format!("{name} is not below package/"));
                return Ok(());
            };
            if kind != tar::EntryType::Regular {
                problems.push(format!("{name} is not a regular file"));
                return Ok(());
            }
            files.push(file.to_owned());
            if file == "package.json" {
                let mut text = String::new();
                reader.read_to_string(&mut text)?;
                document = Some(text);
            } else if let Some(binary) = file.strip_prefix("bin/")
                && artifact.binaries.iter().any(|b| b == binary)
            {
                if mode & 0o111 == 0 {
                    problems.push(format!("{name} is not executable"));
                }
                let mut bytes = vec![];
                reader.read_to_end(&mut bytes)?;
                binaries.insert(binary.to_owned(), bytes);
            }
            Ok(())
        },
    )?;
    files.sort();
    let mut recorded = artifact.files.clone();
    recorded.sort();
    if files != recorded {
        problems.push(format!(
            "it holds {files:?}, the manifest records {recorded:?}"
        ));
    }
    let Some(text) = document else {
        problems.push("it has no package/package.json".to_owned());
        return Ok((problems, binaries));
    };
    let document: serde_json::Value = match serde_json::from_str(&text) {
        Ok(document) => document,
        Err(err) => {
            problems.push(format!("package.json is not JSON: {err}"));
            return Ok((problems, binaries));
        }
    };
    let version = semver::Version::parse(&manifest.version)
        .map(|v| plan::npm_version(&v))
        .unwrap_or_else(|_| manifest.version.clone());
    if document["version"] != version.as_str() {
        problems.push(format!(
            "package.json says version {}, the dist is {version}",
            document["version"]
        ));
    }
    if let Some(name) = &artifact.package
        && document["name"] != name.as_str()
    {
        problems.push(format!(
            "package.json names {}, the manifest {name}",
            document["name"]
        ));
    }
    if let Some(dependencies) = document["optionalDependencies"].as_object() {
        for (name, pinned) in dependencies {
            if pinned != version.as_str() {
                problems.push(format!(
                    "it pins {name} at {pinned}, not at the dist's version {version}"
                ));
            }
        }
    }
    Ok((problems, binaries))
}

#[cfg(test)]
mod tests;
