//! Glibc and macOS versions: the floors a target links against and what a binary needs.

use std::fmt;

use serde::Serialize;

/// A `GLIBC_x.y[.z]` symbol version, ordered numerically.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GlibcVersion(pub Vec<u32>);

impl Serialize for GlibcVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Two or three dot-separated numbers.
fn dotted(text: &str) -> Option<Vec<u32>> {
    let parts = text
        .split('.')
        .map(str::parse)
        .collect::<Result<Vec<u32>, _>>()
        .ok()?;
    (2..=3).contains(&parts.len()).then_some(parts)
}

impl std::str::FromStr for GlibcVersion {
    type Err = String;

    /// `2.17`, `2.2.5`: two or three numbers.
    fn from_str(text: &str) -> Result<GlibcVersion, String> {
        dotted(text)
            .map(GlibcVersion)
            .ok_or_else(|| format!("{text:?} is not a glibc version such as 2.17"))
    }
}

/// A macOS version (`11.0`), the oldest the Apple binaries run on: their `LC_BUILD_VERSION`
/// `minos`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MacOsVersion(pub Vec<u32>);

impl Serialize for MacOsVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl std::str::FromStr for MacOsVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<MacOsVersion, String> {
        dotted(text)
            .map(MacOsVersion)
            .ok_or_else(|| format!("{text:?} is not a macOS version such as 11.0"))
    }
}

impl fmt::Display for MacOsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        write!(f, "{}", parts.join("."))
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        write!(f, "{}", parts.join("."))
    }
}
