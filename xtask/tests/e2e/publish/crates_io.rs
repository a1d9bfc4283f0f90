//! `publish --to crates-io` before `cargo publish` runs, against a stand-in for crates.io's
//! web API (tests/fixtures/crates_io/fake_api.py): `cargo publish` itself always talks to the
//! real crates.io, which these tests cannot reach, so the upload is `cargo package`'s `.crate`
//! (its SHA-256 in the plan) and the decisions around it are what is checked here.

use super::{StandIn, publish, text};
use crate::common::*;

/// The version already on crates.io with the `.crate`'s checksum: done, nothing published; with
/// another checksum: refused, naming it; absent and no credential: refused naming the fix.
#[test]
fn crates_io_is_done_when_the_same_crate_is_there_and_refuses_another() {
    let built = builds::dist(builds::Build::FixtureSigned);
    let (workspace, dist) = (&built.workspace, &built.dist);
    let plan: serde_json::Value = serde_json::from_str(&checked(
        publish(workspace)
            .args(["--to", "crates-io", "--dry-run", "--json"])
            .arg(dist),
    ))
    .unwrap();
    let version = plan["version"].as_str().unwrap().to_owned();
    let upload = &plan["hosts"][0]["uploads"][0];
    assert_eq!(upload["file"], format!("jimini-{version}.crate"));
    let checksum = upload["sha256"].as_str().unwrap().to_owned();
    // What cargo would upload: `cargo package`'s file, the same bytes on a second run.
    let crate_file = shared_target_dir().join(format!("package/jimini-{version}.crate"));
    let local = checked(std::process::Command::new("sha256sum").arg(&crate_file));
    assert_eq!(local.split_whitespace().next().unwrap(), checksum);

    let dir = temp_dir("publish-crates-io");
    let control = dir.join("control.json");
    let set = |value: serde_json::Value| std::fs::write(&control, value.to_string()).unwrap();
    set(serde_json::json!({"versions": {format!("jimini/{version}"): &checksum}}));
    let api = StandIn::start("crates_io/fake_api.py", &dir, &[&control]);
    let run_publish = || {
        run(publish(workspace)
            .args(["--to", "crates-io"])
            .arg(dist)
            .env(
                "JIMINI_CRATES_IO_API",
                format!("http://127.0.0.1:{}", api.port),
            ))
    };

    let done = run_publish();
    assert!(done.status.success(), "{}", text(&done));
    assert!(
        text(&done).contains(&format!("jimini {version} is already on crates.io")),
        "{}",
        text(&done)
    );

    set(serde_json::json!({"versions": {format!("jimini/{version}"): "0".repeat(64)}}));
    let refused = run_publish();
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains(&format!(
            "crates.io already has another jimini-{version}.crate"
        )) && text(&refused).contains("crates.io never replaces a version"),
        "{}",
        text(&refused)
    );

    set(serde_json::json!({}));
    let absent = run_publish();
    assert!(!absent.status.success());
    assert!(
        text(&absent).contains("needs CARGO_REGISTRY_TOKEN or a Trusted Publishing ID token"),
        "{}",
        text(&absent)
    );
}
