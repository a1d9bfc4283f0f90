//! `[package.metadata.binstall]` of the shipped package, held against the names `dist` writes:
//! a rename in either would make `cargo binstall` fetch a file the release does not have, so
//! the plan refuses it. The templates are cargo-binstall's (`{ name }`, `{ version }`,
//! `{ target }`, `{ archive-suffix }`, `{ bin }`, `{ binary-ext }`; `{ repo }` is the URL's
//! prefix and does not reach the file name).

use std::collections::BTreeMap;

use anyhow::bail;
use serde::Deserialize;

use super::plan::TargetPlan;
use crate::targets::ArchiveFormat;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Binstall {
    pub pkg_url: Option<String>,
    pub bin_dir: Option<String>,
    pub pkg_fmt: Option<String>,
    #[serde(default)]
    pub overrides: BTreeMap<String, Binstall>,
    /// `[package.metadata.binstall.signing]`: the key cargo-binstall checks each archive's
    /// `.sig` with (cargo-binstall's SIGNING.md).
    pub signing: Option<BinstallSigning>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BinstallSigning {
    pub algorithm: String,
    pub pubkey: String,
    /// Where the signature is, relative to the package URL (default `{ url }.sig`).
    pub file: Option<String>,
}

impl Binstall {
    /// From the package's `metadata` table; `None` without a `binstall` key.
    pub fn from_metadata(metadata: &serde_json::Value) -> anyhow::Result<Option<Binstall>> {
        match metadata.get("binstall") {
            None => Ok(None),
            Some(value) => Ok(Some(Binstall::deserialize(value).map_err(|err| {
                anyhow::anyhow!("[package.metadata.binstall] cannot be read: {err}")
            })?)),
        }
    }

    /// The settings for `triple`: its override over the defaults.
    fn for_target(&self, triple: &str) -> Binstall {
        let over = self.overrides.get(triple).cloned().unwrap_or_default();
        Binstall {
            pkg_url: over.pkg_url.or_else(|| self.pkg_url.clone()),
            bin_dir: over.bin_dir.or_else(|| self.bin_dir.clone()),
            pkg_fmt: over.pkg_fmt.or_else(|| self.pkg_fmt.clone()),
            overrides: BTreeMap::new(),
            signing: None,
        }
    }
}

/// cargo-binstall's name of an archive format.
fn pkg_fmt(format: ArchiveFormat) -> &'static str {
    match format {
        ArchiveFormat::TarXz => "txz",
        ArchiveFormat::TarGz => "tgz",
        ArchiveFormat::Zip => "zip",
    }
}

/// `template` with cargo-binstall's variables filled in (spaces inside braces optional).
fn render(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter()
        .fold(template.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{ {name} }}"), value)
                .replace(&format!("{{{name}}}"), value)
        })
}

/// Every way `meta` disagrees with the planned targets and the release key (`release_key`,
/// base64, when the workspace has one), as errors that name the fix.
pub fn check(
    meta: &Binstall,
    app: &str,
    version: &str,
    targets: &[TargetPlan],
    release_key: Option<&str>,
) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    if let Some(key) = release_key {
        let fix = format!(
            "[package.metadata.binstall.signing] must be algorithm = \"minisign\", pubkey = \
             \"{key}\" (the release key; `cargo xtask rotate-key` keeps it so), or `cargo \
             binstall --only-signed {app}` refuses the release"
        );
        match &meta.signing {
            None => problems.push(format!("there is no signing key: {fix}")),
            Some(signing) if signing.algorithm != "minisign" || signing.pubkey != key => problems
                .push(format!(
                    "the signing key is {} {:?}: {fix}",
                    signing.algorithm, signing.pubkey
                )),
            Some(signing) => {
                if let Some(file) = signing.file.as_deref()
                    && render(file, &[("url", "")]) != crate::signing::FILE_SIGNATURE_SUFFIX
                {
                    problems.push(format!(
                        "signing.file is {file:?}, but dist writes the signature beside each \
                         archive as {{ url }}{}",
                        crate::signing::FILE_SIGNATURE_SUFFIX
                    ));
                }
            }
        }
    }
    for target in targets {
        let triple = target.target.triple.as_str();
        let settings = meta.for_target(triple);
        let format = target.target.archive;
        let suffix = format!(".{}", format.extension());
        let vars = [
            ("name", app),
            ("version", version),
            ("target", triple),
            ("archive-suffix", suffix.as_str()),
            ("archive-format", format.extension()),
            ("binary-ext", target.target.exe_suffix),
        ];
        if let Some(url) = &settings.pkg_url {
            let rendered = render(url, &vars);
            let file = rendered.rsplit('/').next().unwrap_or_default();
            if file != target.archive {
                problems.push(format!(
                    "pkg-url gives {file} for {triple}, but dist writes {}",
                    target.archive
                ));
            }
        }
        if let Some(fmt) = &settings.pkg_fmt
            && fmt != pkg_fmt(format)
        {
            problems.push(format!(
                "pkg-fmt is {fmt:?} for {triple}, but its archive is .{} (pkg-fmt {:?}; a \
                 Windows format goes in [package.metadata.binstall.overrides.{triple}])",
                format.extension(),
                pkg_fmt(format)
            ));
        }
        if let Some(bin_dir) = &settings.bin_dir {
            for binary in &target.binaries {
                let mut vars = vars.to_vec();
                vars.push(("bin", &binary.name));
                let rendered = render(bin_dir, &vars);
                let expected = format!("{}/{}", target.stem, binary.file);
                if rendered != expected {
                    problems.push(format!(
                        "bin-dir gives {rendered} for {triple}, but the archive holds {expected}"
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "`cargo binstall {app}` would not find this release: fix [package.metadata.binstall] \
             in the package's Cargo.toml (or the names dist writes):\n  - {}",
            problems.join("\n  - ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
