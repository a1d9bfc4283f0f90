//! `cargo xtask rebuild DIR`: an independent rebuild of a published dist, compared byte for
//! byte.
//!
//! The dist's provenance says what was built: the commit, the `Cargo.lock` digest, the rustc
//! and the targets (its recorded cargo commands are the ones `dist` plans from that commit).
//! The rebuild checks that commit out into a fresh temporary directory and runs `dist` there
//! with a `HOME`, a target directory and a zig cache of its own, so nothing of an earlier
//! build or of this user's set-up can stand in for the source. The pinned tools come from this
//! machine's tools cache: they are pinned by version and digest, and where they live does not
//! change a byte (dist.rs holds that). Every file of DIR must come out identical, the
//! provenance (every planned command) included. The signatures need the release key, which a
//! rebuild does not have: each is adopted when it checks over the rebuilt bytes with the keys
//! the workspace's history trusts (`rebuild/adopt.rs`), and `SHA256SUMS` and the manifest,
//! which list them, are then compared like every file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::dist::manifest::{self, Manifest};
use crate::dist::provenance::Statement;
use crate::dist::provenance::{BUILDER_ID_VAR, rustc_field};
use crate::flags;
use crate::signing::{SIGNATURE_FILE, SIGNING_KEY_VAR};
use compare::diffoscope;
pub use compare::{Difference, compare};

/// What a dist says about how it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorded {
    pub app: String,
    pub version: String,
    pub commit: String,
    pub targets: Vec<String>,
    pub partial: bool,
    pub cargo_lock_sha256: String,
    /// `rustc -vV`'s `release`, and its `commit-hash`.
    pub rustc_release: String,
    pub rustc_commit: String,
    /// Who built it (a CI pipeline, or `local`): the rebuild's provenance must say the same.
    pub builder_id: String,
    /// The packages' signatures the manifest lists.
    pub signatures: Vec<String>,
}

/// The rebuild, decided before anything runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RebuildPlan {
    pub recorded: Recorded,
    /// The repository the commit is cloned from.
    pub repository: PathBuf,
    pub checkout: PathBuf,
    pub out: PathBuf,
    /// `dist`'s arguments, run by this xtask from `checkout`.
    pub dist_args: Vec<String>,
    /// The environment the rebuild sets; `unset` it removes.
    pub env: BTreeMap<String, String>,
    pub unset: Vec<String>,
    /// The files of DIR compared with the rebuild's, sorted.
    pub compared: Vec<String>,
    /// The files of DIR a rebuild cannot make, with the reason.
    pub not_rebuilt: Vec<(String, String)>,
}

/// Where this machine keeps what the rebuild borrows: rustup's toolchains, cargo's registry
/// cache (sources are checked against `Cargo.lock`) and the pinned tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub rustup_home: PathBuf,
    pub cargo_home: PathBuf,
    pub cache_home: PathBuf,
}

/// Reads the manifest and the provenance statement of `dir`.
pub fn recorded(dir: &Path) -> anyhow::Result<Recorded> {
    let manifest = Manifest::read(dir)?;
    if manifest.version.contains("dirty") {
        bail!(
            "{} was built from a tree with uncommitted changes (version {}): no commit holds \
             its source, so there is nothing to rebuild it from",
            dir.display(),
            manifest.version
        );
    }
    let name = crate::dist::provenance::file_name(&manifest.app, &manifest.version);
    let path = dir.join(&name);
    let text = fs_err::read_to_string(&path)
        .with_context(|| format!("{name} is missing: a rebuild needs the dist's provenance"))?;
    let statement: Statement = serde_json::from_str(text.trim())
        .with_context(|| format!("{name} is not a provenance statement"))?;
    let definition = &statement.predicate.build_definition;
    let resolved = |name: &str| {
        definition
            .resolved_dependencies
            .iter()
            .find(|d| d.name.as_deref() == Some(name))
            .with_context(|| format!("{} records no {name}", path.display()))
    };
    let commit = definition
        .resolved_dependencies
        .iter()
        .find_map(|d| d.digest.get("gitCommit").filter(|_| d.name.is_none()))
        .with_context(|| format!("{} records no source commit", path.display()))?;
    if *commit != manifest.commit {
        bail!(
            "{name} records commit {commit} but {} says {}: the dist is not one build",
            manifest::FILE_NAME,
            manifest.commit
        );
    }
    let rustc = resolved("rustc")?;
    let builder_id = statement.predicate.run_details.builder.id.clone();
    let signatures = manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == manifest::ArtifactKind::Signature)
        .map(|a| a.name.clone())
        .collect();
    Ok(Recorded {
        builder_id,
        signatures,
        app: manifest.app,
        version: manifest.version,
        commit: commit.clone(),
        targets: definition.external_parameters.targets.clone(),
        partial: manifest.partial,
        cargo_lock_sha256: resolved("Cargo.lock")?
            .digest
            .get("sha256")
            .cloned()
            .context("Cargo.lock has no sha256 in the provenance")?,
        rustc_release: rustc
            .uri
            .as_deref()
            .and_then(|uri| uri.strip_prefix("pkg:generic/rustc@"))
            .context("the provenance's rustc has no version")?
            .to_owned(),
        rustc_commit: rustc
            .digest
            .get("gitCommit")
            .cloned()
            .context("the provenance's rustc has no commit")?,
    })
}

/// The rebuild of `dir` (whose files are `files`) in `scratch`. Pure.
pub fn plan(
    recorded: Recorded,
    files: &[String],
    repository: &Path,
    scratch: &Path,
    machine: &Machine,
) -> RebuildPlan {
    let checkout = scratch.join("src");
    let out = scratch.join("dist");
    let mut dist_args = vec!["dist".to_owned(), "--quiet".to_owned()];
    for target in &recorded.targets {
        dist_args.extend(["--target".to_owned(), target.clone()]);
    }
    if recorded.partial {
        dist_args.push("--partial".to_owned());
    }
    dist_args.extend(["--out".to_owned(), out.display().to_string()]);
    let path = |p: &Path| p.display().to_string();
    let env = BTreeMap::from([
        ("HOME".to_owned(), path(&scratch.join("home"))),
        ("CARGO_TARGET_DIR".to_owned(), path(&scratch.join("target"))),
        (
            "ZIG_GLOBAL_CACHE_DIR".to_owned(),
            path(&scratch.join("zig-cache")),
        ),
        ("XDG_CACHE_HOME".to_owned(), path(&machine.cache_home)),
        ("RUSTUP_HOME".to_owned(), path(&machine.rustup_home)),
        ("CARGO_HOME".to_owned(), path(&machine.cargo_home)),
        (BUILDER_ID_VAR.to_owned(), recorded.builder_id.clone()),
    ]);
    let unset = [
        SIGNING_KEY_VAR,
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "SOURCE_DATE_EPOCH",
        "CARGO_BUILD_TARGET_DIR",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
    ]
    .map(str::to_owned)
    .to_vec();
    let (not_rebuilt, compared): (Vec<&String>, Vec<&String>) = files
        .iter()
        .partition(|f| f.as_str() == SIGNATURE_FILE || recorded.signatures.contains(f));
    RebuildPlan {
        recorded,
        repository: repository.to_owned(),
        checkout,
        out,
        dist_args,
        env,
        unset,
        compared: compared.into_iter().cloned().collect(),
        not_rebuilt: not_rebuilt
            .into_iter()
            .map(|f| {
                (
                    f.clone(),
                    "a signature needs the release key: adopted when it checks over the rebuilt \
                     file with the key history's keys"
                        .to_owned(),
                )
            })
            .collect(),
    }
}

impl flags::Rebuild {
    pub fn run(self, sh: &xshell::Shell) -> anyhow::Result<()> {
        let dir = std::env::current_dir()?.join(&self.dir);
        let recorded = recorded(&dir)?;
        let mut files: Vec<String> = fs_err::read_dir(&dir)?
            .map(|entry| Ok(entry?.file_name().to_string_lossy().into_owned()))
            .collect::<anyhow::Result<_>>()?;
        files.sort();
        let machine = machine()?;
        let scratch = crate::util::tempdir("rebuild")?;
        let plan = plan(recorded, &files, &sh.current_dir(), &scratch, &machine);
        if self.dry_run {
            fs_err::remove_dir(&scratch)?;
            crate::outln!("{}", serde_json::to_string_pretty(&plan)?)?;
            return Ok(());
        }
        check_rustc(sh, &plan.recorded, &dir)?;
        checkout(sh, &plan)?;
        eprintln!(
            "==> rebuilding {} {} ({}) in {}",
            plan.recorded.app,
            plan.recorded.version,
            plan.recorded.targets.join(", "),
            plan.checkout.display()
        );
        let mut dist = Command::new(std::env::current_exe()?);
        dist.current_dir(&plan.checkout)
            .args(&plan.dist_args)
            .envs(&plan.env);
        for var in &plan.unset {
            dist.env_remove(var);
        }
        let status = dist.status().context("cannot run the rebuild's dist")?;
        if !status.success() {
            bail!(
                "the rebuild's `cargo xtask {}` failed ({status}); its errors are above, its \
                 checkout is kept in {}",
                plan.dist_args.join(" "),
                scratch.display()
            );
        }
        let keyring = crate::verify::workspace_keyring(sh)?;
        let unadopted = adopt::adopt(&dir, &plan.out, keyring.as_ref())?;
        let differences = compare(&dir, &plan.out, &plan.compared)?;
        for (file, why) in &plan.not_rebuilt {
            eprintln!("    {file}: not rebuilt ({why})");
        }
        for problem in &unadopted {
            eprintln!("    {problem}");
        }
        if differences.is_empty() && unadopted.is_empty() {
            eprintln!(
                "==> rebuild identical: {} files of {} byte for byte, signatures adopted",
                plan.compared.len(),
                dir.display()
            );
            // Only what this command made: the checkout, its HOME, target dir and dist.
            fs_err::remove_dir_all(&scratch)?;
            return Ok(());
        }
        let rebuilt = &plan.out;
        for difference in &differences {
            eprintln!("    {}: {}", difference.file, difference.detail);
            diffoscope(&dir.join(&difference.file), &rebuilt.join(&difference.file));
        }
        if differences.is_empty() {
            bail!(
                "the rebuild is identical but {} signature(s) do not check over it (above); the \
                 rebuild is kept in {}",
                unadopted.len(),
                plan.out.display()
            );
        }
        bail!(
            "the rebuild differs in {} of {} files: {}; the rebuild is kept in {}",
            differences.len(),
            plan.compared.len(),
            differences
                .iter()
                .map(|d| d.file.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            rebuilt.display()
        )
    }
}

fn machine() -> anyhow::Result<Machine> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let from = |var: &str, under_home: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(under_home)))
            .with_context(|| format!("neither {var} nor HOME is set: set {var}"))
    };
    Ok(Machine {
        rustup_home: from("RUSTUP_HOME", ".rustup")?,
        cargo_home: crate::context::cargo_home()?,
        cache_home: from("XDG_CACHE_HOME", ".cache")?,
    })
}

/// The rustc that runs here must be the one the provenance records.
fn check_rustc(sh: &xshell::Shell, recorded: &Recorded, dir: &Path) -> anyhow::Result<()> {
    let text = xshell::cmd!(sh, "rustc -vV")
        .quiet()
        .read()
        .context("cannot run `rustc -vV`: install Rust with rustup")?;
    let (release, commit) = (
        rustc_field(&text, "release")?,
        rustc_field(&text, "commit-hash")?,
    );
    if release != recorded.rustc_release || commit != recorded.rustc_commit {
        let wanted = &recorded.rustc_release;
        bail!(
            "{} was built with rustc {wanted} ({}), this machine runs rustc {release} \
             ({commit}): install it with `rustup toolchain install {wanted}` and run \
             `RUSTUP_TOOLCHAIN={wanted} cargo xtask rebuild {}`",
            dir.display(),
            recorded.rustc_commit,
            dir.display()
        );
    }
    Ok(())
}

/// Clones the repository and checks the recorded commit out; its `Cargo.lock` must be the
/// recorded one.
fn checkout(sh: &xshell::Shell, plan: &RebuildPlan) -> anyhow::Result<()> {
    let (repository, checkout) = (&plan.repository, &plan.checkout);
    let commit = &plan.recorded.commit;
    xshell::cmd!(
        sh,
        "git clone --quiet --no-checkout {repository} {checkout}"
    )
    .quiet()
    .run()
    .with_context(|| format!("cannot clone {}", repository.display()))?;
    xshell::cmd!(sh, "git -C {checkout} checkout --quiet --detach {commit}")
        .quiet()
        .run()
        .with_context(|| {
            format!(
                "{} does not hold commit {commit}: fetch it, or run the rebuild from a clone \
                 that has it",
                repository.display()
            )
        })?;
    let digest = crate::dist::archive::digest_file(&plan.checkout.join("Cargo.lock"))?.sha256;
    if digest != plan.recorded.cargo_lock_sha256 {
        bail!(
            "Cargo.lock at {commit} has sha256 {digest}, the provenance records {}: the \
             provenance does not describe this commit",
            plan.recorded.cargo_lock_sha256
        );
    }
    Ok(())
}

mod adopt;
mod compare;
#[cfg(test)]
mod tests;
