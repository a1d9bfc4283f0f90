//! Debian 11 (a minbase chroot): install.sh, the .deb with dpkg and lintian, the wheel with its pip.

use super::*;
use crate::common::*;

/// The newest `GLIBC_x.y` symbol version a binary needs, as `readelf -V` shows it.
fn newest_glibc(binary: &Path) -> (u32, u32) {
    let text = checked(Command::new("readelf").arg("-V").arg(binary));
    text.split("GLIBC_")
        .skip(1)
        .filter_map(|rest| {
            let version: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .max()
        .expect("a glibc binary needs some GLIBC_ version")
}

/// The delivery dist copied into the Debian 11 chroot: (the chroot, the dist's path inside it).
fn dist_in_chroot(dist: &Path, label: &str) -> (PathBuf, String) {
    let chroot = debian_chroot();
    let (outside, inside) = chroot_dir(&chroot, label);
    for (name, bytes) in snapshot(dist) {
        std::fs::write(outside.join(name), bytes).unwrap();
    }
    (chroot, inside)
}

/// install.sh of the dist at `inside` (a path in the chroot), run there.
fn install_in_chroot(chroot: &Path, inside: &str, to: &str) -> std::process::Output {
    let url = format!("file://{inside}");
    run(&mut in_chroot(
        chroot,
        &["sh", &format!("{inside}/install.sh"), "--to", to],
        &[("JIMINI_INSTALL_BASE_URL", url.as_str())],
    ))
}

#[test]
fn debian_11_runs_what_install_sh_installs_and_nothing_needs_more_than_the_floor() {
    let (_, dist) = built();
    let chroot = debian_chroot();
    let glibc = checked(&mut in_chroot(
        &chroot,
        &["getconf", "GNU_LIBC_VERSION"],
        &[],
    ));
    assert_eq!(glibc.trim(), "glibc 2.31", "the chroot is Debian 11");

    let (_, inside) = dist_in_chroot(dist, "debian-11-install");
    let to = format!("{inside}/bin");
    let output = install_in_chroot(&chroot, &inside, &to);
    let said = format!(
        "{}{}",
        stderr(&output),
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains(&format!("({})", host())),
        "the gnu build: {said}"
    );
    // A minimal Debian has no xz: install.sh takes the .tar.gz of the same files.
    let xz = run(&mut in_chroot(&chroot, &["sh", "-c", "command -v xz"], &[]));
    assert!(
        !xz.status.success(),
        "the chroot is minbase, without xz-utils"
    );
    assert!(
        said.contains(&format!(
            "xz is not installed: taking jimini_{}_{}.tar.gz",
            version(dist),
            host()
        )),
        "{said}"
    );

    let installed = chroot.join(to.trim_start_matches('/'));
    for binary in ["jimini", "jimini-server", "jimini-admin"] {
        let path = installed.join(binary);
        assert!(
            newest_glibc(&path) <= (2, 17),
            "{binary} needs more than glibc 2.17"
        );
        let line = checked(&mut in_chroot(
            &chroot,
            &[&format!("{to}/{binary}"), "--version"],
            &[],
        ));
        assert!(
            line.starts_with(&format!("{binary} {} (", version(dist))),
            "{line}"
        );
    }
    // The rule engine works there: an SSN is blocked (exit 3), a greeting allowed.
    let jimini = format!("{to}/jimini");
    let blocked = run(&mut in_chroot(
        &chroot,
        &[&jimini, "check", "my ssn is 123-45-6789"],
        &[],
    ));
    assert_eq!(blocked.status.code(), Some(3), "{blocked:?}");
    assert!(String::from_utf8_lossy(&blocked.stdout).contains("decision: block"));
    let allowed = checked(&mut in_chroot(&chroot, &[&jimini, "check", "hello"], &[]));
    assert!(allowed.contains("decision: allow"), "{allowed}");

    // A release without the .tar.gz cannot be unpacked there: it says what to install.
    let (_, inside) = dist_in_chroot(dist, "debian-11-no-gz");
    let outside = chroot.join(inside.trim_start_matches('/'));
    let gz = format!("jimini_{}_{}.tar.gz", version(dist), host());
    std::fs::remove_file(outside.join(&gz)).unwrap();
    let sums = std::fs::read_to_string(outside.join("SHA256SUMS")).unwrap();
    let without: String = sums
        .lines()
        .filter(|line| !line.ends_with(&gz))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(outside.join("SHA256SUMS"), without).unwrap();
    std::fs::remove_file(outside.join("SHA256SUMS.minisig")).ok();
    let output = install_in_chroot(&chroot, &inside, &format!("{inside}/bin"));
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("needs xz to unpack and the release has no .tar.gz"),
        "{}",
        stderr(&output)
    );
    assert!(!outside.join("bin/jimini").exists(), "nothing installed");
}

#[test]
fn debian_11_gets_the_musl_build_when_the_floor_is_above_its_glibc() {
    let (_, dist) = built();
    let (chroot, inside) = dist_in_chroot(dist, "debian-11-floor");
    // The same release, had it been built with a floor of 2.34 (what the host toolchain links):
    // only the installer's platform table says so.
    let script = chroot
        .join(inside.trim_start_matches('/'))
        .join("install.sh");
    let text = std::fs::read_to_string(&script).unwrap();
    let raised = text.replace(" tar.xz 2.17\n", " tar.xz 2.34\n");
    assert_ne!(raised, text, "the installer carries the floor per platform");
    std::fs::write(&script, raised).unwrap();

    let to = format!("{inside}/bin");
    let output = install_in_chroot(&chroot, &inside, &to);
    let said = stderr(&output);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains("glibc (2.31) is older than 2.34")
            && said.contains(&format!("installing the static musl build {MUSL}")),
        "{said}"
    );
    let version = checked(&mut in_chroot(
        &chroot,
        &[&format!("{to}/jimini"), "--version"],
        &[],
    ));
    assert!(version.contains(MUSL), "{version}");
}

#[test]
fn debian_11_puts_the_previous_binaries_back_when_the_new_jimini_cannot_run() {
    let (_, dist) = built();
    let (chroot, good) = dist_in_chroot(dist, "debian-11-good");
    let (_, broken) = dist_in_chroot(broken_dist(), "debian-11-broken");
    let (installed, to) = chroot_dir(&chroot, "debian-11-rollback");
    let first = install_in_chroot(&chroot, &good, &to);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = snapshot(&installed);
    assert_eq!(before.len(), 3, "three binaries installed");

    let output = install_in_chroot(&chroot, &broken, &to);
    let said = stderr(&output);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("does not run here") && said.contains("put back what was there before"),
        "{said}"
    );
    assert_eq!(snapshot(&installed), before);
}

#[test]
fn the_deb_passes_debian_tools_installs_runs_and_is_removed_without_a_trace_on_debian_11() {
    let (_, dist) = built();
    let manifest = read_manifest(dist);
    let deb = artifact_name(&manifest, "deb");
    assert_eq!(
        deb,
        // The release's version, not the Debian form: GitHub renames a `~` on upload.
        format!("jimini_{}_amd64.deb", version(dist))
    );
    let path = dist.join(&deb);
    // The SBOM of the target names the .deb as one of the files it describes.
    let sbom: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dist.join(format!("jimini_{}_{}.cdx.json", version(dist), host()))).unwrap(),
    )
    .unwrap();
    let described: Vec<&str> = sbom["metadata"]["properties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "jimini:dist:artifact")
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        described,
        [
            format!("jimini_{}_{}.tar.xz", version(dist), host()),
            format!("jimini_{}_{}.tar.gz", version(dist), host()),
            deb.clone(),
            artifact_name(&manifest, "wheel"),
            artifact_name(&manifest, "rpm"),
            format!("jimini_{}_npm-linux-x64.tgz", version(dist)),
        ]
    );
    let info = checked(Command::new("dpkg-deb").arg("--info").arg(&path));
    for field in [
        "Package: jimini",
        "Architecture: amd64",
        "Depends: libc6 (>= 2.17)",
        "Maintainer: The jimini developers <",
    ] {
        assert!(info.contains(field), "{field} missing:\n{info}");
    }
    let contents = checked(Command::new("dpkg-deb").arg("--contents").arg(&path));
    for line in contents.lines() {
        assert!(line.contains(" 0/0 "), "owned by root: {line}");
    }
    let files: Vec<String> = contents
        .lines()
        .filter(|l| l.starts_with('-'))
        .map(|l| {
            format!(
                "/{}",
                l.rsplit(' ').next().unwrap().trim_start_matches("./")
            )
        })
        .collect();
    for wanted in [
        "/usr/bin/jimini",
        "/usr/bin/jimini-server",
        "/usr/bin/jimini-admin",
        "/etc/jimini/rules.toml",
        "/lib/systemd/system/jimini-server.service",
        "/lib/systemd/system/jimini-server-rotate.timer",
        "/lib/systemd/system/jimini-server-rotate.service",
        "/usr/share/doc/jimini/copyright",
        "/usr/share/doc/jimini/changelog.gz",
    ] {
        assert!(
            files.iter().any(|f| f == wanted),
            "{wanted} not in {files:?}"
        );
    }
    // Inside, the Debian form that dpkg and apt compare: a pre-release sorts before its release.
    let control_version = checked(
        Command::new("dpkg-deb")
            .args(["--field"])
            .arg(&path)
            .arg("Version"),
    );
    assert_eq!(control_version.trim(), version(dist).replacen('-', "~", 1));
    // Debian's own checker: no errors, and a man page for every binary (the warning left is
    // the 0600 environment file that holds the API key).
    let lintian = run(Command::new("lintian").arg(&path));
    let said = String::from_utf8_lossy(&lintian.stdout).into_owned();
    assert!(
        !said.lines().any(|l| l.starts_with("E:")),
        "lintian errors:\n{said}"
    );
    assert!(
        !said.contains("no-manual-page") && !said.contains("manpage"),
        "lintian on the man pages:\n{said}"
    );
    for binary in ["jimini", "jimini-admin", "jimini-server"] {
        let page = format!("/usr/share/man/man1/{binary}.1.gz");
        assert!(files.iter().any(|f| f == &page), "{page} not in {files:?}");
    }

    // Install, run, remove, purge on Debian 11.
    let chroot = debian_chroot();
    let (outside, inside) = chroot_dir(&chroot, "deb");
    std::fs::copy(&path, outside.join(&deb)).unwrap();
    let in_root = |args: &[&str]| run(&mut in_chroot(&chroot, args, &[]));
    let dpkg = |args: &[&str]| {
        let output = in_root(args);
        assert!(
            output.status.success(),
            "dpkg {args:?}: {}",
            stderr(&output)
        );
    };
    dpkg(&["dpkg", "-i", &format!("{inside}/{deb}")]);
    let status = checked(&mut in_chroot(&chroot, &["dpkg", "-s", "jimini"], &[]));
    assert!(status.contains("Status: install ok installed"), "{status}");
    let line = checked(&mut in_chroot(&chroot, &["jimini", "--version"], &[]));
    assert!(
        line.starts_with(&format!("jimini {} (", version(dist))),
        "{line}"
    );
    let blocked = in_root(&[
        "jimini",
        "check",
        "--rules",
        "/etc/jimini/rules.toml",
        "ssn 123-45-6789",
    ]);
    assert_eq!(blocked.status.code(), Some(3), "{blocked:?}");
    let env_mode = std::fs::metadata(chroot.join("etc/jimini/server.env")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&env_mode.permissions()) & 0o777,
        0o600
    );
    let listed = checked(&mut in_chroot(
        &chroot,
        &["dpkg-query", "-W", "-f=${Conffiles}", "jimini"],
        &[],
    ));
    assert!(
        listed.contains("/etc/jimini/rules.toml") && listed.contains("/etc/jimini/server.env"),
        "{listed}"
    );

    // remove keeps the conffiles (the administrator's edits), purge takes them too.
    dpkg(&["dpkg", "-r", "jimini"]);
    assert!(!chroot.join("usr/bin/jimini").exists());
    assert!(
        chroot.join("etc/jimini/rules.toml").exists(),
        "conffiles survive remove"
    );
    dpkg(&["dpkg", "-P", "jimini"]);
    for file in &files {
        assert!(
            !chroot.join(file.trim_start_matches('/')).exists(),
            "{file} left behind"
        );
    }
    assert!(
        !chroot.join("etc/jimini").exists(),
        "/etc/jimini left behind"
    );
}

/// Debian 11's own pip (20.3, the first with PEP 600's `manylinux_x_y` tags) takes the
/// manylinux wheel for its machine and installs it; the binaries run on its glibc 2.31.
#[test]
fn the_manylinux_wheel_installs_with_debian_11s_own_pip_and_runs_there() {
    let (_, dist) = built();
    let manifest = read_manifest(dist);
    let wheel = artifact_name(&manifest, "wheel");
    let chroot = debian_chroot();
    let pip = checked(&mut in_chroot(
        &chroot,
        &["python3", "-m", "pip", "--version"],
        &[],
    ));
    assert!(pip.starts_with("pip 20.3"), "{pip}");
    let (outside, inside) = chroot_dir(&chroot, "pip");
    std::fs::copy(dist.join(&wheel), outside.join(&wheel)).unwrap();
    let pep440 =
        xtask::dist::wheel::plan::pep440(&semver::Version::parse(&version(dist)).unwrap()).unwrap();
    checked(&mut in_chroot(
        &chroot,
        &[
            "python3",
            "-m",
            "pip",
            "install",
            "--no-index",
            "--find-links",
            &inside,
            "--prefix",
            &format!("{inside}/prefix"),
            &format!("jimini=={pep440}"),
        ],
        &[],
    ));
    let jimini = format!("{inside}/prefix/bin/jimini");
    let line = checked(&mut in_chroot(&chroot, &[&jimini, "--version"], &[]));
    assert!(
        line.starts_with(&format!("jimini {} (", version(dist))),
        "{line}"
    );
    let blocked = run(&mut in_chroot(
        &chroot,
        &[&jimini, "check", "ssn 123-45-6789"],
        &[],
    ));
    assert_eq!(blocked.status.code(), Some(3), "{blocked:?}");
    for binary in ["jimini-admin", "jimini-server"] {
        assert!(
            outside.join("prefix/bin").join(binary).is_file(),
            "{binary}"
        );
    }
}
