//! The npm packages on the npm registry, with the npm CLI (`npm publish`, so the registry
//! gets npm's provenance statement where the CI can sign one).
//!
//! Re-runnable: a version the registry holds with the tarball's integrity (SHA-512) is done;
//! another tarball under the version stops the run before any upload (npm never replaces a
//! version). The platform packages go first and the main package last. The credential is
//! `NPM_TOKEN` (written nowhere: the npm config names the variable, npm reads it) or, with
//! npm's trusted publishing, the CI's ID token; only the npm child sees it.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use base64::Engine;
use sha2::Digest;

use super::plan::{HostPlan, PublishPlan};
use super::{Remote, compare_all, say};
use crate::http::{Body, Client};

const CREDENTIAL: &str = "publishing to npm needs NPM_TOKEN (an npm automation token), or \
    npm's trusted publishing from CI (GitHub: `id-token: write`; GitLab: id_tokens \
    NPM_ID_TOKEN with aud npm:registry.npmjs.org)";

/// The variables the npm child may see: its token, and the CI's OIDC identity for trusted
/// publishing and provenance.
const NPM_CREDENTIALS: [&str; 5] = [
    "NPM_TOKEN",
    "NPM_ID_TOKEN",
    "SIGSTORE_ID_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
];

fn set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty())
}

/// npm's integrity string (SRI, SHA-512) of a file, streamed.
fn integrity(path: &Path) -> anyhow::Result<String> {
    let mut hasher = sha2::Sha512::new();
    let mut file = fs_err::File::open(path)?;
    let mut buffer = vec![0; 256 * 1024];
    loop {
        let read = std::io::Read::read(&mut file, &mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    let digest = hasher.finalize();
    Ok(format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    ))
}

/// The preflight: which packages the registry holds at this version (another tarball:
/// refused, before any upload), and for the missing ones that npm and a credential are here.
/// Returns the missing packages' files.
pub fn inspect(plan: &PublishPlan, host: &HostPlan, dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut remote = Vec::new();
    for upload in &host.uploads {
        let response = Client::new(vec![]).send("GET", &upload.destination, Body::Empty)?;
        let found = match response.status {
            404 => Remote::Missing,
            200 => {
                let packument = response.json()?;
                match packument["versions"][&plan.version]["dist"]["integrity"].as_str() {
                    None => Remote::Missing,
                    Some(theirs) if theirs == integrity(&dir.join(&upload.file))? => {
                        Remote::Present(upload.sha256.clone())
                    }
                    Some(_) => Remote::Present(String::new()),
                }
            }
            status => bail!(
                "the npm registry answered GET {} with HTTP {status}",
                upload.destination
            ),
        };
        remote.push(found);
    }
    compare_all(
        &format!("the npm registry ({})", plan.version),
        &host.uploads,
        &remote,
        "npm never replaces a published version; release a new one",
    )?;
    let missing = super::missing_files(&host.uploads, &remote);
    if !missing.is_empty() {
        if !super::registries::credential_available("NPM_TOKEN", "NPM_ID_TOKEN") {
            bail!("{CREDENTIAL}");
        }
        let npm = Command::new("npm").arg("--version").output();
        if !npm.as_ref().is_ok_and(|o| o.status.success()) {
            bail!(
                "publishing to npm runs `npm publish`, and npm is not here: install Node.js \
                 and npm (npm 11.5 or newer for trusted publishing)"
            );
        }
    }
    Ok(missing)
}

/// `npm publish` of each package [`inspect`] found missing, in the plan's order.
pub fn apply(
    host: &HostPlan,
    registry: &str,
    dir: &Path,
    missing: Vec<String>,
) -> anyhow::Result<()> {
    let tag = host.dist_tag.as_deref().unwrap_or("latest");
    crate::util::in_tempdir("npm-publish", |scratch| {
        publish_missing(host, tag, registry, dir, &missing, &scratch.join("npmrc"))
    })
}

fn publish_missing(
    host: &HostPlan,
    tag: &str,
    registry: &str,
    dir: &Path,
    missing: &[String],
    config: &Path,
) -> anyhow::Result<()> {
    // npm's config for this run only: the registry, and its token by the variable's name.
    let registry = format!("{}/", registry.trim_end_matches('/'));
    let auth_key = registry
        .split_once("://")
        .map_or(registry.as_str(), |(_, rest)| rest);
    fs_err::write(
        config,
        format!("registry={registry}\n//{auth_key}:_authToken=${{NPM_TOKEN}}\n"),
    )?;
    // Provenance where the CI can sign it (GitHub's OIDC, GitLab's SIGSTORE_ID_TOKEN).
    let provenance = set("SIGSTORE_ID_TOKEN")
        || set("ACTIONS_ID_TOKEN_REQUEST_URL") && set("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    for upload in &host.uploads {
        let package = upload.package.as_deref().unwrap_or(&upload.file);
        if !missing.contains(&upload.file) {
            say(format_args!("{package} is already on the npm registry"));
            continue;
        }
        let mut command = Command::new("npm");
        crate::secrets::scrubbed(&mut command);
        for name in NPM_CREDENTIALS {
            if let Ok(value) = std::env::var(name) {
                command.env(name, value);
            }
        }
        if !set("NPM_TOKEN") {
            // npm expands ${NPM_TOKEN} in its config and fails on an unset variable.
            command.env("NPM_TOKEN", "");
        }
        command
            .arg("publish")
            .arg(dir.join(&upload.file))
            .args(["--tag", tag, "--registry", &registry])
            .arg("--userconfig")
            .arg(config)
            .env("npm_config_update_notifier", "false");
        if provenance {
            command.arg("--provenance");
        }
        let output = command.output().context("cannot run npm publish")?;
        if !output.status.success() {
            bail!(
                "npm publish {} failed ({}):\n{}run publish again to upload what is missing",
                upload.file,
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        say(format_args!("published {package} {tag} ({})", upload.file));
    }
    Ok(())
}
