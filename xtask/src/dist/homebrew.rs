//! The Homebrew formula (`jimini.rb`, for a tap's `Formula/`): the macOS and Linux archives of
//! the release with their SHA-256, the binaries and man pages installed, and a `test do` block
//! that runs `jimini check` on a sample. Planned with the dist (which targets, which URLs);
//! written when the release is sealed (`seal.rs`), because it needs every archive's digest,
//! which only the whole release has (a fan-out's merge, or a one-machine dist); a partial dist
//! has none. `check` is what `verify` asks of it.

use anyhow::Context;
use serde::Serialize;

use crate::dist::manifest::{ArtifactKind, Manifest};
use crate::dist::plan::{PlanInput, TargetPlan};
use crate::targets::{Arch, Libc, Os, Target};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormulaPlan {
    /// `<app>.rb`.
    pub file: String,
    /// The Ruby class: the app's name in CamelCase.
    pub class: String,
    pub desc: String,
    pub homepage: String,
    pub license: String,
    /// Where the release's files are downloaded from (`…/releases/download/v<version>/`).
    pub download_base: String,
    /// Sorted by (os, cpu).
    pub platforms: Vec<FormulaPlatform>,
    pub binaries: Vec<String>,
    pub man_pages: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FormulaPlatform {
    /// Homebrew's blocks: `on_macos`/`on_linux`, `on_arm`/`on_intel`.
    pub os: &'static str,
    pub cpu: &'static str,
    pub archive: String,
}

/// Homebrew's place for a target: macOS, and Linux glibc (Homebrew on Linux is glibc); one
/// build per (os, cpu).
pub fn platform(target: &Target, archive: &str) -> Option<FormulaPlatform> {
    let os = match (target.os, target.libc) {
        (Os::MacOs, _) => "macos",
        (Os::Linux, Libc::Glibc) => "linux",
        _ => return None,
    };
    let cpu = match target.arch {
        Arch::Aarch64 => "arm",
        Arch::X86_64 => "intel",
        Arch::Other(_) => return None,
    };
    Some(FormulaPlatform {
        os,
        cpu,
        archive: archive.to_owned(),
    })
}

/// `jimini-server` → `JiminiServer`.
pub fn class_name(app: &str) -> String {
    app.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// The formula of the release's macOS and Linux glibc archives, when `homebrew` is set.
pub fn plan(input: &PlanInput, targets: &[TargetPlan]) -> anyhow::Result<Option<FormulaPlan>> {
    if input.config.homebrew.is_none() || input.partial {
        return Ok(None);
    }
    let app = &input.config.package;
    let (repository, download_base) =
        super::channels::download_base(input, "[workspace.metadata.xtask-dist.homebrew]")?;
    let mut platforms: Vec<_> = targets
        .iter()
        .filter_map(|t| platform(&t.target, &t.archive))
        .collect();
    platforms.sort();
    Ok(Some(FormulaPlan {
        file: format!("{app}.rb"),
        class: class_name(app),
        // Homebrew's desc: a short phrase, no article, capitalised, no final period.
        desc: crate::dist::deb::plan::capitalized_synopsis(
            input.meta.description.as_deref().unwrap_or(app),
        ),
        homepage: input.meta.homepage.clone().unwrap_or(repository),
        license: input.meta.license.clone().unwrap_or_default(),
        download_base,
        platforms,
        binaries: input.binaries.clone(),
        man_pages: input.config.man_pages.is_some(),
    }))
}

/// A Ruby string literal.
fn quoted(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' | '#' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

/// The formula's text, with each planned archive's SHA-256 from the sealed manifest; `None`
/// when the release has none of the planned archives. Pure.
pub fn render(plan: &FormulaPlan, manifest: &Manifest) -> anyhow::Result<Option<String>> {
    let mut text = format!(
        "# Written by `cargo xtask dist` for release {version}: edit the release, not this file.\n\
         class {class} < Formula\n  desc {desc}\n  homepage {homepage}\n  version {version_q}\n  \
         license {license}\n",
        version = manifest.version,
        class = plan.class,
        desc = quoted(&plan.desc),
        homepage = quoted(&plan.homepage),
        version_q = quoted(&manifest.version),
        license = quoted(&plan.license),
    );
    let mut any = false;
    for os in ["macos", "linux"] {
        let platforms: Vec<&FormulaPlatform> =
            plan.platforms.iter().filter(|p| p.os == os).collect();
        let mut block = String::new();
        for platform in platforms {
            let Some(archive) = manifest
                .artifacts
                .iter()
                .find(|a| a.name == platform.archive && a.kind == ArtifactKind::Archive)
            else {
                continue;
            };
            any = true;
            block.push_str(&format!(
                "    on_{cpu} do\n      url {url}\n      sha256 {sha}\n    end\n",
                cpu = platform.cpu,
                url = quoted(&format!("{}{}", plan.download_base, archive.name)),
                sha = quoted(&archive.sha256),
            ));
        }
        if !block.is_empty() {
            text.push_str(&format!("\n  on_{os} do\n{block}  end\n"));
        }
    }
    if !any {
        return Ok(None);
    }
    let binaries: Vec<String> = plan.binaries.iter().map(|b| quoted(b)).collect();
    text.push_str(&format!(
        "\n  def install\n    bin.install {}\n",
        binaries.join(", ")
    ));
    if plan.man_pages {
        text.push_str("    man1.install Dir[\"man/man1/*.1\"]\n");
    }
    text.push_str(&format!(
        "  end\n\n  test do\n    assert_match version.to_s, shell_output(\"#{{bin}}/{app} --version\")\n    \
         # A sample the built-in rule pack blocks: exit status 3.\n    \
         assert_match \"block\", shell_output(\"#{{bin}}/{app} check 'my ssn is 123-45-6789'\", 3)\n  \
         end\nend\n",
        app = plan.binaries.first().context("a formula installs a binary")?,
    ));
    Ok(Some(text))
}

/// What `verify` asks of a formula in a dist: every `url` names an archive of the manifest
/// (under any base) and the `sha256` after it is that archive's; the version is the dist's.
pub fn check(text: &str, manifest: &Manifest) -> Vec<String> {
    let keys = super::channels::LineKeys {
        version: "version ",
        url: "url ",
        sha256: "sha256 ",
    };
    let (mut problems, urls) = super::channels::check_downloads(text, &keys, manifest);
    if urls == 0 {
        problems.push("it downloads nothing (no url)".to_owned());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::archive::Digest256;
    use crate::dist::manifest::Artifact;

    fn manifest() -> Manifest {
        let archive = |name: &str, sha: char| {
            let digest = Digest256 {
                size: 1,
                sha256: sha.to_string().repeat(64),
            };
            Artifact::new(name, ArtifactKind::Archive, None, digest)
        };
        Manifest {
            format: crate::dist::manifest::FORMAT.into(),
            format_version: crate::dist::manifest::FORMAT_VERSION,
            app: "jimini".into(),
            version: "1.2.0".into(),
            commit: "c".repeat(40),
            source_date_epoch: 0,
            source_date: "1970-01-01T00:00:00Z".into(),
            partial: false,
            targets: vec![],
            artifacts: vec![
                archive("jimini-1.2.0-aarch64-apple-darwin.tar.xz", 'a'),
                archive("jimini-1.2.0-x86_64-unknown-linux-gnu.tar.xz", 'b'),
            ],
        }
    }

    fn plan() -> FormulaPlan {
        let platform = |os, cpu, archive: &str| FormulaPlatform {
            os,
            cpu,
            archive: archive.into(),
        };
        FormulaPlan {
            file: "jimini.rb".into(),
            class: class_name("jimini"),
            desc: "Minimal \"AI\" gateway #1".into(),
            homepage: "https://example.org/jimini".into(),
            license: "MIT".into(),
            download_base: "https://example.org/dl/v1.2.0/".into(),
            platforms: vec![
                platform(
                    "linux",
                    "intel",
                    "jimini-1.2.0-x86_64-unknown-linux-gnu.tar.xz",
                ),
                platform("macos", "arm", "jimini-1.2.0-aarch64-apple-darwin.tar.xz"),
                platform("macos", "intel", "jimini-1.2.0-x86_64-apple-darwin.tar.xz"),
            ],
            binaries: vec!["jimini".into(), "jimini-admin".into()],
            man_pages: true,
        }
    }

    #[test]
    fn the_formula_names_each_archive_with_its_digest_and_verify_holds_it_to_the_dist() {
        let manifest = manifest();
        let text = render(&plan(), &manifest).unwrap().unwrap();
        assert!(text.contains("class Jimini < Formula\n"), "{text}");
        assert!(
            text.contains("  desc \"Minimal \\\"AI\\\" gateway \\#1\"\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "  on_macos do\n    on_arm do\n      url \"https://example.org/dl/v1.2.0/jimini-1.2.0-aarch64-apple-darwin.tar.xz\"\n      sha256 \"{}\"\n    end\n  end\n",
                "a".repeat(64)
            )),
            "{text}"
        );
        // A planned archive the release lacks (x86_64 macOS here) is left out.
        assert!(!text.contains("x86_64-apple-darwin"), "{text}");
        assert!(text.contains("    bin.install \"jimini\", \"jimini-admin\"\n"));
        assert!(text.contains("man1.install"));
        assert!(text.contains("shell_output(\"#{bin}/jimini check 'my ssn is 123-45-6789'\", 3)"));
        assert_eq!(check(&text, &manifest), Vec::<String>::new());
        let swapped = text.replace(&"b".repeat(64), &"e".repeat(64));
        let problems = check(&swapped, &manifest);
        assert!(
            problems.len() == 1 && problems[0].contains("x86_64-unknown-linux-gnu.tar.xz"),
            "{problems:?}"
        );
        assert_eq!(class_name("jimini-server"), "JiminiServer");
        let mut none = manifest.clone();
        none.artifacts.clear();
        assert_eq!(render(&plan(), &none).unwrap(), None);
    }
}
