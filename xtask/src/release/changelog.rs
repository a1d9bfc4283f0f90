//! The CHANGELOG (Keep a Changelog): promoting `[Unreleased]` to a dated version section.

use anyhow::{Context, bail};
use semver::Version;

/// Moves the `[Unreleased]` entries under `## [X.Y.Z] - DATE` and updates the compare links.
/// Returns the new text and the version's section (for the tag message).
pub fn promote_changelog(
    text: &str,
    previous: &Version,
    version: &Version,
    date: &str,
    repository: Option<&str>,
) -> anyhow::Result<(String, String)> {
    const HEADING: &str = "## [Unreleased]";
    let start = text
        .find(HEADING)
        .context("CHANGELOG.md has no `## [Unreleased]` section: add one above the releases")?;
    let body_start = start + HEADING.len();
    let body_end = text[body_start..]
        .find("\n## ")
        .map(|i| body_start + i + 1)
        .unwrap_or_else(|| {
            text[body_start..]
                .find("\n[")
                .map(|i| body_start + i + 1)
                .unwrap_or(text.len())
        });
    let entries = text[body_start..body_end].trim();
    if entries.is_empty() {
        bail!(
            "CHANGELOG.md's [Unreleased] section is empty: describe the changes in this release first"
        );
    }
    let section = format!("## [{version}] - {date}\n\n{entries}\n");
    let mut out = String::new();
    out.push_str(&text[..start]);
    out.push_str(&format!("{HEADING}\n\n{section}\n"));
    out.push_str(&text[body_end..]);

    if let Some(repo) = repository.map(|r| r.trim_end_matches('/')) {
        let unreleased_link = format!("[Unreleased]: {repo}/compare/v{version}...HEAD");
        let previous_tag_known = out.contains(&format!("[{previous}]:"));
        let version_link = if previous_tag_known {
            format!("[{version}]: {repo}/compare/v{previous}...v{version}")
        } else {
            format!("[{version}]: {repo}/releases/tag/v{version}")
        };
        let mut lines: Vec<String> = out.lines().map(str::to_owned).collect();
        match lines.iter().position(|l| l.starts_with("[Unreleased]:")) {
            Some(index) => {
                lines[index] = unreleased_link;
                lines.insert(index + 1, version_link);
            }
            None => {
                if lines.last().is_some_and(|l| !l.is_empty()) {
                    lines.push(String::new());
                }
                lines.push(unreleased_link);
                lines.push(version_link);
            }
        }
        out = lines.join("\n");
        out.push('\n');
    }
    Ok((out, section.trim_end().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    const CHANGELOG: &str = "# Changelog\n\n## [Unreleased]\n\n### Added\n- Thing.\n\n## [0.1.0] - 2026-01-01\n\n- First.\n\n[Unreleased]: https://x.test/r/compare/v0.1.0...HEAD\n[0.1.0]: https://x.test/r/releases/tag/v0.1.0\n";

    #[test]
    fn changelog_promotes_unreleased_and_links() {
        let (text, section) = promote_changelog(
            CHANGELOG,
            &v("0.1.0"),
            &v("0.2.0"),
            "2026-11-25",
            Some("https://x.test/r"),
        )
        .unwrap();
        assert_eq!(section, "## [0.2.0] - 2026-11-25\n\n### Added\n- Thing.");
        assert!(text.contains("## [Unreleased]\n\n## [0.2.0] - 2026-11-25\n\n### Added\n- Thing.\n\n## [0.1.0] - 2026-01-01"), "{text}");
        assert!(text.contains("[Unreleased]: https://x.test/r/compare/v0.2.0...HEAD\n[0.2.0]: https://x.test/r/compare/v0.1.0...v0.2.0\n[0.1.0]:"), "{text}");
    }

    #[test]
    fn first_release_links_to_the_tag_and_empty_unreleased_is_refused() {
        let first = "# Changelog\n\n## [Unreleased]\n\n- New.\n\n[Unreleased]: https://x.test/r/commits/main\n";
        let (text, _) = promote_changelog(
            first,
            &v("0.1.0"),
            &v("0.2.0"),
            "2026-11-25",
            Some("https://x.test/r"),
        )
        .unwrap();
        assert!(text.ends_with("[Unreleased]: https://x.test/r/compare/v0.2.0...HEAD\n[0.2.0]: https://x.test/r/releases/tag/v0.2.0\n"), "{text}");
        let err =
            promote_changelog(&text, &v("0.2.0"), &v("0.3.0"), "2026-11-26", None).unwrap_err();
        assert!(
            err.to_string().contains("[Unreleased] section is empty"),
            "{err}"
        );
    }
}
