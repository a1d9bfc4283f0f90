//! `publish --to github` against a stand-in for GitHub's REST API
//! (tests/fixtures/github/fake_api.py).

use std::process::Command;

use super::{StandIn, publish, sha256_hex, text};
use crate::common::*;

const TOKEN: &str = "gh-token";

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
