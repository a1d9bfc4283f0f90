//! `cargo xtask rotate-key` and `cargo xtask revoke-key`: entries of the key history
//! (`keys.rs`), signed, and every file that names the current key, written as one change.
//!
//! Every file is computed and the new history replayed before the first write; the writes
//! then go in one sequence that puts back what it changed if one fails.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xshell::Shell;

use crate::flags;
use crate::keys::{self, Entry, Event, Recorded};
use crate::signing::{KeySource, Signer};
use crate::workspace::Workspace;

/// A file a key command writes: a new one, or the new text of one it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: PathBuf,
    pub text: String,
    pub replaces: bool,
}

impl Change {
    pub fn create(path: &Path, text: &str) -> Change {
        Change {
            path: path.to_owned(),
            text: text.to_owned(),
            replaces: false,
        }
    }
}

/// Writes every change, or none: a failure puts back what was written before it.
pub fn apply(changes: &[Change]) -> anyhow::Result<()> {
    let mut done: Vec<(&Change, Option<String>)> = vec![];
    for change in changes {
        let before = match change.replaces {
            true => Some(fs_err::read_to_string(&change.path)?),
            false => None,
        };
        let result = match change.replaces {
            true => replace(&change.path, &change.text),
            false => super::write_new(&change.path, &change.text, false),
        };
        if let Err(err) = result {
            for (change, before) in done.into_iter().rev() {
                let _ = match before {
                    Some(text) => fs_err::write(&change.path, text),
                    None => fs_err::remove_file(&change.path),
                };
            }
            return Err(err.context("nothing was changed"));
        }
        done.push((change, before));
    }
    Ok(())
}

fn replace(path: &Path, text: &str) -> anyhow::Result<()> {
    let name = path.file_name().context("a file to replace has a name")?;
    let temporary = path.with_file_name(format!(".{}.new", name.to_string_lossy()));
    fs_err::write(&temporary, text)?;
    fs_err::rename(&temporary, path).inspect_err(|_| {
        let _ = fs_err::remove_file(&temporary);
    })?;
    Ok(())
}

/// The shipped package's `Cargo.toml` with `key` in `[package.metadata.binstall.signing]`;
/// `None` when it has no binstall metadata or names the key already. Pure.
pub fn binstall_with_key(manifest: &str, key: &str) -> anyhow::Result<Option<String>> {
    let mut document: toml_edit::DocumentMut = manifest.parse().context("Cargo.toml")?;
    let Some(binstall) = document
        .get_mut("package")
        .and_then(|p| p.get_mut("metadata"))
        .and_then(|m| m.get_mut("binstall"))
        .and_then(|b| b.as_table_mut())
    else {
        return Ok(None);
    };
    let signing = binstall
        .entry("signing")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
    let Some(signing) = signing.as_table_mut() else {
        bail!("[package.metadata.binstall] signing is not a table");
    };
    let current = (
        signing.get("algorithm").and_then(|v| v.as_str()),
        signing.get("pubkey").and_then(|v| v.as_str()),
    );
    if current == (Some("minisign"), Some(key)) {
        return Ok(None);
    }
    signing["algorithm"] = toml_edit::value("minisign");
    signing["pubkey"] = toml_edit::value(key);
    Ok(Some(document.to_string()))
}

/// What names the key besides the key file: the history's first entry (when there is no
/// history yet) and binstall's metadata. For `keygen`.
pub fn genesis_changes(
    workspace: &Workspace,
    public_key: &Path,
    key: &minisign::PublicKey,
) -> anyhow::Result<Vec<Change>> {
    let dir = keys::history_dir(public_key);
    let mut changes = vec![];
    if !dir.exists() {
        let genesis = genesis(key, "first release key");
        fs_err::create_dir_all(&dir)?;
        changes.push(Change::create(&dir.join(&genesis.file), &genesis.text));
    }
    changes.extend(binstall_change(workspace, &key.to_base64())?);
    Ok(changes)
}

fn binstall_change(workspace: &Workspace, key: &str) -> anyhow::Result<Option<Change>> {
    let path: PathBuf = workspace.shipped_package()?.manifest_path.clone().into();
    let text = fs_err::read_to_string(&path)?;
    Ok(binstall_with_key(&text, key)?.map(|text| Change {
        path,
        text,
        replaces: true,
    }))
}

/// The history as it is, or (a workspace that has only its public key) the genesis entry
/// that makes it one, to be written with the next entry.
fn history(dir: &Path, current: &minisign::PublicKey) -> anyhow::Result<Vec<Recorded>> {
    if dir.exists() {
        return keys::read_history(dir);
    }
    Ok(vec![genesis(
        current,
        "the release key before the history began",
    )])
}

/// The first entry of a history: `key`, trusted because it is committed (no signature).
fn genesis(key: &minisign::PublicKey, reason: &str) -> Recorded {
    let entry = Entry::next(
        &[],
        Event::Genesis {
            key: key.to_base64(),
        },
        &crate::release::today(),
        reason,
    );
    Recorded {
        file: entry.file_name(),
        text: entry.render(),
        signature: None,
    }
}

/// `entry` appended to `history`, signed by `signer`; the whole history must replay.
fn append(
    history: &[Recorded],
    entry: Entry,
    signer: &Signer,
    source: &str,
) -> anyhow::Result<Vec<Recorded>> {
    let text = entry.render();
    let comment = format!("file:{}\tevent:{}", entry.file_name(), entry.event.name());
    let signature = signer.sign(&mut text.as_bytes(), &comment)?;
    let mut appended = history.to_vec();
    appended.push(Recorded {
        file: entry.file_name(),
        text,
        signature: Some(signature),
    });
    keys::replay(&appended, source)?;
    Ok(appended)
}

/// The files of `history` that `dir` does not hold yet.
fn new_entry_files(dir: &Path, history: &[Recorded]) -> Vec<Change> {
    let mut changes = vec![];
    for recorded in history {
        let path = dir.join(&recorded.file);
        if path.exists() {
            continue;
        }
        changes.push(Change::create(&path, &recorded.text));
        if let Some(signature) = &recorded.signature {
            let name = format!("{}{}", recorded.file, keys::SIGNATURE_EXTENSION);
            changes.push(Change::create(&dir.join(name), signature));
        }
    }
    changes
}

/// The workspace, its public key file and the signer of its current key.
fn current(sh: &Shell, signing_key: &Path) -> anyhow::Result<(Workspace, PathBuf, Signer)> {
    let workspace = Workspace::load(sh)?;
    let public_key = workspace.root.join(workspace.config.public_key());
    if !public_key.is_file() {
        bail!(
            "there is no release key at {}: make one with `cargo xtask keygen --secret-key FILE`",
            public_key.display()
        );
    }
    // The history must be whole before anything is added to it.
    keys::Keyring::load(&public_key)?;
    let key = std::env::current_dir()?.join(signing_key);
    let signer = Signer::load(&KeySource::File(key), &public_key)?;
    Ok((workspace, public_key, signer))
}

impl flags::RotateKey {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let (workspace, public_key, signer) = current(sh, &self.signing_key)?;
        let secret_key = std::env::current_dir()?.join(&self.secret_key);
        super::check_new_secret(sh, &workspace.root, &secret_key)?;
        let dir = keys::history_dir(&public_key);
        let before = history(&dir, signer.public_key())?;
        let pair = super::generate(!self.unencrypted)?;
        let entry = Entry::next(
            &before,
            Event::Rotate {
                from: signer.public_key().to_base64(),
                to: pair.public.to_base64(),
            },
            &crate::release::today(),
            &self.reason,
        );
        let after = append(&before, entry, &signer, &dir.display().to_string())?;
        let mut changes = new_entry_files(&dir, &after);
        changes.push(Change {
            path: public_key.clone(),
            text: pair.public_text.clone(),
            replaces: true,
        });
        changes.extend(binstall_change(&workspace, &pair.public.to_base64())?);
        fs_err::create_dir_all(&dir)?;
        super::write_new(&secret_key, &pair.secret_text, true)?;
        if let Err(err) = apply(&changes) {
            let _ = fs_err::remove_file(&secret_key);
            return Err(err);
        }
        eprintln!(
            "rotated the release key {} -> {} (new secret key: {}); the history, {} and \
             binstall's metadata name the new key: commit them, then give CI the new secret",
            keys::key_id(signer.public_key()),
            keys::key_id(&pair.public),
            secret_key.display(),
            public_key.display()
        );
        Ok(())
    }
}

impl flags::RevokeKey {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let (_, public_key, signer) = current(sh, &self.signing_key)?;
        let dir = keys::history_dir(&public_key);
        let before = history(&dir, signer.public_key())?;
        let keyring = keys::replay(&before, &dir.display().to_string())?;
        let wanted = self.key_id.to_uppercase();
        let Some(revoked) = keyring.trusted.iter().find(|k| k.id == wanted) else {
            bail!(
                "key {wanted} is not a trusted key of {} (it trusts {}{})",
                dir.display(),
                keyring
                    .trusted
                    .iter()
                    .map(|k| k.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                match keyring.revoked.is_empty() {
                    true => String::new(),
                    false => format!(
                        "; revoked already: {}",
                        keyring
                            .revoked
                            .iter()
                            .map(|k| k.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            );
        };
        let entry = Entry::next(
            &before,
            Event::Revoke {
                key: revoked.key.to_base64(),
            },
            &crate::release::today(),
            &self.reason,
        );
        let after = append(&before, entry, &signer, &dir.display().to_string())?;
        fs_err::create_dir_all(&dir)?;
        apply(&new_entry_files(&dir, &after))?;
        eprintln!(
            "revoked key {wanted} in {}: commit it; every release signed by it is refused from \
             now on (sign them again with the current key, or tell users which to trust)",
            dir.display()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binstall_gets_the_key_once_and_other_settings_stay() {
        let manifest = "[package]\nname = \"app\"\n\n[package.metadata.binstall]\n\
                        pkg-fmt = \"txz\" # ours\n";
        let with = binstall_with_key(manifest, "RWQkey").unwrap().unwrap();
        assert!(with.contains("pkg-fmt = \"txz\" # ours"), "{with}");
        assert!(
            with.contains(
                "[package.metadata.binstall.signing]\nalgorithm = \"minisign\"\npubkey = \"RWQkey\""
            ),
            "{with}"
        );
        assert_eq!(binstall_with_key(&with, "RWQkey").unwrap(), None);
        let rotated = binstall_with_key(&with, "RWQnew").unwrap().unwrap();
        assert!(rotated.contains("pubkey = \"RWQnew\"") && !rotated.contains("RWQkey"));
        assert_eq!(binstall_with_key("[package]\n", "RWQkey").unwrap(), None);
    }

    #[test]
    fn a_failed_change_puts_back_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("kept");
        fs_err::write(&kept, "before").unwrap();
        let changes = [
            Change {
                path: kept.clone(),
                text: "after".into(),
                replaces: true,
            },
            Change::create(&dir.path().join("new"), "x"),
            Change::create(&dir.path().join("missing/dir/file"), "y"),
        ];
        let err = apply(&changes).unwrap_err();
        assert!(
            format!("{err:#}").contains("nothing was changed"),
            "{err:#}"
        );
        assert_eq!(fs_err::read_to_string(&kept).unwrap(), "before");
        assert!(!dir.path().join("new").exists());
    }
}
