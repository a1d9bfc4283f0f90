//! cargo-binstall installs the release archive the crate metadata names, with
//! `--only-signed`: it checks the archive's `.sig` with the key in the metadata, and refuses an
//! archive replaced under its signature.

use super::*;
use crate::common::builds::{Build, dist as build};
use crate::common::*;

#[test]
fn cargo_binstall_only_signed_installs_the_signed_archive_and_refuses_a_replaced_one() {
    let signed = build(Build::FixtureSigned);
    let (copy, dist) = (&signed.workspace, &signed.dist);
    let version = version(dist);
    let manifest = read_manifest(dist);
    let archive = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "archive" && a["target"] == host().as_str())
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    // A release page as GitHub lays it out, on a loopback server.
    let site = temp_dir("binstall-site");
    let release = site.join(format!("jimini-dev/jimini/releases/download/v{version}"));
    std::fs::create_dir_all(&release).unwrap();
    for (name, bytes) in snapshot(dist) {
        std::fs::write(release.join(name), bytes).unwrap();
    }
    // cargo-binstall downloads over HTTPS only: a certificate for 127.0.0.1 that it trusts
    // through SSL_CERT_FILE.
    let tls = https::loopback_certificate("binstall-tls");
    let server = https::HttpsServer::start(&site, &tls, None);
    let port = server.port;
    // The crate's own manifests, with `repository` pointing at that server.
    let manifests = temp_dir("binstall-manifests");
    let root = std::fs::read_to_string(copy.join("Cargo.toml")).unwrap();
    let repository = "https://github.com/jimini-dev/jimini";
    assert!(root.contains(&format!("repository = \"{repository}\"")));
    let local = root.replace(
        &format!("repository = \"{repository}\""),
        &format!("repository = \"https://127.0.0.1:{port}/jimini-dev/jimini\""),
    );
    std::fs::write(manifests.join("Cargo.toml"), local).unwrap();
    std::fs::create_dir_all(manifests.join("app")).unwrap();
    std::fs::copy(
        copy.join("app/Cargo.toml"),
        manifests.join("app/Cargo.toml"),
    )
    .unwrap();

    let binstall = |root_dir: &Path| {
        run(Command::new(cargo_tool(xtask::pins::CARGO_BINSTALL))
            .args([
                "binstall",
                "--no-confirm",
                "--no-track",
                "--force",
                "--only-signed",
            ])
            .args(["--disable-strategies", "quick-install,compile"])
            .arg("--manifest-path")
            .arg(manifests.join("app/Cargo.toml"))
            .arg("--root")
            .arg(root_dir)
            .args(["--targets", &host()])
            .arg("jimini")
            .env("CARGO_HOME", temp_dir("binstall-cargo-home"))
            .env("SSL_CERT_FILE", tls.join("cert.pem"))
            .env("BINSTALL_DISABLE_TELEMETRY", "true"))
    };
    let root_dir = temp_dir("binstall-root");
    let output = binstall(&root_dir);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert!(
        output.status.success(),
        "cargo binstall failed ({:?}):\n{said}",
        output.status
    );
    // cargo-binstall says what it checked: the trusted comment of the archive's own signature.
    assert!(
        said.contains("Verified signature for package 'jimini'")
            && said.contains(&format!("file:{archive}\t")),
        "{said}"
    );
    for binary in ["jimini", "jimini-admin", "jimini-server"] {
        let line = checked(Command::new(root_dir.join("bin").join(binary)).arg("--version"));
        assert!(
            line.starts_with(&format!("{binary} {version} (")) && line.contains(&host()),
            "{line}"
        );
    }

    // The archive replaced by another valid one (the same files, compressed again with
    // another xz preset: other bytes), its .sig kept.
    let tar = temp_dir("binstall-repack").join("archive.tar");
    let unpacked = run(Command::new("xz").arg("-dc").arg(release.join(&archive)));
    assert!(unpacked.status.success() && !unpacked.stdout.is_empty());
    std::fs::write(&tar, &unpacked.stdout).unwrap();
    let repacked = run(Command::new("xz").args(["-0", "-c"]).arg(&tar));
    assert!(repacked.status.success());
    assert_ne!(
        repacked.stdout,
        std::fs::read(release.join(&archive)).unwrap()
    );
    std::fs::write(release.join(&archive), &repacked.stdout).unwrap();
    let refused_root = temp_dir("binstall-refused-root");
    let output = binstall(&refused_root);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert!(
        !output.status.success(),
        "installed a replaced archive:\n{said}"
    );
    assert!(said.contains("signature"), "{said}");
    assert!(!refused_root.join("bin/jimini").exists(), "{said}");
    drop(server);
}
