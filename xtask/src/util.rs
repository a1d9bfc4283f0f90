//! Small helpers several commands share: private temporary directories and unpacking a
//! verified archive.

use std::path::{Path, PathBuf};

use anyhow::Context;

pub fn tempdir(label: &str) -> anyhow::Result<PathBuf> {
    let dir =
        std::env::temp_dir().join(format!("xtask-{label}-{}-{}", std::process::id(), nanos()));
    fs_err::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Runs `work` in a temporary directory of ours, removed however `work` ends (its error wins
/// over a failed removal).
pub fn in_tempdir<T>(
    label: &str,
    work: impl FnOnce(&Path) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let dir = tempdir(label)?;
    let result = work(&dir);
    let removed = fs_err::remove_dir_all(&dir);
    let value = result?;
    removed?;
    Ok(value)
}

/// A unit test's scratch directory, removed with everything in it when the guard drops.
#[cfg(test)]
pub fn scratch(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("xtask-{label}-"))
        .tempdir()
        .expect("cannot create a scratch directory")
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Unpacks a verified archive of the planned (or recorded) `format` into `into`.
pub fn extract(
    archive: &Path,
    format: crate::targets::ArchiveFormat,
    into: &Path,
) -> anyhow::Result<()> {
    if format == crate::targets::ArchiveFormat::Zip {
        let file = fs_err::File::open(archive)
            .with_context(|| format!("cannot open {}", archive.display()))?;
        zip::ZipArchive::new(file)?.extract(into)?;
    } else {
        tar::Archive::new(crate::dist::archive::tar_stream(archive, format)?).unpack(into)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_tempdir_removes_its_directory_however_the_work_ends() {
        let mut seen = PathBuf::new();
        let made = in_tempdir("util-ok", |dir| {
            seen = dir.to_owned();
            fs_err::write(dir.join("file"), "x")?;
            Ok(7)
        });
        assert_eq!(made.unwrap(), 7);
        assert!(!seen.as_os_str().is_empty() && !seen.exists(), "{seen:?}");

        let failed = in_tempdir("util-err", |dir| -> anyhow::Result<()> {
            seen = dir.to_owned();
            fs_err::create_dir(dir.join("sub"))?;
            anyhow::bail!("the work failed")
        });
        assert_eq!(failed.unwrap_err().to_string(), "the work failed");
        assert!(!seen.exists(), "{seen:?}");
    }
}
