//! `publish --to gitlab` against a stand-in for GitLab's API (tests/fixtures/gitlab/fake_api.py).

use std::process::Command;

use super::{StandIn, publish, text};
use crate::common::*;

/// Every file once into the package registry and one release linking them all, its notes the
/// version's CHANGELOG section; a re-run only reads; a registry file with other content stops
/// the run before any upload and is kept.
#[test]
fn the_gitlab_release_uploads_each_file_once_and_a_rerun_is_done() {
    let built = builds::dist(builds::Build::FixtureSigned);
    let (workspace, dist) = (&built.workspace, &built.dist);
    let manifest = read_manifest(dist);
    let version = manifest["version"].as_str().unwrap().to_owned();
    let tag = format!("v{version}");
    let dir = temp_dir("publish-gitlab");
    let api = StandIn::start("gitlab/fake_api.py", &dir, &[]);
    let base = format!("http://127.0.0.1:{}/api/v4", api.port);
    let run_publish = || {
        run(publish(workspace)
            .args(["--to", "gitlab"])
            .arg(dist)
            .env("CI_API_V4_URL", &base)
            .env("CI_PROJECT_ID", "42")
            .env("CI_JOB_TOKEN", "job-token")
            .env("CI_COMMIT_TAG", &tag))
    };
    let files = file_names(dist);

    let first = run_publish();
    assert!(first.status.success(), "{}", text(&first));
    assert!(!text(&first).contains("job-token"));
    let puts: Vec<String> = api
        .requests(0)
        .into_iter()
        .filter(|r| r.starts_with("PUT "))
        .collect();
    assert_eq!(puts.len(), files.len(), "{puts:?}");
    let release = &api.state()["releases"][&tag];
    assert_eq!(release["name"], format!("jimini {version}"));
    assert!(
        release["description"].as_str().unwrap().starts_with("### "),
        "{}",
        release["description"]
    );
    let mut linked: Vec<String> = release["assets"]["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_owned())
        .collect();
    linked.sort();
    assert_eq!(linked, files);
    // What the registry holds is the dist, byte for byte.
    let archive = artifact_name(&manifest, "archive");
    let url = format!("{base}/projects/42/packages/generic/jimini/{version}/{archive}");
    let fetched = dir.join("fetched");
    checked(
        Command::new("curl")
            .args(["-sf", "-H", "JOB-TOKEN: job-token", "-o"])
            .arg(&fetched)
            .arg(&url),
    );
    assert_eq!(
        std::fs::read(&fetched).unwrap(),
        std::fs::read(dist.join(&archive)).unwrap()
    );

    // Again: everything is there, nothing is sent.
    let seen = api.requests(0).len();
    let again = run_publish();
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        api.requests(seen).iter().all(|r| r.starts_with("GET ")),
        "{:?}",
        api.requests(seen)
    );
    assert!(
        text(&again).contains(&format!("exists; it links all {} files", files.len())),
        "{}",
        text(&again)
    );

    // The registry holds another archive: the run stops before any upload, the file is kept.
    checked(
        Command::new("curl")
            .args([
                "-sf",
                "-X",
                "PUT",
                "-H",
                "JOB-TOKEN: job-token",
                "--data",
                "other",
            ])
            .arg(&url),
    );
    let seen = api.requests(0).len();
    let conflict = run_publish();
    assert!(!conflict.status.success());
    assert!(
        text(&conflict).contains(&format!("already has another {archive}"))
            && text(&conflict).contains("nothing is replaced"),
        "{}",
        text(&conflict)
    );
    assert!(api.requests(seen).iter().all(|r| r.starts_with("GET ")));
    checked(
        Command::new("curl")
            .args(["-sf", "-H", "JOB-TOKEN: job-token", "-o"])
            .arg(&fetched)
            .arg(&url),
    );
    assert_eq!(std::fs::read(&fetched).unwrap(), b"other");

    // A pipeline of another tag refuses this dist.
    let mut other = publish(workspace);
    other
        .args(["--to", "gitlab", "--dry-run"])
        .arg(dist)
        .env("CI_COMMIT_TAG", "v9.9.9");
    expect_failure(&mut other, "runs for the tag v9.9.9");
}
