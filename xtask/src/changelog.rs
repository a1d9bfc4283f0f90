//! CHANGELOG.md (Keep a Changelog): a version's section, read one way for every reader, and
//! promoting `[Unreleased]` to a dated version section.
//!
//! **Architecture Invariant:** [`section`] is the only code that cuts a version's notes out of
//! CHANGELOG.md: the release tag's message, the GitHub and GitLab releases, `publish --dry-run`
//! and the released-version witness (`version.rs`) all read it, so one release has one text.

use anyhow::{Context, bail};
use semver::Version;

/// One version's section of a Keep a Changelog text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The heading line as written, e.g. `## [1.2.0] - 2026-12-01`.
    pub heading: String,
    /// The release date of a dated heading (`- DATE`), as written.
    pub date: Option<String>,
    /// The entries: the lines under the heading up to the next `## ` heading or the link
    /// definitions at the end (`[1.2.0]: https://…`), without leading or trailing blank lines;
    /// blank lines between entries are kept.
    pub body: String,
}

impl Section {
    /// The heading and the entries, as the release tag's message carries them.
    pub fn with_heading(&self) -> String {
        format!("{}\n\n{}", self.heading, self.body)
    }
}

/// The section of `version` in `text` (CHANGELOG.md); a missing or empty one is an error that
/// says how to write it.
pub fn section(text: &str, version: &Version) -> anyhow::Result<Section> {
    let (index, heading, date) = find_heading(text, version).with_context(|| {
        format!(
            "CHANGELOG.md has no section for {version}: `cargo xtask release` writes it \
             (a `## [{version}] - DATE` heading over the release's entries)"
        )
    })?;
    let mut entries: Vec<&str> = lines(text)
        .skip(index + 1)
        .take_while(|line| !line.starts_with("## ") && !is_link_definition(line))
        .skip_while(|line| line.trim().is_empty())
        .collect();
    while entries.last().is_some_and(|line| line.trim().is_empty()) {
        entries.pop();
    }
    if entries.is_empty() {
        bail!(
            "CHANGELOG.md's section for {version} is empty: list the release's changes under \
             `{heading}`"
        );
    }
    Ok(Section {
        heading,
        date,
        body: entries.join("\n"),
    })
}

/// The `## [X.Y.Z] - DATE` heading of `version` when it is dated, whatever is under it (the
/// released-version witness of `version.rs`).
pub fn dated_heading(text: &str, version: &Version) -> Option<String> {
    find_heading(text, version)
        .filter(|(_, _, date)| date.is_some())
        .map(|(_, heading, _)| heading)
}

/// The line index, text and date of `version`'s heading.
fn find_heading(text: &str, version: &Version) -> Option<(usize, String, Option<String>)> {
    let opening = format!("## [{version}]");
    let (index, line) = lines(text).enumerate().find(|(_, line)| {
        line.strip_prefix(&opening)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    })?;
    let heading = line.trim_end().to_owned();
    let date = heading[opening.len()..]
        .trim()
        .strip_prefix('-')
        .map(str::trim)
        .filter(|date| !date.is_empty())
        .map(str::to_owned);
    Some((index, heading, date))
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(|line| line.trim_end_matches('\r'))
}

/// A Markdown link reference definition (`[label]: url`), which ends the last section.
fn is_link_definition(line: &str) -> bool {
    line.strip_prefix('[')
        .and_then(|rest| rest.split_once("]:"))
        .is_some_and(|(label, _)| !label.is_empty() && !label.contains(']'))
}

/// Moves the `[Unreleased]` entries under `## [X.Y.Z] - DATE` and updates the compare links.
/// Returns the new text and the version's section in it (for the tag message).
pub fn promote_changelog(
    text: &str,
    previous: &Version,
    version: &Version,
    date: &str,
    repository: Option<&str>,
) -> anyhow::Result<(String, Section)> {
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
    let section = self::section(&out, version)?;
    Ok((out, section))
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
        assert_eq!(
            section.with_heading(),
            "## [0.2.0] - 2026-11-25\n\n### Added\n- Thing."
        );
        assert!(text.contains("## [Unreleased]\n\n## [0.2.0] - 2026-11-25\n\n### Added\n- Thing.\n\n## [0.1.0] - 2026-01-01"), "{text}");
        assert!(text.contains("[Unreleased]: https://x.test/r/compare/v0.2.0...HEAD\n[0.2.0]: https://x.test/r/compare/v0.1.0...v0.2.0\n[0.1.0]:"), "{text}");
    }

    #[test]
    fn a_section_keeps_its_blank_lines_and_stops_at_the_next_heading() {
        let text = "# Changelog\n\n## [Unreleased]\n\n## [1.2.0] - 2026-12-01\n\n### Added\n\n- One.\n\n  More of one.\n\n### Fixed\n- Two.\n\n\n## [1.1.0] - 2026-11-01\n\n- Old.\n";
        let found = section(text, &v("1.2.0")).unwrap();
        assert_eq!(found.heading, "## [1.2.0] - 2026-12-01");
        assert_eq!(found.date.as_deref(), Some("2026-12-01"));
        assert_eq!(
            found.body,
            "### Added\n\n- One.\n\n  More of one.\n\n### Fixed\n- Two."
        );
    }

    #[test]
    fn the_last_section_ends_before_the_link_definitions() {
        let text = "## [0.2.0] - 2026-01-02\n- New.\n\n## [0.1.0] - 2026-01-01\r\n\r\n- First, see [the docs][docs].\r\n\r\n[Unreleased]: https://x.test/compare/v0.2.0...HEAD\n[0.1.0]: https://x.test/tag/v0.1.0\n";
        let found = section(text, &v("0.1.0")).unwrap();
        assert_eq!(found.body, "- First, see [the docs][docs].");
    }

    #[test]
    fn a_pre_release_is_its_own_section_and_not_its_releases() {
        let text = "## [1.0.0-rc.1] - 2026-12-01\n- Candidate.\n\n## [1.0.0]\n- Final, undated.\n";
        let rc = section(text, &v("1.0.0-rc.1")).unwrap();
        assert_eq!(
            (rc.body.as_str(), rc.date.as_deref()),
            ("- Candidate.", Some("2026-12-01"))
        );
        let final_ = section(text, &v("1.0.0")).unwrap();
        assert_eq!(
            (final_.body.as_str(), final_.date),
            ("- Final, undated.", None)
        );
        let other = section("## [1.0.0-rc.10] - 2026-12-02\n- Ten.\n", &v("1.0.0-rc.1"));
        assert!(other.is_err(), "rc.10 is not rc.1");
    }

    #[test]
    fn a_missing_or_empty_section_is_refused_with_the_fix() {
        let err = section("## [0.1.0]\n- x\n", &v("0.2.0"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no section for 0.2.0") && err.contains("cargo xtask release"),
            "{err}"
        );
        let err = section(
            "## [0.2.0] - 2026-01-01\n\n\n## [0.1.0]\n- x\n",
            &v("0.2.0"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("section for 0.2.0 is empty"), "{err}");
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
