//! `publish --to homebrew --to scoop`: the formula committed to a tap's `Formula/` and the Scoop
//! manifest to a bucket's `bucket/`, each a local bare git repository (what GitHub hosts is a
//! git remote like it): one commit "jimini <version>" with the dist's bytes, a re-run that
//! commits nothing, and a tap whose formula is of a newer release refused with nothing
//! committed.

use std::path::Path;

use super::{publish, text};
use crate::common::*;

fn bare(label: &str) -> std::path::PathBuf {
    let dir = temp_dir(label).join("repository.git");
    checked(
        std::process::Command::new("git")
            .args(["init", "--quiet", "--bare"])
            .arg(&dir),
    );
    dir
}

fn log(repository: &Path) -> Vec<String> {
    let out = run(std::process::Command::new("git")
        .arg("-C")
        .arg(repository)
        .args(["log", "--format=%s", "--all"]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn show(repository: &Path, path: &str) -> Vec<u8> {
    run(std::process::Command::new("git")
        .arg("-C")
        .arg(repository)
        .args(["show", &format!("HEAD:{path}")]))
    .stdout
}

#[test]
fn the_formula_and_the_scoop_manifest_are_committed_once_and_never_downgraded() {
    let built = builds::dist(builds::Build::FixtureAll);
    let (workspace, dist) = (&built.workspace, &built.dist);
    let manifest = read_manifest(dist);
    let version = manifest["version"].as_str().unwrap();
    let (tap, bucket) = (bare("publish-tap"), bare("publish-bucket"));
    let publish_to = |tap: &Path| {
        run(publish(workspace)
            .args(["--to", "homebrew", "--to", "scoop"])
            .arg(dist)
            .env("JIMINI_HOMEBREW_TAP", tap)
            .env("JIMINI_SCOOP_BUCKET", &bucket))
    };

    let plan: serde_json::Value = serde_json::from_str(&checked(
        publish(workspace)
            .args(["--to", "homebrew", "--dry-run", "--json"])
            .arg(dist)
            .env("JIMINI_HOMEBREW_TAP", &tap),
    ))
    .unwrap();
    assert_eq!(plan["hosts"][0]["repository"], tap.display().to_string());
    assert_eq!(
        plan["hosts"][0]["uploads"][0]["destination"],
        "Formula/jimini.rb"
    );

    let done = publish_to(&tap);
    assert!(done.status.success(), "{}", text(&done));
    let message = format!("jimini {version}");
    assert_eq!(log(&tap), std::slice::from_ref(&message));
    assert_eq!(log(&bucket), std::slice::from_ref(&message));
    assert_eq!(
        show(&tap, "Formula/jimini.rb"),
        std::fs::read(dist.join("jimini.rb")).unwrap()
    );
    assert_eq!(
        show(&bucket, "bucket/jimini.json"),
        std::fs::read(dist.join("jimini.json")).unwrap()
    );

    let again = publish_to(&tap);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("nothing to commit"),
        "{}",
        text(&again)
    );
    assert_eq!(
        log(&tap),
        std::slice::from_ref(&message),
        "a re-run commits nothing"
    );
    assert_eq!(log(&bucket), [message]);

    // A tap that has a newer release's formula: refused, nothing committed anywhere.
    let newer = bare("publish-tap-newer");
    let work = temp_dir("publish-tap-work");
    checked(
        std::process::Command::new("git")
            .arg("clone")
            .arg("--quiet")
            .arg(&newer)
            .arg(&work),
    );
    std::fs::create_dir_all(work.join("Formula")).unwrap();
    let formula = std::fs::read_to_string(dist.join("jimini.rb"))
        .unwrap()
        .replace(&format!("version \"{version}\""), "version \"99.0.0\"");
    std::fs::write(work.join("Formula/jimini.rb"), formula).unwrap();
    for args in [
        &["add", "."][..],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "--quiet",
            "-m",
            "jimini 99.0.0",
        ],
        &["push", "--quiet", "origin", "HEAD"],
    ] {
        checked(
            std::process::Command::new("git")
                .arg("-C")
                .arg(&work)
                .args(args),
        );
    }
    let refused = publish_to(&newer);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("jimini 99.0.0, newer than this release"),
        "{}",
        text(&refused)
    );
    assert_eq!(log(&newer), ["jimini 99.0.0"]);
}
