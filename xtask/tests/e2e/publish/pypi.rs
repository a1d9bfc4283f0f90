//! `publish --to pypi` with the real twine (pinned, installed by publish) against a stand-in for
//! PyPI's upload and JSON APIs (tests/fixtures/pypi/fake_api.py).

use super::{StandIn, publish, text};
use crate::common::*;

/// Cut off after one wheel (PyPI answers 503), completed by the re-run (only the missing
/// wheels are sent), a third run that only reads; a wheel PyPI holds with another digest stops
/// the run before any upload.
#[test]
fn the_wheels_reach_pypi_once_and_a_rerun_completes_a_cut_off_upload() {
    // Every release target's wheels: more than one, so a run can stop between them.
    let built = builds::dist(builds::Build::FixtureHostMusl);
    let (workspace, dist) = (&built.workspace, &built.dist);
    let manifest = read_manifest(dist);
    let mut wheels: Vec<String> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "wheel")
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    wheels.sort();
    assert!(wheels.len() >= 2, "{wheels:?}");
    let dir = temp_dir("publish-pypi");
    let control = dir.join("control.json");
    let set = |value: serde_json::Value| std::fs::write(&control, value.to_string()).unwrap();
    set(serde_json::json!({"uploads_before_failure": 1}));
    let api = StandIn::start("pypi/fake_api.py", &dir, &[&control]);
    let base = format!("http://127.0.0.1:{}", api.port);
    let run_publish = || {
        run(publish(workspace)
            .args(["--to", "pypi"])
            .arg(dist)
            .env("JIMINI_PYPI_API", &base)
            .env("JIMINI_PYPI_UPLOAD_URL", format!("{base}/legacy/"))
            .env("PYPI_TOKEN", "pypi-token"))
    };
    let stored = || -> Vec<String> {
        let state = api.state();
        let mut names: Vec<String> = state["files"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    };
    let uploads = |from: usize| -> usize {
        api.requests(from)
            .iter()
            .filter(|r| r.starts_with("POST /legacy/"))
            .count()
    };

    let cut = run_publish();
    assert!(!cut.status.success(), "{}", text(&cut));
    assert!(text(&cut).contains("run publish again"), "{}", text(&cut));
    assert!(
        !text(&cut).contains("pypi-token"),
        "the token reached the output"
    );
    assert_eq!(stored().len(), 1);

    set(serde_json::json!({}));
    let seen = api.requests(0).len();
    let done = run_publish();
    assert!(done.status.success(), "{}", text(&done));
    assert_eq!(stored(), wheels);
    assert_eq!(
        uploads(seen),
        wheels.len() - 1,
        "only the missing wheels are sent"
    );
    let state = api.state();
    for wheel in &wheels {
        let local = checked(std::process::Command::new("sha256sum").arg(dist.join(wheel)));
        assert_eq!(
            state["files"][wheel]["sha256"],
            local.split_whitespace().next().unwrap(),
            "{wheel}"
        );
    }

    let seen = api.requests(0).len();
    let again = run_publish();
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(uploads(seen), 0);

    set(serde_json::json!({"tamper": &wheels[0]}));
    let seen = api.requests(0).len();
    let refused = run_publish();
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains(&format!("already has another {}", wheels[0]))
            && text(&refused).contains("nothing is replaced"),
        "{}",
        text(&refused)
    );
    assert_eq!(uploads(seen), 0);

    // With the GitHub release in the same run: PyPI's refusal comes from the preflight, before
    // GitHub is sent anything.
    let github_dir = temp_dir("publish-pypi-github");
    let github_control = github_dir.join("control.json");
    let tag = format!("v{}", manifest["version"].as_str().unwrap());
    std::fs::write(
        &github_control,
        serde_json::json!({"tags": {&tag: manifest["commit"]}}).to_string(),
    )
    .unwrap();
    let github = StandIn::start("github/fake_api.py", &github_dir, &[&github_control]);
    let both = run(publish(workspace)
        .args(["--to", "pypi", "--to", "github"])
        .arg(dist)
        .env("JIMINI_PYPI_API", &base)
        .env("JIMINI_PYPI_UPLOAD_URL", format!("{base}/legacy/"))
        .env("PYPI_TOKEN", "pypi-token")
        .env(
            "GITHUB_API_URL",
            format!("http://127.0.0.1:{}", github.port),
        )
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GH_TOKEN", "gh-token"));
    assert!(!both.status.success());
    assert!(
        text(&both).contains("nothing was uploaded"),
        "{}",
        text(&both)
    );
    assert!(
        github.requests(0).iter().all(|r| r.starts_with("GET ")),
        "{:?}",
        github.requests(0)
    );
}
