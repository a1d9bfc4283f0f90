//! Output directories: which ones a command may replace, and how it replaces them (claim,
//! stage, swap) so that a killed run never leaves a half-written one.
//!
//! **Architecture Invariant:** nothing a command did not make is deleted or replaced: a
//! directory is replaced only when it is new, empty, or an earlier output of the same command.

use fs_err::{self as fs, File};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::manifest;

/// What may be replaced at an output path: [`Ownership::Dist`] (a previous dist: a
/// `dist-manifest.json` of ours and only the files it lists) or [`Ownership::Files`] (only these
/// relative paths, e.g. a container image root).
pub enum Ownership<'a> {
    Dist,
    Files(&'a [&'a str]),
}

/// Refuses to let a command replace `out` unless it does not exist, is an empty directory, or
/// holds only what an earlier run of the same command made. Changes nothing.
pub fn ensure_replaceable(out: &Path, ownership: &Ownership) -> anyhow::Result<()> {
    let meta = match fs::symlink_metadata(out) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        other => other.with_context(|| {
            format!(
                "cannot inspect {}: pick a writable --out directory",
                out.display()
            )
        })?,
    };
    if meta.file_type().is_symlink() {
        bail!(
            "{} is a symbolic link; nothing was changed: pass the directory it points to, or a \
             new directory, as --out",
            out.display()
        );
    }
    if !meta.is_dir() {
        bail!(
            "{} is a file, not a directory; nothing was changed: pass a new or empty directory as --out",
            out.display()
        );
    }
    let reason = match ownership {
        Ownership::Dist => foreign_in_dist(out)?,
        Ownership::Files(ours) => foreign_files(out, out, ours)?,
    };
    match reason {
        None => Ok(()),
        Some(reason) => bail!(
            "{} is not empty and not an earlier output of this command ({reason}); nothing was \
             changed: pass a new or empty directory, or move its contents away first",
            out.display()
        ),
    }
}

/// Why `dir` is not a previous dist, if it is not.
fn foreign_in_dist(dir: &Path) -> anyhow::Result<Option<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            return Ok(Some(format!(
                "{} is not a file",
                entry.file_name().display()
            )));
        }
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    if names.is_empty() {
        return Ok(None);
    }
    let Some(listed) = fs::read(dir.join(manifest::FILE_NAME))
        .ok()
        .and_then(|bytes| manifest::listed_files(&bytes))
    else {
        return Ok(Some(format!("it has no {} of ours", manifest::FILE_NAME)));
    };
    Ok(names
        .iter()
        .find(|name| {
            // The manifest and the signature are ours without being listed in the manifest.
            let unlisted_ours = [manifest::FILE_NAME, crate::signing::SIGNATURE_FILE];
            !unlisted_ours.contains(&name.as_str()) && !listed.contains(*name)
        })
        .map(|name| format!("{name} is not listed in its {}", manifest::FILE_NAME)))
}

/// Why `dir` (below `root`) holds something other than `ours`, if it does.
fn foreign_files(root: &Path, dir: &Path, ours: &[&str]) -> anyhow::Result<Option<String>> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let relative = path.strip_prefix(root)?.to_string_lossy().into_owned();
        let is_dir = fs::symlink_metadata(&path)?.is_dir();
        let prefix = format!("{relative}/");
        let known = ours
            .iter()
            .any(|o| *o == relative || (is_dir && o.starts_with(&prefix)));
        if !known {
            return Ok(Some(format!("{relative} is not one of its files")));
        }
        if is_dir && let Some(reason) = foreign_files(root, &path, ours)? {
            return Ok(Some(reason));
        }
    }
    Ok(None)
}

/// An output directory claimed by this process: checked, locked, cleaned of what killed runs
/// left. [`OutputDir::publish`] fills a staging directory beside it and swaps it in.
///
/// The lock, staging and swap directories sit beside `out` as `.xtask-<name>.*`, which the
/// workspace's `.gitignore` covers.
pub struct OutputDir {
    out: PathBuf,
    /// Held for as long as this lives; the OS drops it if we die.
    _lock: File,
}

impl OutputDir {
    pub fn claim(out: &Path, ownership: &Ownership) -> anyhow::Result<OutputDir> {
        ensure_replaceable(out, ownership)?;
        let parent = super::ensure_parent(out)?;
        let path = parent.join(format!("{}lock", side_prefix(out)?));
        let file = File::create(&path).with_context(|| {
            format!(
                "cannot create {}: pick a writable --out directory",
                path.display()
            )
        })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "another `cargo xtask` is writing {} right now; wait for it to finish and run again",
                out.display()
            ),
            Err(std::fs::TryLockError::Error(err)) => {
                return Err(err).context(format!("cannot lock {}", path.display()));
            }
        }
        let claimed = OutputDir {
            out: out.to_owned(),
            _lock: file,
        };
        clean_leftovers(out)?;
        // Again under the lock: another run may have changed it since the first look.
        ensure_replaceable(out, ownership)?;
        Ok(claimed)
    }

    pub fn path(&self) -> &Path {
        &self.out
    }

    /// Runs `fill` on a fresh staging directory and, when it succeeds, swaps the staging
    /// directory in as the output. On failure the staging directory is removed and the output
    /// is left as it was.
    pub fn publish<T>(self, fill: impl FnOnce(&Path) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let staging = self.out.with_file_name(format!(
            "{}staging-{}",
            side_prefix(&self.out)?,
            std::process::id()
        ));
        fs::create_dir(&staging).with_context(|| format!("cannot create {}", staging.display()))?;
        let filled = fill(&staging);
        let value = match filled {
            Ok(value) => value,
            Err(err) => {
                let _ = fs::remove_dir_all(&staging);
                return Err(err);
            }
        };
        pause_for_tests("before-swap");
        swap_into_place(&staging, &self.out)?;
        Ok(value)
    }
}

fn file_name(out: &Path) -> anyhow::Result<String> {
    Ok(out
        .file_name()
        .with_context(|| format!("{} has no directory name; pass --out DIR", out.display()))?
        .to_string_lossy()
        .into_owned())
}

/// `.xtask-<name>.`: the prefix of everything this tool keeps beside `out`.
fn side_prefix(out: &Path) -> anyhow::Result<String> {
    Ok(format!(".xtask-{}.", file_name(out)?))
}

/// Test hook: with `XTASK_TEST_PAUSE=<stage>`, the run prints `paused at <stage>` and waits
/// there, so a test can kill it at a known point.
pub fn pause_for_tests(stage: &str) {
    if std::env::var("XTASK_TEST_PAUSE").is_ok_and(|s| s == stage) {
        eprintln!("paused at {stage}");
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// Removes what killed runs left beside `out` and restores an output caught mid-swap.
/// Must be called with the lock held.
fn clean_leftovers(out: &Path) -> anyhow::Result<()> {
    let parent = out.parent().context("output has no parent")?;
    let prefix = side_prefix(out)?;
    let staging = format!("{prefix}staging-");
    let old = format!("{prefix}old-");
    for entry in fs::read_dir(parent)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&old) && !out.exists() {
            fs::rename(entry.path(), out)?;
        } else if name.starts_with(&staging) || name.starts_with(&old) {
            fs::remove_dir_all(entry.path()).with_context(|| {
                format!("cannot remove the leftover {}", entry.path().display())
            })?;
        }
    }
    Ok(())
}

/// Puts `staging` at `out` in one step; the previous output ends up at `staging` and is removed.
fn swap_into_place(staging: &Path, out: &Path) -> anyhow::Result<()> {
    if !out.exists() {
        return fs::rename(staging, out)
            .with_context(|| format!("cannot move the dist to {}", out.display()));
    }
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let from = CString::new(staging.as_os_str().as_bytes())?;
        let to = CString::new(out.as_os_str().as_bytes())?;
        // SAFETY: both pointers are valid NUL-terminated paths for the duration of the call.
        let result = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if result == 0 {
            fs::remove_dir_all(staging).with_context(|| {
                format!("cannot remove the previous dist at {}", staging.display())
            })?;
            return Ok(());
        }
    }
    // Elsewhere (or on file systems without RENAME_EXCHANGE): two renames, and
    // `clean_leftovers` restores `.old-*` if we die between them.
    let old = out.with_file_name(format!("{}old-{}", side_prefix(out)?, std::process::id()));
    fs::rename(out, &old).with_context(|| format!("cannot move {} aside", out.display()))?;
    pause_for_tests("after-first-rename");
    fs::rename(staging, out)
        .with_context(|| format!("cannot move the dist to {}", out.display()))?;
    fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::manifest::Manifest;

    #[test]
    fn second_claim_is_refused_and_leftovers_are_cleaned() {
        let scratch = crate::util::scratch("claim");
        let dir = scratch.path();
        let out = dir.join("dist");
        let first = OutputDir::claim(&out, &Ownership::Dist).unwrap();
        let err = OutputDir::claim(&out, &Ownership::Dist)
            .err()
            .expect("second claim must fail")
            .to_string();
        assert!(err.contains("another `cargo xtask`"), "{err}");
        drop(first);

        fs::create_dir_all(dir.join(".xtask-dist.staging-123/sub")).unwrap();
        fs::create_dir_all(dir.join(".xtask-dist.old-9")).unwrap();
        fs::write(dir.join(".xtask-dist.old-9/SHA256SUMS"), "x").unwrap();
        // A dist caught between renames is restored, then judged like any other output: this
        // one has no manifest, so it is not ours to replace.
        let err = OutputDir::claim(&out, &Ownership::Dist).err().unwrap();
        assert!(err.to_string().contains("no dist-manifest.json"), "{err}");
        assert!(!dir.join(".xtask-dist.staging-123").exists());
        assert!(out.join("SHA256SUMS").exists());
    }

    #[test]
    fn publish_swaps_in_on_success_and_keeps_the_old_output_on_failure() {
        let scratch = crate::util::scratch("publish");
        let dir = scratch.path();
        let out = dir.join("dist");
        let made = OutputDir::claim(&out, &Ownership::Files(&["a"]))
            .unwrap()
            .publish(|staging| Ok(fs::write(staging.join("a"), "1")?))
            .map(|()| fs::read_to_string(out.join("a")).unwrap());
        assert_eq!(made.unwrap(), "1");
        let failed = OutputDir::claim(&out, &Ownership::Files(&["a"]))
            .unwrap()
            .publish(|staging| -> anyhow::Result<()> {
                fs::write(staging.join("a"), "2")?;
                bail!("assembly failed")
            });
        assert!(failed.is_err());
        assert_eq!(fs::read_to_string(out.join("a")).unwrap(), "1");
        OutputDir::claim(&out, &Ownership::Files(&["a"]))
            .unwrap()
            .publish(|staging| Ok(fs::write(staging.join("a"), "3")?))
            .unwrap();
        assert_eq!(fs::read_to_string(out.join("a")).unwrap(), "3");
        let left: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left.len(), 2, "only dist/ and its lock remain: {left:?}");
    }

    #[test]
    fn only_new_empty_or_own_outputs_are_replaceable() {
        let scratch = crate::util::scratch("replaceable");
        let dir = scratch.path();
        let ok = |p: &Path, o: &Ownership| ensure_replaceable(p, o).map_err(|e| e.to_string());
        assert!(ok(&dir.join("new"), &Ownership::Dist).is_ok());
        fs::create_dir(dir.join("empty")).unwrap();
        assert!(ok(&dir.join("empty"), &Ownership::Dist).is_ok());

        let user = dir.join("user");
        fs::create_dir(&user).unwrap();
        fs::write(user.join("thesis.tex"), "years of work").unwrap();
        let err = ok(&user, &Ownership::Dist).unwrap_err();
        assert!(err.contains(&user.display().to_string()) && err.contains("nothing was changed"));

        fs::write(dir.join("file"), "x").unwrap();
        assert!(
            ok(&dir.join("file"), &Ownership::Dist)
                .unwrap_err()
                .contains("is a file")
        );
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&user, dir.join("link")).unwrap();
            let err = ok(&dir.join("link"), &Ownership::Dist).unwrap_err();
            assert!(err.contains("symbolic link"), "{err}");
        }

        let dist = dir.join("dist");
        fs::create_dir(&dist).unwrap();
        let mut manifest = Manifest {
            format: manifest::FORMAT.to_owned(),
            format_version: manifest::FORMAT_VERSION,
            app: "jimini".into(),
            version: "0.2.0".into(),
            commit: "c".into(),
            source_date_epoch: 0,
            source_date: "1970-01-01T00:00:00Z".into(),
            partial: false,
            targets: vec![],
            artifacts: vec![],
        };
        manifest::write(&mut manifest, &dist).unwrap();
        assert!(ok(&dist, &Ownership::Dist).is_ok());
        fs::write(dist.join(crate::signing::SIGNATURE_FILE), "signed").unwrap();
        assert!(
            ok(&dist, &Ownership::Dist).is_ok(),
            "a signed dist is ours too"
        );
        fs::write(dist.join("notes.txt"), "mine").unwrap();
        let err = ok(&dist, &Ownership::Dist).unwrap_err();
        assert!(err.contains("notes.txt is not listed"), "{err}");

        // A dist of an older xtask (another format version) is still ours to replace.
        let older = dir.join("older");
        fs::create_dir(&older).unwrap();
        fs::write(older.join("a.tar.xz"), "x").unwrap();
        fs::write(
            older.join(manifest::FILE_NAME),
            r#"{"format": "jimini-dist-manifest", "format_version": 1, "artifacts": [{"name": "a.tar.xz"}]}"#,
        )
        .unwrap();
        assert!(ok(&older, &Ownership::Dist).is_ok());

        let image = dir.join("image");
        fs::create_dir_all(image.join("usr/bin")).unwrap();
        fs::write(image.join("usr/bin/jimini"), "x").unwrap();
        let ours = Ownership::Files(&["usr/bin/jimini", "var/lib/jimini"]);
        assert!(ok(&image, &ours).is_ok());
        fs::write(image.join("usr/bin/other"), "x").unwrap();
        assert!(ok(&image, &ours).unwrap_err().contains("usr/bin/other"));
    }
}
