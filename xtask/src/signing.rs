//! Signatures: minisign keys, `SHA256SUMS.minisig`, and checking it.
//!
//! The release signs one file, `SHA256SUMS`, which names every other file with its SHA-256, so
//! one signature covers the whole release. Keys and signatures are minisign's (the `minisign`
//! crate by minisign's author), so Debian's `minisign -Vm SHA256SUMS -p keys/jimini.pub`
//! verifies what this module writes.

use std::io::{Cursor, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::dist::manifest::CHECKSUMS_FILE;

pub const SIGNATURE_FILE: &str = "SHA256SUMS.minisig";
/// The secret key file's contents, for CI secrets; or only its key line (the second line),
/// which GitLab can mask (a masked variable is one line without spaces).
pub const SIGNING_KEY_VAR: &str = "JIMINI_SIGNING_KEY";
pub const PASSWORD_VAR: &str = "JIMINI_SIGNING_KEY_PASSWORD";

/// Where the secret key comes from; it is read (and decrypted) before the build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeySource {
    File(PathBuf),
    /// The key file's contents in [`SIGNING_KEY_VAR`].
    Environment,
}

impl KeySource {
    /// `--signing-key FILE` wins over the environment; neither means an unsigned release.
    pub fn find(flag: Option<PathBuf>) -> Option<KeySource> {
        match flag {
            Some(path) => Some(KeySource::File(std::path::absolute(&path).unwrap_or(path))),
            None if std::env::var_os(SIGNING_KEY_VAR).is_some_and(|v| !v.is_empty()) => {
                Some(KeySource::Environment)
            }
            None => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            KeySource::File(path) => path.display().to_string(),
            KeySource::Environment => format!("${SIGNING_KEY_VAR}"),
        }
    }
}

/// A secret key, decrypted, with the public key it belongs to.
pub struct Signer {
    secret: minisign::SecretKey,
    public: minisign::PublicKey,
}

/// The password of an encrypted key: the environment, else the terminal.
fn password(purpose: &str) -> anyhow::Result<Option<String>> {
    if let Ok(password) = std::env::var(PASSWORD_VAR) {
        return Ok(Some(password));
    }
    if std::io::stdin().is_terminal() {
        // minisign asks on the terminal when given no password.
        eprintln!("{purpose}");
        return Ok(None);
    }
    bail!("the signing key is encrypted: set {PASSWORD_VAR} (there is no terminal to ask on)")
}

/// A secret key file's text from the variable: the whole file, or its key line alone.
fn key_file_text(value: &str) -> String {
    let value = value.trim();
    if value.lines().count() == 1 && !value.starts_with("untrusted comment:") {
        format!("untrusted comment: {SIGNING_KEY_VAR}\n{value}\n")
    } else {
        value.to_owned()
    }
}

pub fn read_public_key(path: &Path) -> anyhow::Result<minisign::PublicKey> {
    let text = fs_err::read_to_string(path).with_context(|| {
        format!(
            "cannot read the public key {}: create a key pair with `cargo xtask keygen`",
            path.display()
        )
    })?;
    minisign::PublicKeyBox::from_string(&text)
        .and_then(|boxed| boxed.into_public_key())
        .map_err(|err| anyhow::anyhow!("{} is not a minisign public key: {err}", path.display()))
}

impl Signer {
    /// Reads and decrypts the secret key and checks that it belongs to `public_key`.
    pub fn load(source: &KeySource, public_key: &Path) -> anyhow::Result<Signer> {
        let text = match source {
            KeySource::File(path) => fs_err::read_to_string(path)
                .with_context(|| format!("cannot read the signing key {}", path.display()))?,
            KeySource::Environment => key_file_text(
                &std::env::var(SIGNING_KEY_VAR)
                    .with_context(|| format!("{SIGNING_KEY_VAR} is not valid UTF-8"))?,
            ),
        };
        let boxed = minisign::SecretKeyBox::from_string(&text).map_err(|err| {
            anyhow::anyhow!("{} is not a minisign secret key: {err}", source.describe())
        })?;
        let secret = match boxed.clone().into_unencrypted_secret_key() {
            Ok(secret) => secret,
            Err(err) if !err.to_string().contains("encrypted") => bail!(
                "{} is not a usable minisign secret key: {err}",
                source.describe()
            ),
            Err(_) => boxed
                .into_secret_key(password("password of the signing key:")?)
                .map_err(|err| {
                    anyhow::anyhow!(
                        "cannot decrypt the signing key {}: {err} (wrong {PASSWORD_VAR}?)",
                        source.describe()
                    )
                })?,
        };
        let public = read_public_key(public_key)?;
        // Sign something and check it with the public key: a key of another pair is caught
        // before the build, not after.
        minisign::sign(Some(&public), &secret, Cursor::new(b"probe"), None, None).map_err(
            |_| {
                anyhow::anyhow!(
                    "the signing key {} does not belong to the public key {}: use the secret \
                     key made with it, or make a new pair with `cargo xtask keygen`",
                    source.describe(),
                    public_key.display()
                )
            },
        )?;
        Ok(Signer { secret, public })
    }

    pub fn public_key(&self) -> &minisign::PublicKey {
        &self.public
    }

    /// Loads the plan's signing key, if it has one; says once that a release is unsigned.
    pub fn for_plan(
        signing: &crate::dist::plan::SigningPlan,
        root: &Path,
        progress: &crate::progress::Progress,
    ) -> anyhow::Result<Option<Signer>> {
        match (&signing.key, &signing.public_key) {
            (Some(key), Some(public_key)) => Signer::load(key, &root.join(public_key)).map(Some),
            (Some(_), None) => bail!("the plan signs without a public key"),
            (None, _) => {
                progress.warn(format!(
                    "the release is unsigned: pass --signing-key FILE or set {SIGNING_KEY_VAR} \
                     to sign {CHECKSUMS_FILE}"
                ));
                Ok(None)
            }
        }
    }

    /// Writes `SHA256SUMS.minisig` in `dir`.
    pub fn sign_checksums(&self, dir: &Path, trusted_comment: &str) -> anyhow::Result<()> {
        let checksums = fs_err::read(dir.join(CHECKSUMS_FILE))?;
        let signature = minisign::sign(
            Some(&self.public),
            &self.secret,
            Cursor::new(checksums),
            Some(trusted_comment),
            Some("signature from the jimini release key"),
        )
        .map_err(|err| anyhow::anyhow!("cannot sign {CHECKSUMS_FILE}: {err}"))?;
        fs_err::write(dir.join(SIGNATURE_FILE), signature.to_string())?;
        Ok(())
    }
}

/// The trusted comment: signed along with the file, shown by `minisign -V`.
pub fn trusted_comment(app: &str, version: &str, commit: &str, source_date_epoch: i64) -> String {
    format!(
        "timestamp:{source_date_epoch}\tfile:{CHECKSUMS_FILE}\tapp:{app}\tversion:{version}\tcommit:{commit}"
    )
}

/// Checks `dir`'s `SHA256SUMS.minisig` against `public_key`; returns its trusted comment.
pub fn verify_checksums(dir: &Path, public_key: &minisign::PublicKey) -> Result<String, String> {
    let text = fs_err::read_to_string(dir.join(SIGNATURE_FILE))
        .map_err(|err| format!("{SIGNATURE_FILE}: cannot be read: {err}"))?;
    let signature = minisign::SignatureBox::from_string(&text)
        .map_err(|err| format!("{SIGNATURE_FILE} is not a minisign signature: {err}"))?;
    let checksums = fs_err::read(dir.join(CHECKSUMS_FILE))
        .map_err(|err| format!("{CHECKSUMS_FILE}: cannot be read: {err}"))?;
    minisign::verify(
        public_key,
        &signature,
        Cursor::new(checksums),
        true,
        false,
        false,
    )
    .map_err(|err| format!("{SIGNATURE_FILE} does not verify {CHECKSUMS_FILE}: {err}"))?;
    signature
        .trusted_comment()
        .map_err(|err| format!("{SIGNATURE_FILE}: {err}"))
}

#[cfg(test)]
mod key_line_tests {
    use super::*;

    #[test]
    fn the_key_line_alone_reads_as_the_whole_file() {
        let pair = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        let file = pair.sk.to_box(None).unwrap().to_string();
        let line = file.lines().nth(1).unwrap();
        assert!(!line.contains(' ') && !line.is_empty(), "maskable: {line}");
        for value in [file.as_str(), line, &format!("{line}\n")] {
            let boxed = minisign::SecretKeyBox::from_string(&key_file_text(value)).unwrap();
            let secret = boxed.into_unencrypted_secret_key().unwrap();
            let signature =
                minisign::sign(Some(&pair.pk), &secret, Cursor::new(b"x"), None, None).unwrap();
            minisign::verify(&pair.pk, &signature, Cursor::new(b"x"), true, false, false).unwrap();
        }
    }
}
