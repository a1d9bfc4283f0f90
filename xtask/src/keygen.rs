//! `cargo xtask keygen --secret-key FILE [--unencrypted]`: a minisign key pair for releases.
//!
//! The public key goes where `[workspace.metadata.xtask-dist] public-key` says (default
//! `keys/jimini.pub`) to be committed; the secret key goes to FILE, which must not be a file git
//! would track. Neither is ever overwritten.

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
        let pair = if plan.encrypted {
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
        let public = pair
            .pk
            .to_box()
            .map_err(|err| anyhow::anyhow!("{err}"))?
            .to_string();
        let secret = pair
            .sk
            .to_box(None)
            .map_err(|err| anyhow::anyhow!("{err}"))?
            .to_string();
        if let Some(dir) = plan.public_key.parent() {
            fs_err::create_dir_all(dir)?;
        }
        // The secret first: a public key without its secret would be useless.
        write_new(&plan.secret_key, &secret, true)?;
        write_new(&plan.public_key, &public, false)?;
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
    for (what, path) in [("public", &plan.public_key), ("secret", &plan.secret_key)] {
        if path.exists() {
            bail!(
                "the {what} key {} exists already: keygen never replaces a key; move it away \
                 first if you really mean to make a new pair",
                path.display()
            );
        }
    }
    let parent = plan
        .secret_key
        .parent()
        .context("the secret key path has no directory")?;
    let inside = fs_err::canonicalize(parent)
        .with_context(|| format!("{} does not exist", parent.display()))?
        .starts_with(fs_err::canonicalize(root)?);
    if inside {
        let path = &plan.secret_key;
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

fn write_new(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
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
