//! Glibc versions: the floor a target links against and what a binary needs.

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

impl std::str::FromStr for GlibcVersion {
    type Err = String;

    /// `2.17`, `2.2.5`: two or three numbers.
    fn from_str(text: &str) -> Result<GlibcVersion, String> {
        let parts = text
            .split('.')
            .map(str::parse)
            .collect::<Result<Vec<u32>, _>>();
        match parts {
            Ok(parts) if (2..=3).contains(&parts.len()) => Ok(GlibcVersion(parts)),
            _ => Err(format!("{text:?} is not a glibc version such as 2.17")),
        }
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        write!(f, "{}", parts.join("."))
    }
}
