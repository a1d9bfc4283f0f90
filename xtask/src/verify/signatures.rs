//! The signatures of a dist: `SHA256SUMS.minisig` and each package's `<file>.sig`, checked
//! with the keys the key history trusts; a revoked or unknown key is named.

use std::path::Path;

use super::SignatureCheck;
use crate::dist::manifest::{self, ArtifactKind, Manifest};
use crate::signing::SIGNATURE_FILE;

pub(super) fn check_signatures(
    dir: &Path,
    manifest: &Manifest,
    signatures: &SignatureCheck,
    problems: &mut Vec<String>,
) {
    let files: Vec<&manifest::Artifact> = manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Signature)
        .collect();
    let signed = dir.join(SIGNATURE_FILE).exists();
    if !signed && signatures.required {
        problems.push(format!(
            "the dist is not signed ({SIGNATURE_FILE} is missing) and a signature is required"
        ));
    }
    if signed && manifest.partial {
        problems.push(format!("a partial dist must not carry {SIGNATURE_FILE}"));
        return;
    }
    if !signed && files.is_empty() {
        return;
    }
    let Some(keyring) = &signatures.keyring else {
        problems.push(
            "the signatures cannot be checked: no public key (pass --public-key FILE, or a key \
             history directory)"
                .to_owned(),
        );
        return;
    };
    if signed {
        check_one(
            dir,
            SIGNATURE_FILE,
            manifest::CHECKSUMS_FILE,
            manifest,
            keyring,
            problems,
        );
        // A signed release signs each package a client fetches by itself.
        for artifact in manifest.artifacts.iter().filter(|a| a.kind.signed_alone()) {
            let signature = crate::dist::seal::signature_name(&artifact.name);
            if !files
                .iter()
                .any(|s| s.name == signature && s.signs.as_ref() == Some(&artifact.name))
            {
                problems.push(format!(
                    "{} has no signature {signature} in a signed dist (cargo binstall \
                     --only-signed would refuse it)",
                    artifact.name
                ));
            }
        }
    }
    for signature in &files {
        let Some(target) = &signature.signs else {
            continue;
        };
        if !manifest.artifacts.iter().any(|a| &a.name == target) {
            problems.push(format!(
                "{} signs {target}, which the manifest does not list",
                signature.name
            ));
            continue;
        }
        check_one(dir, &signature.name, target, manifest, keyring, problems);
    }
}

/// Checks `signature` (a file of `dir`) over `file` with `keyring`, and that its trusted
/// comment names `file` and the manifest's release.
fn check_one(
    dir: &Path,
    signature: &str,
    file: &str,
    manifest: &Manifest,
    keyring: &crate::keys::Keyring,
    problems: &mut Vec<String>,
) {
    let text = match fs_err::read_to_string(dir.join(signature)) {
        Ok(text) => text,
        Err(err) => return problems.push(format!("{signature}: cannot be read: {err}")),
    };
    let mut data = match fs_err::File::open(dir.join(file)) {
        Ok(data) => data,
        Err(err) => return problems.push(format!("{file}: cannot be read: {err}")),
    };
    match keyring.verify(&text, &mut data) {
        Err(problem) => problems.push(format!("{signature} does not verify {file}: {problem}")),
        Ok(verified) => {
            let expected = [
                format!("file:{file}"),
                format!("version:{}", manifest.version),
                format!("commit:{}", manifest.commit),
            ];
            let comment = verified.comment;
            if !expected
                .iter()
                .all(|field| comment.split('\t').any(|f| f == field))
            {
                problems.push(format!(
                    "{signature} signs another file or release: its trusted comment is \
                     {comment:?}, but it is beside {file} of version {} commit {}",
                    manifest.version, manifest.commit
                ));
            }
        }
    }
}
