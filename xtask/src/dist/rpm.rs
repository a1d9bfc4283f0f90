//! A target's RPM from its plan (`rpm/plan.rs`), written with the `rpm` crate (rpm-rs): gzip
//! payload, every timestamp the source date, a fixed build host, so two builds give the same
//! bytes; and `check`, what `verify` asks of an RPM it is handed.

use std::path::Path;

use anyhow::Context;

use crate::dist::manifest::Artifact;
use crate::dist::plan::entry::Source;
use plan::{Role, RpmPlan};

pub mod plan;

/// What the build host tag says: not this machine's name, which would make the bytes differ.
const BUILD_HOST: &str = "reproducible";

/// Writes the package to `path`; `read` gives a planned source's bytes (man pages rendered).
pub fn write(
    path: &Path,
    plan: &RpmPlan,
    mtime: u64,
    read: &dyn Fn(&Source) -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<()> {
    let mtime = u32::try_from(mtime).context("the source date does not fit an RPM timestamp")?;
    let config = rpm::BuildConfig::v4()
        .compression(rpm::CompressionWithLevel::Gzip(9))
        .source_date(mtime);
    let mut builder = rpm::PackageBuilder::new(
        &plan.name,
        &plan.version,
        &plan.license,
        plan.arch,
        &plan.summary,
    );
    builder
        .using_config(config)
        .release(plan.release)
        .description(&plan.description)
        .packager(&plan.packager)
        .group(plan.group)
        .build_host(BUILD_HOST);
    if let Some(url) = &plan.url {
        builder.url(url);
    }
    for requirement in &plan.requires {
        builder.requires(rpm::Dependency::any(requirement));
    }
    for planned in &plan.entries {
        let entry = &planned.entry;
        let mut options = rpm::FileOptions::new(&entry.path)
            .mode(rpm::FileMode::regular(entry.mode.0 as u16))
            .user("root")
            .group("root");
        options = match planned.role {
            Role::Plain => options,
            Role::Config => options.config().noreplace(),
            Role::Doc => options.doc(),
            Role::License => options.license(),
        };
        let bytes = read(&entry.source)?;
        builder
            .with_file_contents(bytes, options)
            .with_context(|| format!("cannot add {} to the RPM", entry.path))?;
    }
    builder.add_changelog_entry(&plan.changelog.author, &plan.changelog.text, mtime);
    let package = builder
        .build()
        .with_context(|| format!("cannot build {}", plan.file))?;
    let mut out = std::io::BufWriter::new(
        fs_err::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    package
        .write(&mut out)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::flush(&mut out)?;
    Ok(())
}

/// The problems of the RPM at `path`, which the manifest lists as `artifact` of `app` at
/// `version`: its digests (header and payload), its name, version and architecture, and file
/// paths that stay inside the system's tree.
pub fn check(
    path: &Path,
    artifact: &Artifact,
    app: &str,
    version: &semver::Version,
) -> anyhow::Result<Vec<String>> {
    let name = &artifact.name;
    let package = rpm::Package::open(path).with_context(|| format!("{name} is not an RPM"))?;
    let mut problems = vec![];
    if let Err(err) = package.verify_digests() {
        problems.push(format!(
            "{name}: its digests do not match its contents: {err}"
        ));
    }
    let meta = &package.metadata;
    let expected_version = crate::dist::deb::plan::debian_version(version);
    let expected_arch = artifact.target_arch()?.name().to_owned();
    for (what, found, expected) in [
        ("name", meta.get_name()?.to_owned(), app.to_owned()),
        ("version", meta.get_version()?.to_owned(), expected_version),
        ("architecture", meta.get_arch()?.to_owned(), expected_arch),
    ] {
        if found != expected {
            problems.push(format!(
                "{name}: its {what} is {found}, the manifest's {expected}"
            ));
        }
    }
    for file in meta.get_file_entries()? {
        let path = file.path().to_string_lossy().into_owned();
        if !path.starts_with('/') || path.split('/').any(|part| part == "..") {
            problems.push(format!("{name}: holds {path}, outside the system's tree"));
        }
    }
    Ok(problems)
}
