//! Trust: `keygen`, signed dists checked by Debian's `minisign` and by `verify`, install.sh
//! refusing what does not verify, and the provenance statement checked by PyPI's
//! `in-toto-attestation`, for a dist and for a merge of partial dists.

mod keys;
mod provenance;
mod rebuild;
mod signatures;

use crate::common::builds::{Build, dist as build};
use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
/// The fixture and a signed dist of its host target ([`Build::FixtureSigned`]): signing and
/// verifying are the point, on the app-shaped fixture.
fn signed() -> (&'static PathBuf, &'static PathBuf) {
    let built = build(Build::FixtureSigned);
    (&built.workspace, &built.dist)
}

fn minisign_verify(dist: &Path, public_key: &Path) -> std::process::Output {
    run(Command::new("minisign")
        .current_dir(dist)
        .args(["-V", "-m", "SHA256SUMS", "-p"])
        .arg(public_key))
}

fn version(dist: &Path) -> String {
    read_manifest(dist)["version"].as_str().unwrap().to_owned()
}

fn which(tool: &str) -> Result<PathBuf, ()> {
    std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|dir| Path::new(dir).join(tool))
        .find(|path| path.is_file())
        .ok_or(())
}
