//! The hash-chained, keyed JSONL audit log.
//!
//! One JSON object per line. Each record carries `prev_sha256`, the SHA-256 (hex) of the exact
//! bytes of the previous line (without its newline); the first record carries 64 zeros. Editing,
//! removing or reordering any record breaks the chain at the next line.
//!
//! Format 2 (`"v":2`, since 0.3) adds what a chain alone cannot give:
//! - `mac`, an HMAC-SHA256 under the audit key of the line's bytes before the `mac` field, so an
//!   edit to any record, the last included, is detected by whoever holds the key;
//! - `text_hmac`, a keyed digest of the evaluated text instead of 0.2's plain `text_sha256`, so a
//!   short secret (an SSN, a card number) cannot be recovered from the log by trying every value.
//!
//! What a MAC cannot show is a log cut short: the [`Head`] (last `seq` and its line's hash) is
//! served at `GET /v1/audit/head` so a monitor can keep heads elsewhere and check them later
//! with `jimini-admin audit verify --expect-head SEQ:HASH`.
//!
//! Format 1 (0.2.0, no `v`) is still read. A log may start in format 1 and continue in format
//! 2 after an upgrade; a format-1 record after a format-2 one is refused (it would carry no MAC).
//!
//! **Architecture Invariant:** a record is written, flushed and `fsync`ed before the decision it
//! records is returned to the client, so an answered request is always in the log. The raw text
//! is never logged, only its keyed digest and length.

mod key;
mod log;
mod record;
mod segments;
mod verify;

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::{Decision, Evaluation};
#[allow(unused_imports)] // the submodules and the tests share these names
use {key::*, log::*, record::*, segments::*, verify::*};

pub use key::{AuditKey, create_key_file, read_key_file, sha256_hex};
pub use log::{AppendFailure, AuditLog, TornTail};
pub use record::{AuditRecord, Head, Pending, RequestInfo};
pub use segments::{files_of, segment_path, segments, verify_files};
pub use verify::{VerifyError, VerifySummary, verify};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The record format this version writes.
pub const FORMAT_VERSION: u32 = 2;
/// The environment variable that holds the audit key, if the key is not in a file.
pub const AUDIT_KEY_VAR: &str = "JIMINI_AUDIT_KEY";
/// The shortest key accepted: 32 bytes, as many as the MAC's output.
pub const MIN_KEY_LEN: usize = 32;

#[cfg(test)]
mod tests;
