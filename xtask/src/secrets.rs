//! The environment variables that carry credentials: the release key and the tokens CI hands
//! to publishing jobs.
//!
//! **Architecture Invariant:** no child process that builds or packages (cargo's build, its
//! build scripts and proc macros, `cargo package`) runs with any of these; a publishing child
//! (`cargo publish`, twine) gets only the one credential it uses, set by the tool; curl gets
//! its credentials on stdin (`http.rs`).

use crate::signing::{PASSWORD_VAR, SIGNING_KEY_VAR};

pub const CREDENTIAL_VARS: &[&str] = &[
    SIGNING_KEY_VAR,
    PASSWORD_VAR,
    // GitHub Actions: the job token, and the OIDC request that mints ID tokens.
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_RUNTIME_TOKEN",
    // GitLab: the job token and the ID tokens of the publish jobs.
    "CI_JOB_TOKEN",
    "CRATES_IO_ID_TOKEN",
    "PYPI_ID_TOKEN",
    "NPM_ID_TOKEN",
    "SIGSTORE_ID_TOKEN",
    // The registries' own.
    "CARGO_REGISTRY_TOKEN",
    "PYPI_TOKEN",
    "TWINE_PASSWORD",
    "NPM_TOKEN",
    "HOMEBREW_TAP_TOKEN",
    "SCOOP_BUCKET_TOKEN",
    "NODE_AUTH_TOKEN",
];

/// `command` without any credential in its environment.
pub fn scrubbed(command: &mut std::process::Command) -> &mut std::process::Command {
    for var in CREDENTIAL_VARS {
        command.env_remove(var);
    }
    command
}

/// [`scrubbed`], for xshell's commands.
pub fn scrubbed_cmd(mut command: xshell::Cmd<'_>) -> xshell::Cmd<'_> {
    for var in CREDENTIAL_VARS {
        command = command.env_remove(var);
    }
    command
}
