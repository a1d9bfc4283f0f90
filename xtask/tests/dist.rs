//! End to end: `cargo xtask dist` and `verify` on temporary copies of this workspace.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;

/// The shared workspace copy and a host dist built with the real dist profile (fat LTO), for
/// the tests that only read it.
fn built() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let copy = shared_workspace();
        let dist = temp_dir("built").join("dist");
        let output = run(xtask(&copy).arg("dist").arg("--out").arg(&dist));
        assert!(output.status.success(), "dist failed:\n{}", stderr(&output));
        (copy, dist)
    })
}

fn archive_name(manifest: &serde_json::Value) -> String {
    artifact_name(manifest, "archive")
}

#[test]
fn dist_output_passes_sha256sum_verify_and_runs() {
    let (copy, dist) = built();
    checked(
        Command::new("sha256sum")
            .current_dir(dist)
            .args(["-c", "--strict", "SHA256SUMS"]),
    );
    checked(xtask(copy).args(["verify", dist.to_str().unwrap()]));

    let manifest = read_manifest(dist);
    let version = manifest["version"].as_str().unwrap();
    // The copy's one commit dates the workspace version in CHANGELOG.md: it is that release.
    let workspace_version = checked(
        Command::new(env!("CARGO"))
            .current_dir(copy)
            .args(["pkgid", "-p", "jimini"]),
    );
    assert!(
        workspace_version.trim().ends_with(&format!("@{version}")),
        "{version} is not the released {workspace_version}"
    );
    assert_eq!(manifest["targets"], serde_json::json!([host()]));
    let archive = archive_name(&manifest);
    assert_eq!(archive, format!("jimini-{version}-{}.tar.xz", host()));

    let listing = checked(
        Command::new("tar")
            .current_dir(dist)
            .args(["-tvJf", &archive]),
    );
    let top = format!("jimini-{version}-{}", host());
    for name in [
        "jimini",
        "jimini-admin",
        "jimini-server",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "rules/default.toml",
    ] {
        assert!(
            listing.contains(&format!("{top}/{name}\n")),
            "{name} missing from:\n{listing}"
        );
    }
    assert!(
        listing.lines().all(|l| l.contains(" 0/0 ")),
        "owner must be 0/0:\n{listing}"
    );
    assert!(listing.contains("-rwxr-xr-x 0/0") && listing.contains("-rw-r--r-- 0/0"));

    let unpacked = temp_dir("unpacked");
    checked(Command::new("tar").args([
        "-xf",
        dist.join(&archive).to_str().unwrap(),
        "-C",
        unpacked.to_str().unwrap(),
    ]));
    for binary in ["jimini", "jimini-admin", "jimini-server"] {
        let line = checked(Command::new(unpacked.join(&top).join(binary)).arg("--version"));
        let commit = &manifest["commit"].as_str().unwrap()[..7];
        assert_eq!(
            line.trim(),
            format!("{binary} {version} ({commit} 2026-01-02, {}, dist)", host())
        );
    }
    let check =
        run(Command::new(unpacked.join(&top).join("jimini")).args(["check", "123-45-6789"]));
    assert_eq!(check.status.code(), Some(3));

    // No build path, home directory or user name in anything shipped.
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let needles = [
        copy.to_string_lossy().into_owned(),
        source_root().to_string_lossy().into_owned(),
        home,
    ];
    let mut files: Vec<PathBuf> = std::fs::read_dir(dist)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.extend(
        std::fs::read_dir(unpacked.join(&top))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file()),
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for needle in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{} contains {needle}",
                file.display()
            );
        }
    }
}

#[test]
fn sbom_lists_exactly_the_linked_crates_and_validates() {
    let (copy, dist) = built();
    let manifest = read_manifest(dist);
    let sbom_name = artifact_name(&manifest, "sbom");
    let sbom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join(&sbom_name)).unwrap()).unwrap();
    assert_eq!(sbom["specVersion"], "1.5");
    assert_eq!(
        sbom["metadata"]["component"]["version"],
        manifest["version"]
    );
    assert_eq!(
        sbom["metadata"]["component"]["purl"].as_str().unwrap(),
        format!("pkg:cargo/jimini@{}", manifest["version"].as_str().unwrap())
    );
    assert_eq!(sbom["metadata"]["timestamp"], manifest["source_date"]);

    let mut in_sbom: Vec<String> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} v{}",
                c["name"].as_str().unwrap(),
                c["version"].as_str().unwrap()
            )
        })
        .collect();
    in_sbom.push("jimini".to_owned());
    in_sbom.sort();
    let tree = checked(Command::new(env!("CARGO")).current_dir(copy).args([
        "tree",
        "--locked",
        "-e",
        "normal",
        "-p",
        "jimini",
        "--target",
        &host(),
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]));
    let mut in_tree: Vec<String> = tree
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let name_version = l.split(" (").next().unwrap().trim().to_owned();
            if name_version.starts_with("jimini ") {
                "jimini".to_owned()
            } else {
                name_version
            }
        })
        .collect();
    in_tree.sort();
    in_tree.dedup();
    assert_eq!(
        in_sbom, in_tree,
        "SBOM components must equal `cargo tree -e normal`"
    );

    for component in sbom["components"].as_array().unwrap() {
        let name = component["name"].as_str().unwrap();
        assert!(
            component["licenses"][0]["expression"].is_string(),
            "{name} has no license"
        );
        assert_eq!(
            component["hashes"][0]["alg"], "SHA-256",
            "{name} has no Cargo.lock checksum"
        );
        let build_only = [
            "serde_derive",
            "tokio-macros",
            "prometheus-client-derive-encode",
            "proc-macro2",
            "quote",
            "syn",
            "unicode-ident",
        ];
        let expected_scope = if build_only.contains(&name) {
            "excluded"
        } else {
            "required"
        };
        assert_eq!(component["scope"], expected_scope, "{name}");
    }
    assert!(sbom["dependencies"].as_array().unwrap().iter().any(|d| {
        d["ref"].as_str().unwrap().starts_with("pkg:cargo/jimini@")
            && d["dependsOn"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r.as_str().unwrap().starts_with("pkg:cargo/regex@"))
    }));

    let validator = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
errors = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())
if errors:
    print(errors)
    sys.exit(1)
print("valid")
"#;
    let out = checked(
        Command::new(ci_tool("python"))
            .args(["-c", validator])
            .arg(dist.join(&sbom_name)),
    );
    assert_eq!(out.trim(), "valid");
}

/// A clone elsewhere gives the same bytes; then, in that clone, runs that would produce a new
/// output (after a new commit) are killed at named stages and at random times: the previous
/// output stays whole, the rerun cleans up, and git sees nothing.
/// The dist profile (fat LTO, one codegen unit, stripped) at two paths gives the same bytes,
/// for every toolchain of the release list (zig against the glibc floor, cross and native;
/// mingw's PE header; static musl): on the one-crate fixture, whose builds take seconds (the
/// app itself at two paths: cross.rs).
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
        .find(|(name, _)| name.ends_with("-x86_64-pc-windows-gnu.zip"))
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
    // (an outside reading of Apple's layout: common/codesign.rs; the app's: cross.rs).
    let (name, archive) = dists[0]
        .iter()
        .find(|(name, _)| name.ends_with("-aarch64-apple-darwin.tar.xz"))
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

/// Killed runs leave the previous output whole and git clean. In the fast profile's clone,
/// for the target cross.rs builds there: a new commit rebuilds only the app crate, through
/// zig, which takes long enough to be killed.
#[test]
fn killed_runs_leave_the_output_and_git_clean() {
    let clone = cloned_workspace();
    let dist_in_clone = || {
        let mut cmd = xtask_fast_clone();
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
        checked(xtask_fast_clone().args(["verify"]));
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

fn verify_fails(copy: &Path, dir: &Path, expected: &str) {
    let output = run(xtask(copy).args(["verify", dir.to_str().unwrap()]));
    assert!(
        !output.status.success(),
        "verify accepted a bad dist ({expected})"
    );
    let text = stderr(&output);
    assert!(text.contains(expected), "expected {expected:?} in:\n{text}");
}

#[test]
fn verify_catches_flipped_byte_missing_extra_and_escaping_entries() {
    let (copy, dist) = built();
    let manifest = read_manifest(dist);
    let archive = archive_name(&manifest);

    let flipped = copy_dist(dist, "flipped");
    let mut bytes = std::fs::read(flipped.join(&archive)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(flipped.join(&archive), bytes).unwrap();
    verify_fails(copy, &flipped, &format!("{archive}: sha256 is"));

    let missing = copy_dist(dist, "missing");
    let sbom = archive.replace(".tar.xz", ".cdx.json");
    std::fs::remove_file(missing.join(&sbom)).unwrap();
    verify_fails(copy, &missing, &format!("{sbom} is missing"));

    let extra = copy_dist(dist, "extra");
    std::fs::write(extra.join("evil.sh"), "#!/bin/sh\n").unwrap();
    verify_fails(copy, &extra, "unexpected file evil.sh");

    // An archive with a `../` entry, re-checksummed so that only the entry check can catch it.
    let escaping = copy_dist(dist, "escaping");
    let top = archive.trim_end_matches(".tar.xz");
    let script = r#"
import io, sys, tarfile
path, top = sys.argv[1], sys.argv[2]
with tarfile.open(path, "w:xz") as tar:
    for name in [top + "/", top + "/../evil"]:
        info = tarfile.TarInfo(name)
        data = b"" if name.endswith("/") else b"boom"
        info.size = len(data)
        info.type = tarfile.DIRTYPE if name.endswith("/") else tarfile.REGTYPE
        tar.addfile(info, io.BytesIO(data))
"#;
    checked(
        Command::new("python3")
            .args(["-c", script])
            .arg(escaping.join(&archive))
            .arg(top),
    );
    rechecksum(&escaping, &archive);
    verify_fails(copy, &escaping, "climbs out with `..`");
}

/// Updates the manifest and SHA256SUMS for a rewritten artifact.
fn rechecksum(dir: &Path, name: &str) {
    let sha = checked(Command::new("sha256sum").arg(dir.join(name)));
    let sha = sha.split_whitespace().next().unwrap().to_owned();
    let size = std::fs::metadata(dir.join(name)).unwrap().len();
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    let sums: String = sums
        .lines()
        .map(|l| {
            if l.ends_with(name) {
                format!("{sha}  {name}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(dir.join("SHA256SUMS"), &sums).unwrap();
    let sums_sha = checked(Command::new("sha256sum").arg(dir.join("SHA256SUMS")));
    let mut manifest = read_manifest(dir);
    for artifact in manifest["artifacts"].as_array_mut().unwrap() {
        if artifact["name"] == name {
            artifact["sha256"] = sha.clone().into();
            artifact["size"] = size.into();
        }
        if artifact["name"] == "SHA256SUMS" {
            artifact["sha256"] = sums_sha.split_whitespace().next().unwrap().into();
            artifact["size"] = sums.len().into();
        }
    }
    std::fs::write(
        dir.join("dist-manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

#[test]
fn dry_run_prints_the_plan_and_touches_nothing() {
    let copy = copy_workspace("dry");
    let out = checked(xtask(&copy).args(["dist", "--dry-run", "--json", "--target", "all"]));
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let triples: Vec<&str> = plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"]["triple"].as_str().unwrap())
        .collect();
    assert_eq!(
        triples,
        [
            "aarch64-apple-darwin",
            "aarch64-unknown-linux-gnu",
            "x86_64-apple-darwin",
            "x86_64-pc-windows-gnu",
            "x86_64-unknown-linux-gnu",
            "x86_64-unknown-linux-musl"
        ]
    );
    assert!(!copy.join("dist").exists());
    assert!(git(&copy, &["status", "--porcelain"]).is_empty());
}

#[test]
fn bad_input_is_refused_with_the_fix_and_no_output() {
    let copy = copy_workspace("bad");
    let expect_error = |args: &[&str], needle: &str| {
        expect_failure(xtask(&copy).args(args), needle);
        assert!(!copy.join("dist").exists(), "{args:?} left a dist/ behind");
    };
    expect_error(&["dist", "--target", "linux"], "unknown target \"linux\"");
    expect_error(
        &["dist", "--target", "riscv64gc-unknown-linux-gnu"],
        "rustup target add riscv64gc-unknown-linux-gnu",
    );
    let blocker = copy.join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    expect_error(
        &["dist", "--out", "not-a-dir/dist"],
        "pick a writable --out directory",
    );

    let manifest = std::fs::read_to_string(copy.join("Cargo.toml")).unwrap();
    std::fs::write(
        copy.join("Cargo.toml"),
        manifest.replace("\"CHANGELOG.md\",", "\"CHANGES.md\","),
    )
    .unwrap();
    expect_error(&["dist"], "include file CHANGES.md does not exist");
    std::fs::write(
        copy.join("Cargo.toml"),
        manifest.replace("profile = \"dist\"", "profile = 3"),
    )
    .unwrap();
    expect_error(
        &["dist"],
        "[workspace.metadata.xtask-dist] in Cargo.toml is malformed",
    );
    // The .deb's settings are plan data: refused before anything compiles, naming the key.
    let before_build = |needle: &str| {
        let text = expect_failure(xtask(&copy).arg("dist"), needle);
        assert!(!text.contains("==> build"), "it got to the build:\n{text}");
        assert!(!copy.join("dist").exists());
    };
    std::fs::write(
        copy.join("Cargo.toml"),
        manifest.replace(
            "\"/etc/jimini/server.env\", \"600\"]",
            "\"/etc/jimini/server.env\", \"rw\"]",
        ),
    )
    .unwrap();
    before_build(
        "[workspace.metadata.xtask-dist.deb] assets: mode \"rw\" of /etc/jimini/server.env",
    );
    std::fs::write(
        copy.join("Cargo.toml"),
        manifest.replace(
            "\"packaging/debian/server.env\"",
            "\"packaging/debian/missing.env\"",
        ),
    )
    .unwrap();
    before_build("packaging/debian/missing.env does not exist");
    std::fs::write(copy.join("Cargo.toml"), &manifest).unwrap();

    let lock = std::fs::read_to_string(copy.join("Cargo.lock")).unwrap();
    std::fs::write(
        copy.join("Cargo.lock"),
        lock.replace(
            "name = \"regex\"\nversion = \"",
            "name = \"regex\"\nversion = \"0",
        ),
    )
    .unwrap();
    expect_error(&["dist"], "Cargo.lock");
    std::fs::remove_file(copy.join("Cargo.lock")).unwrap();
    expect_error(&["dist"], "Cargo.lock is missing or out of date");
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

#[test]
fn output_directories_that_are_not_ours_are_refused_untouched() {
    let copy = copy_workspace("sacred");
    let refused = |args: &[&str], needle: &str| expect_failure(xtask(&copy).args(args), needle);
    let user = copy.join("notes");
    std::fs::create_dir(&user).unwrap();
    std::fs::write(user.join("thesis.tex"), "years of work").unwrap();
    let text = refused(&["dist", "--out", "notes"], "nothing was changed");
    assert!(text.contains(&user.display().to_string()), "{text}");
    assert_eq!(
        std::fs::read_to_string(user.join("thesis.tex")).unwrap(),
        "years of work"
    );

    refused(&["dist", "--out", "."], "not an earlier output");
    refused(
        &["dist", "--out", "README.md"],
        "is a file, not a directory",
    );
    std::os::unix::fs::symlink(&user, copy.join("link")).unwrap();
    refused(&["dist", "--out", "link"], "symbolic link");
    refused(
        &["dist", "merge", "--out", "notes", "no-such-partial"],
        "not an earlier output",
    );
    std::fs::create_dir_all(copy.join("image/usr/local/bin")).unwrap();
    std::fs::write(copy.join("image/usr/local/bin/mine"), "x").unwrap();
    refused(
        &["docker", "--dist", "dist", "--image-root", "image"],
        "usr/local/bin/mine is not one of its files",
    );
    assert!(copy.join("image/usr/local/bin/mine").exists());

    assert_eq!(
        std::fs::read_to_string(user.join("thesis.tex")).unwrap(),
        "years of work"
    );
    assert!(!copy.join("dist").exists());
    std::fs::remove_file(copy.join("link")).unwrap();
    std::fs::remove_dir_all(copy.join("image")).unwrap();
    std::fs::remove_dir_all(&user).unwrap();
    assert_eq!(
        git(&copy, &["status", "--porcelain"]),
        "",
        "no lock or staging left"
    );
}

#[test]
fn expected_errors_print_no_backtrace_unless_asked() {
    let copy = copy_workspace("backtrace");
    let output = run(xtask(&copy)
        .args(["dist", "--target", "linux"])
        .env("RUST_BACKTRACE", "1"));
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.starts_with("error: unknown target \"linux\""),
        "{text}"
    );
    assert!(!text.to_lowercase().contains("backtrace"), "{text}");
    assert!(text.lines().count() <= 3, "{text}");

    let output = run(xtask(&copy)
        .args(["dist", "--target", "linux"])
        .env("XTASK_BACKTRACE", "1"));
    assert!(
        stderr(&output).contains("backtrace:"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn settings_in_cargo_dists_table_name_the_move() {
    let copy = copy_workspace("old-table");
    let manifest = std::fs::read_to_string(copy.join("Cargo.toml")).unwrap();
    std::fs::write(
        copy.join("Cargo.toml"),
        manifest.replace("[workspace.metadata.xtask-dist", "[workspace.metadata.dist"),
    )
    .unwrap();
    let output = run(xtask(&copy).args(["dist", "--dry-run"]));
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("rename the table to [workspace.metadata.xtask-dist]"),
        "{}",
        stderr(&output)
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

/// The host's wheel, as Python users meet it: PyPA's checkers accept it, `pip` installs it
/// into a fresh venv (checking every RECORD line), the binaries run from the venv's `bin/`,
/// `pip uninstall` leaves nothing of ours, and `uv tool install` takes it too.
#[test]
fn the_wheel_installs_with_pip_and_uv_and_passes_pypas_checkers() {
    let (_, dist) = built();
    let manifest = read_manifest(dist);
    let wheel = artifact_name(&manifest, "wheel");
    assert!(
        wheel.ends_with("-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
        "{wheel}"
    );
    let wheel_path = dist.join(&wheel);
    let auditwheel = checked(
        Command::new(ci_tool("auditwheel"))
            .arg("show")
            .arg(&wheel_path),
    );
    assert!(
        auditwheel
            .contains("is consistent with the following platform tag:\n\"manylinux_2_17_x86_64\""),
        "{auditwheel}"
    );
    checked(
        Command::new(ci_tool("twine"))
            .args(["check", "--strict"])
            .arg(&wheel_path),
    );
    // W007 "wheel library is empty": a wheel of binaries has no importable library by design.
    checked(
        Command::new(ci_tool("check-wheel-contents"))
            .args(["--ignore", "W007"])
            .arg(&wheel_path),
    );

    let version = manifest["version"].as_str().unwrap();
    let pep440 =
        xtask::dist::wheel::plan::pep440(&semver::Version::parse(version).unwrap()).unwrap();
    let venv = fresh_venv("wheel-venv");
    let before = files_below(&venv);
    checked(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--no-index", "--find-links"])
            .arg(dist)
            .arg(format!("jimini=={pep440}")),
    );
    let jimini = venv.join("bin/jimini");
    let printed = checked(Command::new(&jimini).arg("--version"));
    assert!(printed.contains(version), "{printed}");
    let check = run(Command::new(&jimini).args(["check", "ssn 123-45-6789"]));
    assert_eq!(check.status.code(), Some(3), "{}", stderr(&check));
    for binary in ["jimini-admin", "jimini-server"] {
        assert!(venv.join("bin").join(binary).is_file(), "{binary}");
    }
    checked(Command::new(venv.join("bin/pip")).args(["uninstall", "-y", "jimini"]));
    let left: Vec<_> = files_below(&venv)
        .difference(&before)
        .filter(|path| !path.components().any(|c| c.as_os_str() == "__pycache__"))
        .cloned()
        .collect();
    assert!(left.is_empty(), "pip uninstall left {left:?}");

    let uv_home = temp_dir("wheel-uv");
    checked(
        Command::new(ci_tool("uv"))
            .args(["tool", "install", "--offline", "--no-index", "--find-links"])
            .arg(dist)
            .arg(format!("jimini=={pep440}"))
            .env("UV_TOOL_DIR", uv_home.join("tools"))
            .env("UV_TOOL_BIN_DIR", uv_home.join("bin"))
            .env("UV_CACHE_DIR", uv_home.join("cache")),
    );
    let printed = checked(Command::new(uv_home.join("bin/jimini")).arg("--version"));
    assert!(printed.contains(version), "{printed}");
}

/// The wheels' versions are PEP 440 as PyPI's own `packaging` reads them: each parses to
/// itself, and the order is SemVer's (dev < rc < final).
#[test]
fn wheel_versions_are_pep440_by_pypas_packaging() {
    let ordered = [
        "0.2.1-dev.48+g9f4bae0",
        "0.3.0-alpha.1",
        "0.3.0-beta.2",
        "0.3.0-rc.1",
        "0.3.0-rc.2",
        "0.3.0",
        "0.3.1-dev.1",
    ];
    let pep440: Vec<String> = ordered
        .iter()
        .map(|v| xtask::dist::wheel::plan::pep440(&semver::Version::parse(v).unwrap()).unwrap())
        .collect();
    let script = "import sys\nfrom packaging.version import Version\nvs = sys.argv[1:]\n\
        assert all(str(Version(v)) == v for v in vs), [(v, str(Version(v))) for v in vs]\n\
        assert [Version(v) for v in vs] == sorted(Version(v) for v in vs), vs\nprint('ok')\n";
    let out = checked(
        Command::new(ci_tool("python"))
            .args(["-c", script])
            .args(&pep440),
    );
    assert_eq!(out.trim(), "ok");
}

fn fresh_venv(label: &str) -> PathBuf {
    let venv = temp_dir(label).join("venv");
    checked(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    venv
}

fn files_below(dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    let mut files = std::collections::BTreeSet::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else {
                files.insert(path);
            }
        }
    }
    files
}

/// What `pip install` of `requirement` from `wheels` adds to a fresh venv's `bin/`.
fn installed_scripts(label: &str, wheels: &Path, requirement: &str) -> Vec<String> {
    let venv = fresh_venv(label);
    let before = files_below(&venv.join("bin"));
    checked(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--no-index", "--find-links"])
            .arg(wheels)
            .arg(requirement),
    );
    files_below(&venv.join("bin"))
        .difference(&before)
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// maturin (`bindings = "bin"`), the wheel builder of Rust projects, packages the same
/// workspace: `pip install` of its wheel and of dist's puts the same files in `bin/`. (The
/// fast profile: the layout is the point; the closing note of the wheel issue compares sizes,
/// times and reproducibility with the real profiles.)
#[test]
fn dist_and_maturin_wheels_install_the_same_files() {
    let (copy, dist) = built();
    let version = read_manifest(dist)["version"].as_str().unwrap().to_owned();
    let pep440 =
        xtask::dist::wheel::plan::pep440(&semver::Version::parse(&version).unwrap()).unwrap();
    let ours = installed_scripts("venv-dist", dist, &format!("jimini=={pep440}"));
    assert_eq!(ours, ["jimini", "jimini-admin", "jimini-server"]);

    let zig = xtask::pins::ZIG.zig_binary(&shared_target_dir());
    let path = std::env::join_paths(
        std::iter::once(zig.parent().unwrap().to_owned())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let out = temp_dir("maturin-out");
    checked(
        Command::new(ci_tool("maturin"))
            .args(["build", "--release", "--bindings", "bin", "--zig"])
            .args([
                "--compatibility",
                "manylinux2014",
                "--manifest-path",
                "app/Cargo.toml",
            ])
            .arg("--out")
            .arg(&out)
            .arg("--target-dir")
            .arg(target_dir("e2e-target-maturin"))
            .current_dir(copy)
            .env("PATH", path)
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    );
    let theirs = installed_scripts("venv-maturin", &out, "jimini");
    assert_eq!(ours, theirs);
}
