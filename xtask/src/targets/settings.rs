//! The workspace's settings that decide about every target, read once from the config.

use super::{ArchiveFormat, GlibcVersion, MacOsVersion};
use crate::workspace::DistConfig;

/// What the workspace's settings decide about every target: read once from the config, with
/// errors that name the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `glibc`: the Linux glibc targets link through zig against this glibc.
    pub glibc: Option<GlibcVersion>,
    /// `macos`: the Apple targets link through zig for this oldest macOS.
    pub macos: Option<MacOsVersion>,
    pub unix_archive: ArchiveFormat,
    pub windows_archive: ArchiveFormat,
}

impl Default for Settings {
    /// The defaults; see ARCHITECTURE.md, "Archive formats", for the measurements behind them.
    fn default() -> Settings {
        Settings {
            glibc: None,
            macos: None,
            unix_archive: ArchiveFormat::TarXz,
            windows_archive: ArchiveFormat::Zip,
        }
    }
}

impl Settings {
    pub fn from_config(config: &DistConfig) -> anyhow::Result<Settings> {
        let defaults = Settings::default();
        let archive = |key: &str, setting: &Option<String>, default| match setting {
            None => Ok(default),
            Some(text) => ArchiveFormat::from_extension(text).ok_or_else(|| {
                anyhow::anyhow!(
                    "[workspace.metadata.xtask-dist] {key} = {text:?}: use \"tar.xz\", \
                     \"tar.gz\" or \"zip\""
                )
            }),
        };
        let glibc = floor::<GlibcVersion>("glibc", &config.glibc, "a glibc", "2.17")?;
        let macos = floor::<MacOsVersion>("macos", &config.macos, "a macOS", "11.0")?;
        Ok(Settings {
            glibc,
            macos,
            unix_archive: archive("unix-archive", &config.unix_archive, defaults.unix_archive)?,
            windows_archive: archive(
                "windows-archive",
                &config.windows_archive,
                defaults.windows_archive,
            )?,
        })
    }
}

/// A floor setting (`glibc`, `macos`), with an error that names the key and an example.
fn floor<T: std::str::FromStr>(
    key: &str,
    setting: &Option<String>,
    what: &str,
    example: &str,
) -> anyhow::Result<Option<T>> {
    setting
        .as_ref()
        .map(|text| {
            text.parse::<T>().map_err(|_| {
                anyhow::anyhow!(
                    "[workspace.metadata.xtask-dist] {key} = {text:?} is not {what} version: \
                     write it like \"{example}\""
                )
            })
        })
        .transpose()
}
