//! The one `cargo build` of a dist, and what its JSON messages say was built and linked.
//!
//! **Architecture Invariant:** artifact paths and the linked crate set come from cargo's
//! `--message-format=json` output of the real build, never from guessing paths or from
//! `cargo metadata` (which resolves features for the whole workspace).

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use cargo_metadata::{Message, PackageId, TargetKind};
use serde::Serialize;

use super::rustflags::{self, UserRustflags};
use crate::targets::{GlibcVersion, MacOsVersion, Target, Triple};
pub use wrapper::AUDITABLE_WRAPPER;
use wrapper::{auditable_cargo_args, path_with_auditable};

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
    /// Keyed by the planned target.
    pub targets: BTreeMap<Triple, TargetBuild>,
    /// Proc-macro crates compiled for the host during the build.
    pub proc_macros: BTreeSet<PackageId>,
    /// Every library compiled for the host (proc-macros and their dependencies, build-deps).
    pub host_libraries: BTreeSet<PackageId>,
}

/// What the build step is computed from besides the plan: gathered once, up front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInputs {
    /// `$CARGO`, or `cargo`.
    pub cargo: String,
    /// The pinned cargo-auditable, cargo's wrapper for the workspace's crates (see [`step`]).
    pub auditable: String,
    /// This machine's `$PATH`, which the build extends with cargo-auditable's directory.
    pub path: String,
    /// The pinned cargo-zigbuild and zig, for builds against a glibc floor.
    pub zig: ZigInputs,
    /// cargo's target directory for this workspace (from `cargo metadata`).
    pub target_dir: PathBuf,
    /// `$CARGO_HOME` (see [`crate::context::cargo_home`]).
    pub cargo_home: PathBuf,
    /// `--remap-path-prefix` flags for paths that must not appear in shipped binaries.
    pub remaps: Vec<String>,
    pub user: UserRustflags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZigInputs {
    pub cargo_zigbuild: String,
    pub zig: String,
}

/// What the plan decides about one build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest<'a> {
    pub package: &'a str,
    pub profile: &'a str,
    /// The one target this cargo run builds (see `plan`: a target's bytes must not depend on
    /// which other targets a run builds).
    pub target: &'a Target,
    pub version: &'a str,
    pub short_commit: &'a str,
    pub source_date_epoch: i64,
}

/// The exact command of one target's build: `argv[0]` is cargo (or cargo-zigbuild); `env`
/// holds only what dist sets or changes. Running it from the workspace root gives the binaries
/// `dist` ships; the provenance records it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildStep {
    /// The planned target it builds.
    pub target: Triple,
    /// The program that runs the build: cargo, or cargo-zigbuild for a target linked through
    /// zig (a fact the provenance records).
    pub driver: CargoDriver,
    /// The glibc it links against through zig; `None`: not a glibc floor.
    pub glibc: Option<GlibcVersion>,
    /// The oldest macOS an Apple target is linked for through zig.
    pub macos: Option<MacOsVersion>,
    /// The target as `--target` names it (`x86_64-unknown-linux-gnu.2.17` for a glibc floor).
    pub target_arg: String,
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
}

/// Which program runs cargo for a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CargoDriver {
    /// `$CARGO` itself.
    Cargo,
    /// The pinned cargo-zigbuild, which runs cargo with `zig cc` as the linker.
    CargoZigbuild,
}

impl CargoDriver {
    /// The name the provenance records in `CARGO`; `None` for cargo itself.
    pub fn recorded_name(self) -> Option<&'static str> {
        match self {
            CargoDriver::Cargo => None,
            CargoDriver::CargoZigbuild => Some("cargo-zigbuild"),
        }
    }
}

impl BuildStep {
    pub fn links_through_zig(&self) -> bool {
        self.driver == CargoDriver::CargoZigbuild
    }

    /// `VAR=value ... cargo build ...`, for people.
    pub fn describe(&self) -> String {
        let env = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace('\x1f', "\\x1f")));
        env.chain(self.argv.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The build's argv and environment. Pure.
///
/// cargo-auditable wraps rustc for the workspace's crates and embeds the dependency tree in
/// every binary as the `.dep-v0` section, so `cargo audit bin` and other scanners can check an
/// installed binary. With a glibc floor, cargo-zigbuild runs cargo instead, with `zig cc` as
/// the linker against zig's glibc stubs of that version (`--target <triple>.<glibc>`).
///
/// The wrapper is named, not located: cargo hashes `RUSTC_WORKSPACE_WRAPPER` as written into
/// the workspace crates' `-C metadata`, hence into their symbol names and the binaries' layout.
/// `cargo auditable build` would set it to its own absolute path, under the builder's `HOME`,
/// so two builders would ship different binaries; `cargo-auditable` found on `PATH` is the same
/// name for everyone. `CARGO_AUDITABLE_ORIG_ARGS` is what `cargo auditable` passes its wrapper:
/// the cargo flags its `cargo metadata` call must repeat.
pub fn step(request: &BuildRequest, inputs: &BuildInputs) -> BuildStep {
    let target = request.target;
    let driver = if target.links_through_zig() {
        CargoDriver::CargoZigbuild
    } else {
        CargoDriver::Cargo
    };
    let (argv, env) = command(request, inputs, driver);
    BuildStep {
        target: target.triple.clone(),
        driver,
        glibc: target.glibc_floor().cloned(),
        macos: target.macos_floor().cloned(),
        target_arg: target.cargo_target_arg(),
        argv,
        env,
    }
}

fn command(
    request: &BuildRequest,
    inputs: &BuildInputs,
    driver: CargoDriver,
) -> (Vec<String>, BTreeMap<String, String>) {
    let target = request.target;
    let zig = driver == CargoDriver::CargoZigbuild;
    let cargo = match driver {
        CargoDriver::CargoZigbuild => &inputs.zig.cargo_zigbuild,
        CargoDriver::Cargo => &inputs.cargo,
    };
    let mut argv: Vec<String> = [
        cargo.as_str(),
        "build",
        "--locked",
        "--profile",
        request.profile,
        "-p",
        request.package,
        "--bins",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.push("--target".into());
    argv.push(target.cargo_target_arg());
    argv.push("--message-format=json-render-diagnostics".into());
    let mut env = BTreeMap::from([
        (
            "SOURCE_DATE_EPOCH".to_owned(),
            request.source_date_epoch.to_string(),
        ),
        (VERSION_VAR.to_owned(), request.version.to_owned()),
        (COMMIT_VAR.to_owned(), request.short_commit.to_owned()),
        ("CARGO".to_owned(), cargo.clone()),
        (
            "RUSTC_WORKSPACE_WRAPPER".to_owned(),
            AUDITABLE_WRAPPER.to_owned(),
        ),
        ("PATH".to_owned(), path_with_auditable(inputs)),
    ]);
    if let Some(macos) = target.macos_floor() {
        // rustc and zig both read it: the objects' and the binary's `minos`.
        env.insert("MACOSX_DEPLOYMENT_TARGET".to_owned(), macos.to_string());
    }
    if zig {
        env.insert("CARGO_ZIGBUILD_ZIG_PATH".to_owned(), inputs.zig.zig.clone());
        // cargo-zigbuild prefers `python3 -m ziglang` over the zig path; a Python that does
        // not exist makes it take the pinned zig whatever this machine's python3 has.
        env.insert(
            "CARGO_ZIGBUILD_PYTHON_PATH".to_owned(),
            format!("{}.no-python", inputs.zig.zig),
        );
    }
    rustflags::extend(
        &inputs.remaps,
        &inputs.user,
        std::slice::from_ref(&target.triple),
        &mut argv,
        &mut env,
    );
    env.insert(
        "CARGO_AUDITABLE_ORIG_ARGS".to_owned(),
        auditable_cargo_args(&argv[1..]),
    );
    (argv, env)
}

/// Runs the planned builds one after the other (they share the target directory) and joins
/// what they built.
pub fn run_all(
    cwd: &Path,
    steps: &[BuildStep],
    package: &PackageId,
    targets: &[(&Triple, &Path)],
    quiet: bool,
) -> anyhow::Result<BuildOutput> {
    let mut all = BuildOutput::default();
    for step in steps {
        let dirs: Vec<(&Triple, &Path)> = targets
            .iter()
            .filter(|(triple, _)| **triple == step.target)
            .copied()
            .collect();
        let output = run(cwd, step, package, &dirs, quiet)?;
        all.targets.extend(output.targets);
        all.proc_macros.extend(output.proc_macros);
        all.host_libraries.extend(output.host_libraries);
    }
    Ok(all)
}

/// Runs one planned build from `cwd`, streaming cargo's human output to stderr, and sorts
/// what it built into the planned targets (each with the directory cargo puts its artifacts in).
/// `quiet` silences cargo's progress through its config, so the planned argv (which the
/// provenance records) stays the same.
pub fn run(
    cwd: &Path,
    step: &BuildStep,
    package: &PackageId,
    targets: &[(&Triple, &Path)],
    quiet: bool,
) -> anyhow::Result<BuildOutput> {
    let (program, args) = step
        .argv
        .split_first()
        .context("the build step has no argv")?;
    // The build's own TMPDIR, removed after it: GNU dlltool, which rustc runs for the
    // raw-dylib imports of Windows crates (windows-link), leaves empty `ccXXXXXX` files in
    // TMPDIR, about 80 per cold Windows build. Like `quiet`, not a build input.
    let (status, messages) = crate::util::in_tempdir("build", |tmp| {
        let mut child = crate::secrets::scrubbed(&mut Command::new(program))
            .current_dir(cwd)
            .args(args)
            .envs(&step.env)
            .envs(quiet.then_some(("CARGO_TERM_QUIET", "true")))
            .env("TMPDIR", tmp)
            // The dependencies' build scripts and proc macros run in here: never with a
            // credential (the release key, a CI token), removed above.
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot run {program}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut messages = Vec::new();
        for message in Message::parse_stream(BufReader::new(stdout)) {
            messages.push(message.context("cannot read cargo's JSON output")?);
        }
        Ok((child.wait()?, messages))
    })?;
    if !status.success() {
        bail!(
            "`{}` failed ({status}); the errors are above",
            step.argv.join(" ")
        );
    }
    collect(&messages, package, targets)
}

/// Sorts cargo's artifacts into per-target binaries and linked crates: an artifact belongs to
/// the planned target whose artifact directory holds it, and to the host otherwise.
pub fn collect(
    messages: &[Message],
    package: &PackageId,
    targets: &[(&Triple, &Path)],
) -> anyhow::Result<BuildOutput> {
    let mut output = BuildOutput::default();
    for (triple, _) in targets {
        output
            .targets
            .insert((*triple).clone(), TargetBuild::default());
    }
    for message in messages {
        let Message::CompilerArtifact(artifact) = message else {
            continue;
        };
        let Some(first) = artifact.filenames.first() else {
            continue;
        };
        let triple = targets
            .iter()
            .find(|(_, dir)| first.as_std_path().starts_with(dir))
            .map(|(triple, _)| *triple);
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
                let build = output.targets.get_mut(triple).expect("inserted above");
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
mod tests;
mod wrapper;
