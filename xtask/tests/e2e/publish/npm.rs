//! `publish --to npm` with the real npm CLI against a stand-in for the npm registry
//! (tests/fixtures/npm/fake_registry.py: its documented packument and publish API): the platform
//! packages first and the main package last under the `latest` dist-tag, a re-run that
//! publishes nothing, the published packages installed by npm and run, a version the registry
//! holds with another tarball refused before any upload, no token in any output.

use super::{StandIn, publish, text};
use crate::common::*;

fn puts(registry: &StandIn, from: usize) -> Vec<String> {
    registry
        .requests(from)
        .into_iter()
        .filter(|r| r.starts_with("PUT "))
        .collect()
}

#[test]
fn the_npm_packages_reach_the_registry_once_platforms_first_and_install() {
    let built = builds::dist(builds::Build::FixtureHostMusl);
    let (workspace, dist) = (&built.workspace, &built.dist);
    let manifest = read_manifest(dist);
    let version = manifest["version"].as_str().unwrap();
    let dir = temp_dir("publish-npm");
    let registry = StandIn::start("npm/fake_registry.py", &dir, &[]);
    let url = format!("http://127.0.0.1:{}", registry.port);
    let run_publish = |token: Option<&str>| {
        let mut cmd = publish(workspace);
        cmd.args(["--to", "npm"])
            .arg(dist)
            .env("JIMINI_NPM_REGISTRY", &url)
            .env("PATH", npm_path())
            .env("HOME", dir.join("home"));
        if let Some(token) = token {
            cmd.env("NPM_TOKEN", token);
        }
        run(&mut cmd)
    };

    let refused = run_publish(None);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("needs NPM_TOKEN"),
        "{}",
        text(&refused)
    );
    assert!(puts(&registry, 0).is_empty());

    let done = run_publish(Some("npm-token"));
    assert!(done.status.success(), "{}", text(&done));
    assert!(
        !text(&done).contains("npm-token"),
        "the token reached the output"
    );
    assert_eq!(
        puts(&registry, 0),
        [
            "PUT /@jimini%2fcli-linux-x64-musl",
            "PUT /@jimini%2fcli-linux-x64",
            "PUT /jimini"
        ],
        "the platform packages before the package that pins them"
    );
    let state = registry.state();
    for package in [
        "jimini",
        "@jimini/cli-linux-x64",
        "@jimini/cli-linux-x64-musl",
    ] {
        assert_eq!(state[package]["dist-tags"]["latest"], version, "{state}");
    }

    let seen = registry.requests(0).len();
    let again = run_publish(Some("npm-token"));
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        puts(&registry, seen).is_empty(),
        "a re-run publishes nothing"
    );
    assert!(
        text(&again).contains("jimini is already on the npm registry"),
        "{}",
        text(&again)
    );

    // What npm published is what npm installs and runs.
    let project = temp_dir("publish-npm-install");
    std::fs::write(
        project.join("package.json"),
        r#"{"name":"p","version":"1.0.0"}"#,
    )
    .unwrap();
    let npm = |args: &[&str]| {
        let mut cmd = std::process::Command::new(args[0]);
        cmd.args(&args[1..])
            .current_dir(&project)
            .env("PATH", npm_path())
            .env("HOME", dir.join("npm-home"))
            .env("npm_config_registry", format!("{url}/"))
            .env("npm_config_update_notifier", "false")
            .env("npm_config_audit", "false");
        checked(&mut cmd)
    };
    npm(&["npm", "install", &format!("jimini@{version}")]);
    let line = npm(&["npx", "jimini", "--version"]);
    assert!(line.starts_with(&format!("jimini {version} (")), "{line}");

    // A registry that holds the version with other bytes: stopped before any upload.
    let other = temp_dir("publish-npm-other");
    let musl = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["package"] == "@jimini/cli-linux-x64-musl")
        .unwrap()["name"]
        .as_str()
        .unwrap();
    let unpacked = untar(&dist.join(musl), "publish-npm-repack");
    std::fs::write(unpacked.join("package/LICENSE"), "another licence\n").unwrap();
    checked(
        std::process::Command::new("tar")
            .arg("-czf")
            .arg(other.join(musl))
            .arg("-C")
            .arg(&unpacked)
            .arg("package"),
    );
    let conflicting = StandIn::start(
        "npm/fake_registry.py",
        &temp_dir("publish-npm-2"),
        &[&other],
    );
    let refused = run(publish(workspace)
        .args(["--to", "npm"])
        .arg(dist)
        .env(
            "JIMINI_NPM_REGISTRY",
            format!("http://127.0.0.1:{}", conflicting.port),
        )
        .env("PATH", npm_path())
        .env("NPM_TOKEN", "npm-token"));
    assert!(!refused.status.success());
    let said = text(&refused);
    assert!(
        said.contains(&format!("already has another {musl}"))
            && said.contains("npm never replaces a published version")
            && said.contains("nothing was uploaded"),
        "{said}"
    );
    assert!(puts(&conflicting, 0).is_empty());
}
