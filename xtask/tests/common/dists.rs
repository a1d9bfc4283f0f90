//! What the tests read from a dist: its manifest, its files, copies to tamper with.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{checked, temp_dir, xtask};

/// `sha256sum -c --strict SHA256SUMS` and `xtask verify` both pass on `dist`.
pub fn sums_and_verify_pass(workspace: &Path, dist: &Path) {
    checked(
        Command::new("sha256sum")
            .current_dir(dist)
            .args(["-c", "--strict", "SHA256SUMS"]),
    );
    checked(xtask(workspace).args(["verify", dist.to_str().unwrap()]));
}

/// The names of the entries of `dir`, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

pub fn read_manifest(dist: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dist.join("dist-manifest.json")).unwrap()).unwrap()
}

/// Every file of a directory with its bytes, for byte-for-byte comparisons.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// A copy of a dist directory's files in a fresh temporary directory, under the same name.
pub fn copy_dist(dist: &Path, label: &str) -> PathBuf {
    let target = temp_dir(label).join(dist.file_name().unwrap());
    std::fs::create_dir_all(&target).unwrap();
    for (name, bytes) in snapshot(dist) {
        std::fs::write(target.join(name), bytes).unwrap();
    }
    target
}

/// Unpacks the tar `file` (gzip or xz) into a new temporary directory (`label`).
pub fn untar(file: &Path, label: &str) -> PathBuf {
    let into = temp_dir(label);
    checked(
        Command::new("tar")
            .arg("-xf")
            .arg(file)
            .arg("-C")
            .arg(&into),
    );
    into
}

/// The manifest's entry for the file `name`.
pub fn listed<'a>(manifest: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in the dist"))
}

/// The name of the first artifact of `kind` in a manifest.
pub fn artifact_name(manifest: &serde_json::Value, kind: &str) -> String {
    manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} artifact"))["name"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The link time a PE file's COFF header carries (0 when the linker was told not to write one).
pub fn pe_timestamp(exe: &[u8]) -> u32 {
    use object::LittleEndian;
    let pe = object::read::pe::PeFile64::parse(exe).expect("a 64-bit PE file");
    pe.nt_headers()
        .file_header
        .time_date_stamp
        .get(LittleEndian)
}
