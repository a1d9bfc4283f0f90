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

/// Hostile packages whose manifest and `SHA256SUMS` match them (an unsigned dist can be made so
/// by anyone): an xz bomb, a gzip bomb and a wheel whose member unpacks to more than a release
/// file may hold are each refused naming the member, under a 2 GiB address-space limit (such an
/// xz bomb once took `verify` 8.4 GB); a bomb whose digest disagrees is reported, not opened.
#[test]
fn decompression_bombs_are_refused_with_memory_bounded() {
    let (copy, dist) = built();
    let manifest = read_manifest(dist);
    let archive = archive_name(&manifest);
    let fallback = archive.replace(".tar.xz", ".tar.gz");
    let wheel = artifact_name(&manifest, "wheel");
    let top = archive.trim_end_matches(".tar.xz").to_owned();
    // 136 MiB of zeros (just past the limit): a few hundred KB packed.
    let bomb = r#"
import io, sys, tarfile, zipfile
path, kind, name = sys.argv[1:4]
size = 136 << 20
class Zeros(io.RawIOBase):
    def readable(self): return True
    def readinto(self, b):
        b[:] = bytes(len(b)); return len(b)
if kind == "whl":
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open(name, "w", force_zip64=True) as out:
            chunk = bytes(1 << 20)
            for _ in range(size >> 20): out.write(chunk)
else:
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o755
    options = {"preset": 0} if kind == "xz" else {"compresslevel": 1}
    with tarfile.open(path, "w:" + kind, **options) as tar:
        tar.addfile(info, io.BufferedReader(Zeros()))
"#;
    let make = |dir: &Path, file: &str, kind: &str, member: &str| {
        checked(
            Command::new("python3")
                .args(["-c", bomb])
                .arg(dir.join(file))
                .args([kind, member]),
        );
    };
    let verify_bounded = |dir: &Path| {
        let output = run(Command::new("sh")
            .current_dir(copy)
            .args(["-c", "ulimit -v 2097152 && exec \"$0\" verify \"$1\""])
            .arg(XTASK)
            .arg(dir)
            .env("NO_COLOR", "1"));
        assert_eq!(
            output.status.code(),
            Some(1),
            "verify must refuse, not crash:\n{}",
            stderr(&output)
        );
        stderr(&output)
    };
    let pep440_top = wheel.split('-').take(2).collect::<Vec<_>>().join("-");
    for (file, kind, member) in [
        (archive.as_str(), "xz", format!("{top}/jimini")),
        (fallback.as_str(), "gz", format!("{top}/jimini")),
        (
            wheel.as_str(),
            "whl",
            format!("{pep440_top}.data/scripts/jimini"),
        ),
    ] {
        let hostile = copy_dist(dist, &format!("bomb-{kind}"));
        make(&hostile, file, kind, &member);
        let bomb = std::fs::read(hostile.join(file)).unwrap();
        rechecksum(&hostile, file);
        let said = verify_bounded(&hostile);
        assert!(
            said.contains(&format!(
                "{file}: {member} declares more than 128 MiB, more than a release may hold"
            )),
            "{file}:\n{said}"
        );
        // The same bomb with the manifest left as it was: reported by its digest, not opened.
        let unopened = copy_dist(dist, &format!("bomb-{kind}-unopened"));
        std::fs::write(unopened.join(file), &bomb).unwrap();
        let said = verify_bounded(&unopened);
        assert!(said.contains(&format!("{file}: size ")), "{said}");
        assert!(said.contains("(not opened)"), "{said}");
        assert!(!said.contains("declares more than"), "{said}");
    }
}
