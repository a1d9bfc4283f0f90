use super::*;

fn recorded(partial: bool) -> Recorded {
    Recorded {
        app: "jimini".into(),
        version: "0.3.0".into(),
        commit: "9f4bae0".repeat(5) + "12345",
        targets: vec![
            "aarch64-unknown-linux-gnu".into(),
            "x86_64-unknown-linux-gnu".into(),
        ],
        partial,
        cargo_lock_sha256: "ab".repeat(32),
        rustc_release: "1.95.0".into(),
        rustc_commit: "59807616e".into(),
        builder_id: "https://gitlab.com/o/r/.gitlab-ci.yml@refs/tags/v0.3.0".into(),
        signatures: vec!["jimini-0.3.0-x86_64-unknown-linux-gnu.tar.xz.sig".into()],
    }
}

fn machine() -> Machine {
    Machine {
        rustup_home: "/home/u/.rustup".into(),
        cargo_home: "/home/u/.cargo".into(),
        cache_home: "/home/u/.cache".into(),
    }
}

fn files() -> Vec<String> {
    [
        "SHA256SUMS",
        "SHA256SUMS.minisig",
        "dist-manifest.json",
        "jimini-0.3.0-x86_64-unknown-linux-gnu.tar.xz",
        "jimini-0.3.0-x86_64-unknown-linux-gnu.tar.xz.sig",
        "jimini-0.3.0.intoto.jsonl",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn the_rebuild_has_its_own_home_target_dir_and_zig_cache_and_no_signing_key() {
    let plan = plan(
        recorded(false),
        &files(),
        Path::new("/repo"),
        Path::new("/tmp/r"),
        &machine(),
    );
    assert_eq!(plan.env["HOME"], "/tmp/r/home");
    assert_eq!(plan.env["CARGO_TARGET_DIR"], "/tmp/r/target");
    assert_eq!(plan.env["ZIG_GLOBAL_CACHE_DIR"], "/tmp/r/zig-cache");
    assert_eq!(plan.env["RUSTUP_HOME"], "/home/u/.rustup");
    assert_eq!(
        plan.env["XDG_CACHE_HOME"], "/home/u/.cache",
        "the pinned tools"
    );
    assert!(plan.unset.contains(&SIGNING_KEY_VAR.to_owned()));
    // A release built by a CI pipeline is rebuilt as that pipeline's: the same provenance.
    assert_eq!(
        plan.env["JIMINI_BUILDER_ID"],
        "https://gitlab.com/o/r/.gitlab-ci.yml@refs/tags/v0.3.0"
    );
    assert!(plan.unset.contains(&"RUSTFLAGS".to_owned()));
    assert_eq!(plan.checkout, Path::new("/tmp/r/src"));
    assert_eq!(
        plan.dist_args,
        [
            "dist",
            "--quiet",
            "--target",
            "aarch64-unknown-linux-gnu",
            "--target",
            "x86_64-unknown-linux-gnu",
            "--out",
            "/tmp/r/dist"
        ]
    );
}

#[test]
fn every_file_is_compared_but_the_signatures_which_are_adopted() {
    let plan = plan(
        recorded(true),
        &files(),
        Path::new("/repo"),
        Path::new("/tmp/r"),
        &machine(),
    );
    assert_eq!(
        plan.compared,
        [
            "SHA256SUMS",
            "dist-manifest.json",
            "jimini-0.3.0-x86_64-unknown-linux-gnu.tar.xz",
            "jimini-0.3.0.intoto.jsonl"
        ]
    );
    let not_rebuilt: Vec<&str> = plan.not_rebuilt.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        not_rebuilt,
        [
            "SHA256SUMS.minisig",
            "jimini-0.3.0-x86_64-unknown-linux-gnu.tar.xz.sig"
        ]
    );
    assert!(plan.dist_args.contains(&"--partial".to_owned()));
}

#[test]
fn compare_names_each_differing_file_and_where() {
    let scratch = crate::util::scratch("rebuild-compare");
    let dir = scratch.path();
    let (published, rebuilt) = (dir.join("a"), dir.join("b"));
    for d in [&published, &rebuilt] {
        fs_err::create_dir_all(d).unwrap();
        fs_err::write(d.join("same"), b"identical").unwrap();
    }
    fs_err::write(published.join("flipped"), b"abcdef").unwrap();
    fs_err::write(rebuilt.join("flipped"), b"abcXef").unwrap();
    fs_err::write(published.join("longer"), b"abc").unwrap();
    fs_err::write(rebuilt.join("longer"), b"abcd").unwrap();
    fs_err::write(published.join("gone"), b"x").unwrap();
    let files = ["flipped", "gone", "longer", "same"].map(String::from);
    let differences = compare(&published, &rebuilt, &files).unwrap();
    assert_eq!(
        differences,
        [
            Difference {
                file: "flipped".into(),
                detail: "first differs at byte 3".into()
            },
            Difference {
                file: "gone".into(),
                detail: "the rebuild did not make it".into()
            },
            Difference {
                file: "longer".into(),
                detail: "3 bytes published, 4 rebuilt".into()
            },
        ]
    );
}
