//! `cargo xtask publish` against local stand-ins that speak the hosts' documented HTTP APIs
//! (GitHub's REST API, GitLab's package registry and releases; tests/fixtures/*/fake_api.py),
//! with a real signed dist of the app-shaped fixture: the plan, a run cut off and completed,
//! a run with nothing to do, a file the host holds with other bytes, an immutable release, a
//! tag on another commit; and no token in any output.

mod gitlab;

use std::io::BufRead;
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
        let mut child = Command::new("python3")
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures")
                    .join(script),
            )
            .args([&log, &state])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut port = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut port)
            .unwrap();
        StandIn {
            child,
            port: port.trim().parse().unwrap(),
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
    ] {
        cmd.env_remove(var);
    }
    cmd
}

const TOKEN: &str = "gh-token";

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

fn sha256_hex(path: &Path) -> String {
    let out = checked(Command::new("sha256sum").arg(path));
    out.split_whitespace().next().unwrap().to_owned()
}

/// The GitHub release against a stand-in for GitHub's REST API: cut off after one upload (a
/// draft, one file, one broken upload), completed by the re-run (the broken one sent again),
/// a third run that only reads; a file GitHub holds with other bytes, an immutable release
/// lacking files and a tag on another commit each stop the run before any upload.
#[test]
fn the_github_release_is_completed_by_a_rerun_and_never_replaces_a_file() {
    let built = builds::dist(builds::Build::FixtureSigned);
    let (workspace, dist) = (&built.workspace, &built.dist);
    let manifest = read_manifest(dist);
    let version = manifest["version"].as_str().unwrap().to_owned();
    let tag = format!("v{version}");
    let commit = manifest["commit"].as_str().unwrap().to_owned();
    let dir = temp_dir("publish-github");
    let control = dir.join("control.json");
    let set = |value: serde_json::Value| std::fs::write(&control, value.to_string()).unwrap();
    set(serde_json::json!({"tags": {&tag: &commit}, "uploads_before_failure": 1}));
    let api = StandIn::start("github/fake_api.py", &dir, &[&control]);
    let run_publish = || {
        run(publish(workspace)
            .args(["--to", "github", "--require-signature"])
            .arg(dist)
            .env("GITHUB_API_URL", format!("http://127.0.0.1:{}", api.port))
            .env("GITHUB_REPOSITORY", "o/r")
            .env("GH_TOKEN", TOKEN))
    };
    let release = || api.state()["releases"][0].clone();
    let assets = || -> Vec<(String, String)> {
        release()["assets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().unwrap().to_owned(),
                    a["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let files: Vec<String> = {
        let mut names: Vec<String> = file_names(dist);
        names.sort();
        names
    };

    // Cut off at the second upload: a draft with the notes, one file and a broken one.
    let cut = run_publish();
    assert!(!cut.status.success(), "{}", text(&cut));
    assert!(!text(&cut).contains(TOKEN), "the token reached the output");
    assert_eq!(release()["draft"], true);
    assert_eq!(release()["prerelease"], false);
    assert_eq!(release()["name"], format!("jimini {version}"));
    assert!(
        release()["body"].as_str().unwrap().starts_with("### "),
        "{}",
        release()["body"]
    );
    let states: Vec<&str> = assets()
        .iter()
        .map(|(_, s)| {
            if s == "uploaded" {
                "uploaded"
            } else {
                "broken"
            }
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    assert_eq!(states, ["uploaded", "broken"]);

    // The re-run completes and publishes it, every file with the dist's bytes.
    set(serde_json::json!({"tags": {&tag: &commit}}));
    let seen = api.requests(0).len();
    let done = run_publish();
    assert!(done.status.success(), "{}", text(&done));
    assert!(
        text(&done).contains("is already attached"),
        "{}",
        text(&done)
    );
    assert_eq!(release()["draft"], false);
    assert_eq!(release()["make_latest"], "true");
    let mut attached: Vec<String> = assets()
        .into_iter()
        .map(|(name, state)| {
            assert_eq!(state, "uploaded", "{name}");
            name
        })
        .collect();
    attached.sort();
    assert_eq!(attached, files);
    let deletes = api
        .requests(seen)
        .iter()
        .filter(|r| r.starts_with("DELETE "))
        .count();
    assert_eq!(deletes, 1, "the broken upload is removed and sent again");
    for asset in release()["assets"].as_array().unwrap() {
        let name = asset["name"].as_str().unwrap();
        assert_eq!(
            asset["digest"],
            format!("sha256:{}", sha256_hex(&dist.join(name))),
            "{name}"
        );
    }

    // Once more: only reads.
    let seen = api.requests(0).len();
    let again = run_publish();
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        api.requests(seen).iter().all(|r| r.starts_with("GET ")),
        "{:?}",
        api.requests(seen)
    );

    // GitHub holds other bytes under one name: refused before any upload, that file kept.
    let archive = artifact_name(&manifest, "archive");
    set(serde_json::json!({"tags": {&tag: &commit}, "tamper": &archive}));
    let seen = api.requests(0).len();
    let refused = run_publish();
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains(&format!("the release {tag} already has another {archive}"))
            && text(&refused).contains("nothing is replaced"),
        "{}",
        text(&refused)
    );
    assert!(
        api.requests(seen).iter().all(|r| r.starts_with("GET ")),
        "{:?}",
        api.requests(seen)
    );
    let kept = release()["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == archive.as_str())
        .unwrap()
        .clone();
    assert_ne!(
        kept["digest"],
        format!("sha256:{}", sha256_hex(&dist.join(&archive)))
    );
    drop(api);

    // An immutable release that lacks files: refused before any upload.
    let dir = temp_dir("publish-github-immutable");
    let control = dir.join("control.json");
    std::fs::write(&control, serde_json::json!({"tags": {&tag: &commit}, "immutable": true, "uploads_before_failure": 1}).to_string()).unwrap();
    let api = StandIn::start("github/fake_api.py", &dir, &[&control]);
    let env = |cmd: &mut Command| {
        cmd.env("GITHUB_API_URL", format!("http://127.0.0.1:{}", api.port))
            .env("GITHUB_REPOSITORY", "o/r")
            .env("GH_TOKEN", TOKEN);
    };
    // A release published with one file (the stand-in cuts the run; the draft is then
    // published by hand, as a maintainer in a hurry would).
    let mut first = publish(workspace);
    first.args(["--to", "github"]).arg(dist);
    env(&mut first);
    assert!(!run(&mut first).status.success());
    let id = api.state()["releases"][0]["id"].as_u64().unwrap();
    checked(
        Command::new("curl")
            .args([
                "-sf",
                "-X",
                "PATCH",
                "-H",
                "Authorization: Bearer gh-token",
                "--data",
                r#"{"draft": false}"#,
            ])
            .arg(format!(
                "http://127.0.0.1:{}/repos/o/r/releases/{id}",
                api.port
            )),
    );
    let seen = api.requests(0).len();
    let mut immutable = publish(workspace);
    immutable.args(["--to", "github"]).arg(dist);
    env(&mut immutable);
    expect_failure(&mut immutable, "is published and immutable");
    assert!(
        api.requests(seen).iter().all(|r| r.starts_with("GET ")),
        "{:?}",
        api.requests(seen)
    );

    // The tag on GitHub is another commit: refused before any upload.
    std::fs::write(
        &control,
        serde_json::json!({"tags": {&tag: "0".repeat(40)}}).to_string(),
    )
    .unwrap();
    let seen = api.requests(0).len();
    let mut other = publish(workspace);
    other.args(["--to", "github"]).arg(dist);
    env(&mut other);
    let err = expect_failure(
        &mut other,
        &format!("the tag {tag} on GitHub is commit {}", "0".repeat(40)),
    );
    assert!(err.contains(&commit), "{err}");
    assert!(api.requests(seen).iter().all(|r| r.starts_with("GET ")));

    // Plain http to anything but this machine is refused: the token would travel in clear.
    let mut clear = publish(workspace);
    clear.args(["--to", "github"]).arg(dist);
    env(&mut clear);
    clear.env("GITHUB_API_URL", "http://api.github.test");
    expect_failure(&mut clear, "HTTPS only");
}
