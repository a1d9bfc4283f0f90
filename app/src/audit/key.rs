//! The audit key, its two derived subkeys, and key files.

#![allow(unused_imports)]
use super::*;

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(super) type HmacSha256 = Hmac<Sha256>;

pub(super) fn hmac_hex(key: &[u8; 32], parts: &[&[u8]]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// The audit key: a secret of at least 32 bytes. Two subkeys are derived from it so that the
/// record MAC and the text digest never share a key.
#[derive(Clone)]
pub struct AuditKey {
    pub(super) record_mac: [u8; 32],
    pub(super) text_digest: [u8; 32],
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

impl AuditKey {
    /// The key from its text (the variable's value or the key file's contents); surrounding
    /// whitespace is not part of it.
    pub fn from_secret(secret: &str) -> Result<AuditKey, String> {
        let secret = secret.trim();
        if secret.len() < MIN_KEY_LEN {
            return Err(format!(
                "the audit key is {} bytes long; it must have at least {MIN_KEY_LEN} \
                 (e.g. 64 hex digits: `openssl rand -hex 32`)",
                secret.len()
            ));
        }
        let derive = |purpose: &str| -> [u8; 32] {
            let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("any length");
            mac.update(purpose.as_bytes());
            mac.finalize().into_bytes().into()
        };
        Ok(AuditKey {
            record_mac: derive("jimini audit v2 record mac"),
            text_digest: derive("jimini audit v2 text digest"),
        })
    }

    /// A fresh secret: 32 random bytes as 64 hex digits.
    pub fn generate_secret() -> io::Result<String> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|err| io::Error::other(err.to_string()))?;
        Ok(hex::encode(bytes))
    }

    pub fn text_digest(&self, text: &str) -> String {
        hmac_hex(&self.text_digest, &[text.as_bytes()])
    }

    pub(super) fn record_mac(&self, signed: &[u8]) -> String {
        hmac_hex(&self.record_mac, &[signed])
    }
}

/// Reads the key file at `path`; on Unix a file that others may read is refused, as ssh does.
pub fn read_key_file(path: &Path) -> Result<AuditKey, String> {
    let secret = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read audit key file {}: {err}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|err| format!("cannot read audit key file {}: {err}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "audit key file {} may be read by others (mode {:o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            ));
        }
    }
    AuditKey::from_secret(&secret).map_err(|err| format!("{}: {err}", path.display()))
}

/// Writes `secret` to a new key file readable by its owner only; never replaces a file.
pub fn create_key_file(path: &Path, secret: &str) -> Result<AuditKey, String> {
    let error = |err: io::Error| format!("cannot create audit key file {}: {err}", path.display());
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(error)?;
    file.write_all(format!("{secret}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(error)?;
    AuditKey::from_secret(secret)
}
