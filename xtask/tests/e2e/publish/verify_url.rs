//! `verify URL`: a release checked from where users download it, served over HTTPS on loopback
//! as GitHub lays a release out (`OWNER/REPO/releases/download/vX.Y.Z/`).

use std::path::Path;
use std::process::Command;

use crate::common::*;

/// The signed fixture dist served like a GitHub release: `verify URL` passes; a swapped file, a
/// missing file and a file added to `SHA256SUMS` each fail naming the file; plain `http://` is
/// refused; a host that never stops sending is cut off at the manifest's size, with peak memory
/// measured by GNU time and bounded.
#[test]
fn verify_url_checks_a_served_release_and_names_a_swapped_file() {
    let built = builds::dist(builds::Build::FixtureSigned);
    let (workspace, dist) = (&built.workspace, &built.dist);
    let manifest = read_manifest(dist);
    let version = manifest["version"].as_str().unwrap();
    let archive = artifact_name(&manifest, "archive");
    let site = temp_dir("verify-url-site");
    let path = format!("o/r/releases/download/v{version}");
    let release = site.join(&path);
    std::fs::create_dir_all(&release).unwrap();
    let serve_again = || {
        for (name, bytes) in snapshot(dist) {
            std::fs::write(release.join(name), bytes).unwrap();
        }
    };
    serve_again();
    let tls = https::loopback_certificate("verify-url-tls");
    let server = https::HttpsServer::start(&site, &tls, None);
    let url = format!("https://127.0.0.1:{}/{path}/", server.port);
    let verify = |url: &str| {
        let mut cmd = xtask(workspace);
        cmd.args(["verify", "--require-signature", url])
            .env("CURL_CA_BUNDLE", tls.join("cert.pem"));
        cmd
    };

    let output = run(&mut verify(&url));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!("artifacts in {url} verified, signature good")),
        "{}",
        stderr(&output)
    );
    // No file of the release is left behind on this machine.
    let json: serde_json::Value =
        serde_json::from_str(&checked(verify(&url).arg("--json"))).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["dir"], url.as_str());

    // The host serves other bytes (same length) for the archive.
    let mut bytes = std::fs::read(release.join(&archive)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(release.join(&archive), &bytes).unwrap();
    let said = expect_failure(&mut verify(&url), &archive);
    assert!(said.contains("is not a valid dist"), "{said}");
    // Longer: cut off at the manifest's size.
    bytes.extend_from_slice(b"more");
    std::fs::write(release.join(&archive), &bytes).unwrap();
    expect_failure(
        &mut verify(&url),
        &format!("{archive}: the host serves more than the"),
    );
    serve_again();

    // A file the host does not have.
    std::fs::remove_file(release.join("install.sh")).unwrap();
    expect_failure(
        &mut verify(&url),
        "install.sh: the host does not serve it (HTTP 404)",
    );
    serve_again();

    // A file in SHA256SUMS that the release does not list.
    let sums = std::fs::read_to_string(release.join("SHA256SUMS")).unwrap();
    std::fs::write(
        release.join("SHA256SUMS"),
        format!("{sums}{}  extra.bin\n", "0".repeat(64)),
    )
    .unwrap();
    expect_failure(&mut verify(&url), "extra.bin");
    serve_again();

    // Outside a checkout (a user who downloaded the tool, not the repository): only a key
    // passed with --public-key is trusted.
    let elsewhere = temp_dir("verify-url-elsewhere");
    let outside = |key: Option<&Path>| {
        let mut cmd = Command::new(XTASK);
        cmd.current_dir(&elsewhere)
            .args(["verify", "--require-signature", &url])
            .env("CURL_CA_BUNDLE", tls.join("cert.pem"))
            .env("NO_COLOR", "1");
        if let Some(key) = key {
            cmd.arg("--public-key").arg(key);
        }
        cmd
    };
    expect_failure(&mut outside(None), "no public key (pass --public-key FILE");
    let output = run(&mut outside(Some(&workspace.join("keys/jimini.pub"))));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        !stderr(&output).contains("could not find"),
        "{}",
        stderr(&output)
    );

    // `--published github`: the URL where `publish` put the dist's version, and the manifest
    // served there must be the dist's own.
    let published = |local: &Path| {
        let mut cmd = xtask(workspace);
        cmd.args(["verify", "--require-signature", "--published", "github"])
            .arg(local)
            .env(
                "GITHUB_SERVER_URL",
                format!("https://127.0.0.1:{}", server.port),
            )
            .env("GITHUB_REPOSITORY", "o/r")
            .env("CURL_CA_BUNDLE", tls.join("cert.pem"));
        cmd
    };
    let output = run(&mut published(dist));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains(&url), "{}", stderr(&output));
    let other = copy_dist(dist, "verify-published-other");
    let text = std::fs::read_to_string(other.join("dist-manifest.json")).unwrap();
    std::fs::write(other.join("dist-manifest.json"), format!("{text}\n")).unwrap();
    expect_failure(
        &mut published(&other),
        "the host serves another manifest than the dist that was built",
    );

    // Plain HTTP, even to this machine: refused before anything is fetched.
    let plain = url.replacen("https://", "http://", 1);
    expect_failure(&mut verify(&plain), "over HTTPS only");
    drop(server);

    // A host that never stops sending the archive: cut off at its listed size; peak memory
    // stays far below what the stream would need.
    let endless = https::HttpsServer::start(&site, &tls, Some(&archive));
    let url = format!("https://127.0.0.1:{}/{path}/", endless.port);
    let (output, peak_kib) = run_measured(
        Command::new(XTASK)
            .args(["verify", &url])
            .current_dir(workspace)
            .env("CURL_CA_BUNDLE", tls.join("cert.pem"))
            .env("NO_COLOR", "1"),
    );
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!("{archive}: the host serves more than the")),
        "{said}"
    );
    eprintln!("verify URL against an endless host: peak RSS {peak_kib} KiB");
    assert!(
        peak_kib < 256 * 1024,
        "peak RSS {peak_kib} KiB over 256 MiB"
    );
}
