//! The winget manifests of the release's Windows archives (version, installer, default
//! locale; schema 1.10.0), a `zip` installer whose binaries are `portable`
//! `NestedInstallerFiles`, as winget-pkgs takes them (`wingetcreate submit` or `komac submit`
//! with the three files). Written when the release is sealed (they need the archives'
//! digests), checked by `verify`; the tests validate them against winget's own schemas
//! (vendored in `packaging/schemas/winget/`).

use serde::Serialize;

use crate::dist::manifest::{ArtifactKind, Manifest};
use crate::dist::plan::{PlanInput, TargetPlan};

pub const MANIFEST_VERSION: &str = "1.10.0";
const LOCALE: &str = "en-US";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WingetPlan {
    /// `Publisher.Package`, as winget-pkgs names packages.
    pub identifier: String,
    pub publisher: String,
    pub name: String,
    pub license: String,
    pub short_description: String,
    pub package_url: String,
    pub download_base: String,
    /// (winget's architecture, the archive, its top directory), sorted.
    pub installers: Vec<(String, String, String)>,
    pub binaries: Vec<String>,
    /// The three files: version, installer, default locale.
    pub files: [String; 3],
}

/// The manifests, when `[workspace.metadata.xtask-dist.winget]` is set (not for a partial).
pub fn plan(input: &PlanInput, targets: &[TargetPlan]) -> anyhow::Result<Option<WingetPlan>> {
    let Some(config) = &input.config.winget else {
        return Ok(None);
    };
    if input.partial {
        return Ok(None);
    }
    let app = &input.config.package;
    let (repository, download_base) =
        super::channels::download_base(input, "[workspace.metadata.xtask-dist.winget]")?;
    if config.identifier.split('.').count() < 2 {
        anyhow::bail!(
            "[workspace.metadata.xtask-dist.winget] identifier {:?} must be Publisher.Package \
             (e.g. JiminiDev.Jimini)",
            config.identifier
        );
    }
    let installers = super::channels::windows_archives(targets, ("x64", "arm64"));
    let synopsis = crate::dist::deb::plan::capitalized_synopsis(
        input.meta.description.as_deref().unwrap_or(app),
    );
    let id = &config.identifier;
    Ok(Some(WingetPlan {
        identifier: id.clone(),
        publisher: config.publisher.clone(),
        name: app.clone(),
        license: input.meta.license.clone().unwrap_or_default(),
        short_description: synopsis,
        package_url: input.meta.homepage.clone().unwrap_or(repository),
        download_base,
        installers,
        binaries: input.binaries.clone(),
        files: [
            format!("{id}.yaml"),
            format!("{id}.installer.yaml"),
            format!("{id}.locale.{LOCALE}.yaml"),
        ],
    }))
}

/// A YAML scalar: a JSON string is one, with every character YAML would read otherwise quoted.
fn scalar(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

/// The three manifests (file name, text), with each archive's SHA-256 from the sealed
/// manifest; `None` when the release has none of the planned archives. Pure.
pub fn render(plan: &WingetPlan, manifest: &Manifest) -> Option<Vec<(String, String)>> {
    let header = |kind: &str| {
        format!(
            "# yaml-language-server: $schema=https://aka.ms/winget-manifest.{kind}.{MANIFEST_VERSION}.schema.json\n\
             # Written by `cargo xtask dist`; submit with `wingetcreate submit` or `komac submit`.\n\
             PackageIdentifier: {}\nPackageVersion: {}\n",
            scalar(&plan.identifier),
            scalar(&manifest.version)
        )
    };
    let footer =
        |kind: &str| format!("ManifestType: {kind}\nManifestVersion: {MANIFEST_VERSION}\n");
    let mut installers = String::new();
    let mut top_dir = None;
    for (arch, archive, stem) in &plan.installers {
        let Some(found) = manifest
            .artifacts
            .iter()
            .find(|a| &a.name == archive && a.kind == ArtifactKind::Archive)
        else {
            continue;
        };
        top_dir.get_or_insert(stem.clone());
        installers.push_str(&format!(
            "- Architecture: {arch}\n  InstallerUrl: {}\n  InstallerSha256: {}\n",
            scalar(&format!("{}{}", plan.download_base, found.name)),
            found.sha256.to_uppercase()
        ));
    }
    let top_dir = top_dir?;
    let mut nested = String::new();
    for binary in &plan.binaries {
        nested.push_str(&format!(
            "- RelativeFilePath: {}\n  PortableCommandAlias: {}\n",
            scalar(&format!("{top_dir}\\{binary}.exe")),
            scalar(binary)
        ));
    }
    let version = format!(
        "{}DefaultLocale: {LOCALE}\n{}",
        header("version"),
        footer("version")
    );
    let installer = format!(
        "{}InstallerType: zip\nNestedInstallerType: portable\nNestedInstallerFiles:\n{nested}\
         Installers:\n{installers}{}",
        header("installer"),
        footer("installer")
    );
    let locale = format!(
        "{}PackageLocale: {LOCALE}\nPublisher: {}\nPackageName: {}\nLicense: {}\n\
         ShortDescription: {}\nPackageUrl: {}\n{}",
        header("defaultLocale"),
        scalar(&plan.publisher),
        scalar(&plan.name),
        scalar(&plan.license),
        scalar(&plan.short_description),
        scalar(&plan.package_url),
        footer("defaultLocale")
    );
    let [v, i, l] = plan.files.clone();
    Some(vec![(v, version), (i, installer), (l, locale)])
}

/// What `verify` asks of a winget manifest: its version is the dist's, and each
/// `InstallerUrl` is a file of the dist whose SHA-256 is the `InstallerSha256` after it.
pub fn check(text: &str, manifest: &Manifest) -> Vec<String> {
    let keys = super::channels::LineKeys {
        version: "PackageVersion:",
        url: "InstallerUrl:",
        sha256: "InstallerSha256:",
    };
    super::channels::check_downloads(text, &keys, manifest).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::archive::Digest256;
    use crate::dist::manifest::Artifact;

    #[test]
    fn three_manifests_with_the_archives_digest_that_verify_holds_to_the_dist() {
        let archive = "app-1.0.0-x86_64-pc-windows-gnu.zip";
        let digest = Digest256 {
            size: 1,
            sha256: "ab".repeat(32),
        };
        let manifest = Manifest {
            format: crate::dist::manifest::FORMAT.into(),
            format_version: crate::dist::manifest::FORMAT_VERSION,
            app: "app".into(),
            version: "1.0.0".into(),
            commit: "c".repeat(40),
            source_date_epoch: 0,
            source_date: "1970-01-01T00:00:00Z".into(),
            partial: false,
            targets: vec![],
            artifacts: vec![Artifact::new(archive, ArtifactKind::Archive, None, digest)],
        };
        let plan = WingetPlan {
            identifier: "Dev.App".into(),
            publisher: "The \"app\" developers".into(),
            name: "app".into(),
            license: "MIT".into(),
            short_description: "Minimal: gateway".into(),
            package_url: "https://example.org/app".into(),
            download_base: "https://example.org/dl/v1.0.0/".into(),
            installers: vec![(
                "x64".into(),
                archive.into(),
                "app-1.0.0-x86_64-pc-windows-gnu".into(),
            )],
            binaries: vec!["app".into()],
            files: [
                "Dev.App.yaml".into(),
                "Dev.App.installer.yaml".into(),
                "Dev.App.locale.en-US.yaml".into(),
            ],
        };
        let files = render(&plan, &manifest).unwrap();
        assert_eq!(files.len(), 3);
        let installer = &files[1].1;
        assert!(
            installer.contains(&format!(
                "InstallerType: zip\nNestedInstallerType: portable\nNestedInstallerFiles:\n- \
                 RelativeFilePath: \"app-1.0.0-x86_64-pc-windows-gnu\\\\app.exe\"\n  \
                 PortableCommandAlias: \"app\"\nInstallers:\n- Architecture: x64\n  \
                 InstallerUrl: \"https://example.org/dl/v1.0.0/{archive}\"\n  InstallerSha256: {}\n",
                "AB".repeat(32)
            )),
            "{installer}"
        );
        assert!(
            files[2]
                .1
                .contains("Publisher: \"The \\\"app\\\" developers\"\n")
        );
        assert!(
            files[2]
                .1
                .contains("ShortDescription: \"Minimal: gateway\"\n")
        );
        for (_, text) in &files {
            assert_eq!(check(text, &manifest), Vec::<String>::new(), "{text}");
        }
        let changed = installer.replace(&"AB".repeat(32), &"CD".repeat(32));
        assert_eq!(check(&changed, &manifest).len(), 1);
    }
}
