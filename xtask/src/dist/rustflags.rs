//! The user's rustflags, and how dist adds its own (the path remaps) without replacing them.
//!
//! Cargo uses only one of `CARGO_ENCODED_RUSTFLAGS`, `RUSTFLAGS`, `target.<triple>.rustflags`
//! (or `CARGO_TARGET_<TRIPLE>_RUSTFLAGS`, or `target.'cfg(..)'.rustflags`) and
//! `build.rustflags`; dist extends whichever is in effect.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::targets::Triple;

/// The user's rustflags as cargo would see them, so that ours are added, never substituted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserRustflags {
    pub encoded_env: Option<String>,
    pub plain_env: Option<String>,
    /// Triples whose flags come from `target.<triple>.rustflags` (or `cfg` for any
    /// `target.'cfg(..)'.rustflags`) in a config file, which make cargo ignore `build.rustflags`.
    pub target_specific: BTreeSet<String>,
    /// The `<TRIPLE>` of every non-empty `CARGO_TARGET_<TRIPLE>_RUSTFLAGS` variable.
    pub target_env: BTreeSet<String>,
}

/// Paths that must not appear in shipped binaries, remapped to fixed names.
pub fn remap_flags(workspace: &Path, target_dir: &Path, cargo_home: &Path) -> Vec<String> {
    // rustc applies the last matching remap, so a path inside another one comes after it (the
    // target directory inside the workspace). Otherwise the order is fixed, not by path, so the
    // flags read the same wherever the checkout lives (the provenance records them).
    let mut pairs = vec![
        (cargo_home, "/cargo"),
        (workspace, "/build"),
        (target_dir, "/target"),
    ];
    let paths: Vec<&Path> = pairs.iter().map(|(path, _)| *path).collect();
    pairs.sort_by_key(|(path, _)| {
        paths
            .iter()
            .filter(|other| *other != path && path.starts_with(other))
            .count()
    });
    pairs
        .into_iter()
        .map(|(path, to)| format!("--remap-path-prefix={}={to}", path.display()))
        .collect()
}

/// Adds `ours` to whichever rustflags source cargo will use, keeping the user's flags.
pub fn extend(
    ours: &[String],
    user: &UserRustflags,
    targets: &[Triple],
    argv: &mut Vec<String>,
    env: &mut BTreeMap<String, String>,
) {
    if let Some(encoded) = &user.encoded_env {
        let mut flags: Vec<&str> = encoded.split('\x1f').filter(|f| !f.is_empty()).collect();
        flags.extend(ours.iter().map(String::as_str));
        env.insert("CARGO_ENCODED_RUSTFLAGS".to_owned(), flags.join("\x1f"));
    } else if let Some(plain) = &user.plain_env {
        // Cargo splits RUSTFLAGS on whitespace; the encoded form (which wins over RUSTFLAGS)
        // keeps our paths intact.
        let mut flags: Vec<&str> = plain.split_whitespace().collect();
        flags.extend(ours.iter().map(String::as_str));
        env.insert("CARGO_ENCODED_RUSTFLAGS".to_owned(), flags.join("\x1f"));
    } else {
        let toml_list = format!(
            "[{}]",
            ours.iter()
                .map(|flag| format!("{flag:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        // `--config` arrays are appended to the config files' arrays, so the user's flags stay.
        argv.push("--config".into());
        argv.push(format!("build.rustflags={toml_list}"));
        for target in targets {
            let env_name = target.as_str().to_uppercase().replace(['-', '.'], "_");
            if user.target_specific.contains(target.as_str())
                || user.target_specific.contains("cfg")
                || user.target_env.contains(&env_name)
            {
                argv.push("--config".into());
                argv.push(format!("target.{target}.rustflags={toml_list}"));
            }
        }
    }
}

/// Reads the user's rustflags from the environment and the cargo config files cargo would read.
pub fn user_rustflags(workspace: &Path, cargo_home: &Path) -> anyhow::Result<UserRustflags> {
    let non_empty = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    let mut user = UserRustflags {
        encoded_env: non_empty("CARGO_ENCODED_RUSTFLAGS"),
        plain_env: non_empty("RUSTFLAGS"),
        ..UserRustflags::default()
    };
    for (name, value) in std::env::vars() {
        if let Some(triple) = name
            .strip_prefix("CARGO_TARGET_")
            .and_then(|rest| rest.strip_suffix("_RUSTFLAGS"))
            && !value.trim().is_empty()
        {
            user.target_env.insert(triple.to_owned());
        }
    }
    let mut files: Vec<PathBuf> = workspace
        .ancestors()
        .flat_map(|dir| [dir.join(".cargo/config.toml"), dir.join(".cargo/config")])
        .collect();
    files.push(cargo_home.join("config.toml"));
    files.push(cargo_home.join("config"));
    for file in files.iter().filter(|f| f.is_file()) {
        let text = fs_err::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let doc: toml_edit::DocumentMut = text
            .parse()
            .with_context(|| format!("{} is not valid TOML", file.display()))?;
        if let Some(table) = doc.get("target").and_then(|t| t.as_table_like()) {
            for (key, value) in table.iter() {
                if value.get("rustflags").is_some() {
                    user.target_specific.insert(if key.starts_with("cfg(") {
                        "cfg".to_owned()
                    } else {
                        key.to_owned()
                    });
                }
            }
        }
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remap_inside_another_comes_after_it() {
        let flags = remap_flags(Path::new("/w"), Path::new("/w/target"), Path::new("/c"));
        let position = |flag: &str| flags.iter().position(|f| f == flag).unwrap();
        assert!(
            position("--remap-path-prefix=/w/target=/target")
                > position("--remap-path-prefix=/w=/build")
        );
        assert_eq!(flags.len(), 3);
        // A cargo home inside the workspace comes after it too.
        let flags = remap_flags(Path::new("/w"), Path::new("/t"), Path::new("/w/.cargo"));
        assert_eq!(
            flags,
            [
                "--remap-path-prefix=/w=/build",
                "--remap-path-prefix=/t=/target",
                "--remap-path-prefix=/w/.cargo=/cargo"
            ]
        );
    }

    #[test]
    fn unrelated_paths_keep_one_order_whatever_their_lengths() {
        let short = remap_flags(
            Path::new("/a"),
            Path::new("/long/target/dir"),
            Path::new("/c"),
        );
        let long = remap_flags(
            Path::new("/long/workspace"),
            Path::new("/t"),
            Path::new("/c"),
        );
        let roles = |flags: &[String]| -> Vec<String> {
            flags
                .iter()
                .map(|f| f.rsplit('=').next().unwrap().to_owned())
                .collect()
        };
        assert_eq!(roles(&short), ["/cargo", "/build", "/target"]);
        assert_eq!(roles(&long), roles(&short));
    }
}
