//! The container image: hadolint, built with podman from a dist, run, probed, inspected.

use super::*;
use crate::common::*;

#[test]
fn dockerfile_passes_hadolint() {
    let output = run(Command::new(ci_tool("hadolint")).arg(source_root().join("Dockerfile")));
    assert!(
        output.status.success(),
        "hadolint:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

fn podman(args: &[&str]) -> String {
    checked(
        Command::new("podman")
            .args(args)
            .env("CONTAINERS_CONF", containers_conf()),
    )
}

/// Runtime settings this machine needs (runc, ulimits below the hard limits).
fn containers_conf() -> PathBuf {
    let path = temp_dir("containers").join("containers.conf");
    std::fs::write(&path, "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\n[engine]\nruntime = \"runc\"\n").unwrap();
    path
}

#[test]
fn image_from_the_dist_runs_has_only_the_expected_files_and_the_released_binary() {
    let (copy, dist) = built();
    let tag = format!("localhost/jimini-test:{}", std::process::id());
    let output = run(xtask_fast(copy)
        .args(["docker", "--tag", &tag, "--dist"])
        .arg(dist)
        .env("CONTAINERS_CONF", containers_conf())
        .env("JIMINI_CONTAINER_ENGINE", "podman"));
    assert!(output.status.success(), "{}", stderr(&output));
    let id = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let hex = id.strip_prefix("sha256:").unwrap_or(&id);
    assert!(
        hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()),
        "image id: {id}"
    );

    let labels = podman(&["image", "inspect", "--format", "{{json .Labels}}", &tag]);
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    let manifest = read_manifest(dist);
    assert_eq!(
        labels["org.opencontainers.image.version"],
        manifest["version"]
    );
    assert_eq!(
        labels["org.opencontainers.image.revision"],
        manifest["commit"]
    );
    assert_eq!(
        labels["org.opencontainers.image.created"],
        manifest["source_date"]
    );
    assert_eq!(labels["org.opencontainers.image.licenses"], "MIT");
    let user = podman(&["image", "inspect", "--format", "{{.Config.User}}", &tag]);
    assert_eq!(user.trim(), "10001:10001");

    // Files: exactly the expected ones, no shell.
    let container = podman(&["create", &tag]).trim().to_owned();
    let export = temp_dir("export").join("image.tar");
    podman(&["export", "-o", export.to_str().unwrap(), &container]);
    podman(&["rm", &container]);
    let listing = checked(Command::new("tar").args(["-tf", export.to_str().unwrap()]));
    let files: Vec<&str> = listing.lines().filter(|l| !l.ends_with('/')).collect();
    let expected = [
        "etc/jimini/rules.toml",
        "usr/local/bin/jimini-admin",
        "usr/local/bin/jimini-server",
    ];
    let unexpected: Vec<&&str> = files
        .iter()
        .filter(|f| !expected.contains(f) && !is_runtime_mount(f))
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected files in the image: {unexpected:?}\n{listing}"
    );
    for file in expected {
        assert!(
            files.contains(&file),
            "{file} missing from the image:\n{listing}"
        );
    }
    assert!(
        !listing
            .lines()
            .any(|l| l.ends_with("bin/sh") || l.ends_with("busybox"))
    );

    // The image's server is the released one, byte for byte.
    let unpacked = temp_dir("image-files");
    checked(Command::new("tar").args([
        "-xf",
        export.to_str().unwrap(),
        "-C",
        unpacked.to_str().unwrap(),
        "usr/local/bin/jimini-server",
    ]));
    let archive = format!("jimini_{}_{MUSL}", manifest["version"].as_str().unwrap());
    let released = temp_dir("released");
    checked(Command::new("tar").args([
        "-xf",
        dist.join(format!("{archive}.tar.xz")).to_str().unwrap(),
        "-C",
        released.to_str().unwrap(),
    ]));
    assert_eq!(
        std::fs::read(unpacked.join("usr/local/bin/jimini-server")).unwrap(),
        std::fs::read(released.join(&archive).join("jimini-server")).unwrap(),
        "the image's jimini-server differs from the archive's"
    );

    // It runs and answers /health on a loopback port.
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let running = podman(&[
        "run",
        "-d",
        "--network",
        "host",
        "-e",
        "JIMINI_API_KEY=test",
        &tag,
        "--bind",
        &bind,
        "--audit-log",
        "/var/lib/jimini/audit.jsonl",
    ])
    .trim()
    .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut answer = None;
    while Instant::now() < deadline {
        answer = http_get(port, "/health");
        if answer.as_deref().is_some_and(|a| a.contains("200 OK")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let logs = run(Command::new("podman")
        .args(["logs", &running])
        .env("CONTAINERS_CONF", containers_conf()));
    podman(&["stop", "-t", "5", &running]);
    // Removed here rather than by `run --rm`: that removal runs in the background after `stop`
    // and races the `rmi` below ("container ... using image could not be removed").
    podman(&["rm", &running]);
    let answer = answer.unwrap_or_default();
    assert!(
        answer.contains("200 OK") && answer.contains(r#"{"status":"ok"}"#),
        "no /health answer: {answer}\n{}",
        stderr(&logs)
    );
    podman(&["rmi", "-f", &tag]);
}

/// Files the engine creates in every container for its own mounts.
fn is_runtime_mount(path: &str) -> bool {
    [
        "etc/hosts",
        "etc/hostname",
        "etc/resolv.conf",
        "run/.containerenv",
        ".containerenv",
    ]
    .contains(&path)
        || path.starts_with("dev/")
        || path.starts_with("proc/")
        || path.starts_with("sys/")
}

#[test]
fn docker_refuses_a_dist_that_does_not_verify() {
    let (copy, dist) = built();
    let extra = copy_dist(dist, "extra-file");
    std::fs::write(extra.join("evil"), "x").unwrap();
    let tmp = temp_dir("docker-refused-tmp");
    expect_failure(
        xtask_fast(copy)
            .args(["docker", "--dist", extra.to_str().unwrap()])
            .env("TMPDIR", &tmp),
        "unexpected file evil",
    );
    assert_eq!(file_names(&tmp), Vec::<String>::new(), "left in TMPDIR");
}

/// A build the engine fails says why (the engine's own error, not only its exit status) and
/// leaves no temporary build context behind.
#[test]
fn a_failed_image_build_says_why_and_leaves_nothing_behind() {
    let (copy, dist) = built();
    let tmp = temp_dir("docker-failed-tmp");
    let output = run(xtask_fast(copy)
        .args(["docker", "--tag", "Not A Valid Tag", "--dist"])
        .arg(dist)
        .env("TMPDIR", &tmp)
        .env("CONTAINERS_CONF", containers_conf())
        .env("JIMINI_CONTAINER_ENGINE", "podman"));
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("repository name must be lowercase")
            && message.contains("the Podman build of Not A Valid Tag failed"),
        "{message}"
    );
    assert!(output.stdout.is_empty(), "no image id on stdout");
    assert_eq!(file_names(&tmp), Vec::<String>::new(), "left in TMPDIR");
}
