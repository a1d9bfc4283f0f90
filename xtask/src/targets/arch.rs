//! A target's CPU architecture, read once from its triple: every name another ecosystem gives
//! it (Mach-O, Python platform tags, Windows) comes from here, never from the triple's text.

use serde::{Deserialize, Serialize};

/// The CPU architecture of a target, as rustc names it (`x86_64`, `aarch64`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Arch {
    X86_64,
    Aarch64,
    /// An architecture the tool has no other names for (its packages that need one are not
    /// planned).
    Other(String),
}

impl Arch {
    /// The first component of a triple.
    pub(super) fn of_triple(triple: &str) -> Arch {
        Arch::from(triple.split('-').next().unwrap_or_default().to_owned())
    }

    /// rustc's name (`x86_64`, `aarch64`): also the manylinux and musllinux tags' and RPM's.
    pub fn name(&self) -> &str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Other(name) => name,
        }
    }

    /// Apple's name (Mach-O CPU type, `macosx_*` wheel tags): `arm64` for aarch64.
    pub fn apple(&self) -> &str {
        match self {
            Arch::Aarch64 => "arm64",
            other => other.name(),
        }
    }

    /// Node's name (`process.arch`, npm's `cpu` field): `x64`, `arm64`.
    pub fn node(&self) -> Option<&'static str> {
        match self {
            Arch::X86_64 => Some("x64"),
            Arch::Aarch64 => Some("arm64"),
            Arch::Other(_) => None,
        }
    }

    /// Windows' name in Python platform tags (`win_amd64`, `win_arm64`).
    pub fn windows(&self) -> Option<&'static str> {
        match self {
            Arch::X86_64 => Some("amd64"),
            Arch::Aarch64 => Some("arm64"),
            Arch::Other(_) => None,
        }
    }
}

impl From<String> for Arch {
    fn from(name: String) -> Arch {
        match name.as_str() {
            "x86_64" => Arch::X86_64,
            "aarch64" => Arch::Aarch64,
            _ => Arch::Other(name),
        }
    }
}

impl From<Arch> for String {
    fn from(arch: Arch) -> String {
        arch.name().to_owned()
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
