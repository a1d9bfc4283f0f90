//! The one `cargo build` of a dist, and what its JSON messages say was built and linked.
//!
//! **Architecture Invariant:** artifact paths and the linked crate set come from cargo's
//! `--message-format=json` output of the real build, never from guessing paths or from
//! `cargo metadata` (which resolves features for the whole workspace).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use cargo_metadata::{Message, PackageId, TargetKind};

/// Environment variables the app's `build.rs` reads (see app/build.rs).
pub const VERSION_VAR: &str = "JIMINI_BUILD_VERSION";
pub const COMMIT_VAR: &str = "JIMINI_BUILD_COMMIT";

#[derive(Debug, Default, Clone)]
pub struct TargetBuild {
    /// Binary name (without suffix) → built executable.
    pub binaries: BTreeMap<String, PathBuf>,
    /// Every library compiled for the target: the crates linked into its binaries.
    pub linked: BTreeSet<PackageId>,
}

#[derive(Debug, Default, Clone)]
pub struct BuildOutput {
    pub targets: BTreeMap<String, TargetBuild>,
    /// Proc-macro crates compiled for the host during the build.
    pub proc_macros: BTreeSet<PackageId>,
    /// Every library compiled for the host (proc-macros and their dependencies, build-deps).
    pub host_libraries: BTreeSet<PackageId>,
}

/// Everything that decides the build's command line and environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    pub package: String,
    pub profile: String,
    pub targets: Vec<String>,
    pub version: String,
    pub short_commit: String,
    pub source_date_epoch: i64,
    pub quiet: bool,
}

/// The user's rustflags as cargo would see them, so that ours are added, never substituted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserRustflags {
    pub encoded_env: Option<String>,
    pub plain_env: Option<String>,
    /// Triples whose flags come from `target.<triple>.rustflags`, `target.'cfg(..)'.rustflags`
    /// or `CARGO_TARGET_<TRIPLE>_RUSTFLAGS` (which make cargo ignore `build.rustflags`).
    pub target_specific: BTreeSet<String>,
}

/// The command line and environment of the build, computed without running anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CargoInvocation {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// Paths that must not appear in shipped binaries, remapped to fixed names.
pub fn remap_flags(workspace: &Path, target_dir: &Path, cargo_home: &Path) -> Vec<String> {
    // Most specific first: rustc applies the last matching remap, so list the broad ones first.
    let mut pairs = vec![
        (cargo_home, "/cargo"),
        (workspace, "/build"),
        (target_dir, "/target"),
    ];
    pairs.sort_by_key(|(path, _)| path.as_os_str().len());
    pairs
        .into_iter()
        .map(|(path, to)| format!("--remap-path-prefix={}={to}", path.display()))
        .collect()
}

pub fn invocation(
    request: &BuildRequest,
    ours: &[String],
    user: &UserRustflags,
) -> CargoInvocation {
    let mut args: Vec<String> = [
        "build",
        "--locked",
        "--profile",
        &request.profile,
        "-p",
        &request.package,
        "--bins",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for target in &request.targets {
        args.push("--target".into());
        args.push(target.clone());
    }
    args.push("--message-format=json-render-diagnostics".into());
    if request.quiet {
        args.push("--quiet".into());
    }
    let mut env = vec![
        (
            "SOURCE_DATE_EPOCH".to_owned(),
            request.source_date_epoch.to_string(),
        ),
        (VERSION_VAR.to_owned(), request.version.clone()),
        (COMMIT_VAR.to_owned(), request.short_commit.clone()),
    ];
    let toml_list = format!(
        "[{}]",
        ours.iter()
            .map(|flag| format!("{flag:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(encoded) = &user.encoded_env {
        let mut flags: Vec<&str> = encoded.split('\x1f').filter(|f| !f.is_empty()).collect();
        flags.extend(ours.iter().map(String::as_str));
        env.push(("CARGO_ENCODED_RUSTFLAGS".to_owned(), flags.join("\x1f")));
    } else if let Some(plain) = &user.plain_env {
        // Cargo splits RUSTFLAGS on whitespace; the encoded form keeps our paths intact.
        let mut flags: Vec<&str> = plain.split_whitespace().collect();
        flags.extend(ours.iter().map(String::as_str));
        env.push(("CARGO_ENCODED_RUSTFLAGS".to_owned(), flags.join("\x1f")));
    } else {
        // `--config` arrays are appended to the config files' arrays, so the user's flags stay.
        args.push("--config".into());
        args.push(format!("build.rustflags={toml_list}"));
        for target in &request.targets {
            if user.target_specific.contains(target) || user.target_specific.contains("cfg") {
                args.push("--config".into());
                args.push(format!("target.{target}.rustflags={toml_list}"));
            }
        }
    }
    CargoInvocation { args, env }
}

/// Reads the user's rustflags from the environment and the cargo config files cargo would read.
pub fn user_rustflags(
    workspace: &Path,
    cargo_home: &Path,
    targets: &[String],
) -> anyhow::Result<UserRustflags> {
    let non_empty = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    let mut user = UserRustflags {
        encoded_env: non_empty("CARGO_ENCODED_RUSTFLAGS"),
        plain_env: non_empty("RUSTFLAGS"),
        target_specific: BTreeSet::new(),
    };
    for target in targets {
        let var = format!(
            "CARGO_TARGET_{}_RUSTFLAGS",
            target.to_uppercase().replace(['-', '.'], "_")
        );
        if non_empty(&var).is_some() {
            user.target_specific.insert(target.clone());
        }
    }
    let mut files: Vec<PathBuf> = workspace
        .ancestors()
        .flat_map(|dir| [dir.join(".cargo/config.toml"), dir.join(".cargo/config")])
        .collect();
    files.push(cargo_home.join("config.toml"));
    files.push(cargo_home.join("config"));
    for file in files.iter().filter(|f| f.is_file()) {
        let text = std::fs::read_to_string(file)
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

/// Runs the build, streaming cargo's human output to stderr, and collects the artifacts.
pub fn run(
    cwd: &Path,
    invocation: &CargoInvocation,
    package: &PackageId,
    targets: &[String],
) -> anyhow::Result<BuildOutput> {
    let cargo: OsString = crate::cargo();
    let mut child = Command::new(&cargo)
        .current_dir(cwd)
        .args(&invocation.args)
        .envs(invocation.env.iter().map(|(k, v)| (k, v)))
        .env_remove("RUSTFLAGS")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot run {}", cargo.to_string_lossy()))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut messages = Vec::new();
    for message in Message::parse_stream(BufReader::new(stdout)) {
        messages.push(message.context("cannot read cargo's JSON output")?);
    }
    let status = child.wait()?;
    if !status.success() {
        bail!(
            "`cargo {}` failed ({status}); the errors are above",
            invocation.args.join(" ")
        );
    }
    collect(&messages, package, targets)
}

/// Sorts cargo's artifacts into per-target binaries and linked crates.
pub fn collect(
    messages: &[Message],
    package: &PackageId,
    targets: &[String],
) -> anyhow::Result<BuildOutput> {
    let mut output = BuildOutput::default();
    for target in targets {
        output
            .targets
            .insert(target.clone(), TargetBuild::default());
    }
    for message in messages {
        let Message::CompilerArtifact(artifact) = message else {
            continue;
        };
        let Some(first) = artifact.filenames.first() else {
            continue;
        };
        let triple = first
            .components()
            .find_map(|c| targets.iter().find(|t| t.as_str() == c.as_str()))
            .cloned();
        let kinds = &artifact.target.kind;
        match triple {
            None => {
                if kinds.contains(&TargetKind::ProcMacro) {
                    output.proc_macros.insert(artifact.package_id.clone());
                }
                if !kinds.contains(&TargetKind::CustomBuild) {
                    output.host_libraries.insert(artifact.package_id.clone());
                }
            }
            Some(triple) => {
                let build = output.targets.get_mut(&triple).expect("inserted above");
                if kinds.contains(&TargetKind::Bin) {
                    if artifact.package_id == *package {
                        let exe = artifact.executable.clone().with_context(|| {
                            format!("cargo reported no executable for {}", artifact.target.name)
                        })?;
                        build
                            .binaries
                            .insert(artifact.target.name.clone(), exe.into_std_path_buf());
                    }
                } else if !kinds.contains(&TargetKind::CustomBuild) {
                    build.linked.insert(artifact.package_id.clone());
                }
            }
        }
    }
    for (triple, build) in &output.targets {
        if build.binaries.is_empty() {
            bail!(
                "cargo built no binary of the shipped package for {triple}: does it have [[bin]] targets?"
            );
        }
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> BuildRequest {
        BuildRequest {
            package: "jimini".into(),
            profile: "dist".into(),
            targets: vec![
                "x86_64-unknown-linux-gnu".into(),
                "x86_64-pc-windows-gnu".into(),
            ],
            version: "0.2.1-dev.3+g3f2a9c1".into(),
            short_commit: "3f2a9c1".into(),
            source_date_epoch: 1_700_000_000,
            quiet: false,
        }
    }

    #[test]
    fn one_invocation_for_all_targets_with_build_info_env() {
        let inv = invocation(
            &request(),
            &["--remap-path-prefix=/h=/cargo".into()],
            &UserRustflags::default(),
        );
        let joined = inv.args.join(" ");
        assert!(
            joined.starts_with("build --locked --profile dist -p jimini --bins"),
            "{joined}"
        );
        assert!(
            joined.contains("--target x86_64-unknown-linux-gnu --target x86_64-pc-windows-gnu")
        );
        assert!(
            inv.env
                .contains(&("SOURCE_DATE_EPOCH".into(), "1700000000".into()))
        );
        assert!(
            inv.env
                .contains(&(VERSION_VAR.into(), "0.2.1-dev.3+g3f2a9c1".into()))
        );
        assert!(
            inv.args
                .contains(&r#"build.rustflags=["--remap-path-prefix=/h=/cargo"]"#.to_owned())
        );
    }

    #[test]
    fn env_rustflags_are_extended_not_replaced() {
        let user = UserRustflags {
            plain_env: Some("-C  target-cpu=native".into()),
            ..Default::default()
        };
        let inv = invocation(&request(), &["--remap-path-prefix=/a b=/x".into()], &user);
        let encoded = &inv
            .env
            .iter()
            .find(|(k, _)| k == "CARGO_ENCODED_RUSTFLAGS")
            .unwrap()
            .1;
        assert_eq!(
            encoded,
            "-C\x1ftarget-cpu=native\x1f--remap-path-prefix=/a b=/x"
        );
        assert!(
            !inv.args.iter().any(|a| a.contains("rustflags")),
            "no --config when env wins"
        );

        let user = UserRustflags {
            encoded_env: Some("-Cdebuginfo=1".into()),
            plain_env: Some("ignored".into()),
            ..Default::default()
        };
        let inv = invocation(&request(), &["-Zx".into()], &user);
        assert!(inv.env.contains(&(
            "CARGO_ENCODED_RUSTFLAGS".into(),
            "-Cdebuginfo=1\x1f-Zx".into()
        )));
    }

    #[test]
    fn config_target_rustflags_get_ours_appended_per_target() {
        let user = UserRustflags {
            target_specific: ["x86_64-pc-windows-gnu".to_owned()].into(),
            ..Default::default()
        };
        let inv = invocation(&request(), &["-Ca".into()], &user);
        assert!(
            inv.args
                .contains(&r#"target.x86_64-pc-windows-gnu.rustflags=["-Ca"]"#.to_owned())
        );
        assert!(
            !inv.args
                .iter()
                .any(|a| a.starts_with("target.x86_64-unknown-linux-gnu"))
        );
        assert!(inv.args.contains(&r#"build.rustflags=["-Ca"]"#.to_owned()));
    }

    #[test]
    fn remaps_put_the_longest_prefix_last() {
        let flags = remap_flags(Path::new("/w"), Path::new("/w/target"), Path::new("/c"));
        let position = |flag: &str| flags.iter().position(|f| f == flag).unwrap();
        assert!(
            position("--remap-path-prefix=/w/target=/target")
                > position("--remap-path-prefix=/w=/build")
        );
        assert_eq!(flags.len(), 3);
    }
}
