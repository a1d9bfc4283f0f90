//! Packages that an earlier dist already wrote and verified, reused when every input is the
//! same: a dist with nothing changed packs nothing again.
//!
//! A package's key is the SHA-256 of everything its bytes depend on: the tooling binary
//! itself (so any change to a writer or a compressor is a new key), the package's planned
//! description (name, format, entries, control data, timestamps) and the SHA-256 of every
//! source file it reads. A hit is copied into the staging directory and hashed again; it must
//! equal the digest recorded when it was stored. Packages are stored only after the dist that
//! wrote them passed `verify`.
//!
//! **Architecture Invariant:** reuse is proven by hashes, never by timestamps, and a reused
//! package is byte-for-byte what a fresh write of the same inputs gives (the cache never holds
//! anything a verified dist did not produce).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::Context;
use fs_err as fs;
use sha2::{Digest, Sha256};

use super::archive::{self, Digest256};

/// The package cache of one target directory, and what this run used and wrote.
pub struct PackageCache {
    dir: PathBuf,
    /// (file name, SHA-256) of the packages reused this run.
    reused: Mutex<BTreeSet<(String, String)>>,
    /// (key, package file name) written fresh this run, stored after the dist verified.
    written: Mutex<Vec<(String, String)>>,
    /// SHA-256 of each source file read this run: a target's archives and `.deb` read the
    /// same binaries, which are hashed once.
    source_digests: Mutex<BTreeMap<PathBuf, String>>,
}

/// What a package's bytes depend on, in a canonical order.
pub struct PackageInputs<'a> {
    pub file_name: &'a str,
    /// The planned description of the package (serialized plan data, timestamps included).
    pub description: String,
    /// Every source file the package reads.
    pub sources: Vec<&'a Path>,
}

impl PackageCache {
    pub fn new(target_dir: &Path) -> PackageCache {
        PackageCache {
            dir: target_dir.join("xtask-dist-packages"),
            reused: Mutex::default(),
            written: Mutex::default(),
            source_digests: Mutex::default(),
        }
    }

    /// The package's key (see the module docs).
    pub fn key(&self, inputs: &PackageInputs) -> anyhow::Result<String> {
        let mut hasher = Sha256::new();
        hasher.update(b"jimini-xtask package cache v1\n");
        hasher.update(tooling_digest()?.as_bytes());
        hasher.update(inputs.file_name.as_bytes());
        hasher.update(b"\n");
        hasher.update(inputs.description.as_bytes());
        for source in &inputs.sources {
            hasher.update(b"\n");
            hasher.update(self.source_digest(source)?.as_bytes());
        }
        Ok(hex::encode(hasher.finalize()))
    }

    fn source_digest(&self, source: &Path) -> anyhow::Result<String> {
        if let Some(digest) = self
            .source_digests
            .lock()
            .expect("not poisoned")
            .get(source)
        {
            return Ok(digest.clone());
        }
        let digest = archive::digest_file(source)?.sha256;
        self.source_digests
            .lock()
            .expect("not poisoned")
            .insert(source.to_owned(), digest.clone());
        Ok(digest)
    }

    /// Copies the stored package of `key` to `out` and returns its digest, if there is one and
    /// its bytes are the ones stored. The cache is only an optimisation: anything wrong with
    /// it (missing, damaged, removed by another run meanwhile) is a miss.
    pub fn reuse(&self, key: &str, out: &Path) -> anyhow::Result<Option<Digest256>> {
        let stored = self.dir.join(key);
        let Ok(recorded) = fs::read_to_string(stored.with_extension("sha256")) else {
            return Ok(None);
        };
        if fs::copy(&stored, out).is_err() {
            let _ = fs::remove_file(out);
            return Ok(None);
        }
        let digest = archive::digest_file(out)?;
        if digest.sha256 != recorded.trim() {
            fs::remove_file(out)?;
            return Ok(None);
        }
        // Recently used entries are the ones kept (see `store`).
        if let Ok(file) = std::fs::File::options().append(true).open(&stored) {
            let _ = file.set_modified(std::time::SystemTime::now());
        }
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.reused
            .lock()
            .expect("not poisoned")
            .insert((name, digest.sha256.clone()));
        Ok(Some(digest))
    }

    /// Notes a package written fresh, to be stored once the dist verified.
    pub fn wrote(&self, key: String, file_name: &str) {
        self.written
            .lock()
            .expect("not poisoned")
            .push((key, file_name.to_owned()));
    }

    /// (file name, SHA-256) of the packages this run reused: their content checks ran when
    /// they were first written, so `verify` checks only their digests.
    pub fn reused(&self) -> BTreeSet<(String, String)> {
        self.reused.lock().expect("not poisoned").clone()
    }

    /// Stores the packages this run wrote (from the verified dist in `dist`), then keeps the
    /// [`KEPT`] most recently used entries. Runs that share the target directory may store and
    /// prune at the same time: entries are renamed into place whole, and a reader treats a
    /// vanished or damaged entry as a miss.
    pub fn store(&self, dist: &Path) -> anyhow::Result<()> {
        fs::create_dir_all(&self.dir)?;
        for (key, name) in self.written.lock().expect("not poisoned").iter() {
            let source = dist.join(name);
            let digest = archive::digest_file(&source)?;
            let partial = self
                .dir
                .join(format!("{key}.partial-{}", std::process::id()));
            fs::copy(&source, &partial)?;
            fs::rename(&partial, self.dir.join(key))?;
            let sidecar = self
                .dir
                .join(format!("{key}.sha256.partial-{}", std::process::id()));
            fs::write(&sidecar, &digest.sha256)?;
            fs::rename(&sidecar, self.dir.join(key).with_extension("sha256"))?;
        }
        let mut entries = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.len() == 64 && !name.contains('.') {
                let modified = entry.metadata()?.modified()?;
                entries.push((modified, name));
            }
        }
        entries.sort();
        let excess = entries.len().saturating_sub(KEPT);
        for (_, key) in entries.into_iter().take(excess) {
            let _ = fs::remove_file(self.dir.join(&key));
            let _ = fs::remove_file(self.dir.join(&key).with_extension("sha256"));
        }
        Ok(())
    }
}

/// How many packages the cache keeps: every package of a few full dists.
pub const KEPT: usize = 48;

/// SHA-256 of the running tooling binary: every writer's code is part of every key.
fn tooling_digest() -> anyhow::Result<&'static str> {
    static DIGEST: OnceLock<String> = OnceLock::new();
    if let Some(digest) = DIGEST.get() {
        return Ok(digest);
    }
    let exe = std::env::current_exe().context("cannot find the running xtask binary")?;
    let digest = archive::digest_file(&exe)?.sha256;
    Ok(DIGEST.get_or_init(|| digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_package_is_reused_only_while_every_input_and_its_bytes_are_the_same() {
        let scratch = crate::util::scratch("reuse");
        let dir = scratch.path();
        let cache = PackageCache::new(&dir.join("target"));
        let source = dir.join("binary");
        fs::write(&source, "one").unwrap();
        let inputs = |description: &str| PackageInputs {
            file_name: "a.tar.xz",
            description: description.to_owned(),
            sources: vec![&source],
        };
        let key = cache.key(&inputs("entries")).unwrap();
        let out = dir.join("dist");
        fs::create_dir_all(&out).unwrap();
        assert_eq!(cache.reuse(&key, &out.join("a.tar.xz")).unwrap(), None);
        fs::write(out.join("a.tar.xz"), "packed").unwrap();
        cache.wrote(key.clone(), "a.tar.xz");
        cache.store(&out).unwrap();

        let again = PackageCache::new(&dir.join("target"));
        let copy = dir.join("copy.tar.xz");
        let digest = again.reuse(&key, &copy).unwrap().expect("stored");
        assert_eq!(fs::read(&copy).unwrap(), b"packed");
        assert_eq!(digest.size, 6);
        assert_eq!(again.reused().len(), 1);
        // Another description or another source byte is another key.
        assert_ne!(again.key(&inputs("other entries")).unwrap(), key);
        // (A run hashes each source once: the next run sees the new bytes.)
        fs::write(&source, "two").unwrap();
        let next_run = PackageCache::new(&dir.join("target"));
        assert_ne!(next_run.key(&inputs("entries")).unwrap(), key);
        // Damaged bytes in the cache are not reused.
        fs::write(
            dir.join("target/xtask-dist-packages").join(&key),
            "tampered",
        )
        .unwrap();
        assert_eq!(again.reuse(&key, &copy).unwrap(), None);
        assert!(!copy.exists());
    }
}
