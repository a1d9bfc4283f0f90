//! What the tooling knows about each target triple: its OS, how it links (the host's linker
//! or zig against a glibc floor), its archive format and executable names, the CI runner that
//! builds it, the host packages and C library it needs, how to run its binaries here, and how
//! install.sh recognises its machines.
//!
//! **Architecture Invariant:** this module is the only place that knows about platforms. A
//! [`Triple`] is parsed once from a flag or the config and a [`Target`] is built once from it
//! and the [`Settings`]; both are carried from there on, never re-derived from strings, file
//! names or paths. Adding a target to `[workspace.metadata.xtask-dist] targets` needs no code as
//! long as its triple is in `table.rs` or follows the usual `<arch>-<vendor>-<os>[-<env>]` shape.

mod arch;
mod glibc;
mod node;
mod resolve;
mod settings;
mod table;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use arch::Arch;
pub use glibc::{GlibcVersion, MacOsVersion};
pub use node::NodePlatform;
pub use resolve::{resolve, resolve_triples};
pub use settings::Settings;
pub use table::{QEMU_AARCH64_SYSROOT, install_table};

/// A target triple as rustc names it (`x86_64-unknown-linux-gnu`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Triple(String);

impl Triple {
    /// `<arch>-<vendor>-<os>[-<env>]`; anything else is a typo worth naming. A glibc suffix
    /// (`x86_64-unknown-linux-gnu.2.17`) is not part of a triple: the floor is a setting.
    pub fn parse(text: &str) -> Option<Triple> {
        let parts = text.split('-').count();
        let shaped = (3..=4).contains(&parts)
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        shaped.then(|| Triple(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn os(&self) -> Os {
        let name = self.0.as_str();
        if name.contains("-windows") {
            Os::Windows
        } else if name.contains("-apple-darwin") {
            Os::MacOs
        } else if name.contains("-linux") {
            Os::Linux
        } else {
            Os::Other
        }
    }

    fn libc(&self) -> Libc {
        let name = self.0.as_str();
        if name.ends_with("-linux-gnu") {
            Libc::Glibc
        } else if name.ends_with("-linux-musl") {
            Libc::MuslStatic
        } else {
            Libc::Other
        }
    }
}

impl fmt::Display for Triple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<std::ffi::OsStr> for Triple {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_ref()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Os {
    Linux,
    Windows,
    MacOs,
    Other,
}

/// Serialised as its extension (`tar.xz`), as the settings and the manifest write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArchiveFormat {
    #[serde(rename = "tar.xz")]
    TarXz,
    #[serde(rename = "tar.gz")]
    TarGz,
    #[serde(rename = "zip")]
    Zip,
}

impl ArchiveFormat {
    pub(crate) const ALL: [ArchiveFormat; 3] = [
        ArchiveFormat::TarXz,
        ArchiveFormat::TarGz,
        ArchiveFormat::Zip,
    ];

    pub fn extension(self) -> &'static str {
        match self {
            ArchiveFormat::TarXz => "tar.xz",
            ArchiveFormat::TarGz => "tar.gz",
            ArchiveFormat::Zip => "zip",
        }
    }

    /// A format by its extension, as the settings write it.
    pub fn from_extension(text: &str) -> Option<ArchiveFormat> {
        Self::ALL
            .into_iter()
            .find(|format| format.extension() == text)
    }
}

/// How a target's binaries are linked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Linkage {
    /// The host's toolchain; `linker` when the target needs one beyond the host's `cc`.
    Native { linker: Option<&'static str> },
    /// `zig cc` through cargo-zigbuild, against zig's stubs of this glibc
    /// (`--target <triple>.<glibc>`).
    Zig { glibc: GlibcVersion },
    /// `zig cc` through cargo-zigbuild against zig's macOS SDK stubs, for this oldest macOS
    /// (`MACOSX_DEPLOYMENT_TARGET`, which rustc and zig write as the binaries' `minos`): any
    /// machine builds the Apple targets, byte for byte the same.
    ZigApple { macos: MacOsVersion },
}

/// How this machine runs a target's binaries, if at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Runner {
    Native,
    /// A command prefix, e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu` or `wine`.
    Emulated {
        command: Vec<String>,
        emulator: Emulator,
    },
    /// Only a machine of that platform runs it (a CI runner).
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Emulator {
    Qemu,
    /// Debian 12's wine 8 also needs the ProcessPrng shim (see doctor).
    Wine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Libc {
    Glibc,
    /// Statically linked musl: checked to have no dynamic section.
    MuslStatic,
    Other,
}

/// Which machines can build a target: its SDK only exists on its own platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuildHost {
    Any,
    Apple,
    Windows,
}

/// A GitLab.com hosted runner (by its tag), or why GitLab offers none for a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum GitlabRunner {
    Tag { tag: &'static str },
    NotOffered { reason: &'static str },
}

/// How install.sh recognises a machine of this target: `uname -s`, `uname -m` values, libc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Uname {
    pub os: &'static str,
    pub machines: &'static [&'static str],
    pub libc: &'static str,
}

/// Everything known about one target, as planned for this host under the workspace's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub triple: Triple,
    pub os: Os,
    /// The CPU architecture: every ecosystem's name for it comes from here.
    pub arch: Arch,
    pub archive: ArchiveFormat,
    pub exe_suffix: &'static str,
    pub linkage: Linkage,
    /// GitHub Actions runner label that builds this target (and runs it, unless
    /// `smoke_runner` names another).
    pub github_runner: &'static str,
    /// The runner that runs the binaries when `github_runner` cross-builds them (macOS).
    pub smoke_runner: Option<&'static str>,
    /// GitLab's hosted runner that stands for `github_runner` in `.gitlab-ci.yml`.
    pub gitlab_runner: GitlabRunner,
    /// And for `smoke_runner`.
    pub gitlab_smoke_runner: Option<GitlabRunner>,
    /// Debian packages a Linux x86_64 host needs to build and run it (as it is linked).
    pub apt_packages: Vec<&'static str>,
    /// Whether the CI runner cross-builds it (and so needs `apt_packages` there too).
    pub cross_on_ci: bool,
    /// The target's C library on this host, which qemu needs to run its binaries.
    pub sysroot: Option<&'static str>,
    pub runner: Runner,
    pub libc: Libc,
    pub build_host: BuildHost,
    /// Machines install.sh installs this target on (Linux only).
    pub uname: Option<Uname>,
    /// Debian's name for the architecture, for targets that get a `.deb` (Linux glibc).
    pub deb_arch: Option<&'static str>,
    /// RPM's name for the architecture, for targets that get an `.rpm` (Linux glibc).
    pub rpm_arch: Option<&'static str>,
    /// The OCI platform (`linux/amd64`) of a `FROM scratch` image of its static binaries.
    pub scratch_image_platform: Option<&'static str>,
    /// How Node names the platform (npm's `os`, `cpu` and `libc` fields), where it has names.
    pub node: Option<NodePlatform>,
}

/// The target whose static binaries a `FROM scratch` image of `platform` (`linux/amd64`) runs.
pub fn scratch_image_target(platform: &str) -> Option<Triple> {
    table::SCRATCH_IMAGE_TARGETS
        .iter()
        .find(|(p, _)| *p == platform)
        .and_then(|(_, triple)| Triple::parse(triple))
}

impl Target {
    /// The target `triple` as planned on a machine whose own triple is `host`, with the
    /// default settings (no glibc floor).
    pub fn new(triple: &Triple, host: &Triple) -> Target {
        Target::configured(triple, host, &Settings::default())
    }

    /// The target `triple` as planned on `host` under `settings`.
    pub fn configured(triple: &Triple, host: &Triple, settings: &Settings) -> Target {
        let os = triple.os();
        let libc = triple.libc();
        let linux_x86_64_host = host.as_str() == "x86_64-unknown-linux-gnu";
        let name = triple.as_str();
        let row = table::row(triple, os);
        let same_machine =
            triple == host || (linux_x86_64_host && name == "x86_64-unknown-linux-musl");
        let runner = match row.emulation {
            _ if same_machine => Runner::Native,
            Some((emulator, command)) if linux_x86_64_host => Runner::Emulated {
                command: command.into_iter().map(str::to_owned).collect(),
                emulator,
            },
            _ => Runner::Unavailable,
        };
        let linkage = match (&settings.glibc, libc, &settings.macos, os) {
            (Some(glibc), Libc::Glibc, _, _) => Linkage::Zig {
                glibc: glibc.clone(),
            },
            (_, _, Some(macos), Os::MacOs) => Linkage::ZigApple {
                macos: macos.clone(),
            },
            _ => Linkage::Native { linker: row.linker },
        };
        let build_host = if name.ends_with("-msvc") {
            BuildHost::Windows
        } else if os == Os::MacOs && !matches!(linkage, Linkage::ZigApple { .. }) {
            BuildHost::Apple
        } else {
            BuildHost::Any
        };
        let apt_packages = match (&linkage, linux_x86_64_host) {
            (_, false) => vec![],
            (Linkage::Zig { .. } | Linkage::ZigApple { .. }, true) => row.zig_apt_packages,
            (Linkage::Native { .. }, true) => row.apt_packages,
        };
        let github_runner = match linkage {
            Linkage::ZigApple { .. } => "ubuntu-24.04",
            _ => row.github_runner,
        };
        let smoke_runner = match linkage {
            Linkage::ZigApple { .. } => table::smoke_runner(triple),
            _ => None,
        };
        Target {
            archive: match os {
                Os::Windows => settings.windows_archive,
                _ => settings.unix_archive,
            },
            exe_suffix: if os == Os::Windows { ".exe" } else { "" },
            // zig links the Apple targets on the Linux runners; macOS runners run them.
            github_runner,
            smoke_runner,
            gitlab_runner: table::gitlab_runner(github_runner),
            gitlab_smoke_runner: smoke_runner.map(table::gitlab_runner),
            cross_on_ci: matches!(linkage, Linkage::ZigApple { .. })
                || (row.github_runner == "ubuntu-24.04"
                    && !name.starts_with("x86_64-unknown-linux")),
            apt_packages,
            linkage,
            sysroot: row.sysroot,
            runner,
            libc,
            build_host,
            uname: table::uname(triple),
            deb_arch: table::deb_arch(triple),
            rpm_arch: table::rpm_arch(triple),
            scratch_image_platform: table::SCRATCH_IMAGE_TARGETS
                .iter()
                .find(|(_, t)| *t == name)
                .map(|(platform, _)| *platform),
            node: NodePlatform::of(os, &Arch::of_triple(name), libc),
            os,
            arch: Arch::of_triple(name),
            triple: triple.clone(),
        }
    }

    /// Whether a machine whose own triple is `host` can build this target.
    pub fn buildable_on(&self, host: &Triple) -> bool {
        match self.build_host {
            BuildHost::Any => true,
            BuildHost::Apple => host.os() == Os::MacOs,
            BuildHost::Windows => host.os() == Os::Windows,
        }
    }

    /// The linker program beyond the host's `cc` that building this target needs, if any.
    pub fn linker(&self) -> Option<&'static str> {
        match self.linkage {
            Linkage::Native { linker } => linker,
            Linkage::Zig { .. } | Linkage::ZigApple { .. } => None,
        }
    }

    pub fn links_through_zig(&self) -> bool {
        matches!(self.linkage, Linkage::Zig { .. } | Linkage::ZigApple { .. })
    }

    /// The glibc this target's binaries may need at most, when it links against a floor.
    pub fn glibc_floor(&self) -> Option<&GlibcVersion> {
        match &self.linkage {
            Linkage::Zig { glibc } => Some(glibc),
            _ => None,
        }
    }

    /// The oldest macOS this target's binaries run on, when zig links them.
    pub fn macos_floor(&self) -> Option<&MacOsVersion> {
        match &self.linkage {
            Linkage::ZigApple { macos } => Some(macos),
            _ => None,
        }
    }

    /// `--target` as cargo is given it: `x86_64-unknown-linux-gnu.2.17` through zig.
    pub fn cargo_target_arg(&self) -> String {
        match &self.linkage {
            Linkage::Zig { glibc } => format!("{}.{glibc}", self.triple),
            Linkage::Native { .. } | Linkage::ZigApple { .. } => self.triple.to_string(),
        }
    }

    /// The file name of the binary `name` on this target (`jimini.exe` on Windows).
    pub fn binary_file(&self, name: &str) -> String {
        format!("{name}{}", self.exe_suffix)
    }
}

#[cfg(test)]
mod tests;
