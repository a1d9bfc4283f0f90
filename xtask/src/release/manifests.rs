//! Bumping the version in the workspace's manifests and `Cargo.lock`, with `toml_edit` so that
//! comments and layout survive.

use anyhow::Context;
use toml_edit::{DocumentMut, Item, Value};

/// Replaces a string value, keeping its surrounding whitespace and comments.
fn set_string(item: &mut Item, new: &str) {
    if let Some(value) = item.as_value_mut() {
        let decor = value.decor().clone();
        let mut replacement = Value::from(new);
        *replacement.decor_mut() = decor;
        *value = replacement;
    }
}

fn bump_dependency_tables(table: &mut dyn toml_edit::TableLike, new: &str, members: &[String]) {
    for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(deps) = table.get_mut(key).and_then(Item::as_table_like_mut) else {
            continue;
        };
        for (name, dep) in deps.iter_mut() {
            let Some(dep) = dep.as_table_like_mut() else {
                continue;
            };
            let package = dep
                .get("package")
                .and_then(Item::as_str)
                .unwrap_or(name.get())
                .to_owned();
            if members.contains(&package)
                && dep.get("path").is_some()
                && let Some(version) = dep.get_mut("version")
            {
                set_string(version, new);
            }
        }
    }
}

/// `[package] version` of `table` (the document or `[workspace]`), when it is a string (not
/// `version.workspace = true`).
fn package_version(table: &mut dyn toml_edit::TableLike) -> Option<&mut Item> {
    table
        .get_mut("package")
        .and_then(Item::as_table_like_mut)
        .and_then(|package| package.get_mut("version"))
        .filter(|v| v.is_str())
}

pub fn bump_manifest(text: &str, new: &str, members: &[String]) -> anyhow::Result<String> {
    let mut doc: DocumentMut = text.parse()?;
    if let Some(workspace) = doc.get_mut("workspace").and_then(Item::as_table_like_mut) {
        if let Some(version) = package_version(workspace) {
            set_string(version, new);
        }
        bump_dependency_tables(workspace, new, members);
    }
    if let Some(version) = package_version(doc.as_table_mut()) {
        set_string(version, new);
    }
    bump_dependency_tables(doc.as_table_mut(), new, members);
    if let Some(targets) = doc.get_mut("target").and_then(Item::as_table_like_mut) {
        for (_, target) in targets.iter_mut() {
            if let Some(target) = target.as_table_like_mut() {
                bump_dependency_tables(target, new, members);
            }
        }
    }
    Ok(doc.to_string())
}

pub fn bump_lock(text: &str, new: &str, members: &[String]) -> anyhow::Result<String> {
    let mut doc: DocumentMut = text.parse().context("Cargo.lock is not valid TOML")?;
    if let Some(packages) = doc
        .get_mut("package")
        .and_then(Item::as_array_of_tables_mut)
    {
        for package in packages.iter_mut() {
            let local = package.get("source").is_none();
            let member = package
                .get("name")
                .and_then(Item::as_str)
                .is_some_and(|n| members.iter().any(|m| m == n));
            if local
                && member
                && let Some(version) = package.get_mut("version")
            {
                set_string(version, new);
            }
        }
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = r#"[workspace]
members = ["a", "b"]

[workspace.package]
# the one version of the workspace
version = "0.1.0"   # bumped by `cargo xtask release`

[workspace.dependencies]
a = { path = "a", version = "0.1.0" }
regex = "1.0.0"
"#;

    const MEMBER: &str = r#"[package]
name = "b"
version = "0.1.0" # own version

[dependencies]
a = { path = "../a", version = "=0.1.0" }
other = { version = "0.1.0" }

[target.'cfg(unix)'.dependencies]
a2 = { package = "a", path = "../a", version = "0.1.0" }
"#;

    #[test]
    fn manifests_keep_comments_and_bump_only_workspace_versions() {
        let members = vec!["a".to_owned(), "b".to_owned()];
        let root = bump_manifest(ROOT, "0.2.0", &members).unwrap();
        assert!(root.contains("# the one version of the workspace\nversion = \"0.2.0\"   # bumped by `cargo xtask release`"), "{root}");
        assert!(
            root.contains(r#"a = { path = "a", version = "0.2.0" }"#),
            "{root}"
        );
        assert!(root.contains(r#"regex = "1.0.0""#));
        let member = bump_manifest(MEMBER, "0.2.0", &members).unwrap();
        assert!(
            member.contains("version = \"0.2.0\" # own version"),
            "{member}"
        );
        assert!(
            member.contains(r#"a = { path = "../a", version = "0.2.0" }"#),
            "{member}"
        );
        assert!(
            member.contains(r#"other = { version = "0.1.0" }"#),
            "{member}"
        );
        assert!(
            member.contains(r#"a2 = { package = "a", path = "../a", version = "0.2.0" }"#),
            "{member}"
        );
    }

    #[test]
    fn lock_bumps_only_local_members() {
        let lock = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        let bumped = bump_lock(lock, "0.2.0", &["a".to_owned()]).unwrap();
        assert_eq!(bumped.matches("0.2.0").count(), 1, "{bumped}");
    }
}
