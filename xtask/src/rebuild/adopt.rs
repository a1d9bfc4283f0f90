//! The release's signatures, adopted by the rebuild: a rebuild has no secret key, so it takes
//! each published signature whose check over the *rebuilt* file passes with the keys the
//! workspace's key history trusts, then renders the manifest and `SHA256SUMS` again, which
//! must come out as published (compared like every other file).

use std::path::Path;

use anyhow::Context;

use crate::dist::manifest::{self, ArtifactKind, Manifest};
use crate::keys::Keyring;
use crate::signing::SIGNATURE_FILE;

/// Adopts `published`'s signatures into the rebuilt dist `rebuilt`; returns each signature
/// that does not check over the rebuilt bytes (left out, so the comparison names it too).
pub fn adopt(
    published: &Path,
    rebuilt: &Path,
    keyring: Option<&Keyring>,
) -> anyhow::Result<Vec<String>> {
    let release = Manifest::read(published)?;
    let signatures: Vec<&manifest::Artifact> = release
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Signature)
        .collect();
    let checksums_signed = published.join(SIGNATURE_FILE).is_file();
    if signatures.is_empty() && !checksums_signed {
        return Ok(vec![]);
    }
    let keyring = keyring.context(
        "the release is signed, and the rebuild checks its signatures with the workspace's key \
         history (keys/), which has no key: run the rebuild in the project's checkout",
    )?;
    let mut manifest = Manifest::read(rebuilt)?;
    let mut problems = vec![];
    let mut check = |signature: &str, file: &str| -> anyhow::Result<bool> {
        let text = fs_err::read_to_string(published.join(signature))?;
        let mut data = fs_err::File::open(rebuilt.join(file))?;
        match keyring.verify(&text, &mut data) {
            Ok(_) => {
                fs_err::write(rebuilt.join(signature), text)?;
                Ok(true)
            }
            Err(problem) => {
                problems.push(format!(
                    "{signature}: does not sign the rebuilt {file}: {problem}"
                ));
                Ok(false)
            }
        }
    };
    for signature in signatures {
        let signed = signature.signs.as_deref().unwrap_or_default();
        let Some(artifact) = manifest
            .artifacts
            .iter()
            .find(|a| a.name == signed)
            .cloned()
        else {
            continue; // the comparison names what the rebuild did not make
        };
        if rebuilt.join(signed).is_file() && check(&signature.name, signed)? {
            let adopted = crate::dist::seal::signature_artifact(&artifact, rebuilt)?;
            manifest.artifacts.push(adopted);
        }
    }
    manifest::write(&mut manifest, rebuilt)?;
    if checksums_signed {
        check(SIGNATURE_FILE, manifest::CHECKSUMS_FILE)?;
    }
    Ok(problems)
}
