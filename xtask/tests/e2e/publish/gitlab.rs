//! `publish --to gitlab` against a stand-in for GitLab's API (tests/fixtures/gitlab/fake_api.py).

use std::process::Command;

use super::{StandIn, publish, text};
use crate::common::*;

/// Cut off after one upload (the registry answers 503): no release yet; the re-run uploads the
/// rest and makes one release linking every file, its notes the version's CHANGELOG section; a
/// third run only reads; a registry file with other content stops the run before any upload
/// and is kept.
#[test]
fn the_gitlab_release_uploads_each_file_once_and_a_rerun_is_done() {
    let built = builds::dist(builds::Build::FixtureSigned);
    let (workspace, dist) = (&built.workspace, &built.dist);
    let manifest = read_manifest(dist);
    let version = manifest["version"].as_str().unwrap().to_owned();
    let tag = format!("v{version}");
    let dir = temp_dir("publish-gitlab");
    let control = dir.join("control.json");
    std::fs::write(&control, r#"{"uploads_before_failure": 1}"#).unwrap();
    let api = StandIn::start("gitlab/fake_api.py", &dir, &[&control]);
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

    let puts = |from: usize| -> usize {
        api.requests(from)
            .iter()
            .filter(|r| r.starts_with("PUT "))
            .count()
    };
    let cut = run_publish();
    assert!(!cut.status.success(), "{}", text(&cut));
    assert!(!text(&cut).contains("job-token"));
    assert_eq!(api.state()["files"].as_array().unwrap().len(), 1);
    assert!(api.state()["releases"].as_object().unwrap().is_empty());

    std::fs::write(&control, "{}").unwrap();
    let seen = api.requests(0).len();
    let first = run_publish();
    assert!(first.status.success(), "{}", text(&first));
    assert_eq!(
        puts(seen),
        files.len() - 1,
        "the stored file is not sent again"
    );
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
