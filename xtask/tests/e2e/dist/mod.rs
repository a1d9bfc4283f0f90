//! End to end: `cargo xtask dist` and `verify` on temporary copies of this workspace.

mod bombs;
mod refusals;
mod reproducible;
mod wheels;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::builds::{Build, dist as build};
use crate::common::*;
/// The shared workspace copy and a host dist built with the real dist profile (fat LTO), for
/// the tests that only read it ([`Build::AppHost`]).
fn built() -> (&'static PathBuf, &'static PathBuf) {
    let built = build(Build::AppHost);
    (&built.workspace, &built.dist)
}

fn archive_name(manifest: &serde_json::Value) -> String {
    artifact_name(manifest, "archive")
}

#[test]
fn dist_output_passes_sha256sum_verify_and_runs() {
    let (copy, dist) = built();
    sums_and_verify_pass(copy, dist);

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
    assert_eq!(archive, format!("jimini_{version}_{}.tar.xz", host()));

    let listing = checked(
        Command::new("tar")
            .current_dir(dist)
            .args(["-tvJf", &archive]),
    );
    let top = format!("jimini_{version}_{}", host());
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

/// Updates the manifest and SHA256SUMS for a rewritten artifact.
pub fn rechecksum(dir: &Path, name: &str) {
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

/// `smoke` on the app's own host archive (what the macOS jobs run on the Apple builds): every
/// binary's version line, the block, and the real server's /health and clean SIGTERM stop.
#[test]
fn the_apps_own_binaries_pass_the_smoke_command() {
    let (copy, dist) = built();
    let host = host();
    let said = checked(xtask(copy).args(["smoke", dist.to_str().unwrap(), "--target", &host]));
    let version = read_manifest(dist)["version"].as_str().unwrap().to_owned();
    for binary in ["jimini", "jimini-admin", "jimini-server"] {
        assert!(said.contains(&format!("{binary} {version} (")), "{said}");
    }
    assert!(said.contains("jimini check: decision: block"), "{said}");
    assert!(said.contains("stopped cleanly on SIGTERM"), "{said}");
}

/// The man pages in the app's own archive: `man -l` renders each (as a user's `man` would),
/// and every flag the binary's `--help` prints is on its page (they come from one text).
#[test]
fn each_man_page_renders_and_names_every_flag_of_its_binarys_help() {
    let (_, dist) = built();
    let manifest = read_manifest(dist);
    let archive = artifact_name(&manifest, "archive");
    let unpacked = untar(&dist.join(&archive), "man-pages");
    let top = unpacked.join(archive.trim_end_matches(".tar.xz"));
    for binary in ["jimini", "jimini-admin", "jimini-server"] {
        let help = checked(Command::new(top.join(binary)).arg("--help"));
        let flags: std::collections::BTreeSet<&str> = help
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|word| word.starts_with("--") && word.len() > 2)
            .collect();
        assert!(flags.contains("--help") && flags.len() >= 3, "{flags:?}");
        let page = top.join(format!("man/man1/{binary}.1"));
        let rendered = run(Command::new("man")
            .args(["--warnings", "-l", "-P", "cat"])
            .arg(&page)
            .env("LC_ALL", "C")
            .env("MANWIDTH", "200"));
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(
            rendered.status.success() && stderr(&rendered).is_empty(),
            "man -l {binary}.1: {}\n{text}",
            stderr(&rendered)
        );
        assert!(text.contains(&format!("{binary} - ")), "NAME: {text}");
        for flag in &flags {
            assert!(
                text.contains(flag),
                "{flag} of `{binary} --help` is not on its man page:\n{text}"
            );
        }
    }
}
