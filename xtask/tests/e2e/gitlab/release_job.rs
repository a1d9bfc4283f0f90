//! The GitLab release job (`.ci/gitlab/publish.py release`) for real, against a stand-in for
//! GitLab's API (tests/fixtures/gitlab/fake_api.py).

use std::path::Path;
use std::process::Command;

use super::text;
use crate::common::*;

/// The GitLab release job for real, against a stand-in for GitLab's API: every file once into
/// the package registry and one release linking them all; a re-run uploads nothing; a file
/// added later is uploaded and linked; a registry file with other content stops the job and
/// is not replaced.
#[test]
fn the_release_job_uploads_each_file_once_and_a_rerun_is_done() {
    use std::io::BufRead;
    let dir = temp_dir("gitlab-release-job");
    let dist = dir.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("dist-manifest.json"), r#"{"app": "jimini"}"#).unwrap();
    std::fs::write(dist.join("SHA256SUMS"), "sums\n").unwrap();
    std::fs::write(
        dist.join("jimini-0.2.0-x86_64-unknown-linux-gnu.tar.xz"),
        "archive",
    )
    .unwrap();
    std::fs::write(
        dir.join("CHANGELOG.md"),
        "# Changelog\n\n## [0.2.0] - 2026-11-25\n\n### Added\n- Everything.\n\n## [0.1.0]\n- Old.\n",
    )
    .unwrap();
    let (log, state) = (dir.join("requests.log"), dir.join("state.json"));
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gitlab/fake_api.py");
    let mut api = Command::new("python3")
        .arg(&fixture)
        .args([&log, &state])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut port = String::new();
    std::io::BufReader::new(api.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let _api = Kill(api);
    let publish = || {
        run(Command::new("python3")
            .current_dir(&dir)
            .arg(source_root().join(".ci/gitlab/publish.py"))
            .args(["release", "dist"])
            .env(
                "CI_API_V4_URL",
                format!("http://127.0.0.1:{}/api/v4", port.trim()),
            )
            .env("CI_PROJECT_ID", "42")
            .env("CI_JOB_TOKEN", "job-token")
            .env("CI_COMMIT_TAG", "v0.2.0")
            .env_remove("JIMINI_PUBLISH_DRY_RUN"))
    };
    let requests = |from: usize| -> Vec<String> {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines().skip(from).map(str::to_owned).collect()
    };
    let state = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap()
    };

    let first = publish();
    assert!(first.status.success(), "{}", text(&first));
    let names = [
        "SHA256SUMS",
        "dist-manifest.json",
        "jimini-0.2.0-x86_64-unknown-linux-gnu.tar.xz",
    ];
    let puts: Vec<String> = requests(0)
        .into_iter()
        .filter(|r| r.starts_with("PUT "))
        .collect();
    assert_eq!(puts.len(), 3, "{puts:?}");
    let release = &state()["releases"]["v0.2.0"];
    assert_eq!(release["name"], "jimini 0.2.0");
    assert_eq!(release["description"], "### Added\n- Everything.");
    let linked: Vec<&str> = release["assets"]["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(linked, names);

    // Again: everything is there, nothing is sent.
    let seen = requests(0).len();
    let again = publish();
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        requests(seen).iter().all(|r| r.starts_with("GET ")),
        "{:?}",
        requests(seen)
    );
    assert!(text(&again).contains("exists; it links all 3 files"));

    // A file added after a partial run: uploaded and linked, nothing else.
    std::fs::write(dist.join("install.sh"), "#!/bin/sh\n").unwrap();
    let seen = requests(0).len();
    let added = publish();
    assert!(added.status.success(), "{}", text(&added));
    let sent: Vec<String> = requests(seen)
        .into_iter()
        .filter(|r| !r.starts_with("GET "))
        .collect();
    assert_eq!(
        sent,
        [
            "PUT /api/v4/projects/42/packages/generic/jimini/0.2.0/install.sh",
            "POST /api/v4/projects/42/releases/v0.2.0/assets/links"
        ]
    );

    // The registry holds another SHA256SUMS: the job stops and replaces nothing.
    std::fs::write(dist.join("SHA256SUMS"), "other sums\n").unwrap();
    let seen = requests(0).len();
    let conflict = publish();
    assert!(!conflict.status.success());
    assert!(
        text(&conflict).contains("nothing is replaced"),
        "{}",
        text(&conflict)
    );
    assert!(requests(seen).iter().all(|r| r.starts_with("GET ")));
}
