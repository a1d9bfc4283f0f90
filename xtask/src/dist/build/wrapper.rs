//! How the build names cargo-auditable: as the workspace wrapper, by name, found on `PATH`
//! (see [`super::step`] for why a path would make every user's binaries different).

use std::path::Path;

use super::BuildInputs;

/// The name cargo runs (and hashes) as the workspace crates' rustc wrapper.
pub const AUDITABLE_WRAPPER: &str = "cargo-auditable";

/// `$PATH` with the pinned cargo-auditable's directory first.
pub(super) fn path_with_auditable(inputs: &BuildInputs) -> String {
    let dir = Path::new(&inputs.auditable)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let dirs = std::iter::once(dir).chain(std::env::split_paths(&inputs.path));
    std::env::join_paths(dirs)
        .map(|path| path.to_string_lossy().into_owned())
        .unwrap_or_else(|_| inputs.path.clone())
}

/// The cargo flags `cargo auditable` hands its rustc wrapper (cargo-auditable's `CargoArgs`:
/// `--offline`, `--locked`, `--frozen` and every `--config`), as the JSON it expects.
pub(super) fn auditable_cargo_args(cargo_args: &[String]) -> String {
    let mut config = Vec::new();
    let mut words = cargo_args.iter();
    while let Some(word) = words.next() {
        if word == "--config" {
            config.extend(words.next().cloned());
        } else if let Some(value) = word.strip_prefix("--config=") {
            config.push(value.to_owned());
        }
    }
    let has = |flag: &str| cargo_args.iter().any(|word| word == flag);
    serde_json::json!({
        "offline": has("--offline"),
        "locked": has("--locked"),
        "frozen": has("--frozen"),
        "config": config,
    })
    .to_string()
}
