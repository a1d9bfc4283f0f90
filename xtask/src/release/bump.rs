//! The next version of a release: a SemVer level (cargo-release's pre-release semantics) or
//! an explicit version, which must be greater.

use anyhow::bail;
use semver::{Prerelease, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Major,
    Minor,
    Patch,
    Alpha,
    Beta,
    Rc,
    Release,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bump {
    Level(Level),
    Version(Version),
}

impl std::str::FromStr for Bump {
    type Err = anyhow::Error;

    /// A level name, or an explicit SemVer version (a leading `v` is allowed).
    fn from_str(text: &str) -> anyhow::Result<Bump> {
        Ok(Bump::Level(match text {
            "major" => Level::Major,
            "minor" => Level::Minor,
            "patch" => Level::Patch,
            "alpha" => Level::Alpha,
            "beta" => Level::Beta,
            "rc" => Level::Rc,
            "release" => Level::Release,
            other => {
                let version =
                    Version::parse(other.strip_prefix('v').unwrap_or(other)).map_err(|err| {
                        anyhow::anyhow!(
                            "{other:?} is neither a level (major, minor, patch, alpha, beta, rc, \
                             release) nor a SemVer version: {err}"
                        )
                    })?;
                return Ok(Bump::Version(version));
            }
        }))
    }
}

const PRE_LABELS: [&str; 3] = ["alpha", "beta", "rc"];

/// `(label, number)` of a `label.N` pre-release.
fn pre_parts(pre: &Prerelease) -> Option<(&str, u64)> {
    let (label, number) = pre.as_str().split_once('.')?;
    Some((label, number.parse().ok()?))
}

pub fn next_version(current: &Version, bump: &Bump) -> anyhow::Result<Version> {
    let mut next = Version::new(current.major, current.minor, current.patch);
    let is_pre = !current.pre.is_empty();
    let level = match bump {
        Bump::Version(version) => {
            if version <= current {
                bail!(
                    "{version} is not greater than the current version {current}: pick a higher version"
                );
            }
            return Ok(version.clone());
        }
        Bump::Level(level) => *level,
    };
    match level {
        Level::Major => {
            if !(is_pre && current.minor == 0 && current.patch == 0) {
                next = Version::new(current.major + 1, 0, 0);
            }
        }
        Level::Minor => {
            if !(is_pre && current.patch == 0) {
                next = Version::new(current.major, current.minor + 1, 0);
            }
        }
        Level::Patch => {
            if !is_pre {
                next.patch += 1;
            }
        }
        Level::Release => {
            if !is_pre {
                bail!(
                    "{current} is not a pre-release, so `release` has nothing to drop: use major, minor or patch"
                );
            }
        }
        Level::Alpha => next = next_pre(current, "alpha")?,
        Level::Beta => next = next_pre(current, "beta")?,
        Level::Rc => next = next_pre(current, "rc")?,
    }
    Ok(next)
}

/// The next `label.N` pre-release: the next N of the same label, `.1` of a later label, or
/// `.1` of the next patch from a release.
fn next_pre(current: &Version, label: &str) -> anyhow::Result<Version> {
    let mut next = Version::new(current.major, current.minor, current.patch);
    let rank = |l: &str| PRE_LABELS.iter().position(|x| *x == l);
    let number = match pre_parts(&current.pre) {
        None if !current.pre.is_empty() => bail!(
            "{current} has a pre-release ({}) that is not alpha.N, beta.N or rc.N: give the version explicitly",
            current.pre
        ),
        None => {
            next.patch += 1;
            1
        }
        Some((current_label, n)) if current_label == label => n + 1,
        Some((current_label, _)) if rank(current_label) < rank(label) => 1,
        Some((current_label, _)) => {
            bail!(
                "{current} is already past {label} ({current_label}): use `release` or a later level"
            )
        }
    };
    next.pre = Prerelease::new(&format!("{label}.{number}"))?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    fn bump(current: &str, level: &str) -> String {
        next_version(&v(current), &level.parse().unwrap())
            .map(|v| v.to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn levels_from_release_versions() {
        assert_eq!(bump("0.1.0", "major"), "1.0.0");
        assert_eq!(bump("0.1.0", "minor"), "0.2.0");
        assert_eq!(bump("0.2.0", "patch"), "0.2.1");
        assert_eq!(bump("0.2.0", "alpha"), "0.2.1-alpha.1");
        assert_eq!(bump("0.2.0", "beta"), "0.2.1-beta.1");
        assert_eq!(bump("0.2.0", "rc"), "0.2.1-rc.1");
        assert!(bump("0.2.0", "release").starts_with("error: 0.2.0 is not a pre-release"));
    }

    #[test]
    fn levels_from_pre_release_versions() {
        assert_eq!(bump("0.2.1-rc.1", "rc"), "0.2.1-rc.2");
        assert_eq!(bump("0.2.1-rc.2", "release"), "0.2.1");
        assert_eq!(bump("0.2.1-alpha.3", "alpha"), "0.2.1-alpha.4");
        assert_eq!(bump("0.2.1-alpha.3", "beta"), "0.2.1-beta.1");
        assert_eq!(bump("0.2.1-beta.2", "rc"), "0.2.1-rc.1");
        assert!(bump("0.2.1-rc.1", "alpha").contains("already past alpha"));
        assert_eq!(bump("0.2.1-rc.1", "patch"), "0.2.1");
        assert_eq!(bump("0.3.0-beta.1", "minor"), "0.3.0");
        assert_eq!(bump("0.3.1-beta.1", "minor"), "0.4.0");
        assert_eq!(bump("2.0.0-rc.1", "major"), "2.0.0");
        assert_eq!(bump("2.1.0-rc.1", "major"), "3.0.0");
        assert!(bump("1.0.0-nightly", "rc").contains("not alpha.N"));
    }

    #[test]
    fn explicit_versions_must_be_greater() {
        assert_eq!(bump("0.2.0", "1.0.0-rc.1"), "1.0.0-rc.1");
        assert_eq!(bump("0.2.0", "v0.3.0"), "0.3.0");
        assert!(bump("0.2.0", "0.2.0").contains("not greater"));
        assert!(
            bump("0.2.0", "0.2.0-rc.1").contains("not greater"),
            "pre-releases sort lower"
        );
        assert!(
            "huge"
                .parse::<Bump>()
                .unwrap_err()
                .to_string()
                .contains("neither a level")
        );
    }
}
