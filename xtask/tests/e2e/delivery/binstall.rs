//! cargo-binstall installs the release archive the crate metadata names.

use super::*;
use crate::common::*;

#[test]
fn cargo_binstall_installs_the_release_archive_named_by_the_crate_metadata() {
    let (copy, dist) = built();
    let version = version(dist);
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

    let root_dir = temp_dir("binstall-root");
    let output = run(Command::new(cargo_tool(xtask::pins::CARGO_BINSTALL))
        .args(["binstall", "--no-confirm", "--no-track", "--force"])
        .args(["--disable-strategies", "quick-install,compile"])
        .arg("--manifest-path")
        .arg(manifests.join("app/Cargo.toml"))
        .arg("--root")
        .arg(&root_dir)
        .args(["--targets", &host()])
        .arg("jimini")
        .env("CARGO_HOME", temp_dir("binstall-cargo-home"))
        .env("SSL_CERT_FILE", tls.join("cert.pem"))
        .env("BINSTALL_DISABLE_TELEMETRY", "true"));
    drop(server);
    assert!(
        output.status.success(),
        "cargo binstall failed ({:?}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    for binary in ["jimini", "jimini-admin", "jimini-server"] {
        let line = checked(Command::new(root_dir.join("bin").join(binary)).arg("--version"));
        assert!(
            line.starts_with(&format!("{binary} {version} (")) && line.contains(&host()),
            "{line}"
        );
    }
}
