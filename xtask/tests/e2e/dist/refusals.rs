//! What verify and dist refuse, and what they leave untouched when they do.

use super::*;
use crate::common::*;

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

/// A wheel whose PEP 770 SBOM is not its target's (its RECORD and the dist's checksums made to
/// agree, as anyone can for an unsigned dist): `verify` names it.
#[test]
fn verify_names_a_wheel_whose_sbom_is_not_its_targets() {
    let (copy, dist) = built();
    let manifest = read_manifest(dist);
    let wheel = artifact_name(&manifest, "wheel");
    let hostile = copy_dist(dist, "wheel-other-sbom");
    let rewrite = r#"
import base64, hashlib, sys, zipfile
path = sys.argv[1]
members = {}
with zipfile.ZipFile(path) as z:
    for info in z.infolist():
        members[info] = z.read(info)
def line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"
out = {}
for info, data in members.items():
    if "/sboms/" in info.filename:
        data = data.replace(b'"bomFormat"', b'"bomFormat" ', 1)
    out[info] = data
record = [i for i in out if i.filename.endswith("/RECORD")][0]
out[record] = ("\n".join(
    line(i.filename, d) for i, d in out.items() if i is not record
) + f"\n{record.filename},,\n").encode()
with zipfile.ZipFile(path, "w") as z:
    for info, data in out.items():
        z.writestr(info, data)
"#;
    checked(
        Command::new("python3")
            .args(["-c", rewrite])
            .arg(hostile.join(&wheel)),
    );
    rechecksum(&hostile, &wheel);
    let sbom = artifact_name(&manifest, "sbom");
    verify_fails(
        copy,
        &hostile,
        &format!("{wheel}: .dist-info/sboms/{sbom} differs from {sbom}"),
    );
}
