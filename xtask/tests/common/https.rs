//! A loopback HTTPS server for the tests that download as users do (cargo-binstall, `verify
//! URL`): a certificate for 127.0.0.1 and Python's server wrapped in TLS
//! (tests/fixtures/https_server.py).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::{checked, temp_dir};

/// A certificate and key for 127.0.0.1 (`cert.pem`, `key.pem` in the returned directory); a
/// client trusts it through `SSL_CERT_FILE` (rustls, OpenSSL) or `CURL_CA_BUNDLE` (curl).
pub fn loopback_certificate(label: &str) -> PathBuf {
    let tls = temp_dir(label);
    checked(
        Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            // A server certificate, not a CA: rustls refuses a CA as the end entity.
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(tls.join("key.pem"))
            .arg("-out")
            .arg(tls.join("cert.pem"))
            .stderr(Stdio::null()),
    );
    tls
}

/// Serves `site` over HTTPS until dropped; `endless` names a file answered without end.
pub struct HttpsServer {
    child: Child,
    pub port: u16,
}

impl HttpsServer {
    pub fn start(site: &Path, tls: &Path, endless: Option<&str>) -> HttpsServer {
        let mut command = Command::new("python3");
        command
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/https_server.py"))
            .arg(site)
            .arg(tls.join("cert.pem"))
            .arg(tls.join("key.pem"));
        if let Some(name) = endless {
            command.args(["--endless", name]);
        }
        let (child, port) = super::spawn_announcing_port(command.stderr(Stdio::null()));
        HttpsServer { child, port }
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
