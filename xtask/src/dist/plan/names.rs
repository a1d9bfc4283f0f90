//! How the plan names files: the archives' stem, an include file's place in an archive, and
//! the names a release host keeps as they are.

use anyhow::bail;

/// An archive's file stem and top directory: `<app>_<version>_<target>`. Not
/// `<app>-<version>-<target>`: pip (23 and older) reads such a `.tar.gz` beside the wheels as the
/// app's source distribution of version `<version>-<target>` and, for a pre-release or where
/// no wheel fits, tries to build it ("does not appear to be a Python project"); no prefix of a
/// name with `_` after the app's name is the app's name to pip.
pub fn archive_stem(app: &str, version: &str, triple: &str) -> String {
    format!("{app}_{version}_{triple}")
}

/// Refuses a file name that a release host would change on upload: GitHub renames a file
/// whose name has other characters than letters, digits, `.`, `_`, `-` and `+` (a Debian `~`,
/// a space) or starts with a period, and a renamed file no longer matches `SHA256SUMS`.
pub(super) fn check_upload_safe(name: &str) -> anyhow::Result<()> {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+');
    if name.starts_with('.') || !name.chars().all(safe) {
        bail!(
            "the planned file name {name:?} would be renamed when uploaded to a release (GitHub \
             keeps only letters, digits, '.', '_', '-' and '+'): change the package name or \
             version that it is made of"
        );
    }
    Ok(())
}

/// Where an include file goes inside the archive: relative to the shipped package's directory
/// when it lies inside it (`app/rules/default.toml` → `rules/default.toml`), else to the root.
pub fn include_archive_name(include: &str, package_dir: &str) -> String {
    let prefix = format!("{package_dir}/");
    include.strip_prefix(&prefix).unwrap_or(include).to_owned()
}
