//! The history's entries: their text format, reading them from disk, and replaying them into
//! a [`Keyring`] link by link (the layout is in `keys.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};

use super::{Keyring, RevokedKey, SIGNATURE_EXTENSION, TrustedKey, key_id, parse_key};

const TITLE: &str = "jimini release key history";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Genesis { key: String },
    Rotate { from: String, to: String },
    Revoke { key: String },
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::Genesis { .. } => "genesis",
            Event::Rotate { .. } => "rotate",
            Event::Revoke { .. } => "revoke",
        }
    }
}

/// One entry of the history, as written in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub number: u32,
    /// The SHA-256 of the previous entry's text; `None` for the first.
    pub previous: Option<String>,
    pub event: Event,
    pub date: String,
    pub reason: String,
}

impl Entry {
    /// The entry that follows `history` (its entries' texts, in order).
    pub fn next(history: &[Recorded], event: Event, date: &str, reason: &str) -> Entry {
        Entry {
            number: history.len() as u32 + 1,
            previous: history.last().map(|last| sha256_hex(&last.text)),
            event,
            date: date.to_owned(),
            reason: reason.to_owned(),
        }
    }

    pub fn file_name(&self) -> String {
        format!("{:04}-{}.txt", self.number, self.event.name())
    }

    pub fn render(&self) -> String {
        let mut text = format!("{TITLE}\nentry: {}\n", self.number);
        if let Some(previous) = &self.previous {
            text.push_str(&format!("previous: {previous}\n"));
        }
        text.push_str(&format!("event: {}\n", self.event.name()));
        match &self.event {
            Event::Genesis { key } | Event::Revoke { key } => {
                text.push_str(&format!("key: {key}\n"));
            }
            Event::Rotate { from, to } => text.push_str(&format!("from: {from}\nto: {to}\n")),
        }
        text.push_str(&format!("date: {}\nreason: {}\n", self.date, self.reason));
        text
    }

    pub fn parse(text: &str) -> anyhow::Result<Entry> {
        let mut lines = text.lines();
        if lines.next() != Some(TITLE) {
            bail!("does not start with {TITLE:?}");
        }
        let mut fields = BTreeMap::new();
        for line in lines {
            let (name, value) = line
                .split_once(": ")
                .with_context(|| format!("line {line:?} is not `name: value`"))?;
            if fields.insert(name, value).is_some() {
                bail!("{name} is given twice");
            }
        }
        let take = |fields: &mut BTreeMap<&str, &str>, name: &str| {
            fields
                .remove(name)
                .map(str::to_owned)
                .with_context(|| format!("has no {name}"))
        };
        let f = &mut fields;
        let number = take(f, "entry")?.parse().context("entry is not a number")?;
        let event = match take(f, "event")?.as_str() {
            "genesis" => Event::Genesis {
                key: take(f, "key")?,
            },
            "rotate" => Event::Rotate {
                from: take(f, "from")?,
                to: take(f, "to")?,
            },
            "revoke" => Event::Revoke {
                key: take(f, "key")?,
            },
            other => bail!("event {other:?} is none of genesis, rotate, revoke"),
        };
        let entry = Entry {
            number,
            previous: f.remove("previous").map(str::to_owned),
            event,
            date: take(f, "date")?,
            reason: take(f, "reason")?,
        };
        if let Some(extra) = f.keys().next() {
            bail!("has an unknown field {extra}");
        }
        // One spelling per entry: what is signed is exactly what is shown.
        if entry.render() != text {
            bail!("is not in the history's format (fields in order, one per line)");
        }
        Ok(entry)
    }
}

/// An entry file: its name, its text and its signature (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub file: String,
    pub text: String,
    pub signature: Option<String>,
}

/// The entry files of `dir`, in order.
pub fn read_history(dir: &Path) -> anyhow::Result<Vec<Recorded>> {
    let mut names: Vec<String> = fs_err::read_dir(dir)?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<anyhow::Result<_>>()?;
    names.sort();
    let mut entries = vec![];
    for name in &names {
        if name.ends_with(".txt") {
            let signature_path = dir.join(format!("{name}{SIGNATURE_EXTENSION}"));
            entries.push(Recorded {
                file: name.clone(),
                text: fs_err::read_to_string(dir.join(name))?,
                signature: signature_path
                    .is_file()
                    .then(|| fs_err::read_to_string(&signature_path))
                    .transpose()?,
            });
        } else if !name
            .strip_suffix(SIGNATURE_EXTENSION)
            .is_some_and(|entry| names.iter().any(|n| n == entry))
        {
            bail!(
                "{}: {name} is not a history entry (NNNN-event.txt and its .minisig)",
                dir.display()
            );
        }
    }
    Ok(entries)
}

pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Replays the history from its first entry, checking every link; `source` names it in
/// messages. Pure.
pub fn replay(entries: &[Recorded], source: &str) -> anyhow::Result<Keyring> {
    let mut keyring = Keyring {
        trusted: vec![],
        revoked: vec![],
        source: source.to_owned(),
    };
    let mut previous: Option<&Recorded> = None;
    for (index, recorded) in entries.iter().enumerate() {
        let file = &recorded.file;
        let fail = |why: String| anyhow::anyhow!("{source}/{file}: {why}");
        let entry = Entry::parse(&recorded.text).map_err(|err| fail(format!("{err}")))?;
        if entry.number as usize != index + 1 || entry.file_name() != *file {
            return Err(fail(format!(
                "expected entry {} named {}",
                index + 1,
                entry.file_name()
            )));
        }
        if entry.previous != previous.map(|p| sha256_hex(&p.text)) {
            return Err(fail(
                "its `previous` is not the SHA-256 of the entry before it".to_owned(),
            ));
        }
        let key = |base64: &str| parse_key(base64).map_err(|err| fail(format!("{err:#}")));
        match &entry.event {
            Event::Genesis { key: genesis } if index == 0 => {
                let genesis = key(genesis)?;
                keyring.trusted.push(TrustedKey {
                    id: key_id(&genesis),
                    key: genesis,
                });
            }
            Event::Genesis { .. } => {
                return Err(fail("only the first entry may be a genesis".to_owned()));
            }
            _ if index == 0 => return Err(fail("the first entry must be a genesis".to_owned())),
            Event::Rotate { from, to } => {
                // Signed by the key it takes over from, which must be the current one.
                let (from, to) = (key(from)?, key(to)?);
                let current = keyring.current().id.clone();
                let signer = check_signed(&keyring, recorded).map_err(fail)?;
                if key_id(&from) != current || signer != current {
                    return Err(fail(format!(
                        "a rotation goes from the current key {current} and is signed by it \
                         (this one is from {}, signed by {signer})",
                        key_id(&from)
                    )));
                }
                let id = key_id(&to);
                if keyring.trusted.iter().any(|t| t.id == id)
                    || keyring.revoked.iter().any(|r| r.id == id)
                {
                    return Err(fail(format!("key {id} is in the history already")));
                }
                keyring.trusted.push(TrustedKey { id, key: to });
            }
            Event::Revoke { key: revoked } => {
                // Signed by any key trusted at the time (the revoked one included).
                check_signed(&keyring, recorded).map_err(fail)?;
                let revoked = key(revoked)?;
                let id = key_id(&revoked);
                if keyring.current().id == id {
                    return Err(fail(format!(
                        "key {id} is the current key: rotate to a new key before revoking it"
                    )));
                }
                let Some(at) = keyring.trusted.iter().position(|t| t.id == id) else {
                    return Err(fail(format!(
                        "key {id} is not a trusted key of the history"
                    )));
                };
                keyring.trusted.remove(at);
                keyring.revoked.push(RevokedKey {
                    id,
                    key: revoked,
                    entry: file.clone(),
                    date: entry.date.clone(),
                    reason: entry.reason.clone(),
                });
            }
        }
        previous = Some(recorded);
    }
    if keyring.trusted.is_empty() {
        bail!("{source} has no entries: it starts with 0001-genesis.txt");
    }
    Ok(keyring)
}

/// The id of the trusted key whose signature of the entry verifies.
fn check_signed(keyring: &Keyring, recorded: &Recorded) -> Result<String, String> {
    let text = recorded.signature.as_deref().ok_or_else(|| {
        format!(
            "its signature {}{SIGNATURE_EXTENSION} is missing",
            recorded.file
        )
    })?;
    keyring
        .verify(text, &mut std::io::Cursor::new(recorded.text.as_bytes()))
        .map(|verified| verified.key_id)
        .map_err(|err| format!("its signature is not good: {err}"))
}
