//! `cargo xtask keygen --secret-key FILE [--unencrypted]`: a minisign key pair for releases,
//! and (in `keygen/lifecycle.rs`) `rotate-key` and `revoke-key`.
//!
//! The public key goes where `[workspace.metadata.xtask-dist] public-key` says (default
//! `keys/jimini.pub`) to be committed, with the first entry of the key history beside it and
//! the key in `[package.metadata.binstall.signing]`; the secret key goes to FILE, which must
//! not be a file git would track. Neither key is ever overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::flags;
use crate::signing::{PASSWORD_VAR, SIGNING_KEY_VAR};

/// What keygen will write, decided before anything is created.
#[derive(Debug, PartialEq, Eq)]
pub struct KeygenPlan {
    pub secret_key: PathBuf,
    pub public_key: PathBuf,
    pub encrypted: bool,
}

/// A new key pair, as the files minisign writes.
pub struct NewPair {
    pub public: minisign::PublicKey,
    pub public_text: String,
    pub secret_text: String,
}

/// A new pair; an encrypted one takes its password from the environment or the terminal.
pub fn generate(encrypted: bool) -> anyhow::Result<NewPair> {
    let pair = if encrypted {
        let password = std::env::var(PASSWORD_VAR).ok();
        if password.is_none() && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            bail!(
                "no password for the secret key: set {PASSWORD_VAR}, run in a terminal, or \
                 pass --unencrypted (for a key kept only in a CI secret)"
            );
        }
        minisign::KeyPair::generate_encrypted_keypair(password)
    } else {
        minisign::KeyPair::generate_unencrypted_keypair()
    }
    .map_err(|err| anyhow::anyhow!("cannot make a key pair: {err}"))?;
    let public_text = pair
        .pk
        .to_box()
        .map_err(|err| anyhow::anyhow!("{err}"))?
        .to_string();
    let secret_text = pair
        .sk
        .to_box(None)
        .map_err(|err| anyhow::anyhow!("{err}"))?
        .to_string();
    Ok(NewPair {
        public: pair.pk,
        public_text,
        secret_text,
    })
}

impl flags::Keygen {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let workspace = crate::workspace::Workspace::load(sh)?;
        let root = workspace.root.clone();
        let secret_key = std::env::current_dir()?.join(&self.secret_key);
        let plan = KeygenPlan {
            public_key: root.join(workspace.config.public_key()),
            secret_key,
            encrypted: !self.unencrypted,
        };
        check(sh, &root, &plan)?;
        let pair = generate(plan.encrypted)?;
        let genesis = lifecycle::genesis_changes(&workspace, &plan.public_key, &pair.public)?;
        if let Some(dir) = plan.public_key.parent() {
            fs_err::create_dir_all(dir)?;
        }
        // The secret first: a public key without its secret would be useless.
        write_new(&plan.secret_key, &pair.secret_text, true)?;
        let mut changes = vec![lifecycle::Change::create(
            &plan.public_key,
            &pair.public_text,
        )];
        changes.extend(genesis);
        lifecycle::apply(&changes)?;
        eprintln!(
            "public key: {} (commit it; dist ships it in every archive and in install.sh)\n\
             secret key: {} ({}; give it to `dist --signing-key`, or its contents to CI as {SIGNING_KEY_VAR}: \
             on GitLab only its second line, which a masked variable can hold)",
            plan.public_key.display(),
            plan.secret_key.display(),
            if plan.encrypted {
                format!("encrypted; {PASSWORD_VAR} holds the password for CI")
            } else {
                "unencrypted: keep it in a secret store only".to_owned()
            }
        );
        Ok(())
    }
}

/// Refuses to overwrite either key, and a secret key that git would commit.
fn check(sh: &Shell, root: &Path, plan: &KeygenPlan) -> anyhow::Result<()> {
    if plan.public_key.exists() {
        bail!(
            "the public key {} exists already: keygen never replaces a key; to replace it \
             with a new one that its users can check, run `cargo xtask rotate-key`",
            plan.public_key.display()
        );
    }
    let history = crate::keys::history_dir(&plan.public_key);
    if history.exists() {
        bail!(
            "{} holds the key history of another key: a project that starts with a key of its \
             own (a fork) starts its own history; move that directory away first",
            history.display()
        );
    }
    check_new_secret(sh, root, &plan.secret_key)
}

/// A new secret key's path: not an existing file, and not where git would commit it.
pub fn check_new_secret(sh: &Shell, root: &Path, path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        bail!(
            "the secret key {} exists already: a key is never replaced; choose another path",
            path.display()
        );
    }
    let parent = path
        .parent()
        .context("the secret key path has no directory")?;
    let inside = fs_err::canonicalize(parent)
        .with_context(|| format!("{} does not exist", parent.display()))?
        .starts_with(fs_err::canonicalize(root)?);
    if inside {
        let ignored = cmd!(sh, "git check-ignore --quiet {path}")
            .quiet()
            .ignore_status()
            .output()?
            .status
            .success();
        if !ignored {
            bail!(
                "{} is inside the workspace where git would track it: put the secret key \
                 outside the repository (e.g. ~/.config/jimini/release.key)",
                path.display()
            );
        }
    }
    Ok(())
}

pub fn write_new(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

mod lifecycle;
