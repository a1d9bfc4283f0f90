//! `cargo xtask publish` against local stand-ins that speak the hosts' documented HTTP APIs
//! (GitHub's REST API, GitLab's package registry and releases; tests/fixtures/*/fake_api.py),
//! with a real signed dist of the app-shaped fixture: the plan, a run cut off and completed,
//! a run with nothing to do, a file the host holds with other bytes, an immutable release, a
//! tag on another commit; and no token in any output.

mod crates_io;
mod github;
mod gitlab;
mod npm;
mod pypi;
mod repositories;
mod verify_url;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use crate::common::*;

/// A stand-in API, killed when dropped.
pub struct StandIn {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
    pub state: PathBuf,
}

impl StandIn {
    pub fn start(script: &str, dir: &Path, extra: &[&Path]) -> StandIn {
        let (log, state) = (dir.join("requests.log"), dir.join("state.json"));
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(script);
        let (child, port) = spawn_announcing_port(
            Command::new("python3")
                .arg(fixture)
                .args([&log, &state])
                .args(extra),
        );
        StandIn {
            child,
            port,
            log,
            state,
        }
    }

    /// The requests from the `from`th on, as "METHOD PATH".
    pub fn requests(&self, from: usize) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().skip(from).map(str::to_owned).collect()
    }

    pub fn state(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&self.state).unwrap()).unwrap()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `cargo xtask publish` in the fixture, with nothing of this machine's CI in its environment.
pub fn publish(workspace: &Path) -> Command {
    let mut cmd = xtask(workspace);
    cmd.arg("publish");
    for var in [
        "CI_COMMIT_TAG",
        "GITHUB_REF_TYPE",
        "GITHUB_REF_NAME",
        "GH_TOKEN",
        "GITHUB_TOKEN",
        "CI_JOB_TOKEN",
        "JIMINI_PUBLISH_DRY_RUN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "PYPI_TOKEN",
        "PYPI_ID_TOKEN",
        "CARGO_REGISTRY_TOKEN",
        "NPM_TOKEN",
        "NPM_ID_TOKEN",
        "SIGSTORE_ID_TOKEN",
        "JIMINI_HOMEBREW_TAP",
        "JIMINI_SCOOP_BUCKET",
        "HOMEBREW_TAP_TOKEN",
        "SCOOP_BUCKET_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The plan, printed: every file of the dist (the manifest's artifacts, the manifest, the
/// signature) with its SHA-256 and download URL, the vouching files last, and the notes.
#[test]
fn the_dry_run_lists_every_file_with_its_digest_and_the_notes() {
    let built = builds::dist(builds::Build::FixtureSigned);
    let workspace = &built.workspace;
    let plan: serde_json::Value = serde_json::from_str(&checked(
        publish(workspace)
            .args(["--to", "pypi", "--to", "github", "--dry-run", "--json"])
            .arg(&built.dist),
    ))
    .unwrap();
    let manifest = read_manifest(&built.dist);
    let version = manifest["version"].as_str().unwrap();
    assert_eq!(plan["tag"], format!("v{version}"));
    assert_eq!(plan["commit"], manifest["commit"]);
    let changelog = std::fs::read_to_string(workspace.join("CHANGELOG.md")).unwrap();
    let heading = format!("## [{version}] - ");
    let section: String = changelog
        .split(&heading)
        .nth(1)
        .unwrap()
        .split_once('\n')
        .unwrap()
        .1
        .split("\n## ")
        .next()
        .unwrap()
        // The last section ends where the link definitions begin.
        .split("\n[Unreleased]: ")
        .next()
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(plan["notes"], section);
    let hosts: Vec<&str> = plan["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["github", "pypi"], "the release host first");
    let uploads = plan["hosts"][0]["uploads"].as_array().unwrap();
    let mut expected: Vec<(String, String)> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for unlisted in ["dist-manifest.json", "SHA256SUMS.minisig"] {
        expected.push((unlisted.to_owned(), sha256_hex(&built.dist.join(unlisted))));
    }
    let mut listed: Vec<(String, String)> = uploads
        .iter()
        .map(|u| {
            (
                u["file"].as_str().unwrap().to_owned(),
                u["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let last: Vec<&str> = listed[listed.len() - 3..]
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(
        last,
        ["SHA256SUMS", "SHA256SUMS.minisig", "dist-manifest.json"]
    );
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    let archive = artifact_name(&manifest, "archive");
    let upload = uploads
        .iter()
        .find(|u| u["file"] == archive.as_str())
        .unwrap();
    assert_eq!(
        upload["destination"],
        format!("https://github.com/jimini-dev/jimini/releases/download/v{version}/{archive}")
    );
    let wheels: Vec<&str> = plan["hosts"][1]["uploads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["file"].as_str().unwrap())
        .collect();
    assert!(
        !wheels.is_empty() && wheels.iter().all(|w| w.ends_with(".whl")),
        "{wheels:?}"
    );

    // A partial, and a tag that is another commit, are refused before anything else.
    let partial = builds::dist(builds::Build::FixturePartialHost);
    expect_failure(
        publish(workspace)
            .args(["--to", "github", "--dry-run"])
            .arg(&partial.dist),
        "publish the dist `cargo xtask dist merge` made",
    );
}

pub fn sha256_hex(path: &Path) -> String {
    let out = checked(Command::new("sha256sum").arg(path));
    out.split_whitespace().next().unwrap().to_owned()
}
