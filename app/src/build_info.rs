//! Build information baked in by `build.rs`: replaces a version file.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BuildInfo {
    pub version: &'static str,
    pub commit: &'static str,
    pub commit_date: &'static str,
    pub target: &'static str,
    pub profile: &'static str,
}

pub const BUILD_INFO: BuildInfo = BuildInfo {
    version: env!("JIMINI_VERSION"),
    commit: env!("JIMINI_COMMIT"),
    commit_date: env!("JIMINI_COMMIT_DATE"),
    target: env!("JIMINI_TARGET"),
    profile: env!("JIMINI_PROFILE"),
};

impl BuildInfo {
    /// The `--version` line: `jimini 0.1.0 (3f2a9c1 2026-11-25, x86_64-unknown-linux-gnu, release)`.
    pub fn version_line(&self, binary: &str) -> String {
        format!(
            "{binary} {} ({} {}, {}, {})",
            self.version, self.commit, self.commit_date, self.target, self.profile
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line_has_the_documented_shape() {
        let info = BuildInfo {
            version: "0.1.0",
            commit: "3f2a9c1",
            commit_date: "2026-11-25",
            target: "x86_64-unknown-linux-gnu",
            profile: "release",
        };
        assert_eq!(
            info.version_line("jimini"),
            "jimini 0.1.0 (3f2a9c1 2026-11-25, x86_64-unknown-linux-gnu, release)"
        );
    }

    #[test]
    fn baked_version_defaults_to_the_package_version() {
        if std::env::var_os("JIMINI_BUILD_VERSION").is_none() {
            assert_eq!(BUILD_INFO.version, env!("CARGO_PKG_VERSION"));
        }
    }
}
