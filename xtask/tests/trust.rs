//! Trust: `keygen`, signed dists checked by Debian's `minisign` and by `verify`, install.sh
//! refusing what does not verify, and the provenance statement checked by PyPI's
//! `in-toto-attestation`, for a dist and for a merge of partial dists.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

const MUSL: &str = "x86_64-unknown-linux-musl";

/// The shared workspace copy and a signed dist of its host target (fast profile, as
/// delivery.rs builds it, so the build is shared).
fn signed() -> &'static (PathBuf, PathBuf) {
    static SIGNED: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    SIGNED.get_or_init(|| {
        let copy = shared_workspace();
        let dist = temp_dir("signed").join("dist");
        checked(
            xtask_fast(&copy)
                .args(["dist", "--quiet", "--require-signature", "--signing-key"])
                .arg(release_key(&copy))
                .arg("--out")
                .arg(&dist),
        );
        (copy, dist)
    })
}

fn minisign_verify(dist: &Path, public_key: &Path) -> std::process::Output {
    run(Command::new("minisign")
        .current_dir(dist)
        .args(["-V", "-m", "SHA256SUMS", "-p"])
        .arg(public_key))
}

fn version(dist: &Path) -> String {
    read_manifest(dist)["version"].as_str().unwrap().to_owned()
}

#[test]
fn a_signed_dist_verifies_with_debian_minisign_and_with_verify() {
    let (copy, dist) = signed();
    let output = minisign_verify(dist, &copy.join("keys/jimini.pub"));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{said}{}", stderr(&output));
    let commit = read_manifest(dist)["commit"].as_str().unwrap().to_owned();
    assert!(
        said.contains(&format!("version:{}", version(dist))) && said.contains(&commit),
        "the trusted comment names the release: {said}"
    );
    checked(
        xtask(copy)
            .args(["verify", "--require-signature"])
            .arg(dist),
    );
    // A signed dist is ours to replace: the next signed run into the same directory works.
    let again = temp_dir("signed-again").join("dist");
    for _ in 0..2 {
        checked(
            xtask_fast(copy)
                .args(["dist", "--quiet", "--signing-key"])
                .arg(release_key(copy))
                .arg("--out")
                .arg(&again),
        );
    }
    // The public key ships in every archive.
    let archive = artifact_name(&read_manifest(dist), "archive");
    let listing = checked(Command::new("tar").arg("-tf").arg(dist.join(archive)));
    assert!(
        listing.lines().any(|l| l.ends_with("/keys/jimini.pub")),
        "{listing}"
    );
}

/// A second key pair, made by Debian's minisign.
fn foreign_key_pair(label: &str) -> (PathBuf, PathBuf) {
    let dir = temp_dir(label);
    let (public, secret) = (dir.join("other.pub"), dir.join("other.key"));
    checked(
        Command::new("minisign")
            .args(["-G", "-W", "-p"])
            .arg(&public)
            .arg("-s")
            .arg(&secret),
    );
    (public, secret)
}

#[test]
fn tampered_foreign_and_missing_signatures_fail_verify_and_install_nothing() {
    let (copy, dist) = signed();
    let verify = |dir: &Path, needle: &str| {
        expect_failure(
            xtask(copy).args(["verify", "--require-signature"]).arg(dir),
            needle,
        );
    };
    // The dist's own install.sh, insisting on a signature, installing from `from` into `to`.
    let install = |from: &Path, to: &Path| {
        run(Command::new("sh")
            .arg(dist.join("install.sh"))
            .args(["--require-signature", "--to"])
            .arg(to)
            .env(
                "JIMINI_INSTALL_BASE_URL",
                format!("file://{}", from.display()),
            ))
    };
    let install_refused = |dir: &Path, needle: &str| {
        let to = temp_dir("install-refused").join("bin");
        let output = install(dir, &to);
        let text = stderr(&output);
        assert!(!output.status.success(), "installed from {}", dir.display());
        assert!(
            text.contains(needle) && text.contains("nothing was installed"),
            "expected {needle:?}:\n{text}"
        );
        assert!(!to.exists(), "something was installed ({needle})");
    };

    // The real thing installs, and says the signature was good.
    let to = temp_dir("install-signed").join("bin");
    let output = install(dist, &to);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("the signature of SHA256SUMS is good"));
    assert!(to.join("jimini").is_file());

    // One flipped byte in SHA256SUMS.
    let flipped = copy_dist(dist, "flipped-sums");
    let mut sums = std::fs::read(flipped.join("SHA256SUMS")).unwrap();
    sums[3] ^= 0x01;
    std::fs::write(flipped.join("SHA256SUMS"), &sums).unwrap();
    verify(&flipped, "SHA256SUMS.minisig does not verify SHA256SUMS");
    assert!(
        !minisign_verify(&flipped, &copy.join("keys/jimini.pub"))
            .status
            .success()
    );
    install_refused(&flipped, "does not verify with the release key");

    // A signature by another key over the genuine SHA256SUMS.
    let foreign = copy_dist(dist, "foreign-signature");
    let (_, other_secret) = foreign_key_pair("other-key");
    std::fs::remove_file(foreign.join("SHA256SUMS.minisig")).unwrap();
    checked(
        Command::new("minisign")
            .current_dir(&foreign)
            .args(["-S", "-m", "SHA256SUMS", "-s"])
            .arg(&other_secret),
    );
    verify(&foreign, "SHA256SUMS.minisig does not verify SHA256SUMS");
    install_refused(&foreign, "does not verify with the release key");

    // No signature at all: fine for plain verify, refused when a signature is required.
    let unsigned = copy_dist(dist, "unsigned");
    std::fs::remove_file(unsigned.join("SHA256SUMS.minisig")).unwrap();
    checked(xtask(copy).arg("verify").arg(&unsigned));
    verify(&unsigned, "the dist is not signed");
    install_refused(&unsigned, "SHA256SUMS.minisig is missing");

    // Without minisign on the PATH, --require-signature cannot be met.
    let bin = temp_dir("no-minisign");
    for tool in [
        "sh",
        "cp",
        "awk",
        "sha256sum",
        "cut",
        "tar",
        "mkdir",
        "mktemp",
        "rm",
        "chmod",
        "mv",
        "uname",
        "ls",
        "grep",
        "gzip",
    ] {
        if let Ok(path) = which(tool) {
            std::os::unix::fs::symlink(path, bin.join(tool)).unwrap();
        }
    }
    let to = temp_dir("install-no-minisign").join("bin");
    let output = run(Command::new(bin.join("sh"))
        .arg(dist.join("install.sh"))
        .args(["--require-signature", "--to"])
        .arg(&to)
        .env("PATH", &bin)
        .env(
            "JIMINI_INSTALL_BASE_URL",
            format!("file://{}", dist.display()),
        ));
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("minisign is not installed"),
        "{}",
        stderr(&output)
    );
    assert!(!to.exists());
}

fn which(tool: &str) -> Result<PathBuf, ()> {
    std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|dir| Path::new(dir).join(tool))
        .find(|path| path.is_file())
        .ok_or(())
}

/// Validates with PyPI's in-toto-attestation (Statement v1 and the SLSA Provenance v1 proto)
/// and returns the subjects as `sha256sum` lines.
fn validated_subjects(statement: &Path) -> String {
    let validator = r#"
import json, sys
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
text = open(sys.argv[1]).read()
assert text.endswith("\n") and text.count("\n") == 1, "one statement, one line"
statement = json_format.Parse(text, statement_pb2.Statement())
Statement.copy_from_pb(statement).validate()
assert statement.predicate_type == "https://slsa.dev/provenance/v1", statement.predicate_type
predicate = json_format.ParseDict(json.loads(text)["predicate"], provenance_pb2.Provenance())
assert predicate.build_definition.build_type.startswith("https://")
assert predicate.run_details.builder.id
for subject in statement.subject:
    print(subject.digest["sha256"] + "  " + subject.name)
"#;
    checked(
        Command::new(ci_tool("python"))
            .args(["-c", validator])
            .arg(statement),
    )
}

/// SHA256SUMS without the lines a statement does not cover (itself).
fn sums_of_subjects(dist: &Path) -> String {
    std::fs::read_to_string(dist.join("SHA256SUMS"))
        .unwrap()
        .lines()
        .filter(|line| !line.ends_with(".intoto.jsonl"))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn the_provenance_statement_validates_and_its_subjects_match_the_checksums() {
    let (copy, dist) = signed();
    let name = artifact_name(&read_manifest(dist), "provenance");
    assert_eq!(name, format!("jimini-{}.intoto.jsonl", version(dist)));
    assert!(
        std::fs::read_to_string(dist.join("SHA256SUMS"))
            .unwrap()
            .contains(&name)
    );
    assert_eq!(
        validated_subjects(&dist.join(&name)),
        sums_of_subjects(dist)
    );
    let text = std::fs::read_to_string(dist.join(&name)).unwrap();
    assert!(
        !text.contains(copy.to_str().unwrap()),
        "no machine paths: {text}"
    );
    assert!(text.contains(r#""builder":{"id":"local"}"#), "{text}");

    // A statement whose subjects no longer match the files fails verify, even when the
    // manifest is made to agree with the edited statement.
    let edited = copy_dist(dist, "edited-provenance");
    let archive = artifact_name(&read_manifest(dist), "archive");
    let manifest = read_manifest(dist);
    let archive_sha = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == archive.as_str())
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = text.replace(&archive_sha, &"0".repeat(64));
    assert_ne!(forged, text);
    std::fs::write(edited.join(&name), &forged).unwrap();
    let manifest_text = std::fs::read_to_string(edited.join("dist-manifest.json")).unwrap();
    let old_sha = checked(Command::new("sha256sum").arg(dist.join(&name)));
    let new_sha = checked(Command::new("sha256sum").arg(edited.join(&name)));
    let (old_sha, new_sha) = (&old_sha[..64], &new_sha[..64]);
    std::fs::write(
        edited.join("dist-manifest.json"),
        manifest_text.replace(old_sha, new_sha),
    )
    .unwrap();
    expect_failure(
        xtask(copy).arg("verify").arg(&edited),
        "digest differs from the file's",
    );
}

#[test]
fn merge_signs_the_merged_checksums_and_joins_the_provenance() {
    let copy = shared_workspace();
    let base = temp_dir("merge-signed");
    for (target, dir) in [(host(), "host"), (MUSL.to_owned(), "musl")] {
        checked(
            xtask_fast(&copy)
                .args(["dist", "--quiet", "--partial", "--target", &target, "--out"])
                .arg(base.join(dir)),
        );
        assert!(!base.join(dir).join("SHA256SUMS.minisig").exists());
    }
    expect_failure(
        xtask_fast(&copy)
            .args(["dist", "--partial", "--signing-key"])
            .arg(release_key(&copy))
            .arg("--out")
            .arg(base.join("signed-partial")),
        "a partial dist is not signed",
    );
    let merged = base.join("merged");
    checked(
        xtask(&copy)
            .args([
                "dist",
                "merge",
                "--quiet",
                "--require-signature",
                "--signing-key",
            ])
            .arg(release_key(&copy))
            .args(["--target", &host(), "--target", MUSL, "--out"])
            .arg(&merged)
            .arg(base.join("host"))
            .arg(base.join("musl")),
    );
    assert!(
        minisign_verify(&merged, &copy.join("keys/jimini.pub"))
            .status
            .success()
    );
    let name = artifact_name(&read_manifest(&merged), "provenance");
    assert_eq!(
        validated_subjects(&merged.join(&name)),
        sums_of_subjects(&merged)
    );
    let statement: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(merged.join(&name)).unwrap()).unwrap();
    let definition = &statement["predicate"]["buildDefinition"];
    assert_eq!(
        definition["externalParameters"]["targets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        definition["internalParameters"]["cargo"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn keygen_never_replaces_a_key_and_keeps_secrets_out_of_git() {
    let dir = copy_workspace("keygen");
    let outside = temp_dir("keygen-secret");
    // The copy has a key pair already (common::copy_workspace_into made it with keygen).
    expect_failure(
        xtask(&dir)
            .args(["keygen", "--unencrypted", "--secret-key"])
            .arg(outside.join("new.key")),
        "exists already",
    );
    assert!(!outside.join("new.key").exists());
    std::fs::remove_file(dir.join("keys/jimini.pub")).unwrap();
    expect_failure(
        xtask(&dir).args(["keygen", "--unencrypted", "--secret-key", "release.key"]),
        "git would track it",
    );
    assert!(!dir.join("release.key").exists() && !dir.join("keys/jimini.pub").exists());
    // An encrypted key: the password from the environment.
    let secret = outside.join("encrypted.key");
    checked(
        xtask(&dir)
            .args(["keygen", "--secret-key"])
            .arg(&secret)
            .env("JIMINI_SIGNING_KEY_PASSWORD", "correct horse"),
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&secret).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    // Debian's minisign signs with it (password on stdin) and checks with the public key.
    let file = outside.join("message");
    std::fs::write(&file, "hello").unwrap();
    let mut sign = Command::new("minisign")
        .args(["-S", "-s"])
        .arg(&secret)
        .arg("-m")
        .arg(&file)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut sign.stdin.take().unwrap(), b"correct horse\n").unwrap();
    assert!(sign.wait().unwrap().success());
    checked(
        Command::new("minisign")
            .args(["-V", "-m"])
            .arg(&file)
            .arg("-p")
            .arg(dir.join("keys/jimini.pub")),
    );
    // Signing with it needs the right password, and fails before anything is built.
    let out = outside.join("dist");
    expect_failure(
        xtask(&dir)
            .args(["dist", "--signing-key"])
            .arg(&secret)
            .arg("--out")
            .arg(&out)
            .env("JIMINI_SIGNING_KEY_PASSWORD", "wrong")
            .stdin(std::process::Stdio::null()),
        "cannot decrypt the signing key",
    );
    // A key of another pair (the shared workspace's), given as the variable CI uses.
    let other = release_key(&shared_workspace());
    expect_failure(
        xtask(&dir)
            .args(["dist", "--out"])
            .arg(&out)
            .env(
                "JIMINI_SIGNING_KEY",
                std::fs::read_to_string(&other).unwrap(),
            )
            .env_remove("JIMINI_SIGNING_KEY_PASSWORD"),
        "does not belong to the public key",
    );
    expect_failure(
        xtask(&dir)
            .args(["dist", "--require-signature", "--out"])
            .arg(&out)
            .env_remove("JIMINI_SIGNING_KEY"),
        "--require-signature, but there is no signing key",
    );
    assert!(!out.exists(), "refused runs leave no output");
}

/// An advisory database with one made-up advisory against `crate_name` (or none), in the
/// RustSec layout.
fn advisory_db(label: &str, advisory_for: Option<&str>) -> PathBuf {
    let db = temp_dir(label);
    std::fs::create_dir_all(db.join("crates")).unwrap();
    if let Some(name) = advisory_for {
        let dir = db.join("crates").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("RUSTSEC-2099-0001.md"),
            format!(
                "```toml\n[advisory]\nid = \"RUSTSEC-2099-0001\"\npackage = \"{name}\"\n\
                 date = \"2026-01-01\"\nurl = \"https://example.invalid/RUSTSEC-2099-0001\"\n\n\
                 [versions]\npatched = [\">= 999.0.0\"]\n```\n\n\
                 # A made-up advisory for jimini's tests\n\nNothing is wrong with {name}.\n"
            ),
        )
        .unwrap();
    }
    checked(Command::new("git").arg("init").arg("-q").arg(&db));
    git(&db, &["add", "-A"]);
    commit(&db, "advisories", "2026-01-01T00:00:00Z");
    db
}

#[test]
fn cargo_audit_bin_reads_the_dependency_list_inside_a_shipped_binary() {
    let (_, dist) = signed();
    let archive = artifact_name(&read_manifest(dist), "archive");
    let unpacked = temp_dir("audit-bin");
    checked(
        Command::new("tar")
            .arg("-xf")
            .arg(dist.join(&archive))
            .arg("-C")
            .arg(&unpacked),
    );
    let binary = unpacked
        .join(archive.trim_end_matches(".tar.xz"))
        .join("jimini");
    let audit = |db: &Path| {
        run(Command::new(cargo_tool(xtask::pins::CARGO_AUDIT))
            .args(["audit", "--no-fetch", "--stale", "--db"])
            .arg(db)
            .arg("bin")
            .arg(&binary))
    };
    let found = audit(&advisory_db("advisories-regex", Some("regex")));
    let said = String::from_utf8_lossy(&found.stdout);
    assert!(
        !found.status.success(),
        "the advisory must fail the audit:\n{said}"
    );
    assert!(
        said.contains("RUSTSEC-2099-0001") && said.contains("regex"),
        "{said}{}",
        stderr(&found)
    );
    let clean = audit(&advisory_db("advisories-none", None));
    assert!(
        clean.status.success(),
        "{}{}",
        String::from_utf8_lossy(&clean.stdout),
        stderr(&clean)
    );
}

/// `rebuild` makes a dist again from its provenance's commit, in a checkout of its own (for
/// the target linked through zig against the glibc floor, with a cold zig cache), and finds it
/// identical, though a GitLab pipeline built the dist and the rebuild runs elsewhere; a dist
/// with one archive re-packed (same files, other bytes) is caught and the archive named.
#[test]
fn rebuild_reproduces_a_fresh_dist_and_names_a_repacked_archive() {
    let ws = fixture_repo("dist-ws", "rebuild");
    let target_dir = target_dir("e2e-target-tiny-rebuild");
    checked(
        xtask(&ws)
            .args(["dist", "--quiet", "--target", "x86_64-unknown-linux-gnu"])
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("GITLAB_CI", "true")
            .env("CI_PROJECT_URL", "https://gitlab.example/group/dist-ws")
            .env("CI_COMMIT_REF_NAME", "main"),
    );
    let dist = ws.join("dist");
    let provenance = dist.join(artifact_name(&read_manifest(&dist), "provenance"));
    assert!(
        std::fs::read_to_string(&provenance).unwrap().contains(
            r#""id":"https://gitlab.example/group/dist-ws/.gitlab-ci.yml@refs/heads/main""#
        ),
        "the provenance names the pipeline"
    );
    let plan: serde_json::Value =
        serde_json::from_str(&checked(xtask(&ws).args(["rebuild", "dist", "--dry-run"]))).unwrap();
    let commit = git(&ws, &["rev-parse", "HEAD"]);
    assert_eq!(plan["recorded"]["commit"], commit.trim());
    assert_eq!(
        plan["recorded"]["targets"],
        serde_json::json!(["x86_64-unknown-linux-gnu"])
    );

    let tmp = temp_dir("rebuild-tmp");
    let output = run(xtask(&ws).args(["rebuild", "dist"]).env("TMPDIR", &tmp));
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    let left = file_names(&tmp);
    assert!(
        left.is_empty(),
        "an identical rebuild leaves nothing: {left:?}"
    );
    let files = std::fs::read_dir(&dist).unwrap().count();
    assert!(
        err.contains(&format!("rebuild identical: {files} files")),
        "{err}"
    );

    // Same entries, another gzip level: a different archive of the same files.
    let tampered = copy_dist(&dist, "repacked");
    let name = artifact_name(&read_manifest(&tampered), "fallback-archive");
    let archive = tampered.join(&name);
    let raw = run(Command::new("gzip").arg("-dc").arg(&archive)).stdout;
    let mut gzip = Command::new("gzip");
    gzip.args(["-1", "-n", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = gzip.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &raw).unwrap();
    let repacked = child.wait_with_output().unwrap();
    assert!(repacked.status.success());
    assert_ne!(repacked.stdout, std::fs::read(&archive).unwrap());
    std::fs::write(&archive, &repacked.stdout).unwrap();
    let err = expect_failure(
        xtask(&ws).arg("rebuild").arg(&tampered).env("TMPDIR", &tmp),
        "the rebuild differs in 1 of",
    );
    assert!(
        err.contains(&format!("{name}: first differs at byte")),
        "{err}"
    );
    assert!(
        err.contains(&format!("the rebuild is kept in {}", tmp.display())),
        "a differing rebuild is kept for a look: {err}"
    );
}

/// The Reproducible Builds project's own tester builds the fixture's dist twice, varying
/// everything this machine can vary, and diffoscope finds no difference. Two variations are
/// off: `time` (under libfaketime `rustc -vV` hangs: the tool's problem, not the build's) and
/// `user_group` (the other user could not read root's rustup toolchains, mode 0700).
/// The second build's `HOME` differs (`home`), and with it where the pinned tools and zig's
/// cache live, as for two users; the fixture's targets cover zig (a glibc floor) and mingw.
#[test]
fn reprotest_finds_the_dist_reproducible() {
    let installed = checked(Command::new("dpkg-query").args(["-W", "-f=${Version}", "reprotest"]));
    assert_eq!(
        installed,
        xtask::pins::REPROTEST_VERSION,
        "run `cargo xtask ci`"
    );
    let ws = fixture_repo("dist-ws", "reprotest");
    let scratch = temp_dir("reprotest-homes");
    let target_dir = shared_target_dir();
    let script = scratch.join("build.sh");
    let own = |var: &str, default: &str| {
        std::env::var(var)
            .unwrap_or_else(|_| format!("{}/{default}", std::env::var("HOME").unwrap()))
    };
    std::fs::write(
        &script,
        format!(
            r#"set -eu
# reprotest's HOME does not exist (/nonexistent/first-build, .../second-build): the tools and
# zig's cache go to a directory named like it, so their paths differ between the builds.
cache="{scratch}/$(basename "$HOME")/.cache"
mkdir -p "$cache/jimini-xtask/tools"
cp -al '{auditable}' '{zig}' "$cache/jimini-xtask/tools/"
export XDG_CACHE_HOME="$cache" RUSTUP_HOME='{rustup}' CARGO_HOME='{cargo}'
exec '{xtask}' dist --quiet --target x86_64-unknown-linux-gnu --target x86_64-pc-windows-gnu
"#,
            scratch = scratch.display(),
            auditable = xtask::pins::CARGO_AUDITABLE.root(&target_dir).display(),
            zig = xtask::pins::ZIG.root(&target_dir).display(),
            rustup = own("RUSTUP_HOME", ".rustup"),
            cargo = own("CARGO_HOME", ".cargo"),
            xtask = XTASK,
        ),
    )
    .unwrap();
    let store = scratch.join("store");
    let output = run(Command::new("reprotest")
        .current_dir(&ws)
        .args([
            "--verbosity",
            "1",
            "--vary=-time,-user_group",
            "--store-dir",
        ])
        .arg(&store)
        .arg("-c")
        .arg(format!("bash {}", script.display()))
        .args([".", "dist/*"]));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert!(output.status.success(), "{text}");
    assert!(text.contains("Reproduction successful"), "{text}");
    for variation in [
        "vary build_path",
        "vary home",
        "vary fileordering",
        "vary kernel",
        "vary domain_host",
        "vary num_cpus",
        "vary exec_path",
        "vary umask",
        "vary timezone",
        "vary locales",
    ] {
        assert!(
            text.contains(variation),
            "{variation} was not varied:\n{text}"
        );
    }
    // Both builds shipped the two targets' archives, and the same files.
    let control = file_names(&store.join("control/source-root/dist"));
    assert!(
        control
            .iter()
            .any(|n| n.ends_with("-x86_64-pc-windows-gnu.zip")),
        "{control:?}"
    );
    assert!(
        control
            .iter()
            .any(|n| n.ends_with("-x86_64-unknown-linux-gnu.tar.xz")),
        "{control:?}"
    );
    assert_eq!(
        control,
        file_names(&store.join("experiment-1/source-root/dist"))
    );
}
