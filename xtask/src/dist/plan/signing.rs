//! Whether and how a dist is signed, decided with the plan.

use anyhow::bail;

use super::{PlanInput, SigningPlan};
use crate::signing::{KeySource, SIGNING_KEY_VAR};

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
    Ok(SigningPlan {
        public_key: shipped_key,
        key: request.key.clone(),
        ignores_ambient_key: false,
    })
}
