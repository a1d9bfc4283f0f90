//! Test builds by name: every dist an end-to-end test reads is one of these, built at most once
//! per test process and shared by every test that names it; across test binaries the build's
//! workspace and target directory are shared too, so cargo compiles each configuration once per
//! `cargo test` run and `dist` reuses what it packed (see ARCHITECTURE.md, *Tests*).
//!
//! Adding a test means choosing a name. A claim about packaging, signing, merging, publishing or
//! verifying takes a `Fixture*` build (the app-shaped fixture: seconds per target); only a claim
//! about the app's own binaries takes [`Build::AppHost`]. A new name costs a build: give it a
//! doc line that says what needs it.

use std::path::PathBuf;
use std::sync::OnceLock;

use super::{
    MUSL, fixture_workspace, host, release_key, run, shared_workspace, stderr, temp_dir, xtask,
    xtask_fast,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// The app, dist profile (fat LTO), host target: what ships, for the claims about the
    /// shipped binaries themselves (the SBOM of what linked, the run, the planned argv, maturin
    /// packing the same workspace): dist.rs.
    AppHost,
    /// The fixture, every release target with the smoke runs this machine can do, with a
    /// TMPDIR of its own ([`Built::tmp`]): cross.rs (the arm64 macOS code signatures checked
    /// page by page among them), and the tag pipeline's comparison.
    FixtureAll,
    /// The fixture's host and musl targets: install.sh, the image, the `.deb`, binstall
    /// (tests/delivery) and the one-machine dist the fan-out's partials must equal (fan_out.rs).
    FixtureHostMusl,
    /// The fixture's host target as a partial dist (fan_out.rs, tests/trust's merge).
    FixturePartialHost,
    /// The fixture's musl target as a partial dist (fan_out.rs, tests/trust's merge).
    FixturePartialMusl,
    /// The fixture's host target signed with its workspace's release key (tests/trust).
    FixtureSigned,
}

const ALL: [Build; 6] = [
    Build::AppHost,
    Build::FixtureAll,
    Build::FixtureHostMusl,
    Build::FixturePartialHost,
    Build::FixturePartialMusl,
    Build::FixtureSigned,
];

/// A named build, done.
#[derive(Debug)]
pub struct Built {
    /// The workspace it was built in (only read after: each dist is written elsewhere).
    pub workspace: PathBuf,
    pub dist: PathBuf,
    /// What `dist` said on stderr.
    pub log: String,
    /// The build's own TMPDIR, when it has one.
    pub tmp: Option<PathBuf>,
}

/// The dist of `build`, built on first use.
pub fn dist(build: Build) -> &'static Built {
    static BUILT: [OnceLock<Built>; ALL.len()] = [const { OnceLock::new() }; ALL.len()];
    let index = ALL.iter().position(|b| *b == build).unwrap();
    BUILT[index].get_or_init(|| make(build))
}

fn make(build: Build) -> Built {
    let label = format!("{build:?}").to_lowercase();
    let dist = temp_dir(&format!("build-{label}")).join("dist");
    let host = host();
    let (workspace, mut cmd) = match build {
        Build::AppHost => {
            let workspace = shared_workspace();
            let cmd = xtask(&workspace);
            (workspace, cmd)
        }
        _ => {
            let workspace = fixture_workspace();
            let cmd = xtask_fast(&workspace);
            (workspace, cmd)
        }
    };
    cmd.arg("dist");
    let mut tmp = None;
    match build {
        Build::AppHost => {}
        Build::FixtureAll => {
            // The Apple targets cannot run here (macOS runners run them in release.yml).
            cmd.args(["--target", "all", "--smoke=available"]);
            let dir = temp_dir(&format!("build-{label}-tmp"));
            cmd.env("TMPDIR", &dir);
            tmp = Some(dir);
        }
        Build::FixtureHostMusl => {
            cmd.args(["--quiet", "--target", &host, "--target", MUSL]);
        }
        Build::FixturePartialHost => {
            cmd.args(["--quiet", "--partial", "--target", &host]);
        }
        Build::FixturePartialMusl => {
            cmd.args(["--quiet", "--partial", "--target", MUSL]);
        }
        Build::FixtureSigned => {
            cmd.args(["--quiet", "--require-signature", "--signing-key"])
                .arg(release_key(&workspace));
        }
    }
    let output = run(cmd.arg("--out").arg(&dist));
    let log = stderr(&output);
    assert!(
        output.status.success(),
        "the {build:?} build failed:\n{log}"
    );
    Built {
        workspace,
        dist,
        log,
        tmp,
    }
}
