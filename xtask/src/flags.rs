//! Every flag of every command, in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Release tooling for the jimini workspace",
    disable_version_flag = true
)]
pub struct Xtask {
    #[command(subcommand)]
    pub subcommand: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build release artifacts into dist/: archives, .debs, wheels, SBOMs, install.sh,
    /// provenance, SHA256SUMS (signed), dist-manifest.json.
    Dist(Dist),
    /// Check a dist directory: checksums, signature, manifest, archives, .debs, wheels, SBOMs,
    /// embedded dependency lists and provenance.
    Verify(Verify),
    /// Rebuild a dist from the commit its provenance names, in a fresh checkout with its own
    /// HOME and target directory, and compare every file byte for byte.
    Rebuild(Rebuild),
    /// Bump the version, promote the CHANGELOG, commit and tag (dry run unless --execute).
    Release(Release),
    /// Check the toolchain, targets, linkers (or zig), pinned tools and runners a dist needs;
    /// --fix installs them.
    Doctor(Doctor),
    /// Print the release plan: version, tag, and per target the runner, packages and artifacts.
    Plan(Plan),
    /// Build the runtime container image from an existing dist's musl archive.
    Docker(Docker),
    /// Run every check CI runs: install what is missing, fmt, clippy, all tests.
    Ci(Ci),
    /// Make a minisign key pair for signing releases (never replaces a key).
    Keygen(Keygen),
    /// Replace the release key: a new pair, the transition signed by the current key, and
    /// every place that names the key (keys/, binstall's metadata) in one change.
    RotateKey(RotateKey),
    /// Record that a release key is no longer trusted, signed by the current key.
    RevokeKey(RevokeKey),
    /// Publish a verified dist: the GitHub release, GitLab's package registry and release,
    /// crates.io, PyPI; each step safe to re-run, nothing ever replaced.
    Publish(Publish),
    /// Run a target's binaries from a (partial) dist on a machine of that target: --version,
    /// `jimini check`, and the server's start, /health and stop.
    Smoke(Smoke),
}

#[derive(Debug, Args)]
pub struct Smoke {
    /// The dist or partial dist holding the target's archive.
    pub dir: PathBuf,
    /// The target whose archive to run (it must be this machine's).
    #[arg(long, value_name = "TRIPLE")]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct Publish {
    /// The dist directory to publish (default: dist/); it is verified first.
    pub dir: Option<PathBuf>,
    /// Where to publish (repeatable; they run in the order github, gitlab, crates-io, pypi).
    #[arg(long = "to", value_enum, required = true, value_name = "HOST")]
    pub hosts: Vec<crate::publish::plan::Host>,
    /// Print the publish plan (every upload with its SHA-256 and destination, and the release
    /// notes) and send nothing.
    #[arg(long, env = "JIMINI_PUBLISH_DRY_RUN", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, action = clap::ArgAction::SetTrue)]
    pub dry_run: bool,
    /// Print the plan as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// The minisign public key the dist's signature must verify with (default: the
    /// workspace's `public-key`).
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Fail when the dist is not signed.
    #[arg(long)]
    pub require_signature: bool,
}

/// How a dist is signed; shared by `dist` and `dist merge`.
#[derive(Debug, Args)]
pub struct Signing {
    /// The minisign secret key that signs SHA256SUMS (default: the key file's contents in
    /// $JIMINI_SIGNING_KEY; an encrypted key's password comes from
    /// $JIMINI_SIGNING_KEY_PASSWORD or the terminal).
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
    /// Fail (before building) when there is no signing key, instead of making an unsigned
    /// release.
    #[arg(long)]
    pub require_signature: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Dist {
    #[command(subcommand)]
    pub merge: Option<DistCommand>,
    /// Target triple to build (repeatable); `all` builds the release list. Default: the host.
    #[arg(long = "target", value_name = "TRIPLE")]
    pub targets: Vec<String>,
    /// Output directory, replaced atomically.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the plan and touch nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the manifest (or, with --dry-run, the plan) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Produce one runner's share of a fanned-out release: no SHA256SUMS, a partial manifest.
    #[arg(long)]
    pub partial: bool,
    /// Run every shipped binary (natively, under qemu or wine) before accepting the dist;
    /// a target this machine cannot run is an error unless `--smoke=available`.
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "all", value_name = "SCOPE")]
    pub smoke: Option<crate::dist::smoke::SmokeScope>,
    #[command(flatten)]
    pub signing: Signing,
}

#[derive(Debug, Subcommand)]
pub enum DistCommand {
    /// Combine partial dists (one per runner) into one dist directory.
    Merge(DistMerge),
}

#[derive(Debug, Args)]
pub struct DistMerge {
    /// The partial dist directories, or directories holding them (one level down).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Output directory, replaced atomically.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Targets the partials must cover (repeatable; default: the whole release list).
    #[arg(long = "target", value_name = "TRIPLE")]
    pub targets: Vec<String>,
    /// Print the merged manifest as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub signing: Signing,
}

#[derive(Debug, Args)]
pub struct Rebuild {
    /// The dist directory to rebuild (a published release, or `dist/`).
    pub dir: PathBuf,
    /// Print the rebuild's plan as JSON and touch nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct Verify {
    /// The dist directory to check (default: dist/), or a published release's HTTPS download
    /// URL (e.g. https://github.com/OWNER/REPO/releases/download/vX.Y.Z/).
    pub dir: Option<PathBuf>,
    /// Check the release of DIR's version as HOST serves it (github, gitlab; where `publish`
    /// put it), and that the host serves DIR's manifest: what users download is what was built.
    #[arg(long, value_enum, value_name = "HOST")]
    pub published: Option<crate::publish::plan::Host>,
    /// The minisign public key to check SHA256SUMS.minisig with (default: the workspace's
    /// `public-key`).
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Fail when the dist is not signed.
    #[arg(long)]
    pub require_signature: bool,
    /// Print the result as JSON on stdout (`ok`, and the `problems` found); the exit status
    /// still says whether the dist is valid.
    #[arg(long)]
    pub json: bool,
}

impl Signing {
    pub fn request(&self) -> crate::dist::plan::SigningRequest {
        crate::dist::plan::SigningRequest {
            key: crate::signing::KeySource::find(self.signing_key.clone()),
            require: self.require_signature,
        }
    }
}

#[derive(Debug, Args)]
pub struct RotateKey {
    /// The current release key's secret key file (it signs the transition).
    #[arg(long, value_name = "FILE")]
    pub signing_key: PathBuf,
    /// Where to write the new secret key: outside the repository, or a path git ignores.
    #[arg(long, value_name = "FILE")]
    pub secret_key: PathBuf,
    /// Do not encrypt the new secret key (for a key kept only in a CI secret store).
    #[arg(long)]
    pub unencrypted: bool,
    /// Why, recorded in the history.
    #[arg(long, default_value = "scheduled rotation")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct RevokeKey {
    /// The id of the key to revoke, as `minisign` prints it (16 hex digits).
    pub key_id: String,
    /// The current release key's secret key file (it signs the revocation).
    #[arg(long, value_name = "FILE")]
    pub signing_key: PathBuf,
    /// Why, recorded in the history (e.g. "leaked").
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct Keygen {
    /// Where to write the secret key: outside the repository, or a path git ignores.
    #[arg(long, value_name = "FILE")]
    pub secret_key: PathBuf,
    /// Do not encrypt the secret key (for a key kept only in a CI secret store).
    #[arg(long)]
    pub unencrypted: bool,
}

#[derive(Debug, Args)]
#[command(after_long_help = LEVELS_HELP)]
pub struct Release {
    /// major, minor, patch, alpha, beta, rc, release, or an explicit SemVer version.
    #[arg(value_name = "LEVEL|VERSION")]
    pub level: crate::release::Bump,
    /// Make the change; without it, print the diff and the git commands and change nothing.
    #[arg(long)]
    pub execute: bool,
    /// Skip running the test suite before committing.
    #[arg(long)]
    pub no_verify: bool,
    /// Branch allowed to release from, as a glob (repeatable). Default: main.
    #[arg(long, value_name = "GLOB")]
    pub allow_branch: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Doctor {
    /// Install what is missing (rustup targets; apt packages when root).
    #[arg(long)]
    pub fix: bool,
    /// Targets to check (default: the release list); `host` for the host only.
    #[arg(long = "target", value_name = "TRIPLE")]
    pub targets: Vec<String>,
    /// Print what was checked and what is missing (with its fix) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct Plan {
    /// Print JSON (the workflow reads it).
    #[arg(long)]
    pub json: bool,
    /// Write `.gitlab-ci.yml`, the release pipeline for GitLab CI, from the plan.
    #[arg(long, conflicts_with = "json")]
    pub gitlab: bool,
    /// Write `.github/workflows/release.yml`, the release workflow for GitHub Actions, from
    /// the plan.
    #[arg(long, conflicts_with_all = ["json", "gitlab"])]
    pub github: bool,
    /// With --gitlab or --github: only check that the file is what the plan gives.
    #[arg(long)]
    pub check: bool,
    /// Fail unless TAG is this commit's release tag (a tag pipeline's first check).
    #[arg(long, value_name = "TAG")]
    pub expect_tag: Option<String>,
}

#[derive(Debug, Args)]
pub struct Docker {
    /// Image tag (default: jimini:<version>).
    #[arg(long)]
    pub tag: Option<String>,
    /// The dist directory holding the musl archive (default: dist/).
    #[arg(long, value_name = "DIR")]
    pub dist: Option<PathBuf>,
    /// Only lay out the image's files under DIR (the Dockerfile's builder stage uses this).
    #[arg(long, value_name = "DIR")]
    pub image_root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct Ci {
    /// Skip installing missing tools (fails instead).
    #[arg(long)]
    pub no_install: bool,
}

pub const LEVELS_HELP: &str = "\
Levels (pre-release semantics follow cargo-release):
  major     1.4.2 -> 2.0.0        2.0.0-rc.1 -> 2.0.0
  minor     0.1.0 -> 0.2.0        0.3.0-beta.2 -> 0.3.0
  patch     0.2.0 -> 0.2.1        0.2.1-rc.1 -> 0.2.1
  alpha     0.2.0 -> 0.2.1-alpha.1, 0.2.1-alpha.1 -> 0.2.1-alpha.2
  beta      0.2.1-alpha.2 -> 0.2.1-beta.1
  rc        0.2.0 -> 0.2.1-rc.1,  0.2.1-rc.1 -> 0.2.1-rc.2
  release   0.2.1-rc.2 -> 0.2.1   (drops the pre-release)
  X.Y.Z     any SemVer 2.0 version greater than the current one

Without --execute: prints the diff of every file and the git commands, changes nothing.
With --execute: writes the files, checks Cargo.lock offline, checks that crates.io would take
the packages (`cargo publish --dry-run --locked --workspace`; with --no-verify without building
them), runs `cargo test --workspace --locked` (unless --no-verify), commits `release: vX.Y.Z` and tags `vX.Y.Z` (annotated, with the
version's CHANGELOG section). It never pushes: `git push --follow-tags` when you are ready.

Refuses (and changes nothing) on: a dirty tree, a branch not matching --allow-branch (default
main), an existing tag, a version not greater than the current one, an empty [Unreleased]
section, an out-of-date Cargo.lock, a package crates.io would refuse, failing tests.";
