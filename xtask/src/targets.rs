//! What the tooling knows about each target triple: archive format, executable suffix, the CI
//! runner that builds it, the host packages, linker and C library it needs, how to run its
//! binaries here, and how install.sh recognises its machines.
//!
//! **Architecture Invariant:** this table is the only place that knows about platforms. A
//! [`Triple`] is parsed once from a flag or the config and a [`Target`] is built once from it;
//! both are carried from there on, never re-derived from strings or paths. Adding a target to
//! `[workspace.metadata.xtask-dist] targets` needs no code as long as its triple is below or
//! follows the usual `<arch>-<vendor>-<os>[-<env>]` shape.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A target triple as rustc names it (`x86_64-unknown-linux-gnu`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Triple(String);

impl Triple {
    /// `<arch>-<vendor>-<os>[-<env>]`; anything else is a typo worth naming.
    pub fn parse(text: &str) -> Option<Triple> {
        let parts = text.split('-').count();
        let shaped = (3..=4).contains(&parts)
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        shaped.then(|| Triple(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn is_windows(&self) -> bool {
        self.0.contains("-windows-")
    }

    fn is_apple(&self) -> bool {
        self.0.contains("-apple-")
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
pub enum ArchiveFormat {
    TarXz,
    TarGz,
    Zip,
}

impl ArchiveFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ArchiveFormat::TarXz => "tar.xz",
            ArchiveFormat::TarGz => "tar.gz",
            ArchiveFormat::Zip => "zip",
        }
    }

    /// A format by its extension, as the settings write it.
    pub fn from_extension(text: &str) -> Option<ArchiveFormat> {
        [
            ArchiveFormat::TarXz,
            ArchiveFormat::TarGz,
            ArchiveFormat::Zip,
        ]
        .into_iter()
        .find(|format| format.extension() == text)
    }
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

/// How install.sh recognises a machine of this target: `uname -s`, `uname -m` values, libc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Uname {
    pub os: &'static str,
    pub machines: &'static [&'static str],
    pub libc: &'static str,
}

/// Everything known about one target, as planned for this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub triple: Triple,
    pub archive: ArchiveFormat,
    pub exe_suffix: &'static str,
    /// GitHub Actions runner label that builds and runs this target natively (or cross).
    pub github_runner: &'static str,
    /// Debian packages a Linux x86_64 host needs to build and run it.
    pub apt_packages: Vec<&'static str>,
    /// Whether the CI runner cross-builds it (and so needs `apt_packages` there too).
    pub cross_on_ci: bool,
    /// The linker program, when the target needs one beyond the host's `cc`.
    pub linker: Option<&'static str>,
    /// The target's C library on this host, which the linker and qemu need.
    pub sysroot: Option<&'static str>,
    pub runner: Runner,
    pub libc: Libc,
    pub build_host: BuildHost,
    /// Machines install.sh installs this target on (Linux only).
    pub uname: Option<Uname>,
    /// Debian's name for the architecture, for targets that get a `.deb` (Linux glibc).
    pub deb_arch: Option<&'static str>,
}

pub const QEMU_AARCH64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// What a row of the table says, before the host decides what applies.
struct Row {
    github_runner: &'static str,
    apt_packages: Vec<&'static str>,
    linker: Option<&'static str>,
    sysroot: Option<&'static str>,
    emulation: Option<(Emulator, Vec<&'static str>)>,
}

fn row(triple: &Triple) -> Row {
    let plain = |github_runner| Row {
        github_runner,
        apt_packages: vec![],
        linker: None,
        sysroot: None,
        emulation: None,
    };
    match triple.as_str() {
        "x86_64-unknown-linux-gnu" | "x86_64-unknown-linux-musl" => plain("ubuntu-24.04"),
        "aarch64-unknown-linux-gnu" => Row {
            github_runner: "ubuntu-24.04-arm",
            apt_packages: vec![
                "gcc-aarch64-linux-gnu",
                "libc6-dev-arm64-cross",
                "qemu-user",
            ],
            linker: Some("aarch64-linux-gnu-gcc"),
            sysroot: Some(QEMU_AARCH64_SYSROOT),
            emulation: Some((
                Emulator::Qemu,
                vec!["qemu-aarch64", "-L", QEMU_AARCH64_SYSROOT],
            )),
        },
        "aarch64-unknown-linux-musl" => Row {
            apt_packages: vec!["qemu-user"],
            emulation: Some((Emulator::Qemu, vec!["qemu-aarch64"])),
            ..plain("ubuntu-24.04-arm")
        },
        "x86_64-pc-windows-gnu" => Row {
            apt_packages: vec!["gcc-mingw-w64-x86-64", "wine64", "wine"],
            linker: Some("x86_64-w64-mingw32-gcc"),
            emulation: Some((Emulator::Wine, vec!["wine"])),
            ..plain("ubuntu-24.04")
        },
        "x86_64-apple-darwin" => plain("macos-13"),
        _ if triple.is_windows() => plain("windows-2022"),
        _ if triple.is_apple() => plain("macos-14"),
        _ => plain("ubuntu-24.04"),
    }
}

fn uname(triple: &Triple) -> Option<Uname> {
    let (arch, rest) = triple.as_str().split_once('-')?;
    let libc = rest.strip_prefix("unknown-linux-")?;
    let machines: &'static [&'static str] = match arch {
        "x86_64" => &["x86_64", "amd64"],
        "aarch64" => &["aarch64", "arm64"],
        _ => return None,
    };
    let libc = match libc {
        "gnu" => "gnu",
        "musl" => "musl",
        _ => return None,
    };
    Some(Uname {
        os: "Linux",
        machines,
        libc,
    })
}

impl Target {
    /// The target `triple` as planned on a machine whose own triple is `host`.
    pub fn new(triple: &Triple, host: &Triple) -> Target {
        let windows = triple.is_windows();
        let linux_x86_64_host = host.as_str() == "x86_64-unknown-linux-gnu";
        let name = triple.as_str();
        let libc = if name.ends_with("-linux-gnu") {
            Libc::Glibc
        } else if name.ends_with("-linux-musl") {
            Libc::MuslStatic
        } else {
            Libc::Other
        };
        let row = row(triple);
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
        let build_host = if name.ends_with("-msvc") {
            BuildHost::Windows
        } else if triple.is_apple() {
            BuildHost::Apple
        } else {
            BuildHost::Any
        };
        Target {
            // The defaults; `unix-archive`/`windows-archive` in the config override them (see
            // ARCHITECTURE.md, "Archive formats", for the measurements behind them).
            archive: if windows {
                ArchiveFormat::Zip
            } else {
                ArchiveFormat::TarXz
            },
            exe_suffix: if windows { ".exe" } else { "" },
            github_runner: row.github_runner,
            cross_on_ci: row.github_runner == "ubuntu-24.04"
                && !name.starts_with("x86_64-unknown-linux"),
            apt_packages: if linux_x86_64_host {
                row.apt_packages
            } else {
                vec![]
            },
            linker: row.linker,
            sysroot: row.sysroot,
            runner,
            libc,
            build_host,
            uname: uname(triple),
            deb_arch: match name {
                "x86_64-unknown-linux-gnu" => Some("amd64"),
                "aarch64-unknown-linux-gnu" => Some("arm64"),
                _ => None,
            },
            triple: triple.clone(),
        }
    }

    /// Whether a machine whose own triple is `host` can build this target.
    pub fn buildable_on(&self, host: &Triple) -> bool {
        match self.build_host {
            BuildHost::Any => true,
            BuildHost::Apple => host.is_apple(),
            BuildHost::Windows => host.is_windows(),
        }
    }
}

/// install.sh's platform table: one line per machine kind, `<uname -s> <uname -m> <libc>
/// <triple> <archive extension>`, for every target install.sh can install.
/// One line per (machine, target): `<uname -s> <uname -m> <libc> <triple> <archive extension>
/// <glibc floor or ->`; glibc targets carry `glibc_floor`, the others `-`.
pub fn install_table(targets: &[Target], glibc_floor: Option<&str>) -> String {
    let mut lines = Vec::new();
    for target in targets {
        if let Some(uname) = target.uname {
            let floor = match (target.libc, glibc_floor) {
                (Libc::Glibc, Some(floor)) => floor,
                _ => "-",
            };
            for machine in uname.machines {
                lines.push(format!(
                    "{} {machine} {} {} {} {floor}",
                    uname.os,
                    uname.libc,
                    target.triple,
                    target.archive.extension()
                ));
            }
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Triple {
        Triple::parse(text).unwrap()
    }

    fn target(text: &str) -> Target {
        Target::new(&t(text), &t("x86_64-unknown-linux-gnu"))
    }

    #[test]
    fn windows_ships_zip_and_exe_and_runs_under_wine() {
        let windows = target("x86_64-pc-windows-gnu");
        assert_eq!(windows.archive, ArchiveFormat::Zip);
        assert_eq!(windows.exe_suffix, ".exe");
        assert_eq!(
            windows.runner,
            Runner::Emulated {
                command: vec!["wine".to_owned()],
                emulator: Emulator::Wine,
            }
        );
        assert_eq!(windows.linker, Some("x86_64-w64-mingw32-gcc"));
        assert!(windows.cross_on_ci);
        assert_eq!(windows.uname, None, "install.sh is for Linux");
    }

    #[test]
    fn linux_targets_on_a_linux_host() {
        assert_eq!(target("x86_64-unknown-linux-gnu").runner, Runner::Native);
        let musl = target("x86_64-unknown-linux-musl");
        assert_eq!(
            (musl.runner, musl.libc, musl.linker, musl.cross_on_ci),
            (Runner::Native, Libc::MuslStatic, None, false)
        );
        let arm = target("aarch64-unknown-linux-gnu");
        assert_eq!(arm.libc, Libc::Glibc);
        assert!(matches!(
            arm.runner,
            Runner::Emulated { ref command, emulator: Emulator::Qemu } if command[0] == "qemu-aarch64"
        ));
        assert!(arm.apt_packages.contains(&"gcc-aarch64-linux-gnu"));
        assert_eq!(arm.sysroot, Some(QEMU_AARCH64_SYSROOT));
        assert!(!arm.cross_on_ci, "built natively on an arm runner");
        let uname = arm.uname.unwrap();
        assert_eq!((uname.os, uname.libc), ("Linux", "gnu"));
        assert!(uname.machines.contains(&"arm64"));
    }

    #[test]
    fn platforms_this_machine_cannot_run_are_configurable() {
        let linux = t("x86_64-unknown-linux-gnu");
        for (triple, runner) in [
            ("aarch64-apple-darwin", "macos-14"),
            ("x86_64-apple-darwin", "macos-13"),
            ("x86_64-pc-windows-msvc", "windows-2022"),
        ] {
            let target = target(triple);
            assert_eq!(target.runner, Runner::Unavailable, "{triple}");
            assert_eq!(target.github_runner, runner);
            assert!(!target.buildable_on(&linux), "{triple}");
            assert!(target.buildable_on(&t(triple)), "{triple}");
        }
        let mac = t("aarch64-apple-darwin");
        assert_eq!(Target::new(&mac, &mac).runner, Runner::Native);
        assert!(target("x86_64-pc-windows-gnu").buildable_on(&linux));
    }

    #[test]
    fn triple_shape() {
        assert!(Triple::parse("x86_64-unknown-linux-gnu").is_some());
        assert!(Triple::parse("aarch64-apple-darwin").is_some());
        assert!(Triple::parse("linux").is_none());
        assert!(Triple::parse("x86_64 unknown").is_none());
    }
}
