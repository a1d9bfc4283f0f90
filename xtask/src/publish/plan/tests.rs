//! The publish plan's unit tests.

use super::*;
use crate::dist::archive::Digest256;
use crate::dist::manifest::Artifact;

fn manifest(version: &str) -> Manifest {
    let artifact = |name: &str, kind, c: char| {
        Artifact::new(
            name,
            kind,
            None,
            Digest256 {
                size: 7,
                sha256: c.to_string().repeat(64),
            },
        )
    };
    Manifest {
        format: crate::dist::manifest::FORMAT.into(),
        format_version: crate::dist::manifest::FORMAT_VERSION,
        app: "jimini".into(),
        version: version.into(),
        commit: "c".repeat(40),
        source_date_epoch: 0,
        source_date: String::new(),
        partial: false,
        targets: vec![],
        artifacts: vec![
            artifact("SHA256SUMS", ArtifactKind::Checksums, 'a'),
            artifact("install.sh", ArtifactKind::Installer, 'b'),
            artifact(
                &format!("jimini-{version}-x.tar.xz"),
                ArtifactKind::Archive,
                'c',
            ),
            artifact("jimini-1-py3-none-x.whl", ArtifactKind::Wheel, 'd'),
        ],
    }
}

fn endpoints() -> Endpoints {
    Endpoints {
        github_api: "https://api.github.com".into(),
        github_web: "https://github.com".into(),
        github_repo: "o/r".into(),
        gitlab_api: "https://gitlab.com/api/v4".into(),
        gitlab_project: "42".into(),
        crates_io_api: "https://crates.io".into(),
        pypi_upload: "https://upload.pypi.org/legacy/".into(),
        pypi_api: "https://pypi.org".into(),
        npm_registry: "https://registry.npmjs.org/".into(),
        homebrew_tap: Some("https://github.com/o/homebrew-tap.git".into()),
        scoop_bucket: None,
    }
}

fn input<'a>(manifest: &'a Manifest, hosts: &[Host]) -> PublishInput<'a> {
    let unlisted = |name: &str| FileDigest {
        name: name.into(),
        sha256: "e".repeat(64),
        size: 3,
    };
    PublishInput {
        manifest,
        unlisted: vec![
            unlisted("dist-manifest.json"),
            unlisted("SHA256SUMS.minisig"),
        ],
        notes: "### Added\n\n- Things.".into(),
        hosts: hosts.to_vec(),
        endpoints: endpoints(),
        crate_file: Some(FileDigest {
            name: "jimini-1.2.0.crate".into(),
            sha256: "f".repeat(64),
            size: 9,
        }),
    }
}

#[test]
fn release_hosts_get_every_file_packages_first_and_the_vouchers_last() {
    let manifest = manifest("1.2.0");
    let plan = plan(&input(&manifest, &[Host::Pypi, Host::Github, Host::Github])).unwrap();
    let hosts: Vec<Host> = plan.hosts.iter().map(|h| h.host).collect();
    assert_eq!(hosts, [Host::Github, Host::Pypi], "fixed order, each once");
    let github = &plan.hosts[0];
    let files: Vec<&str> = github.uploads.iter().map(|u| u.file.as_str()).collect();
    assert_eq!(
        files,
        [
            "install.sh",
            "jimini-1-py3-none-x.whl",
            "jimini-1.2.0-x.tar.xz",
            "SHA256SUMS",
            "SHA256SUMS.minisig",
            "dist-manifest.json"
        ]
    );
    assert_eq!(github.release, "github.com/o/r release v1.2.0");
    assert_eq!(
        github.uploads[2].destination,
        "https://github.com/o/r/releases/download/v1.2.0/jimini-1.2.0-x.tar.xz"
    );
    assert_eq!(github.uploads[2].sha256, "c".repeat(64));
    assert_eq!(plan.notes, "### Added\n\n- Things.");
    assert!(!plan.prerelease);
    let pypi: Vec<&str> = plan.hosts[1]
        .uploads
        .iter()
        .map(|u| u.file.as_str())
        .collect();
    assert_eq!(pypi, ["jimini-1-py3-none-x.whl"]);
}

#[test]
fn gitlab_and_crates_io_destinations() {
    let manifest = manifest("1.2.0-rc.1");
    let plan = plan(&input(&manifest, &[Host::CratesIo, Host::Gitlab])).unwrap();
    assert!(plan.prerelease);
    assert_eq!(plan.tag, "v1.2.0-rc.1");
    assert_eq!(
        plan.hosts[0].uploads[0].destination,
        "https://gitlab.com/api/v4/projects/42/packages/generic/jimini/1.2.0-rc.1/install.sh"
    );
    assert_eq!(plan.hosts[1].uploads[0].file, "jimini-1.2.0.crate");
}

#[test]
fn partials_snapshots_and_wheel_less_pypi_are_refused() {
    let mut partial = manifest("1.2.0");
    partial.partial = true;
    let err = plan(&input(&partial, &[Host::Github])).unwrap_err();
    assert!(err.to_string().contains("dist merge"), "{err}");
    let snapshot = manifest("1.2.1-dev.3+g0123abc");
    let err = plan(&input(&snapshot, &[Host::Github])).unwrap_err();
    assert!(err.to_string().contains("snapshot"), "{err}");
    let mut no_wheels = manifest("1.2.0");
    no_wheels
        .artifacts
        .retain(|a| a.kind != ArtifactKind::Wheel);
    let err = plan(&input(&no_wheels, &[Host::Pypi])).unwrap_err();
    assert!(err.to_string().contains("no wheels"), "{err}");
}

#[test]
fn npm_gets_the_platform_packages_first_and_a_pre_release_under_next() {
    let npm = |name: &str, package: &str, target: Option<&str>| {
        let mut artifact = Artifact::new(
            name,
            ArtifactKind::NpmPackage,
            target.and_then(crate::targets::Triple::parse).as_ref(),
            Digest256 {
                size: 5,
                sha256: "9".repeat(64),
            },
        );
        artifact.package = Some(package.into());
        artifact
    };
    for (version, tag) in [("1.2.0", "latest"), ("1.2.0-rc.1", "next")] {
        let mut manifest = manifest(version);
        manifest.artifacts.extend([
            npm("jimini_1_npm.tgz", "jimini", None),
            npm(
                "jimini_1_npm-linux-x64.tgz",
                "@jimini/cli-linux-x64",
                Some("x86_64-unknown-linux-gnu"),
            ),
            npm(
                "jimini_1_npm-win32-x64.tgz",
                "@jimini/cli-win32-x64",
                Some("x86_64-pc-windows-gnu"),
            ),
        ]);
        let plan = plan(&input(&manifest, &[Host::Npm, Host::Github])).unwrap();
        let host = &plan.hosts[1];
        assert_eq!(host.host, Host::Npm);
        assert_eq!(host.dist_tag.as_deref(), Some(tag));
        let packages: Vec<&str> = host
            .uploads
            .iter()
            .map(|u| u.package.as_deref().unwrap())
            .collect();
        assert_eq!(
            packages,
            ["@jimini/cli-linux-x64", "@jimini/cli-win32-x64", "jimini"]
        );
        assert_eq!(
            host.uploads[0].destination,
            "https://registry.npmjs.org/@jimini%2fcli-linux-x64"
        );
        assert_eq!(plan.hosts[0].dist_tag, None);
    }
    let err = plan(&input(&manifest("1.2.0"), &[Host::Npm])).unwrap_err();
    assert!(err.to_string().contains("no npm packages"), "{err}");
}

#[test]
fn a_pre_release_goes_to_no_tap_and_the_homebrew_host_needs_one() {
    let formula = |version: &str| {
        let mut manifest = manifest(version);
        manifest.artifacts.push(Artifact::new(
            "jimini.rb",
            ArtifactKind::HomebrewFormula,
            None,
            Digest256 {
                size: 1,
                sha256: "8".repeat(64),
            },
        ));
        manifest
    };
    let release = formula("1.2.0");
    let plan_of = |manifest: &Manifest| plan(&input(manifest, &[Host::Homebrew])).unwrap();
    let host = &plan_of(&release).hosts[0];
    assert_eq!(host.uploads[0].destination, "Formula/jimini.rb");
    assert_eq!(
        host.repository.as_deref(),
        Some("https://github.com/o/homebrew-tap.git")
    );
    let rc = formula("1.2.0-rc.1");
    let host = &plan_of(&rc).hosts[0];
    assert!(host.uploads.is_empty());
    assert!(
        host.release.contains("is a pre-release"),
        "{}",
        host.release
    );
    let mut untapped = input(&release, &[Host::Homebrew]);
    untapped.endpoints.homebrew_tap = None;
    let err = plan(&untapped).unwrap_err().to_string();
    assert!(
        err.contains("configure [workspace.metadata.xtask-dist.homebrew]"),
        "{err}"
    );
}
