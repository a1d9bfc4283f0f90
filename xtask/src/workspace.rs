//! The workspace as the tooling sees it: metadata, `[workspace.metadata.xtask-dist]`, `Cargo.lock`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use cargo_metadata::{Metadata, MetadataCommand, Package};
use serde::{Deserialize, Serialize};
use xshell::{Shell, cmd};

/// `[workspace.metadata.xtask-dist]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DistConfig {
    /// The package whose binaries ship.
    pub package: String,
    /// The cargo profile the shipped binaries are built with.
    #[serde(default = "default_profile")]
    pub profile: String,
    /// The release target list (`--target all`).
    #[serde(default)]
    pub targets: Vec<String>,
    /// Files copied into every archive, relative to the workspace root.
    #[serde(default)]
    pub include: Vec<String>,
    /// A POSIX install script shipped beside the archives (`__JIMINI_VERSION__` in it is
    /// replaced by the dist version).
    #[serde(default)]
    pub installer: Option<String>,
    /// The minisign public key that release signatures are checked with, relative to the
    /// workspace root; shipped in every archive and in install.sh.
    #[serde(default)]
    pub public_key: Option<String>,
    /// The newest glibc the Linux glibc builds may require (`"2.34"`): a binary that needs more
    /// is refused, and install.sh falls back to the musl build on older machines.
    #[serde(default)]
    pub glibc: Option<String>,
    /// The oldest macOS the Apple targets run on (`"11.0"`): zig links them on any machine,
    /// with that `minos`; without it they build only on a Mac.
    #[serde(default)]
    pub macos: Option<String>,
    /// The archive format of the Linux and macOS targets: `tar.xz` (default), `tar.gz`, `zip`.
    #[serde(default)]
    pub unix_archive: Option<String>,
    /// The archive format of the Windows targets: `zip` (default), `tar.xz`, `tar.gz`.
    #[serde(default)]
    pub windows_archive: Option<String>,
    /// `.deb` packages of the Linux glibc targets, when present.
    #[serde(default)]
    pub deb: Option<DebConfig>,
    /// A directory holding `<binary>.txt` for each shipped binary: the text its `--help`
    /// prints, from which `dist` renders `<binary>.1` for the archives and the packages.
    #[serde(default)]
    pub man_pages: Option<String>,
    /// An RPM for each Linux glibc target, with the `.deb`'s files (its `assets`, licence, docs
    /// and man pages): `rpm = true` next to `[workspace.metadata.xtask-dist.deb]`.
    #[serde(default)]
    pub rpm: bool,
    /// A Homebrew formula for a tap (`[workspace.metadata.xtask-dist.homebrew]`).
    #[serde(default)]
    pub homebrew: Option<HomebrewConfig>,
    /// A Scoop manifest (`<app>.json`) of the Windows archives, for a bucket: `scoop = true`,
    /// or `[workspace.metadata.xtask-dist.scoop]` with the `bucket` publish commits it to.
    #[serde(default)]
    pub scoop: Option<ScoopSetting>,
    /// winget manifests of the Windows archives (`[workspace.metadata.xtask-dist.winget]`).
    #[serde(default)]
    pub winget: Option<WingetConfig>,
    /// npm packages (`[workspace.metadata.xtask-dist.npm]`): one per Node platform with its
    /// binaries, and the main package that runs them.
    #[serde(default)]
    pub npm: Option<NpmConfig>,
    /// Python wheels of the targets that have a platform tag: on unless `wheel = false`;
    /// `[workspace.metadata.xtask-dist.wheel]` adds classifiers.
    #[serde(default)]
    pub wheel: Option<WheelSetting>,
}

/// `wheel = false`, or `[workspace.metadata.xtask-dist.wheel]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum WheelSetting {
    Enabled(bool),
    Config(WheelConfig),
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WheelConfig {
    /// Trove classifiers beside those dist knows are true (console, Rust, the OS).
    #[serde(default)]
    pub classifiers: Vec<String>,
}

impl DistConfig {
    /// The wheels' settings, `None` when they are off.
    pub fn wheel(&self) -> Option<WheelConfig> {
        match &self.wheel {
            None | Some(WheelSetting::Enabled(true)) => Some(WheelConfig::default()),
            Some(WheelSetting::Enabled(false)) => None,
            Some(WheelSetting::Config(config)) => Some(config.clone()),
        }
    }
}

/// `[workspace.metadata.xtask-dist.deb]`.
/// `[workspace.metadata.xtask-dist.winget]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WingetConfig {
    /// `Publisher.Package`, the package's name in winget-pkgs.
    pub identifier: String,
    /// The publisher's name as winget shows it.
    pub publisher: String,
}

/// `[workspace.metadata.xtask-dist.npm]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NpmConfig {
    /// The npm scope of the platform packages (`"@jimini"` → `@jimini/cli-linux-x64`).
    pub scope: String,
    /// The main package's name (default: the app's).
    #[serde(default)]
    pub name: Option<String>,
}

/// `scoop = true`, or `[workspace.metadata.xtask-dist.scoop]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ScoopSetting {
    Enabled(bool),
    Config(ScoopConfig),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScoopConfig {
    /// The bucket's git repository `publish --to scoop` commits `bucket/<app>.json` to.
    pub bucket: String,
}

impl DistConfig {
    /// Whether a Scoop manifest is made.
    pub fn scoop(&self) -> bool {
        matches!(
            self.scoop,
            Some(ScoopSetting::Enabled(true) | ScoopSetting::Config(_))
        )
    }

    /// The bucket the manifest is published to, when one is configured.
    pub fn scoop_bucket(&self) -> Option<&str> {
        match &self.scoop {
            Some(ScoopSetting::Config(config)) => Some(&config.bucket),
            _ => None,
        }
    }
}

/// `[workspace.metadata.xtask-dist.homebrew]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HomebrewConfig {
    /// The tap's git repository `publish --to homebrew` commits `Formula/<app>.rb` to.
    pub tap: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DebConfig {
    /// `Name <email>`: Debian requires an address.
    pub maintainer: String,
    /// The archive section (`net`, `utils`, …).
    #[serde(default = "default_section")]
    pub section: String,
    /// Files besides the binaries and docs: `[source, absolute destination, octal mode]`; those
    /// under `/etc` are conffiles.
    #[serde(default)]
    pub assets: Vec<[String; 3]>,
}

fn default_section() -> String {
    "utils".to_owned()
}

/// Where `keygen` puts the public key when `public-key` is not set.
pub const DEFAULT_PUBLIC_KEY: &str = "keys/jimini.pub";

fn default_profile() -> String {
    "dist".to_owned()
}

impl DistConfig {
    /// The public key's path: as configured, else the default.
    pub fn public_key(&self) -> &str {
        self.public_key.as_deref().unwrap_or(DEFAULT_PUBLIC_KEY)
    }
}

pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    pub metadata: Metadata,
    pub config: DistConfig,
}

pub fn locate_root(sh: &Shell) -> anyhow::Result<PathBuf> {
    locate_project(sh, true)
        .context("cannot find the workspace: run cargo xtask inside the jimini checkout")
}

/// The workspace root when there is one around the current directory (no error, no output).
pub fn try_locate_root(sh: &Shell) -> Option<PathBuf> {
    locate_project(sh, false).ok()
}

/// `cargo locate-project`'s workspace root; cargo's own message on stderr when `say_why`.
fn locate_project(sh: &Shell, say_why: bool) -> anyhow::Result<PathBuf> {
    let cargo = crate::cargo();
    let mut locate = cmd!(
        sh,
        "{cargo} locate-project --workspace --message-format plain"
    )
    .quiet();
    if !say_why {
        locate = locate.ignore_stderr();
    }
    let manifest = locate.read()?;
    Ok(Path::new(manifest.trim())
        .parent()
        .context("Cargo.toml has no parent directory")?
        .to_owned())
}

impl Workspace {
    pub fn load(sh: &Shell) -> anyhow::Result<Workspace> {
        let root = sh.current_dir();
        let metadata = MetadataCommand::new()
            .cargo_path(crate::cargo())
            .current_dir(&root)
            .other_options(vec!["--locked".to_owned(), "--offline".to_owned()])
            .exec()
            .or_else(|_| {
                MetadataCommand::new()
                    .cargo_path(crate::cargo())
                    .current_dir(&root)
                    .other_options(vec!["--locked".to_owned()])
                    .exec()
            })
            .context(
                "`cargo metadata --locked` failed: Cargo.lock is missing or out of date; \
                 run `cargo update --workspace` and commit Cargo.lock",
            )?;
        let config = parse_config(&metadata.workspace_metadata)?;
        Ok(Workspace {
            root: metadata.workspace_root.clone().into_std_path_buf(),
            target_dir: metadata.target_directory.clone().into_std_path_buf(),
            metadata,
            config,
        })
    }

    pub fn shipped_package(&self) -> anyhow::Result<&Package> {
        self.metadata
            .workspace_packages()
            .into_iter()
            .find(|package| package.name.as_str() == self.config.package)
            .with_context(|| {
                format!(
                    "[workspace.metadata.xtask-dist] package = {:?} is not a workspace member",
                    self.config.package
                )
            })
    }

    /// `Cargo.lock` registry checksums keyed by `(name, version)`.
    pub fn lock_checksums(&self) -> anyhow::Result<BTreeMap<(String, String), String>> {
        let path = self.root.join("Cargo.lock");
        let text = fs_err::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {}: run `cargo generate-lockfile`",
                path.display()
            )
        })?;
        parse_lock_checksums(&text)
    }
}

/// The key of our table under `[workspace.metadata]`. Not `dist`: that table is cargo-dist's,
/// and sharing it made each tool read (and rewrite) the other's settings.
pub const CONFIG_KEY: &str = "xtask-dist";

pub fn parse_config(workspace_metadata: &serde_json::Value) -> anyhow::Result<DistConfig> {
    let Some(config) = workspace_metadata.get(CONFIG_KEY) else {
        if workspace_metadata
            .get("dist")
            .is_some_and(|d| d.get("package").is_some())
        {
            bail!(
                "Cargo.toml keeps the jimini release settings in [workspace.metadata.dist], which is \
                 cargo-dist's table: rename the table to [workspace.metadata.{CONFIG_KEY}] (the keys \
                 stay the same)"
            );
        }
        bail!(
            "Cargo.toml has no [workspace.metadata.{CONFIG_KEY}] table: add one with at least `package = \"<name>\"`"
        );
    };
    serde_json::from_value(config.clone()).with_context(|| {
        format!(
            "[workspace.metadata.{CONFIG_KEY}] in Cargo.toml is malformed; see ARCHITECTURE.md for its keys"
        )
    })
}

pub fn parse_lock_checksums(text: &str) -> anyhow::Result<BTreeMap<(String, String), String>> {
    let doc: toml_edit::DocumentMut = text.parse().context("Cargo.lock is not valid TOML")?;
    let mut checksums = BTreeMap::new();
    if let Some(packages) = doc
        .get("package")
        .and_then(|item| item.as_array_of_tables())
    {
        for package in packages {
            let field = |key: &str| package.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            if let (Some(name), Some(version), Some(checksum)) =
                (field("name"), field("version"), field("checksum"))
            {
                checksums.insert((name, version), checksum);
            }
        }
    }
    Ok(checksums)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_rejects_unknown_keys() {
        let config =
            parse_config(&serde_json::json!({ "xtask-dist": { "package": "jimini" } })).unwrap();
        assert_eq!(config.profile, "dist");
        assert!(config.targets.is_empty());
        let err =
            parse_config(&serde_json::json!({ "xtask-dist": { "package": "x", "tragets": [] } }))
                .unwrap_err();
        assert!(format!("{err:#}").contains("tragets"), "{err:#}");
        let err = parse_config(&serde_json::json!({})).unwrap_err();
        assert!(err.to_string().contains("[workspace.metadata.xtask-dist]"));
    }

    #[test]
    fn the_old_shared_table_names_the_move() {
        let err = parse_config(&serde_json::json!({ "dist": { "package": "jimini" } }))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[workspace.metadata.dist]")
                && err.contains("rename the table to [workspace.metadata.xtask-dist]"),
            "{err}"
        );
        // cargo-dist's own table beside ours is left to cargo-dist.
        let both = serde_json::json!({
            "dist": { "cargo-dist-version": "0.28.0" },
            "xtask-dist": { "package": "jimini" },
        });
        assert_eq!(parse_config(&both).unwrap().package, "jimini");
    }

    #[test]
    fn lock_checksums_skip_local_packages() {
        let lock = r#"
version = 4
[[package]]
name = "jimini"
version = "0.1.0"
[[package]]
name = "regex"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "abcd"
"#;
        let sums = parse_lock_checksums(lock).unwrap();
        assert_eq!(sums.len(), 1);
        assert_eq!(sums[&("regex".to_owned(), "1.0.0".to_owned())], "abcd");
    }
}
