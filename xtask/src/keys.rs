//! The release keys a verifier trusts, from their signed history in `keys/history/`.
//!
//! The directory beside the public key (default `keys/jimini.pub`) holds one text file per
//! event, numbered from 1, each (but the first) with a minisign signature beside it:
//!
//! ```text
//! keys/jimini.pub                          the current key (minisign's public key file)
//! keys/history/0001-genesis.txt            the first key: trusted because it is committed
//! keys/history/0002-rotate.txt(.minisig)   a new key, signed by the key it takes over from
//! keys/history/0003-revoke.txt(.minisig)   a revoked key, signed by a key trusted then
//! ```
//!
//! An entry is `name: value` lines after a title line; `previous` is the SHA-256 of the entry
//! before it, so entries cannot be reordered or dropped from the middle:
//!
//! ```text
//! jimini release key history
//! entry: 2
//! previous: 5d41402abc4b2a76b9719d911017c592...
//! event: rotate
//! from: RWTrogx/0PWevdV6hipx4ao9+qtSwfC+goQigKa/OcRq4PRSBpEKp8L/
//! to: RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3
//! date: 2026-12-03
//! reason: scheduled rotation
//! ```
//!
//! Replaying the history gives a [`Keyring`]: every key ever rotated to is trusted until a
//! revocation names it; a revoked key's signatures are refused on every release, old ones
//! included (a leaked key can sign anything, with any date). A workspace without a history
//! trusts its public key alone.

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use anyhow::bail;

pub const HISTORY_DIR: &str = "history";
pub const SIGNATURE_EXTENSION: &str = ".minisig";

/// minisign's key id, as `minisign` prints it (`BD9EF5D07F0CA2EB`).
pub fn key_id(key: &minisign::PublicKey) -> String {
    id_of_keynum(key.keynum())
}

fn id_of_keynum(keynum: &[u8]) -> String {
    keynum.iter().rev().map(|b| format!("{b:02X}")).collect()
}

pub fn parse_key(base64: &str) -> anyhow::Result<minisign::PublicKey> {
    minisign::PublicKey::from_base64(base64)
        .map_err(|err| anyhow::anyhow!("{base64:?} is not a minisign public key: {err}"))
}

/// A key the history trusts.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub id: String,
    pub key: minisign::PublicKey,
}

/// A key the history revoked, and where.
#[derive(Debug, Clone)]
pub struct RevokedKey {
    pub id: String,
    pub key: minisign::PublicKey,
    pub entry: String,
    pub date: String,
    pub reason: String,
}

/// What a verifier trusts.
#[derive(Debug, Clone)]
pub struct Keyring {
    /// Oldest first; the last is the current key.
    pub trusted: Vec<TrustedKey>,
    pub revoked: Vec<RevokedKey>,
    /// Where the keys came from, for messages.
    pub source: String,
}

/// What a signature is checked over: a file, or bytes in a `Cursor`.
pub trait Signed: Read + Seek {}
impl<T: Read + Seek> Signed for T {}

/// A signature that verified: its trusted comment and the key's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub comment: String,
    pub key_id: String,
}

impl Keyring {
    /// Trust in one key (`--public-key FILE`, or a workspace without a history).
    pub fn single(key: minisign::PublicKey, source: &str) -> Keyring {
        Keyring {
            trusted: vec![TrustedKey {
                id: key_id(&key),
                key,
            }],
            revoked: vec![],
            source: source.to_owned(),
        }
    }

    pub fn current(&self) -> &TrustedKey {
        self.trusted.last().expect("a keyring trusts a key")
    }

    /// Checks the minisign signature `signature` (its text) of `data` with the key it names;
    /// a revoked or unknown key is refused, naming it.
    pub fn verify(&self, signature: &str, data: &mut dyn Signed) -> Result<Verified, String> {
        let signature = minisign::SignatureBox::from_string(signature)
            .map_err(|err| format!("not a minisign signature: {err}"))?;
        let id = id_of_keynum(signature.keynum());
        if let Some(revoked) = self.revoked.iter().find(|r| r.id == id) {
            return Err(format!(
                "signed by key {id}, which is revoked ({} {}, {}: {})",
                self.source, revoked.entry, revoked.date, revoked.reason
            ));
        }
        let Some(trusted) = self.trusted.iter().find(|t| t.id == id) else {
            return Err(format!(
                "signed by key {id}, which {} does not contain (it trusts {})",
                self.source,
                self.trusted
                    .iter()
                    .map(|t| t.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        minisign::verify(&trusted.key, &signature, data, true, false, false)
            .map_err(|err| format!("does not verify with key {id}: {err}"))?;
        let comment = signature.trusted_comment().map_err(|err| err.to_string())?;
        Ok(Verified {
            comment,
            key_id: id,
        })
    }

    /// The workspace's keys: the history beside `public_key` (whose current key must be the
    /// file's), or the file's key alone. `None` without a public key.
    pub fn load(public_key: &Path) -> anyhow::Result<Option<Keyring>> {
        if !public_key.is_file() {
            return Ok(None);
        }
        let key = crate::signing::read_public_key(public_key)?;
        let dir = history_dir(public_key);
        if !dir.exists() {
            return Ok(Some(Keyring::single(
                key,
                &public_key.display().to_string(),
            )));
        }
        let keyring = replay(&read_history(&dir)?, &dir.display().to_string())?;
        if keyring.current().id != key_id(&key) {
            bail!(
                "{} is key {}, but the history in {} ends with key {}: a key is changed with \
                 `cargo xtask rotate-key`, which writes both",
                public_key.display(),
                key_id(&key),
                dir.display(),
                keyring.current().id
            );
        }
        Ok(Some(keyring))
    }

    /// `--public-key PATH`: a public key file, or a history directory.
    pub fn from_path(path: &Path) -> anyhow::Result<Keyring> {
        if path.is_dir() {
            return replay(&read_history(path)?, &path.display().to_string());
        }
        let key = crate::signing::read_public_key(path)?;
        Ok(Keyring::single(key, &path.display().to_string()))
    }
}

pub fn history_dir(public_key: &Path) -> PathBuf {
    public_key
        .parent()
        .unwrap_or(Path::new("."))
        .join(HISTORY_DIR)
}

pub use history::{Entry, Event, Recorded, read_history, replay, sha256_hex};

mod history;
#[cfg(test)]
mod tests;
