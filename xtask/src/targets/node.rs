//! A target as Node sees it (npm's platform fields), read once from the target's OS, CPU and
//! libc.

use serde::Serialize;

use super::{Arch, Libc, Os};

/// A target as Node sees it: `process.platform`, `process.arch` and, on Linux, the libc
/// (npm's `os`, `cpu` and `libc` fields of a package).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct NodePlatform {
    pub os: &'static str,
    pub cpu: &'static str,
    pub libc: Option<&'static str>,
}

impl NodePlatform {
    pub(super) fn of(os: Os, arch: &Arch, libc: Libc) -> Option<NodePlatform> {
        let os = match os {
            Os::Linux => "linux",
            Os::MacOs => "darwin",
            Os::Windows => "win32",
            Os::Other => return None,
        };
        let libc = match (os, libc) {
            ("linux", Libc::Glibc) => Some("glibc"),
            ("linux", Libc::MuslStatic) => Some("musl"),
            ("linux", Libc::Other) => return None,
            _ => None,
        };
        Some(NodePlatform {
            os,
            cpu: arch.node()?,
            libc,
        })
    }

    /// `linux-x64`, `linux-x64-musl`, `darwin-arm64`, `win32-x64`: the platform packages'
    /// suffix, as esbuild and Biome name theirs (glibc is Linux's default, musl is said).
    pub fn suffix(&self) -> String {
        match self.libc {
            Some("musl") => format!("{}-{}-musl", self.os, self.cpu),
            _ => format!("{}-{}", self.os, self.cpu),
        }
    }
}
