//! The package registries: the crate on crates.io (`cargo publish`), the wheels on PyPI
//! (`twine`, pinned in `pins.rs`). Both after the release hosts.
//!
//! Re-runnable: a version already there with the same content (crates.io's checksum of the
//! `.crate`, PyPI's SHA-256 of each wheel) is done; other content stops the run before any
//! upload (a registry never replaces a version). Credentials come from the environment CI
//! sets: an explicit token, or a Trusted Publishing token minted from the CI's ID token
//! (GitLab's `id_tokens`, GitHub's OIDC request); they reach only the uploading child process,
//! never `cargo build` (`cargo publish --no-verify`: the dist was built and verified already).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::json;

use super::plan::{HostPlan, PublishPlan};
use super::{Remote, compare_all, say};
use crate::http::{Body, Client, Secret};

/// The CI's OIDC identity token for `audience`: GitLab's `id_tokens` variable `gitlab_var`,
/// or GitHub Actions' token request (a job with `id-token: write`).
fn id_token(audience: &str, gitlab_var: &str) -> anyhow::Result<Option<Secret>> {
    if let Some(token) = std::env::var(gitlab_var).ok().filter(|v| !v.is_empty()) {
        return Ok(Some(Secret::new(token)));
    }
    let (Ok(url), Ok(request_token)) = (
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) else {
        return Ok(None);
    };
    let client = Client::new(vec![(
        "Authorization".into(),
        Secret::new(format!("bearer {request_token}")),
    )]);
    let response = client.send("GET", &format!("{url}&audience={audience}"), Body::Empty)?;
    if !response.ok() {
        bail!(
            "GitHub refused an ID token for {audience} (HTTP {}): give the job `id-token: write`",
            response.status
        );
    }
    let value = response.json()?["value"]
        .as_str()
        .context("GitHub's ID token answer has no value")?
        .to_owned();
    Ok(Some(Secret::new(value)))
}

/// Trades an ID token for a registry's short-lived upload token.
fn mint(endpoint: &str, field: &str, id_token: &Secret, registry: &str) -> anyhow::Result<Secret> {
    let body = json!({ field: id_token.expose() });
    let response = Client::new(vec![]).send("POST", endpoint, Body::Json(&body))?;
    if response.status != 200 {
        bail!(
            "{registry} refused the CI's ID token (HTTP {}): add this repository's release \
             workflow as a trusted publisher there",
            response.status
        );
    }
    response.json()?["token"]
        .as_str()
        .map(|t| Secret::new(t.to_owned()))
        .with_context(|| format!("{registry}'s token answer has no token"))
}

/// Whether a credential for a registry can be had: an explicit token, or a CI's ID token to
/// trade (checked in the preflight; minted only when something is sent).
pub(super) fn credential_available(explicit: &str, gitlab_var: &str) -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    set(explicit)
        || set(gitlab_var)
        || (set("ACTIONS_ID_TOKEN_REQUEST_URL") && set("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
}

const CRATES_IO_CREDENTIAL: &str = "publishing to crates.io needs CARGO_REGISTRY_TOKEN or a \
    Trusted Publishing ID token (GitLab: id_tokens CRATES_IO_ID_TOKEN; GitHub: `id-token: write`)";
const PYPI_CREDENTIAL: &str = "publishing to PyPI needs PYPI_TOKEN or a Trusted Publishing ID \
    token (GitLab: id_tokens PYPI_ID_TOKEN; GitHub: `id-token: write`)";

/// The preflight for crates.io: whether the version is there (with the `.crate`'s checksum:
/// done; another: refused), and else that a credential can be had.
pub fn inspect_crate(
    plan: &PublishPlan,
    host: &HostPlan,
    crates_io_api: &str,
) -> anyhow::Result<bool> {
    let api = crates_io_api.trim_end_matches('/');
    let version_url = format!("{api}/api/v1/crates/{}/{}", plan.app, plan.version);
    let response = Client::new(vec![]).send("GET", &version_url, Body::Empty)?;
    if response.status == 200 {
        let checksum = response.json()?["version"]["checksum"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        compare_all(
            "crates.io",
            &host.uploads,
            &[Remote::Present(checksum)],
            "crates.io never replaces a version; release a new one",
        )?;
        return Ok(true);
    }
    if response.status != 404 {
        bail!(
            "crates.io answered GET {version_url} with HTTP {}",
            response.status
        );
    }
    if !credential_available("CARGO_REGISTRY_TOKEN", "CRATES_IO_ID_TOKEN") {
        bail!("{CRATES_IO_CREDENTIAL}");
    }
    Ok(false)
}

/// `cargo publish` unless [`inspect_crate`] found the version there.
pub fn apply_crate(
    plan: &PublishPlan,
    host: &HostPlan,
    crates_io_api: &str,
    crate_path: &Path,
    already: bool,
) -> anyhow::Result<()> {
    if already {
        say(format_args!(
            "{} {} is already on crates.io",
            plan.app, plan.version
        ));
        return Ok(());
    }
    let upload = &host.uploads[0];
    let api = crates_io_api.trim_end_matches('/');
    let (token, minted) = match std::env::var("CARGO_REGISTRY_TOKEN")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(token) => (Secret::new(token), None),
        None => {
            let id = id_token("crates.io", "CRATES_IO_ID_TOKEN")?.context(CRATES_IO_CREDENTIAL)?;
            let endpoint = format!("{api}/api/v1/trusted_publishing/tokens");
            let token = mint(&endpoint, "jwt", &id, "crates.io")?;
            (token.clone(), Some((endpoint, token)))
        }
    };
    let result = (|| {
        let output = crate::secrets::scrubbed(&mut Command::new(crate::cargo()))
            .args(["publish", "--locked", "--no-verify", "-p", &plan.app])
            .env("CARGO_REGISTRY_TOKEN", token.expose())
            .output()
            .context("cannot run cargo publish")?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            if stderr.contains("already exists") {
                say(format_args!(
                    "{} {} is already on crates.io",
                    plan.app, plan.version
                ));
                return Ok(());
            }
            bail!("cargo publish failed ({}):\n{stderr}", output.status);
        }
        say(format_args!(
            "published {} ({}) to crates.io",
            upload.file,
            crate_path.display()
        ));
        Ok(())
    })();
    if let Some((endpoint, token)) = minted {
        // The minted token dies with the job either way; revoking it says so now.
        let revoke = Client::new(vec![(
            "Authorization".into(),
            Secret::new(format!("Bearer {}", token.expose())),
        )]);
        let _ = revoke.send("DELETE", &endpoint, Body::Empty);
    }
    result
}

/// The preflight for PyPI: which wheels are there (another digest under a name: refused) and,
/// when some are missing, that a credential can be had. Returns the missing wheels.
pub fn inspect_wheels(
    plan: &PublishPlan,
    host: &HostPlan,
    pypi_api: &str,
) -> anyhow::Result<Vec<String>> {
    let api = pypi_api.trim_end_matches('/');
    let url = format!("{api}/pypi/{}/{}/json", plan.app, plan.version);
    let response = Client::new(vec![]).send("GET", &url, Body::Empty)?;
    let files = match response.status {
        200 => response.json()?["urls"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        404 => vec![],
        status => bail!("PyPI answered GET {url} with HTTP {status}"),
    };
    let remote: Vec<Remote> = host
        .uploads
        .iter()
        .map(|upload| {
            files
                .iter()
                .find(|file| file["filename"] == upload.file.as_str())
                .map_or(Remote::Missing, |file| {
                    Remote::Present(file["digests"]["sha256"].as_str().unwrap_or("").to_owned())
                })
        })
        .collect();
    compare_all(
        &format!("PyPI ({} {})", plan.app, plan.version),
        &host.uploads,
        &remote,
        "PyPI never takes a file name twice; release a new version",
    )?;
    let missing = super::missing_files(&host.uploads, &remote);
    if !missing.is_empty() && !credential_available("PYPI_TOKEN", "PYPI_ID_TOKEN") {
        bail!("{PYPI_CREDENTIAL}");
    }
    Ok(missing)
}

/// Uploads the wheels [`inspect_wheels`] found missing, with twine.
pub fn apply_wheels(
    sh: &xshell::Shell,
    host: &HostPlan,
    pypi_api: &str,
    dir: &Path,
    target_dir: &Path,
    missing: Vec<String>,
) -> anyhow::Result<()> {
    for upload in host.uploads.iter().filter(|u| !missing.contains(&u.file)) {
        say(format_args!("{} is already on PyPI", upload.file));
    }
    if missing.is_empty() {
        return Ok(());
    }
    let api = pypi_api.trim_end_matches('/');
    let token = match std::env::var("PYPI_TOKEN").ok().filter(|v| !v.is_empty()) {
        Some(token) => Secret::new(token),
        None => {
            let id = id_token("pypi", "PYPI_ID_TOKEN")?.context(PYPI_CREDENTIAL)?;
            mint(&format!("{api}/_/oidc/mint-token"), "token", &id, "PyPI")?
        }
    };
    let upload_url = &host.uploads[0].destination;
    let twine = install_twine(sh, target_dir)?;
    let wheels: Vec<std::path::PathBuf> = missing.iter().map(|name| dir.join(name)).collect();
    let status = crate::secrets::scrubbed(&mut Command::new(&twine))
        .args(["upload", "--non-interactive", "--disable-progress-bar"])
        .arg("--repository-url")
        .arg(upload_url)
        .args(&wheels)
        .env("TWINE_USERNAME", "__token__")
        .env("TWINE_PASSWORD", token.expose())
        .status()
        .context("cannot run twine")?;
    if !status.success() {
        bail!("twine upload failed ({status}); run publish again to upload what is missing");
    }
    for name in &missing {
        say(format_args!("uploaded {name}"));
    }
    Ok(())
}

/// twine at its pinned version, in a virtualenv of its own in the tools cache, made once per
/// version under a lock; a `.complete` marker written last, so a cut-off install is made again.
fn install_twine(sh: &xshell::Shell, target_dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let version = crate::pins::python_tool_version("twine").expect("twine is pinned");
    let root = crate::tools::tools_cache(target_dir).join(format!("twine-{version}"));
    let parent = root.parent().expect("the cache has a parent");
    fs_err::create_dir_all(parent)?;
    let lock = fs_err::File::create(parent.join(format!(".twine-{version}.lock")))?;
    lock.file().lock()?;
    let complete = root.join(".complete");
    if !complete.is_file() {
        // Ours (the cache's versioned directory): a cut-off install is removed and made again.
        if root.exists() {
            fs_err::remove_dir_all(&root)?;
        }
        xshell::cmd!(sh, "python3 -m venv {root}")
            .quiet()
            .run()
            .context("cannot make a Python virtualenv for twine: install python3-venv")?;
        let pip = root.join("bin/pip");
        let pin = format!("twine=={version}");
        xshell::cmd!(
            sh,
            "{pip} install --quiet --disable-pip-version-check {pin}"
        )
        .quiet()
        .run()
        .context("cannot install twine")?;
        fs_err::write(&complete, "")?;
    }
    Ok(root.join("bin/twine"))
}
