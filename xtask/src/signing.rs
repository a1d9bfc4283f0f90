//! Signatures: minisign keys, `SHA256SUMS.minisig`, the `<file>.sig` beside each package, and
//! checking them.
//!
//! `SHA256SUMS` names every other file with its SHA-256, so its signature covers the whole
//! release; clients that fetch one file by itself (cargo-binstall) check that file's own
//! `.sig`. Keys and signatures are minisign's (read and checked with the `minisign` crate by
//! minisign's author), so Debian's `minisign -Vm SHA256SUMS -p keys/jimini.pub` verifies what
//! this module writes.
//!
//! **Architecture Invariant:** signing is deterministic. The minisign crate adds random noise
//! to every signature; [`Signer::sign`] makes the same Ed25519 signature (RFC 8032, over
//! minisign's BLAKE2b-512 prehash) without it, so a release signed twice with one key is the
//! same bytes and the `.sig` files can be listed in `SHA256SUMS` like any file.

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
    /// minisign's key id, in every signature.
    keynum: [u8; 8],
    secret: ed25519_compact::SecretKey,
    public: minisign::PublicKey,
}

/// The suffix of a package's own signature, where cargo-binstall looks for it.
pub const FILE_SIGNATURE_SUFFIX: &str = ".sig";

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
        let signer = Signer::from_minisign(&secret, public)?;
        // Sign something and check it with the public key: a key of another pair is caught
        // before the build, not after.
        let probe = signer.sign(&mut Cursor::new(b"probe"), "probe")?;
        let own = crate::keys::Keyring::single(signer.public.clone(), "the public key");
        own.verify(&probe, &mut Cursor::new(b"probe"))
            .map_err(|_| {
                anyhow::anyhow!(
                    "the signing key {} does not belong to the public key {}: use the secret \
                 key made with it, or make a new pair with `cargo xtask keygen`",
                    source.describe(),
                    public_key.display()
                )
            })?;
        Ok(signer)
    }

    /// The decrypted minisign secret key's id and Ed25519 key (seed and public half).
    pub fn from_minisign(
        secret: &minisign::SecretKey,
        public: minisign::PublicKey,
    ) -> anyhow::Result<Signer> {
        // `SecretKey::to_bytes`: algorithm, KDF and checksum ids (2 bytes each), KDF salt (32),
        // ops and memory limits (8 each), then the key id (8) and the Ed25519 key (64).
        let bytes = secret.to_bytes();
        let (keynum, key) = (bytes.get(54..62), bytes.get(62..126));
        let (Some(keynum), Some(key)) = (keynum, key) else {
            bail!("the minisign secret key is too short");
        };
        Ok(Signer {
            keynum: keynum.try_into()?,
            secret: ed25519_compact::SecretKey::from_slice(key)
                .map_err(|err| anyhow::anyhow!("the minisign secret key is not Ed25519: {err}"))?,
            public,
        })
    }

    /// A minisign signature (prehashed, `ED`) of everything `data` yields, with
    /// `trusted_comment`; the same inputs always give the same text.
    pub fn sign(
        &self,
        data: &mut dyn std::io::Read,
        trusted_comment: &str,
    ) -> anyhow::Result<String> {
        use base64::Engine as _;
        use blake2::Digest as _;
        let mut prehash = blake2::Blake2b512::new();
        let mut buffer = vec![0; 1 << 16];
        loop {
            let read = data
                .read(&mut buffer)
                .context("cannot read what is signed")?;
            if read == 0 {
                break;
            }
            prehash.update(&buffer[..read]);
        }
        let signature = self.secret.sign(prehash.finalize(), None);
        let mut signed_line = b"ED".to_vec();
        signed_line.extend(self.keynum);
        signed_line.extend(signature.as_ref());
        let mut global = signature.to_vec();
        global.extend(trusted_comment.as_bytes());
        let global = self.secret.sign(&global, None);
        let base64 = base64::engine::general_purpose::STANDARD;
        Ok(format!(
            "untrusted comment: signature from the {UNTRUSTED_COMMENT_KEY} release key\n{}\n\
             trusted comment: {trusted_comment}\n{}\n",
            base64.encode(signed_line),
            base64.encode(global.as_ref())
        ))
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

    /// Writes `<file>.sig` (or `SHA256SUMS.minisig`) for `dir`'s `file` into `dir`.
    pub fn sign_file(
        &self,
        dir: &Path,
        file: &str,
        signature: &str,
        trusted_comment: &str,
    ) -> anyhow::Result<()> {
        let mut reader = fs_err::File::open(dir.join(file))?;
        let text = self
            .sign(&mut reader, trusted_comment)
            .with_context(|| format!("cannot sign {file}"))?;
        fs_err::write(dir.join(signature), text)?;
        Ok(())
    }
}

/// The untrusted comment's name for the key (minisign shows it; nothing relies on it).
const UNTRUSTED_COMMENT_KEY: &str = "jimini";

/// The trusted comment: signed along with the file, shown by `minisign -V`.
pub fn trusted_comment(
    file: &str,
    app: &str,
    version: &str,
    commit: &str,
    source_date_epoch: i64,
) -> String {
    format!(
        "timestamp:{source_date_epoch}\tfile:{file}\tapp:{app}\tversion:{version}\tcommit:{commit}"
    )
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
