//! The rows of the platform table: what each known triple needs on a Linux x86_64 host, which
//! CI runner builds it, and how install.sh recognises its machines.

use super::{Emulator, GitlabRunner, Os, Target, Triple, Uname};

pub const QEMU_AARCH64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// What a row of the table says, before the host and the settings decide what applies.
pub(super) struct Row {
    pub github_runner: &'static str,
    /// Debian packages that link the target with the host's gcc and run it here.
    pub apt_packages: Vec<&'static str>,
    /// Debian packages that run it here when zig links it (no cross gcc).
    pub zig_apt_packages: Vec<&'static str>,
    pub linker: Option<&'static str>,
    pub sysroot: Option<&'static str>,
    pub emulation: Option<(Emulator, Vec<&'static str>)>,
}

pub(super) fn row(triple: &Triple, os: Os) -> Row {
    let plain = |github_runner| Row {
        github_runner,
        apt_packages: vec![],
        zig_apt_packages: vec![],
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
            // qemu needs the target's glibc (the sysroot) to run the binaries; zig needs none.
            zig_apt_packages: vec!["libc6-arm64-cross", "qemu-user"],
            linker: Some("aarch64-linux-gnu-gcc"),
            sysroot: Some(QEMU_AARCH64_SYSROOT),
            emulation: Some((
                Emulator::Qemu,
                vec!["qemu-aarch64", "-L", QEMU_AARCH64_SYSROOT],
            )),
        },
        "aarch64-unknown-linux-musl" => Row {
            apt_packages: vec!["qemu-user"],
            zig_apt_packages: vec!["qemu-user"],
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
        _ => match os {
            Os::Windows => plain("windows-2022"),
            Os::MacOs => plain("macos-14"),
            Os::Linux | Os::Other => plain("ubuntu-24.04"),
        },
    }
}

pub(super) fn uname(triple: &Triple) -> Option<Uname> {
    let (arch, rest) = triple.as_str().split_once('-')?;
    if rest == "apple-darwin" {
        // macOS's `uname -m` says arm64 on Apple silicon; install.sh calls macOS's libc `system`.
        let machines: &'static [&'static str] = match arch {
            "aarch64" => &["arm64"],
            "x86_64" => &["x86_64"],
            _ => return None,
        };
        return Some(Uname {
            os: "Darwin",
            machines,
            libc: "system",
        });
    }
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

/// The GitHub runner that runs a target's binaries when another one builds them (macOS).
pub(super) fn smoke_runner(triple: &Triple) -> Option<&'static str> {
    match triple.as_str() {
        "aarch64-apple-darwin" => Some("macos-14"),
        "x86_64-apple-darwin" => Some("macos-13"),
        _ => None,
    }
}

/// GitLab.com's hosted runner for the job that GitHub runs on `github_runner`.
pub(super) fn gitlab_runner(github_runner: &str) -> GitlabRunner {
    let tag = |tag| GitlabRunner::Tag { tag };
    match github_runner {
        "ubuntu-24.04-arm" => tag("saas-linux-small-arm64"),
        // Apple silicon; GitLab's macOS runners need the Premium or Ultimate tier.
        "macos-14" => tag("saas-macos-medium-m1"),
        "macos-13" => GitlabRunner::NotOffered {
            reason: "GitLab's hosted macOS runners are Apple silicon only (no Intel Mac)",
        },
        "windows-2022" => tag("saas-windows-medium-amd64"),
        _ => tag("saas-linux-small-amd64"),
    }
}

/// Debian's name for the architecture of a Linux glibc target.
pub(super) fn deb_arch(triple: &Triple) -> Option<&'static str> {
    match triple.as_str() {
        "x86_64-unknown-linux-gnu" => Some("amd64"),
        "aarch64-unknown-linux-gnu" => Some("arm64"),
        _ => None,
    }
}

/// RPM's name for the architecture of a Linux glibc target (what `rpm -q --qf %{ARCH}` says).
pub(super) fn rpm_arch(triple: &Triple) -> Option<&'static str> {
    match triple.as_str() {
        "x86_64-unknown-linux-gnu" => Some("x86_64"),
        "aarch64-unknown-linux-gnu" => Some("aarch64"),
        _ => None,
    }
}

/// The known triples whose static binaries run in a `FROM scratch` image, by OCI platform.
pub(super) const SCRATCH_IMAGE_TARGETS: [(&str, &str); 2] = [
    ("linux/amd64", "x86_64-unknown-linux-musl"),
    ("linux/arm64", "aarch64-unknown-linux-musl"),
];

/// One line per (machine, target): `<uname -s> <uname -m> <libc> <triple> <archive extension>
/// <floor or ->`: the glibc floor of glibc targets, the oldest macOS of Apple targets.
pub fn install_table(targets: &[Target]) -> String {
    let mut lines = Vec::new();
    for target in targets {
        if let Some(uname) = target.uname {
            let floor = match (target.glibc_floor(), target.macos_floor()) {
                (Some(floor), _) => floor.to_string(),
                (_, Some(floor)) => floor.to_string(),
                (None, None) => "-".to_owned(),
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
