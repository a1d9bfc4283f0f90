//! The release key's lifecycle: release 1 signed by key A, `rotate-key` to B, release 2 signed
//! by B; both verify and release 2's install.sh installs both; `revoke-key` A (signed by B):
//! release 1 is refused by `verify` and by the next install.sh, naming the revocation; a
//! broken transition is refused. Debian's minisign checks the transition with the old key.

use super::*;

/// The history entries of `workspace`, by name.
fn history(workspace: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace.join("keys/history"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn key_line(public_key: &Path) -> String {
    let text = std::fs::read_to_string(public_key).unwrap();
    text.lines().nth(1).unwrap().to_owned()
}

/// The id minisign prints for a public key file ("minisign public key: <ID>").
fn key_id(public_key: &Path) -> String {
    let text = std::fs::read_to_string(public_key).unwrap();
    text.lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned()
}

/// `dist` signed with `secret` in the keys clone, into a new directory.
fn signed_dist(secret: &Path, label: &str) -> PathBuf {
    let out = temp_dir(label).join("dist");
    checked(
        xtask_fast_clone(FixtureClone::Keys)
            .args(["dist", "--quiet", "--require-signature", "--signing-key"])
            .arg(secret)
            .arg("--out")
            .arg(&out),
    );
    out
}

/// Runs `installer` (a dist's install.sh) on the release in `from`, insisting on a signature.
fn install(installer: &Path, from: &Path, to: &Path) -> std::process::Output {
    run(Command::new("sh")
        .arg(installer.join("install.sh"))
        .args(["--require-signature", "--version", &version(from), "--to"])
        .arg(to)
        .env(
            "JIMINI_INSTALL_BASE_URL",
            format!("file://{}", from.display()),
        ))
}

#[test]
fn a_rotated_key_keeps_old_releases_verifying_until_it_is_revoked() {
    let workspace = cloned_workspace(FixtureClone::Keys);
    let key_a = release_key(&fixture_workspace());
    let public = workspace.join("keys/jimini.pub");
    let (line_a, id_a) = (key_line(&public), key_id(&public));
    let release_1 = signed_dist(&key_a, "keys-release-1");

    // Rotate: the new secret key outside the workspace, the history, the key file and
    // binstall's metadata in one change.
    let secrets = temp_dir("keys-secrets");
    let key_b = secrets.join("b.key");
    expect_failure(
        xtask(&workspace)
            .args(["rotate-key", "--unencrypted", "--signing-key"])
            .arg(secrets.join("missing.key"))
            .arg("--secret-key")
            .arg(&key_b),
        "cannot read the signing key",
    );
    assert_eq!(git(&workspace, &["status", "--porcelain"]).trim(), "");
    checked(
        xtask(&workspace)
            .args(["rotate-key", "--unencrypted", "--signing-key"])
            .arg(&key_a)
            .arg("--secret-key")
            .arg(&key_b)
            .args(["--reason", "yearly rotation"]),
    );
    let (line_b, id_b) = (key_line(&public), key_id(&public));
    assert_ne!(line_a, line_b);
    assert_eq!(
        history(&workspace),
        [
            "0001-genesis.txt",
            "0002-rotate.txt",
            "0002-rotate.txt.minisig"
        ]
    );
    let cargo_toml = std::fs::read_to_string(workspace.join("app/Cargo.toml")).unwrap();
    assert!(
        cargo_toml.contains(&format!("pubkey = \"{line_b}\"")) && !cargo_toml.contains(&line_a),
        "binstall's key follows the rotation"
    );
    // Anyone who trusted key A checks the transition with A alone, using Debian's minisign.
    let transition = workspace.join("keys/history/0002-rotate.txt");
    let said = checked(
        Command::new("minisign")
            .args(["-V", "-P", &line_a, "-m"])
            .arg(&transition),
    );
    assert!(
        said.contains("Signature and comment signature verified"),
        "{said}"
    );
    let text = std::fs::read_to_string(&transition).unwrap();
    assert!(
        text.contains(&format!("from: {line_a}\nto: {line_b}\n")),
        "{text}"
    );
    git(&workspace, &["add", "-A"]);
    commit(&workspace, "rotate the release key", "2026-02-03T04:05:06Z");

    // The old key signs no longer, as the current one.
    expect_failure(
        xtask_fast_clone(FixtureClone::Keys)
            .args(["dist", "--signing-key"])
            .arg(&key_a)
            .arg("--out")
            .arg(temp_dir("keys-old-key").join("dist")),
        "does not belong to the public key",
    );
    let release_2 = signed_dist(&key_b, "keys-release-2");
    for release in [&release_1, &release_2] {
        checked(
            xtask(&workspace)
                .args(["verify", "--require-signature"])
                .arg(release),
        );
    }
    // Release 2's install.sh trusts both keys: it installs release 1 and release 2.
    for (release, id) in [(&release_1, &id_a), (&release_2, &id_b)] {
        let to = temp_dir("keys-install").join("bin");
        let output = install(&release_2, release, &to);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!("(release key {id})")),
            "{}",
            stderr(&output)
        );
        assert!(to.join("jimini").is_file());
    }

    // A transition whose signature is broken: every command that reads the history refuses.
    let signature = workspace.join("keys/history/0002-rotate.txt.minisig");
    let genuine = std::fs::read_to_string(&signature).unwrap();
    let broken = genuine.replacen("\ntrusted comment: ", "\ntrusted comment: x", 1);
    std::fs::write(&signature, broken).unwrap();
    expect_failure(
        xtask(&workspace).arg("verify").arg(&release_2),
        "0002-rotate.txt: its signature is not good",
    );
    std::fs::write(&signature, genuine).unwrap();

    // Revoke A, signed by B: release 1 is refused by name, release 2 still verifies.
    checked(
        xtask(&workspace)
            .args(["revoke-key", &id_a.to_lowercase(), "--signing-key"])
            .arg(&key_b)
            .args(["--reason", "leaked"]),
    );
    assert_eq!(
        history(&workspace)[3..],
        ["0003-revoke.txt", "0003-revoke.txt.minisig"]
    );
    expect_failure(
        xtask(&workspace).arg("verify").arg(&release_1),
        &format!("signed by key {id_a}, which is revoked"),
    );
    checked(xtask(&workspace).arg("verify").arg(&release_2));
    expect_failure(
        xtask(&workspace)
            .args(["revoke-key", &id_a, "--signing-key"])
            .arg(&key_b)
            .args(["--reason", "again"]),
        "revoked already",
    );
    git(&workspace, &["add", "-A"]);
    commit(&workspace, "revoke the old key", "2026-02-04T04:05:06Z");

    // The next release's install.sh refuses release 1, naming the revocation.
    let release_3 = signed_dist(&key_b, "keys-release-3");
    let to = temp_dir("keys-install-revoked").join("bin");
    let output = install(&release_3, &release_1, &to);
    let said = stderr(&output);
    assert!(!output.status.success() && !to.exists(), "{said}");
    assert!(
        said.contains(&format!(
            "signed by key {id_a}, which the key history revoked"
        )) && said.contains("0003-revoke.txt")
            && said.contains("leaked"),
        "{said}"
    );
    let output = install(&release_3, &release_2, &to);
    assert!(output.status.success(), "{}", stderr(&output));
}
