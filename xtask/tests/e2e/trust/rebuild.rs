//! What anyone can check later: cargo audit bin reads the embedded dependency list, rebuild and reprotest reproduce a dist.

use super::*;
use crate::common::*;

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
    let unpacked = untar(&dist.join(&archive), "audit-bin");
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
    // The fixture's one runtime dependency.
    let found = audit(&advisory_db("advisories-hex", Some("hex")));
    let said = String::from_utf8_lossy(&found.stdout);
    assert!(
        !found.status.success(),
        "the advisory must fail the audit:\n{said}"
    );
    assert!(
        said.contains("RUSTSEC-2099-0001") && said.contains("hex"),
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

/// `rebuild` makes a signed dist again from its provenance's commit, in a checkout of its own
/// (for the target linked through zig against the glibc floor, with a cold zig cache), and
/// finds it identical, the signatures adopted after checking them over the rebuilt files,
/// though a GitLab pipeline built the dist and the rebuild runs elsewhere; a dist with one
/// archive re-packed (same files, other bytes) is caught and the archive named, and a signature
/// by a key the history does not hold is named.
#[test]
fn rebuild_reproduces_a_fresh_dist_and_names_a_repacked_archive() {
    let ws = fixture_repo("dist-ws", "rebuild");
    let secret = temp_dir("rebuild-key").join("release.key");
    checked(
        xtask(&ws)
            .args(["keygen", "--unencrypted", "--secret-key"])
            .arg(&secret),
    );
    git(&ws, &["add", "-A"]);
    commit(&ws, "a release key", "2026-01-02T03:04:06Z");
    let target_dir = target_dir("e2e-target-tiny-rebuild");
    // Every CI credential set (the fixture's build script fails on any that reaches it); the
    // release key's variables are dist's own input, and are held out of the build the same way.
    let signing = [
        xtask::signing::SIGNING_KEY_VAR,
        xtask::signing::PASSWORD_VAR,
    ];
    let credentials = xtask::secrets::CREDENTIAL_VARS
        .iter()
        .filter(|var| !signing.contains(var))
        .map(|var| (*var, "credential-that-must-not-reach-a-build"));
    checked(
        xtask(&ws)
            .envs(credentials)
            .args(["dist", "--quiet", "--target", "x86_64-unknown-linux-gnu"])
            .args(["--require-signature", "--signing-key"])
            .arg(&secret)
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
    let signatures = std::fs::read_dir(&dist)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with(".sig") || name == "SHA256SUMS.minisig"
        })
        .count();
    assert!(signatures >= 4, "a signed dist: {signatures} signatures");
    let compared = std::fs::read_dir(&dist).unwrap().count() - signatures;
    assert!(
        err.contains(&format!("rebuild identical: {compared} files"))
            && err.contains("signatures adopted"),
        "{err}"
    );

    // An archive's signature replaced by one of another key over the same archive: named.
    let foreign = copy_dist(&dist, "foreign-sig");
    let archive = artifact_name(&read_manifest(&foreign), "archive");
    let other = temp_dir("rebuild-other-key");
    checked(
        Command::new("minisign")
            .args(["-G", "-W", "-p"])
            .arg(other.join("other.pub"))
            .arg("-s")
            .arg(other.join("other.key")),
    );
    let sig = foreign.join(format!("{archive}.sig"));
    std::fs::remove_file(&sig).unwrap();
    checked(
        Command::new("minisign")
            .args(["-S", "-s"])
            .arg(other.join("other.key"))
            .arg("-m")
            .arg(foreign.join(&archive))
            .arg("-x")
            .arg(&sig),
    );
    let err = expect_failure(
        xtask(&ws).arg("rebuild").arg(&foreign).env("TMPDIR", &tmp),
        &format!("{archive}.sig: does not sign the rebuilt {archive}: signed by key"),
    );
    assert!(err.contains("does not contain"), "{err}");

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
            .any(|n| n.ends_with("_x86_64-pc-windows-gnu.zip")),
        "{control:?}"
    );
    assert!(
        control
            .iter()
            .any(|n| n.ends_with("_x86_64-unknown-linux-gnu.tar.xz")),
        "{control:?}"
    );
    assert_eq!(
        control,
        file_names(&store.join("experiment-1/source-root/dist"))
    );
}
