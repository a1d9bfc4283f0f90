//! The same bytes across paths, users, kills and by hand: the dist profile on the one-crate fixture, kills in the app-shaped fixture's clone, the planned build step run by hand.

use super::*;
use crate::common::*;

/// A clone elsewhere gives the same bytes; then, in that clone, runs that would produce a new
/// output (after a new commit) are killed at named stages and at random times: the previous
/// output stays whole, the rerun cleans up, and git sees nothing.
/// The dist profile (fat LTO, one codegen unit, stripped) at two paths gives the same bytes,
/// for every toolchain of the release list (zig against the glibc floor, cross and native;
/// mingw's PE header; static musl): on the one-crate fixture, whose builds take seconds (the
/// app-shaped fixture at two paths, fast profile: cross.rs).
#[test]
fn dist_profile_dists_are_byte_identical_across_paths_and_users() {
    let dists: Vec<Vec<(String, Vec<u8>)>> = ["a", "b"]
        .iter()
        .map(|label| {
            let ws = fixture_repo("dist-ws", &format!("paths-{label}"));
            let mut dist = xtask(&ws);
            dist.args(["dist", "--quiet", "--target", "all"]).env(
                "CARGO_TARGET_DIR",
                target_dir(&format!("e2e-target-tiny-{label}")),
            );
            // The second build is another user's: its own HOME, tools elsewhere, a cold zig
            // cache, a PATH of its own.
            if *label == "b" {
                dist.envs(other_user_home("user-b"))
                    .env_remove("XDG_CACHE_HOME");
            }
            let output = run(&mut dist);
            assert!(output.status.success(), "{}", stderr(&output));
            let binary = shipped_binary(&ws.join("dist"), "tiny");
            assert!(
                !contains(&binary, ws.to_str().unwrap().as_bytes()),
                "the workspace path is in the binary"
            );
            snapshot(&ws.join("dist"))
        })
        .collect();
    assert_eq!(
        dists[0].iter().map(|f| &f.0).collect::<Vec<_>>(),
        dists[1].iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for target in [
        "aarch64-unknown-linux-gnu",
        "x86_64-pc-windows-gnu",
        "x86_64-unknown-linux-musl",
    ] {
        assert!(
            dists[0].iter().any(|(name, _)| name.contains(target)),
            "no {target} archive"
        );
    }
    for ((name, a), (_, b)) in dists[0].iter().zip(&dists[1]) {
        assert!(a == b, "{name} differs between the two paths");
    }
    // Two builds in the same second would agree on a link time too: no link time at all.
    let (_, zip) = dists[0]
        .iter()
        .find(|(name, _)| name.ends_with("_x86_64-pc-windows-gnu.zip"))
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let name = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().into_owned())
        .find(|name| name.ends_with("/tiny.exe"))
        .unwrap();
    let mut exe = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name(&name).unwrap(), &mut exe).unwrap();
    assert_eq!(pe_timestamp(&exe), 0, "tiny.exe carries its link time");
    // The arm64 macOS binary's ad-hoc signature covers every byte before it, page by page
    // (an outside reading of Apple's layout: common/codesign.rs; the app's binaries: cross.rs).
    let (name, archive) = dists[0]
        .iter()
        .find(|(name, _)| name.ends_with("_aarch64-apple-darwin.tar.xz"))
        .unwrap();
    let unpacked = temp_dir("mac-unpacked");
    std::fs::write(unpacked.join(name), archive).unwrap();
    checked(Command::new("tar").current_dir(&unpacked).args([
        "-xJf",
        name,
        "--wildcards",
        "*/tiny",
    ]));
    let top = name.trim_end_matches(".tar.xz");
    let binary = std::fs::read(unpacked.join(top).join("tiny")).unwrap();
    let signature = codesign::check(&binary).unwrap_or_else(|err| panic!("tiny: {err}"));
    assert_eq!(signature.page_size, 4096, "{signature:?}");
    let mut tampered = binary.clone();
    tampered[signature.code_limit / 2] ^= 0x01;
    let err = codesign::check(&tampered).expect_err("one byte changed still checks");
    assert!(err.contains("does not match its hash"), "{err}");
}

/// Killed runs leave the previous output whole and git clean. In the fast profile's clone of the
/// fixture, for the target cross.rs builds there: a new commit rebuilds the app crate through
/// zig and packs every package of the target again.
#[test]
fn killed_runs_leave_the_output_and_git_clean() {
    let clone = cloned_workspace(FixtureClone::Kills);
    let dist_in_clone = || {
        let mut cmd = xtask_fast_clone(FixtureClone::Kills);
        cmd.args(["dist", "--quiet", "--target", "aarch64-unknown-linux-gnu"]);
        cmd
    };
    let output = run(&mut dist_in_clone());
    assert!(output.status.success(), "{}", stderr(&output));
    let before = snapshot(&clone.join("dist"));

    // Killed at random times while a new commit builds (the build takes far longer). Each kill
    // gets a commit of its own: the next dist has another version, so a half-swapped output
    // would show, and the app crate is rebuilt whole each time rather than finished by the
    // run killed before.
    for (delay_ms, date) in [
        (300, "2026-02-03T04:05:06Z"),
        (1500, "2026-02-03T05:05:06Z"),
    ] {
        commit(&clone, "more work", date);
        let mut child = dist_in_clone()
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        assert!(
            child.try_wait().unwrap().is_none(),
            "dist ended within {delay_ms} ms: the kill would prove nothing"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            snapshot(&clone.join("dist")),
            before,
            "killed at {delay_ms} ms"
        );
        checked(xtask_fast_clone(FixtureClone::Kills).args(["verify"]));
    }
    // ...and at a named stage, once the new output is complete but not yet swapped in.
    for stage in ["before-swap"] {
        let mut child = dist_in_clone()
            .env("XTASK_TEST_PAUSE", stage)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            let read = std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
            seen.push_str(&line);
            assert!(read > 0, "dist ended before reaching {stage}:\n{seen}");
            if line.contains(&format!("paused at {stage}")) {
                break;
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "dist is still running");
        child.kill().unwrap(); // SIGKILL: no cleanup code runs
        child.wait().unwrap();
        assert_eq!(snapshot(&clone.join("dist")), before, "killed at {stage}");
    }
    let again = run(&mut dist_in_clone());
    assert!(again.status.success(), "{}", stderr(&again));
    let after = snapshot(&clone.join("dist"));
    assert_ne!(after, before, "the new commit gives a new dist");
    let leftovers: Vec<String> = file_names(&clone)
        .into_iter()
        .filter(|n| n.contains("staging") || n.contains(".old-"))
        .collect();
    assert!(leftovers.is_empty(), "leftovers not cleaned: {leftovers:?}");
    assert_eq!(git(&clone, &["status", "--porcelain", "--ignored=no"]), "");
}

/// Unpacks the host archive of `out` and returns the named binary's bytes.
fn shipped_binary(out: &Path, name: &str) -> Vec<u8> {
    let manifest = read_manifest(out);
    let archive = archive_name(&manifest);
    let unpacked = temp_dir("flags-unpacked");
    checked(Command::new("tar").args([
        "-xf",
        out.join(&archive).to_str().unwrap(),
        "-C",
        unpacked.to_str().unwrap(),
    ]));
    std::fs::read(
        unpacked
            .join(archive.trim_end_matches(".tar.xz"))
            .join(name),
    )
    .unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Cargo uses one rustflags source; dist must add its flags to it, not replace it (cargo-dist
/// sets RUSTFLAGS and so silently drops a config's rustflags). The user's flag here sets the
/// ELF build id, which is visible in the shipped binary. The point is the flags, not the app:
/// a one-crate fixture workspace builds in seconds.
#[test]
fn user_rustflags_from_env_and_config_are_kept() {
    let copy = fixture_repo("dist-ws", "rustflags");
    // Other flags: another target directory (see `target_dir`).
    let xtask_tiny = |dir: &Path| {
        let mut cmd = xtask(dir);
        cmd.env("CARGO_TARGET_DIR", target_dir("e2e-target-rustflags"));
        cmd
    };
    let env_out = temp_dir("out-env").join("dist");
    let output = run(xtask_tiny(&copy)
        .args(["dist", "--quiet", "--out", env_out.to_str().unwrap()])
        .env("RUSTFLAGS", "-C link-arg=-Wl,--build-id=0xdeadbeef01234567"));
    assert!(output.status.success(), "{}", stderr(&output));
    let binary = shipped_binary(&env_out, "tiny");
    assert!(
        contains(&binary, &[0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67]),
        "RUSTFLAGS was dropped"
    );
    assert!(
        !contains(&binary, copy.to_str().unwrap().as_bytes()),
        "remap was dropped"
    );

    let config = copy.join(".cargo/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "[build]\nrustflags = [\"-C\", \"link-arg=-Wl,--build-id=0xfeedface76543210\"]\n",
    )
    .unwrap();
    let config_out = temp_dir("out-config").join("dist");
    let output =
        run(xtask_tiny(&copy).args(["dist", "--quiet", "--out", config_out.to_str().unwrap()]));
    assert!(output.status.success(), "{}", stderr(&output));
    let binary = shipped_binary(&config_out, "tiny");
    assert!(
        contains(&binary, &[0xfe, 0xed, 0xfa, 0xce, 0x76, 0x54, 0x32, 0x10]),
        "config rustflags were dropped"
    );
    assert!(
        !contains(&binary, copy.to_str().unwrap().as_bytes()),
        "remap was dropped"
    );
}

/// The plan is the whole truth: its build step, run by hand from the workspace root with only
/// the environment it names, builds exactly the binaries the dist ships.
#[test]
fn the_planned_build_step_run_by_hand_gives_the_shipped_binaries() {
    let (copy, dist) = built();
    let plan: serde_json::Value =
        serde_json::from_str(&checked(xtask(copy).args(["dist", "--dry-run", "--json"]))).unwrap();
    // The host target is a glibc target with a floor: one build, through cargo-zigbuild.
    let builds = plan["builds"].as_array().unwrap();
    assert_eq!(builds.len(), 1, "{builds:?}");
    let build = &builds[0];
    let argv: Vec<&str> = build["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        argv[0].ends_with("/cargo-zigbuild") && argv[1] == "build",
        "cargo-zigbuild runs the build: {argv:?}"
    );
    assert!(argv.contains(&"--message-format=json-render-diagnostics"));
    assert!(
        argv.iter().any(|a| a.starts_with("build.rustflags=")),
        "{argv:?}"
    );
    let env = build["env"].as_object().unwrap();
    assert!(env["CARGO"].as_str().unwrap().ends_with("/cargo-zigbuild"));
    assert_eq!(env["RUSTC_WORKSPACE_WRAPPER"], "cargo-auditable");
    let mut keys: Vec<&str> = env.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "CARGO",
            "CARGO_AUDITABLE_ORIG_ARGS",
            "CARGO_ZIGBUILD_PYTHON_PATH",
            "CARGO_ZIGBUILD_ZIG_PATH",
            "JIMINI_BUILD_COMMIT",
            "JIMINI_BUILD_VERSION",
            "PATH",
            "RUSTC_WORKSPACE_WRAPPER",
            "SOURCE_DATE_EPOCH"
        ]
    );
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .current_dir(copy)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("SOURCE_DATE_EPOCH");
    for (key, value) in env {
        cmd.env(key, value.as_str().unwrap());
    }
    let stdout = checked(&mut cmd);
    let mut built = std::collections::BTreeMap::new();
    for line in stdout.lines() {
        let message: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(exe) = message["executable"].as_str() {
            built.insert(
                message["target"]["name"].as_str().unwrap().to_owned(),
                exe.to_owned(),
            );
        }
    }
    assert_eq!(
        built.keys().collect::<Vec<_>>(),
        ["jimini", "jimini-admin", "jimini-server"]
    );
    for (name, exe) in &built {
        assert!(
            std::fs::read(exe).unwrap() == shipped_binary(dist, name),
            "{name} built by hand differs from the shipped one"
        );
    }
}
