//! One file of a planned package: where it goes, with which mode, and where its bytes come
//! from. Every package format (archive, `.deb`) lists its entries in the plan, so
//! `dist --dry-run --json` shows the whole content of every package before anything compiles.

use serde::{Serialize, Serializer};

/// Where an entry's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Source {
    /// The target's built binary of this name (without `.exe`).
    Binary { name: String },
    /// A file of the workspace, relative to its root.
    File { path: String },
    /// Written by the package's writer from plan data (a Debian changelog, a copyright file).
    Generated { what: Generated },
    /// A workspace file, gzipped (`gzip -9n`), as Debian ships docs.
    Gzipped { path: String },
    /// The man page of `binary`, rendered from its help text `help` (a workspace file, the one
    /// `--help` prints); gzipped (`gzip -9n`) where the package format wants it so.
    ManPage {
        binary: String,
        help: String,
        gzip: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Generated {
    /// A one-entry Debian changelog of this version, gzipped.
    DebianChangelog,
    /// The DEP-5 copyright file.
    DebianCopyright,
    /// A wheel's core metadata (`METADATA`, with the README as its body).
    WheelMetadata,
    /// A wheel's `WHEEL` file (its tags).
    WheelInfo,
    /// The target's CycloneDX SBOM: the same bytes as its `.cdx.json` (in a wheel, PEP 770's
    /// `.dist-info/sboms/`).
    Sbom,
    /// An npm package's `package.json` (the plan's `package_json`).
    NpmPackageJson,
    /// The npm main package's launcher (`lib/launch.js`): finds the installed platform
    /// package and runs a binary of it.
    NpmLauncher,
    /// One of the npm main package's commands (`bin/<binary>.js`): runs its binary through
    /// the launcher.
    NpmCommand,
}

/// A Unix permission mode, written in octal in the plan (`"0755"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mode(pub u32);

impl Mode {
    pub const EXECUTABLE: Mode = Mode(0o755);
    pub const FILE: Mode = Mode(0o644);

    /// An octal mode from the settings (`"644"`, `"0600"`): permission bits only.
    pub fn parse(text: &str) -> Option<Mode> {
        let bits = u32::from_str_radix(text, 8).ok()?;
        (bits <= 0o7777 && !text.is_empty()).then_some(Mode(bits))
    }

    pub fn is_executable(self) -> bool {
        self.0 & 0o111 != 0
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{:04o}", self.0))
    }
}

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PackageEntry {
    /// The path inside the package: below the archive's top directory, or absolute in a `.deb`.
    pub path: String,
    pub mode: Mode,
    pub source: Source,
}

impl PackageEntry {
    pub fn binary(path: String, name: &str) -> PackageEntry {
        PackageEntry {
            path,
            mode: Mode::EXECUTABLE,
            source: Source::Binary {
                name: name.to_owned(),
            },
        }
    }

    pub fn file(path: String, workspace_path: &str, mode: Mode) -> PackageEntry {
        PackageEntry {
            path,
            mode,
            source: Source::File {
                path: workspace_path.to_owned(),
            },
        }
    }

    /// The man page of `binary` at `path`, from the help file in `dir` (`<dir>/<binary>.txt`).
    pub fn man_page(path: String, binary: &str, dir: &str, gzip: bool) -> PackageEntry {
        PackageEntry {
            path,
            mode: Mode::FILE,
            source: Source::ManPage {
                binary: binary.to_owned(),
                help: format!("{}/{binary}.txt", dir.trim_end_matches('/')),
                gzip,
            },
        }
    }

    pub fn generated(path: String, what: Generated) -> PackageEntry {
        PackageEntry {
            path,
            mode: Mode::FILE,
            source: Source::Generated { what },
        }
    }

    /// The workspace file this entry reads, if any: preflight checks that it exists.
    pub fn workspace_file(&self) -> Option<&str> {
        match &self.source {
            Source::File { path } | Source::Gzipped { path } => Some(path),
            Source::ManPage { help, .. } => Some(help),
            Source::Binary { .. } | Source::Generated { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal_permission_bits() {
        assert_eq!(Mode::parse("644"), Some(Mode(0o644)));
        assert_eq!(Mode::parse("0600"), Some(Mode(0o600)));
        for bad in ["", "9", "rw-r--r--", "17777", "0x1ff"] {
            assert_eq!(Mode::parse(bad), None, "{bad}");
        }
        assert_eq!(serde_json::to_string(&Mode(0o755)).unwrap(), "\"0755\"");
        assert!(Mode::EXECUTABLE.is_executable() && !Mode::FILE.is_executable());
    }
}
