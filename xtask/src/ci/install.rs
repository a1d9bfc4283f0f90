//! What `ci` installs before it runs anything, each step idempotent: rustfmt and clippy, the
//! crates.io tools, Debian's packages, the release targets' toolchains and runners, the pinned
//! Python tools, the npm tools and the Debian 11 chroot.

use std::path::Path;

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::pins::{
    APT_TOOLS, CARGO_AUDIT, CARGO_AUDITABLE, CARGO_BINSTALL, DEBIAN_CHROOT, GITLAB_CI_LOCAL,
    NPM_CLI, PYTHON_TOOLS,
};
use crate::targets::Target;
use crate::tools::tools_dir;

pub(super) fn install(
    sh: &Shell,
    root: &Path,
    targets: &[Target],
    workspace: &crate::workspace::Workspace,
) -> anyhow::Result<()> {
    let target_dir = &workspace.target_dir;
    install_components(sh)?;
    // doctor (below) installs cargo-auditable too: first, so that the two never race.
    CARGO_AUDITABLE.install(sh, target_dir)?;
    // Compiling the test-only crates.io tools keeps the CPU busy while apt, pip and
    // debootstrap mostly wait for the network and the disk: on a fresh machine they overlap.
    std::thread::scope(|scope| {
        let cargo_tools = scope.spawn(|| -> anyhow::Result<()> {
            let sh = Shell::new()?;
            sh.change_dir(root);
            for tool in [CARGO_AUDIT, CARGO_BINSTALL] {
                tool.install(&sh, target_dir)?;
            }
            Ok(())
        });
        let rest = (|| -> anyhow::Result<()> {
            install_apt_tools(sh)?;
            install_release_toolchains(sh, root, targets)?;
            install_python_tools(sh, root)?;
            install_npm_tool(
                sh,
                root,
                "gitlab-ci-local",
                "gitlab-ci-local",
                GITLAB_CI_LOCAL,
            )?;
            install_npm_tool(sh, root, NPM_CLI_DIR, "npm", NPM_CLI)?;
            DEBIAN_CHROOT.install(sh, root)?;
            Ok(())
        })();
        let tools = cargo_tools
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("installing the crates.io tools panicked")));
        rest.and(tools)
    })
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
fn install_release_toolchains(sh: &Shell, root: &Path, targets: &[Target]) -> anyhow::Result<()> {
    let left = crate::doctor::converge(sh, targets, root, crate::doctor::Scope::BuildAndRun)?;
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
    if fs_err::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    fs_err::create_dir_all(&dir)?;
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
    fs_err::write(&stamp, wanted)?;
    Ok(())
}

/// An npm package (pinned) in a directory of its own in the tools cache: gitlab-ci-local, which
/// the tests run `.gitlab-ci.yml` with, and npm itself, which the npm packages' tests install
/// and publish with (the machine's npm may be too old for `--cpu`, `--os`, `--libc` and the
/// `libc` field: Debian 12's is 9.2). Node.js comes with the machine or from Debian (`npm`
/// brings `nodejs`).
fn install_npm_tool(
    sh: &Shell,
    root: &Path,
    dir: &str,
    package: &str,
    version: &str,
) -> anyhow::Result<()> {
    let prefix = tools_dir(root).join(dir);
    let stamp = prefix.join("installed.txt");
    if fs_err::read_to_string(&stamp).ok().as_deref() == Some(version) {
        return Ok(());
    }
    if !crate::doctor::on_path("npm") {
        crate::doctor::apt_install(sh, &["npm".to_owned()])
            .context("the test tools need Node.js and npm: install them (Debian: npm)")?;
    }
    fs_err::create_dir_all(&prefix)?;
    let pinned = format!("{package}@{version}");
    cmd!(
        sh,
        "npm install --prefix {prefix} --no-audit --no-fund --save-exact {pinned}"
    )
    .run()
    .with_context(|| {
        format!("npm could not install {pinned}: check the network to the npm registry")
    })?;
    fs_err::write(&stamp, version)?;
    Ok(())
}

/// Where in the tools cache the pinned npm is (`<dir>/node_modules/.bin/npm`, `npx`).
pub const NPM_CLI_DIR: &str = "npm-cli";
