//! What the tooling knows about each target triple: archive format, executable suffix, the CI
//! runner that builds it, the host packages it needs and how to run its binaries here.
//!
//! **Architecture Invariant:** this table is the only place that knows about platforms. Adding a
//! target to `[workspace.metadata.xtask-dist] targets` needs no code as long as its triple is below or
//! follows the usual `<arch>-<vendor>-<os>[-<env>]` shape.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArchiveFormat {
    TarGz,
    Zip,
}

impl ArchiveFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ArchiveFormat::TarGz => "tar.gz",
            ArchiveFormat::Zip => "zip",
        }
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
    },
    /// Only a machine of that platform runs it (a CI runner).
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetInfo {
    pub triple: String,
    pub archive: ArchiveFormat,
    pub exe_suffix: &'static str,
    /// GitHub Actions runner label that builds and runs this target natively (or cross).
    pub github_runner: &'static str,
    /// Debian packages a Linux x86_64 host needs to build and run it.
    pub apt_packages: Vec<&'static str>,
    /// The linker program, when the target needs one beyond the host's `cc`.
    pub linker: Option<&'static str>,
    pub runner: Runner,
    pub libc: Libc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Libc {
    Glibc,
    /// Statically linked musl: checked to have no dynamic section.
    MuslStatic,
    Other,
}

pub const QEMU_AARCH64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

pub fn info(triple: &str, host: &str) -> TargetInfo {
    let windows = triple.contains("-windows-");
    let linux_x86_64_host = host == "x86_64-unknown-linux-gnu";
    let libc = if triple.ends_with("-linux-gnu") {
        Libc::Glibc
    } else if triple.ends_with("-linux-musl") {
        Libc::MuslStatic
    } else {
        Libc::Other
    };
    let (github_runner, apt_packages, linker, emulation): (_, Vec<&str>, _, Option<Vec<String>>) =
        match triple {
            "x86_64-unknown-linux-gnu" | "x86_64-unknown-linux-musl" => {
                ("ubuntu-24.04", vec![], None, None)
            }
            "aarch64-unknown-linux-gnu" => (
                "ubuntu-24.04-arm",
                vec![
                    "gcc-aarch64-linux-gnu",
                    "libc6-dev-arm64-cross",
                    "qemu-user",
                ],
                Some("aarch64-linux-gnu-gcc"),
                Some(vec![
                    "qemu-aarch64".to_owned(),
                    "-L".to_owned(),
                    QEMU_AARCH64_SYSROOT.to_owned(),
                ]),
            ),
            "aarch64-unknown-linux-musl" => (
                "ubuntu-24.04-arm",
                vec!["qemu-user"],
                None,
                Some(vec!["qemu-aarch64".to_owned()]),
            ),
            "x86_64-pc-windows-gnu" => (
                "ubuntu-24.04",
                vec!["gcc-mingw-w64-x86-64", "wine64", "wine"],
                Some("x86_64-w64-mingw32-gcc"),
                Some(vec!["wine".to_owned()]),
            ),
            "x86_64-pc-windows-msvc" | "aarch64-pc-windows-msvc" => {
                ("windows-2022", vec![], None, None)
            }
            "aarch64-apple-darwin" => ("macos-14", vec![], None, None),
            "x86_64-apple-darwin" => ("macos-13", vec![], None, None),
            _ if windows => ("windows-2022", vec![], None, None),
            _ if triple.contains("-apple-") => ("macos-14", vec![], None, None),
            _ => ("ubuntu-24.04", vec![], None, None),
        };
    let same_machine =
        triple == host || (linux_x86_64_host && triple == "x86_64-unknown-linux-musl");
    let runner = if same_machine {
        Runner::Native
    } else {
        match emulation {
            Some(command) if linux_x86_64_host => Runner::Emulated { command },
            _ => Runner::Unavailable,
        }
    };
    TargetInfo {
        triple: triple.to_owned(),
        archive: if windows {
            ArchiveFormat::Zip
        } else {
            ArchiveFormat::TarGz
        },
        exe_suffix: if windows { ".exe" } else { "" },
        github_runner,
        apt_packages: if linux_x86_64_host {
            apt_packages
        } else {
            vec![]
        },
        linker,
        runner,
        libc,
    }
}

/// A triple is `<arch>-<vendor>-<os>[-<env>]`; anything else is a typo worth naming.
pub fn looks_like_triple(triple: &str) -> bool {
    let parts = triple.split('-').count();
    (3..=4).contains(&parts)
        && triple
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "x86_64-unknown-linux-gnu";

    #[test]
    fn windows_ships_zip_and_exe_and_runs_under_wine() {
        let info = info("x86_64-pc-windows-gnu", HOST);
        assert_eq!(info.archive, ArchiveFormat::Zip);
        assert_eq!(info.exe_suffix, ".exe");
        assert_eq!(
            info.runner,
            Runner::Emulated {
                command: vec!["wine".to_owned()]
            }
        );
        assert_eq!(info.linker, Some("x86_64-w64-mingw32-gcc"));
    }

    #[test]
    fn linux_targets_on_a_linux_host() {
        assert_eq!(info(HOST, HOST).runner, Runner::Native);
        let musl = info("x86_64-unknown-linux-musl", HOST);
        assert_eq!(
            (musl.runner, musl.libc, musl.linker),
            (Runner::Native, Libc::MuslStatic, None)
        );
        let arm = info("aarch64-unknown-linux-gnu", HOST);
        assert_eq!(arm.libc, Libc::Glibc);
        assert!(
            matches!(arm.runner, Runner::Emulated { ref command } if command[0] == "qemu-aarch64")
        );
        assert!(arm.apt_packages.contains(&"gcc-aarch64-linux-gnu"));
    }

    #[test]
    fn platforms_this_machine_cannot_run_are_configurable() {
        for (triple, runner) in [
            ("aarch64-apple-darwin", "macos-14"),
            ("x86_64-apple-darwin", "macos-13"),
            ("x86_64-pc-windows-msvc", "windows-2022"),
        ] {
            let info = info(triple, HOST);
            assert_eq!(info.runner, Runner::Unavailable, "{triple}");
            assert_eq!(info.github_runner, runner);
        }
        assert_eq!(
            info("aarch64-apple-darwin", "aarch64-apple-darwin").runner,
            Runner::Native
        );
    }

    #[test]
    fn triple_shape() {
        assert!(looks_like_triple("x86_64-unknown-linux-gnu"));
        assert!(looks_like_triple("aarch64-apple-darwin"));
        assert!(!looks_like_triple("linux"));
        assert!(!looks_like_triple("x86_64 unknown"));
    }
}
