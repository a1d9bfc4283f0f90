//! The plan as text, for people (`dist --dry-run` without `--json`).

use super::*;

impl DistPlan {
    /// The planned targets, in plan order.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().map(|t| &t.target)
    }

    /// The human form of `--dry-run`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "dist plan: {} {} (commit {}, SOURCE_DATE_EPOCH {})\n",
            self.app, self.version, self.short_commit, self.source_date_epoch,
        );
        for build in &self.builds {
            text.push_str(&format!("  build: {}\n", build.describe()));
        }
        for target in &self.targets {
            text.push_str(&format!(
                "  {}: {} ({}) + {}{}\n",
                target.target.triple,
                target.archive,
                target
                    .binaries
                    .iter()
                    .map(|b| b.file.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                target.sbom,
                [
                    target.fallback_archive.as_ref(),
                    target.deb.as_ref().map(|d| &d.file),
                    target.wheel.as_ref().map(|w| &w.file),
                    target.rpm.as_ref().map(|r| &r.file),
                    target.npm.as_ref().map(|n| &n.file),
                ]
                .into_iter()
                .flatten()
                .map(|file| format!(" + {file}"))
                .collect::<String>()
            ));
        }
        if self.installer.is_some() {
            text.push_str(&format!("  {INSTALLER_NAME}\n"));
        }
        if let Some(npm) = &self.npm {
            text.push_str(&format!(
                "  {} (npm {}: {} platform packages)\n",
                npm.file,
                npm.name,
                npm.platforms.len()
            ));
        }
        if !self.partial {
            text.push_str(&format!("  {}\n", manifest::CHECKSUMS_FILE));
            match &self.signing.key {
                Some(key) => text.push_str(&format!(
                    "  {SIGNATURE_FILE} (signed with {}), and a .sig beside each archive, .deb, \
                     wheel, RPM and npm package\n",
                    key.describe()
                )),
                None => text.push_str("  unsigned: no signing key\n"),
            }
        }
        text.push_str(&format!(
            "  {}\n  into {}\n",
            manifest::FILE_NAME,
            self.out.display()
        ));
        text
    }
}
