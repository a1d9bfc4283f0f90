//! Whether and how a dist is signed, decided with the plan.

use anyhow::bail;
use serde::Serialize;

use super::PlanInput;
use crate::dist::manifest::ArtifactKind;
use crate::signing::{KeySource, SIGNING_KEY_VAR};

/// What the flags and the environment ask of signing.
#[derive(Debug, Clone, Default)]
pub struct SigningRequest {
    pub key: Option<KeySource>,
    pub require: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SigningPlan {
    /// The public key (workspace-relative), shipped in every archive and embedded in
    /// install.sh; `None` before `cargo xtask keygen` made one.
    pub public_key: Option<String>,
    /// Where the secret key that signs `SHA256SUMS` comes from; `None`: an unsigned release.
    pub key: Option<KeySource>,
    /// The kinds of artifact that get a `<file>.sig` of their own (a signed release only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signs_each: Vec<ArtifactKind>,
    /// The key history's trusted key ids (the current last) and revoked ones: install.sh
    /// carries both.
    pub trusted_keys: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revoked_keys: Vec<String>,
    /// A partial dist's build jobs may see the key the merge job signs with (GitLab hands
    /// project variables to every job that no environment scope keeps them from): ignored.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ignores_ambient_key: bool,
}

/// Signing follows the flags, the key files and whether the dist is partial; every mismatch is
/// found here, before anything is built.
pub(super) fn plan(input: &PlanInput) -> anyhow::Result<SigningPlan> {
    let config = input.config;
    let public_key = config.public_key();
    if config.public_key.is_some() && !input.public_key_exists {
        bail!(
            "[workspace.metadata.xtask-dist] public-key = {public_key:?} does not exist: make a \
             key pair with `cargo xtask keygen --secret-key FILE`, or remove the setting"
        );
    }
    let request = &input.signing;
    let shipped_key = input.public_key_exists.then(|| public_key.to_owned());
    let ambient = matches!(request.key, Some(KeySource::Environment));
    if input.partial && ambient && !request.require {
        return Ok(SigningPlan {
            public_key: shipped_key,
            key: None,
            signs_each: vec![],
            trusted_keys: key_ids(input, false),
            revoked_keys: key_ids(input, true),
            ignores_ambient_key: true,
        });
    }
    if input.partial && (request.key.is_some() || request.require) {
        bail!(
            "a partial dist is not signed (it has no SHA256SUMS): sign the merged dist with \
             `cargo xtask dist merge --signing-key FILE --require-signature`"
        );
    }
    if request.require && request.key.is_none() {
        bail!(
            "--require-signature, but there is no signing key: pass --signing-key FILE or set \
             {SIGNING_KEY_VAR} to the secret key's contents"
        );
    }
    if request.key.is_some() && !input.public_key_exists {
        bail!(
            "there is no public key at {public_key} to sign for: make a key pair with `cargo \
             xtask keygen --secret-key FILE` and commit the public key"
        );
    }
    let signs_each = match request.key {
        Some(_) => ArtifactKind::SIGNED_ALONE.to_vec(),
        None => vec![],
    };
    Ok(SigningPlan {
        public_key: shipped_key,
        key: request.key.clone(),
        signs_each,
        trusted_keys: key_ids(input, false),
        revoked_keys: key_ids(input, true),
        ignores_ambient_key: false,
    })
}

/// The ids of the keys the history trusts (the current last), or of those it revoked.
fn key_ids(input: &PlanInput, revoked: bool) -> Vec<String> {
    let Some(keyring) = input.keyring else {
        return vec![];
    };
    match revoked {
        false => keyring.trusted.iter().map(|k| k.id.clone()).collect(),
        true => keyring.revoked.iter().map(|k| k.id.clone()).collect(),
    }
}
