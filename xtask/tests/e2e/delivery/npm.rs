//! The npm packages of the whole release list ([`Build::FixtureAll`]), installed by the real
//! npm from a stand-in for the npm registry (tests/fixtures/npm/fake_registry.py: the
//! registry's documented packument, tarball and publish API; the real registry cannot be
//! reached from here): npm picks this machine's platform package by its os, cpu and libc
//! fields; `npx jimini` runs its binary with arguments, stdin and the exit status passed
//! through; `--ignore-scripts` changes nothing (there is no script); `--cpu=arm64 --os=linux`
//! installs the arm64 package, which the launcher runs under qemu (binfmt_misc in a user
//! namespace); `npm pack --dry-run` lists what the manifest records; a changed tarball fails
//! `verify`.

use std::process::Output;

use super::*;
use crate::publish::StandIn;

/// npm with a home, cache and registry of its own, and nothing of this machine's npm settings.
fn npm(project: &Path, registry: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(args[0]);
    cmd.args(&args[1..]).current_dir(project);
    for (name, _) in std::env::vars().filter(|(n, _)| n.to_lowercase().starts_with("npm_config")) {
        cmd.env_remove(name);
    }
    // Beside the project, so `npm pack` does not see its logs.
    let home = project.with_extension("home");
    cmd.env("PATH", npm_path())
        .env("HOME", &home)
        .env("npm_config_cache", home.join("cache"))
        .env("npm_config_registry", registry)
        .env("npm_config_update_notifier", "false")
        .env("npm_config_audit", "false")
        .env("npm_config_fund", "false");
    cmd
}

fn project(label: &str) -> PathBuf {
    let dir = temp_dir(label);
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"uses-jimini","version":"1.0.0","private":true}"#,
    )
    .unwrap();
    dir
}

/// The platform packages npm placed, by name below the scope.
fn platform_packages(project: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(project.join("node_modules/@jimini"))
        .map(|dir| {
            dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every file below `dir` (recursively) with its bytes, and every link with its target.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = vec![];
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
            if kind.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                found.push((name, target.display().to_string().into_bytes()));
            } else if kind.is_dir() {
                pending.push(path);
            } else {
                found.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    found.sort();
    assert!(!found.is_empty());
    found
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn npm_installs_this_machines_package_and_npx_runs_its_binaries() {
    let built = build(Build::FixtureAll);
    let dist = &built.dist;
    let manifest = read_manifest(dist);
    let packages: Vec<&serde_json::Value> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "npm-package")
        .collect();
    assert_eq!(packages.len(), 7, "six platform packages and the main one");
    let tarballs = temp_dir("npm-tarballs");
    for package in &packages {
        let name = package["name"].as_str().unwrap();
        std::fs::copy(dist.join(name), tarballs.join(name)).unwrap();
    }
    let served = temp_dir("npm-registry");
    let registry = StandIn::start("npm/fake_registry.py", &served, &[&tarballs]);
    let url = format!("http://127.0.0.1:{}/", registry.port);
    // npm drops build metadata; the fixture's dist is a release version.
    let version = manifest["version"].as_str().unwrap();
    assert!(!version.contains('+'), "{version}");
    let wanted = format!("jimini@{version}");

    // This machine: linux x64 glibc, and only that package.
    let plain = project("npm-plain");
    // The pinned npm, not the machine's.
    let npm_version = ok(run(&mut npm(&plain, &url, &["npm", "--version"])));
    assert_eq!(npm_version.trim(), xtask::pins::NPM_CLI);
    ok(run(&mut npm(&plain, &url, &["npm", "install", &wanted])));
    assert_eq!(platform_packages(&plain), ["cli-linux-x64"]);
    let line = ok(run(&mut npm(&plain, &url, &["npx", "jimini", "--version"])));
    assert!(
        line.starts_with(&format!("jimini {version} ("))
            && line.contains("x86_64-unknown-linux-gnu"),
        "{line}"
    );
    let blocked = run(&mut npm(
        &plain,
        &url,
        &["npx", "jimini", "check", "my ssn is 123-45-6789"],
    ));
    assert_eq!(blocked.status.code(), Some(3), "{}", stderr(&blocked));
    assert!(String::from_utf8_lossy(&blocked.stdout).contains("decision: block"));
    let allowed = ok(run(&mut npm(
        &plain,
        &url,
        &["npx", "jimini", "check", "hello"],
    )));
    assert!(allowed.contains("decision: allow"), "{allowed}");
    // Standard input reaches the binary.
    let mut piped = npm(&plain, &url, &["npx", "jimini", "check", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    piped
        .stdin
        .take()
        .unwrap()
        .write_all(b"ssn 123-45-6789\n")
        .unwrap();
    let piped = piped.wait_with_output().unwrap();
    assert_eq!(piped.status.code(), Some(3), "{}", stderr(&piped));
    let server = ok(run(&mut npm(
        &plain,
        &url,
        &["npx", "jimini-server", "--version"],
    )));
    assert!(server.starts_with("jimini-server "), "{server}");

    // The server through the launcher: SIGTERM reaches it (it exits 0, and so does the
    // launcher, leaving nothing on the port); a signal that kills it kills the launcher too.
    let launcher = plain.join("node_modules/.bin/jimini-server");
    let serve = |port: u16| {
        let child = npm(&plain, &url, &[launcher.to_str().unwrap()])
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while http_get(port, "/health").is_none_or(|r| !r.contains(r#"{"status":"ok"}"#)) {
            assert!(started.elapsed() < Duration::from_secs(30), "no /health");
            std::thread::sleep(Duration::from_millis(100));
        }
        child
    };
    for (signal, ends) in [("TERM", Some(0)), ("HUP", None)] {
        let port = free_port();
        let mut child = serve(port);
        checked(
            Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(child.id().to_string()),
        );
        let status = child.wait().unwrap();
        assert_eq!(status.code(), ends, "SIG{signal}: {status}");
        if ends.is_none() {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(
                status.signal(),
                Some(1),
                "ended by SIGHUP, as the server was"
            );
        }
        assert!(
            http_get(port, "/health").is_none(),
            "the server outlived the launcher"
        );
    }

    // No install script anywhere: --ignore-scripts installs the same files.
    let hardened = project("npm-ignore-scripts");
    ok(run(&mut npm(
        &hardened,
        &url,
        &["npm", "install", "--ignore-scripts", &wanted],
    )));
    assert_eq!(
        tree(&plain.join("node_modules")),
        tree(&hardened.join("node_modules"))
    );

    // Another machine's package, chosen by npm's own flags, run under qemu.
    let arm = project("npm-arm64");
    ok(run(&mut npm(
        &arm,
        &url,
        &[
            "npm",
            "install",
            "--cpu=arm64",
            "--os=linux",
            "--libc=glibc",
            &wanted,
        ],
    )));
    assert_eq!(platform_packages(&arm), ["cli-linux-arm64"]);
    let mut emulated = npm(
        &arm,
        &url,
        &[
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            // binfmt_misc of this user namespace (Linux 6.7+) runs arm64 ELF files with qemu.
            "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && \
             printf '%s' \"$1\" > /proc/sys/fs/binfmt_misc/register && exec npx jimini --version",
            "sh",
            ":qemu-aarch64:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:/usr/bin/qemu-aarch64:F",
        ],
    );
    // The gnu build's loader and libc: the cross sysroot the target table names.
    emulated.env("QEMU_LD_PREFIX", "/usr/aarch64-linux-gnu");
    let emulated = ok(run(&mut emulated));
    assert!(emulated.contains("aarch64-unknown-linux-gnu"), "{emulated}");

    // npm's own file list of each package is what the manifest records.
    for package in &packages {
        let name = package["name"].as_str().unwrap();
        let unpacked = untar(&dist.join(name), &format!("npm-unpacked-{name}"));
        let listed: serde_json::Value = serde_json::from_str(&ok(run(&mut npm(
            &unpacked.join("package"),
            &url,
            &["npm", "pack", "--dry-run", "--json"],
        ))))
        .unwrap();
        let mut files: Vec<&str> = listed[0]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        files.sort();
        let mut recorded: Vec<&str> = package["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        recorded.sort();
        assert_eq!(files, recorded, "{name}");
        assert_eq!(listed[0]["name"], package["package"], "{name}");
    }

    // A tarball changed after the release fails verify, named.
    let main = packages.iter().find(|p| p["target"].is_null()).unwrap()["name"]
        .as_str()
        .unwrap();
    let tampered = copy_dist(dist, "npm-tampered");
    let unpacked = untar(&dist.join(main), "npm-repack");
    let launcher = unpacked.join("package/lib/launch.js");
    let text = std::fs::read_to_string(&launcher).unwrap();
    std::fs::write(
        &launcher,
        text.replace(
            "childProcess.spawn(",
            "childProcess.spawn(\"/bin/true\", [], {}) || childProcess.spawn(",
        ),
    )
    .unwrap();
    checked(
        Command::new("tar")
            .arg("-czf")
            .arg(tampered.join(main))
            .arg("-C")
            .arg(&unpacked)
            .arg("package"),
    );
    expect_failure(
        xtask(&built.workspace).arg("verify").arg(&tampered),
        &format!("{main}: size"),
    );
}
