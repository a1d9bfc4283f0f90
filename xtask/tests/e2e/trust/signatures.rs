//! Signatures: Debian's minisign and verify accept a signed dist, refuse tampered, foreign and missing ones; keygen never replaces a key.

use super::*;
use crate::common::*;

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
    // Each package a client fetches by itself has its own signature, which Debian's minisign
    // verifies with the public key; its trusted comment names the file and the release.
    let manifest = read_manifest(dist);
    let packages: Vec<String> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            ["archive", "fallback-archive", "deb", "wheel"].contains(&a["kind"].as_str().unwrap())
        })
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(packages.len() >= 3, "{packages:?}");
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    for package in &packages {
        let said = checked(
            Command::new("minisign")
                .current_dir(dist)
                .args(["-V", "-m", package, "-x", &format!("{package}.sig"), "-p"])
                .arg(copy.join("keys/jimini.pub")),
        );
        assert!(
            said.contains(&format!("file:{package}\t"))
                && said.contains(&format!("version:{}", version(dist))),
            "{said}"
        );
        assert!(sums.contains(&format!("  {package}.sig\n")), "{sums}");
    }
    // A signed dist is ours to replace: the next signed run into the same directory works,
    // and signing is deterministic: the same key gives the same bytes.
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
    for file in ["SHA256SUMS", "SHA256SUMS.minisig", "dist-manifest.json"] {
        assert_eq!(
            std::fs::read(dist.join(file)).unwrap(),
            std::fs::read(again.join(file)).unwrap(),
            "{file} differs between two signed runs"
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
    install_refused(
        &flipped,
        "does not verify with any release key this installer trusts",
    );

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
    verify(
        &foreign,
        "SHA256SUMS.minisig does not verify SHA256SUMS: signed by key",
    );
    install_refused(
        &foreign,
        "does not verify with any release key this installer trusts",
    );

    // An archive's own signature replaced by the signature of another package: named.
    let swapped = copy_dist(dist, "swapped-sig");
    let manifest = read_manifest(dist);
    let archive = artifact_name(&manifest, "archive");
    let deb = artifact_name(&manifest, "deb");
    let sig = format!("{archive}.sig");
    std::fs::copy(swapped.join(format!("{deb}.sig")), swapped.join(&sig)).unwrap();
    verify(&swapped, &format!("{sig} does not verify {archive}"));

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
    // The history of the removed key stays until it is moved away: a fork starts its own.
    expect_failure(
        xtask(&dir)
            .args(["keygen", "--unencrypted", "--secret-key"])
            .arg(outside.join("new.key")),
        "holds the key history of another key",
    );
    std::fs::remove_dir_all(dir.join("keys/history")).unwrap();
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
    let other = release_key(&fixture_workspace());
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
