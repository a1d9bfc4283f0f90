//! One line of the log: the record formats, the head, and the MAC over a line's bytes.

#![allow(unused_imports)]
use super::*;

/// A format-2 record, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    pub v: u32,
    pub seq: u64,
    pub time_unix_ms: u64,
    pub endpoint: Option<String>,
    pub direction: Option<String>,
    pub decision: Decision,
    pub rules_decision: Decision,
    pub shadow: bool,
    pub rule_ids: Vec<String>,
    pub text_hmac: String,
    pub text_len: usize,
    pub prev_sha256: String,
    /// Serialized last; covers every byte of the line before it.
    #[serde(skip_serializing)]
    pub mac: String,
}

/// A format-1 record (0.2.0): no version, no MAC, an unkeyed text digest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Fields are checked by deserializing; only the chain fields are read.
pub(super) struct LegacyRecord {
    pub(super) seq: u64,
    pub(super) time_unix_ms: u64,
    pub(super) endpoint: Option<String>,
    pub(super) direction: Option<String>,
    pub(super) decision: Decision,
    pub(super) rules_decision: Decision,
    pub(super) shadow: bool,
    pub(super) rule_ids: Vec<String>,
    text_sha256: String,
    pub(super) text_len: usize,
    pub(super) prev_sha256: String,
}

/// Only the version, to pick the record type.
#[derive(Deserialize)]
pub(super) struct VersionProbe {
    pub(super) v: Option<u32>,
}

/// What the caller knows about a request; the log adds sequence number and chain hash.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub time_unix_ms: u64,
    pub endpoint: Option<String>,
    pub direction: Option<String>,
}

/// The end of the chain: the last record's `seq` and the SHA-256 of its line. `0:000…` for an
/// empty log. Written and parsed as `SEQ:HASH`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

impl Head {
    pub fn genesis() -> Head {
        Head {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl FromStr for Head {
    type Err = String;

    fn from_str(text: &str) -> Result<Head, String> {
        let wrong = || format!("`{text}` is not a head: expected SEQ:HASH (64 hex digits)");
        let (seq, hash) = text.split_once(':').ok_or_else(wrong)?;
        let seq = seq.parse().map_err(|_| wrong())?;
        let valid = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return Err(wrong());
        }
        Ok(Head {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// One decision waiting to be logged: everything but its place in the chain.
#[derive(Debug, Clone)]
pub struct Pending {
    pub info: RequestInfo,
    pub text_hmac: String,
    pub text_len: usize,
    pub evaluation: Evaluation,
}

impl Pending {
    pub fn new(key: &AuditKey, info: RequestInfo, text: &str, evaluation: Evaluation) -> Pending {
        Pending {
            info,
            text_hmac: key.text_digest(text),
            text_len: text.len(),
            evaluation,
        }
    }
}

/// `,"mac":"<64 hex>"}`: how every format-2 line ends.
pub(super) const MAC_SUFFIX_LEN: usize = r#","mac":""}"#.len() + 64;

/// Serializes the record and appends its MAC, computed over the bytes before the `mac` field.
pub(super) fn signed_line(key: &AuditKey, record: &mut AuditRecord) -> io::Result<String> {
    let body = serde_json::to_string(&*record).map_err(io::Error::other)?;
    let open = body.strip_suffix('}').expect("a JSON object");
    record.mac = key.record_mac(open.as_bytes());
    Ok(format!(r#"{open},"mac":"{}"}}"#, record.mac))
}

/// The bytes a format-2 line's MAC covers, or `None` if the line does not end in a MAC.
pub(super) fn mac_coverage(line: &[u8]) -> Option<(&[u8], &str)> {
    let split = line.len().checked_sub(MAC_SUFFIX_LEN)?;
    let (covered, suffix) = line.split_at(split);
    let mac = suffix
        .strip_prefix(br#","mac":""#)?
        .strip_suffix(br#""}"#)?;
    let mac = std::str::from_utf8(mac).ok()?;
    Some((covered, mac))
}
