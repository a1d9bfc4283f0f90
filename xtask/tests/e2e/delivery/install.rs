//! install.sh from a file:// URL and over HTTP: checksums, refusals, fallbacks and rollback.

use super::*;
use crate::common::*;

#[test]
fn install_script_is_shellcheck_clean_and_shipped_in_the_dist() {
    checked(
        Command::new("shellcheck")
            .args(["--shell=sh"])
            .arg(source_root().join("install.sh")),
    );
    let (_, dist) = built();
    let manifest = read_manifest(dist);
    let installer = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "install.sh")
        .expect("install.sh in the manifest");
    assert_eq!(installer["kind"], "installer");
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    assert!(sums.contains("  install.sh\n"));
    let shipped = std::fs::read_to_string(dist.join("install.sh")).unwrap();
    assert!(
        shipped.contains(&format!("default_version=\"{}\"", version(dist))),
        "the shipped script knows its version"
    );
    // Platform facts live in xtask/src/targets.rs; the shipped script gets the release list's.
    let template = std::fs::read_to_string(source_root().join("install.sh")).unwrap();
    assert!(
        !template.contains("unknown-linux") && template.contains("__JIMINI_PLATFORMS__"),
        "install.sh must not carry its own platform table"
    );
    for line in [
        "Linux x86_64 gnu x86_64-unknown-linux-gnu tar.xz",
        "Linux amd64 gnu x86_64-unknown-linux-gnu tar.xz",
        "Linux x86_64 musl x86_64-unknown-linux-musl tar.xz",
        "Linux aarch64 gnu aarch64-unknown-linux-gnu tar.xz",
        "Linux arm64 gnu aarch64-unknown-linux-gnu tar.xz",
    ] {
        assert!(
            shipped.contains(line),
            "{line:?} missing from the shipped table"
        );
    }
    checked(
        Command::new("shellcheck")
            .args(["--shell=sh", "-"])
            .stdin(std::fs::File::open(dist.join("install.sh")).unwrap()),
    );
}

#[test]
fn installs_from_a_file_url_and_runs() {
    let (_, dist) = built();
    let to = temp_dir("install-file").join("bin");
    let output = install(&format!("file://{}", dist.display()), &to, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains(&format!("installed jimini {} ({})", version(dist), host())),
        "{said}"
    );
    assert!(
        !stderr(&output).contains("xz is not installed"),
        "with xz here, the .tar.xz"
    );
    let line = checked(Command::new(to.join("jimini")).arg("--version"));
    assert!(
        line.starts_with(&format!("jimini {} (", version(dist))),
        "{line}"
    );
    assert!(to.join("jimini-server").is_file() && to.join("jimini-admin").is_file());
}

/// A loopback HTTP server of `dir` (Python's http.server): the child and its port.
fn serve(dir: &Path) -> (std::process::Child, u16) {
    let mut python = Command::new("python3");
    python
        .args([
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(dir);
    spawn_announcing_port(python.stderr(Stdio::null()))
}

#[test]
fn installs_over_http_from_a_loopback_server() {
    let (_, dist) = built();
    let (mut server, port) = serve(dist);
    let to = temp_dir("install-http").join("bin");
    let output = install(
        &format!("http://127.0.0.1:{port}"),
        &to,
        &[("JIMINI_INSTALL_TARGET", MUSL)],
    );
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let line = checked(Command::new(to.join("jimini")).arg("--version"));
    assert!(line.contains(MUSL), "{line}");
}

#[test]
fn install_refuses_tampering_missing_platforms_and_failed_downloads() {
    let (_, dist) = built();
    let refused = |url: &str, env: &[(&str, &str)], needle: &str| {
        let to = temp_dir("install-refused").join("bin");
        let output = install(url, &to, env);
        assert!(!output.status.success(), "install accepted ({needle})");
        let text = stderr(&output);
        assert!(
            text.contains(needle) && text.contains("nothing was installed"),
            "expected {needle:?}:\n{text}"
        );
        assert!(!to.exists(), "something was installed ({needle})");
    };
    let tampered = copy_dist(dist, "tampered-dist");
    let archive = format!("jimini_{}_{}.tar.xz", version(dist), host());
    let mut bytes = std::fs::read(tampered.join(&archive)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(tampered.join(&archive), bytes).unwrap();
    refused(
        &format!("file://{}", tampered.display()),
        &[("JIMINI_INSTALL_TARGET", "x86_64-unknown-linux-gnu")],
        "checksum mismatch",
    );
    refused(
        &format!("file://{}", dist.display()),
        &[("JIMINI_INSTALL_TARGET", "aarch64-unknown-linux-musl")],
        "has no archive for aarch64-unknown-linux-musl",
    );
    refused("file:///nonexistent/jimini-release", &[], "download failed");
    refused(
        "http://127.0.0.1:9/nothing-listens-here",
        &[],
        "download failed",
    );

    // An unsupported machine, by a `uname` that says so.
    let fake = temp_dir("fake-uname");
    std::fs::write(
        fake.join("uname"),
        "#!/bin/sh\ncase $1 in -s) echo Linux ;; -m) echo riscv64 ;; esac\n",
    )
    .unwrap();
    checked(Command::new("chmod").args(["755", fake.join("uname").to_str().unwrap()]));
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap());
    refused(
        &format!("file://{}", dist.display()),
        &[("PATH", path.as_str())],
        "no Linux riscv64 (gnu) build in this release",
    );
}

#[test]
fn an_old_glibc_gets_the_musl_build_or_nothing() {
    let (_, dist) = built();
    let url = format!("file://{}", dist.display());
    // CentOS 6's glibc 2.12, below the 2.17 floor, as getconf and ldd report it.
    let glibc_2_12 = [
        ("getconf", "echo glibc 2.12"),
        ("ldd", "echo 'ldd (GNU libc) 2.12'"),
    ];
    let path = fake_tools("glibc-2.12", &glibc_2_12);
    let to = temp_dir("install-old-glibc").join("bin");
    let output = install(&url, &to, &[("PATH", path.as_str())]);
    let said = stderr(&output);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains("glibc (2.12) is older than 2.17")
            && said.contains(&format!("installing the static musl build {MUSL}")),
        "{said}"
    );
    let line = checked(Command::new(to.join("jimini")).arg("--version"));
    assert!(line.contains(MUSL), "{line}");

    // An aarch64 machine with that glibc: the release has no aarch64 musl build.
    let mut tools = glibc_2_12.to_vec();
    tools.push((
        "uname",
        "case $1 in -s) echo Linux ;; -m) echo aarch64 ;; esac",
    ));
    let path = fake_tools("glibc-2.12-arm", &tools);
    let to = temp_dir("install-old-glibc-arm").join("bin");
    let output = install(&url, &to, &[("PATH", path.as_str())]);
    let said = stderr(&output);
    assert!(!output.status.success());
    assert!(
        said.contains("no musl build for Linux aarch64") && said.contains("nothing was installed"),
        "{said}"
    );
    assert!(!to.exists());

    // Debian 11's glibc 2.31 meets the floor: it keeps the gnu build.
    let path = fake_tools("glibc-2.31", &[("getconf", "echo glibc 2.31")]);
    let to = temp_dir("install-new-glibc").join("bin");
    let output = install(&url, &to, &[("PATH", path.as_str())]);
    assert!(output.status.success(), "{}", stderr(&output));
    let line = checked(Command::new(to.join("jimini")).arg("--version"));
    assert!(line.contains(&host()), "{line}");
}

#[test]
fn a_new_jimini_that_cannot_run_is_rolled_back_to_the_previous_one() {
    let (_, dist) = built();
    let to = temp_dir("install-rollback").join("bin");
    let good = install(&format!("file://{}", dist.display()), &to, &[]);
    assert!(good.status.success(), "{}", stderr(&good));
    let before = snapshot(&to);

    let broken = broken_dist();
    let output = install(
        &format!("file://{}", broken.display()),
        &to,
        &[("JIMINI_INSTALL_TARGET", host().as_str())],
    );
    let said = stderr(&output);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("does not run here") && said.contains("put back what was there before"),
        "{said}"
    );
    assert_eq!(
        snapshot(&to),
        before,
        "the previous binaries, and nothing else, are back"
    );
}

/// On a Mac (stand-ins for `uname` and `sw_vers`), install.sh takes the Apple build of the
/// machine's architecture and refuses a macOS older than the release's floor. (This dist holds
/// the host's archive only, so the chosen build is named by the missing-archive refusal.)
#[test]
fn install_sh_takes_the_apple_build_on_a_mac_and_refuses_an_old_macos() {
    let (_, dist) = built();
    let mac = |machine: &str, macos: &str| {
        let fake = temp_dir("fake-mac");
        for (tool, script) in [
            (
                "uname",
                format!("#!/bin/sh\ncase $1 in -s) echo Darwin ;; -m) echo {machine} ;; esac\n"),
            ),
            ("sw_vers", format!("#!/bin/sh\necho {macos}\n")),
        ] {
            std::fs::write(fake.join(tool), script).unwrap();
            checked(Command::new("chmod").arg("755").arg(fake.join(tool)));
        }
        let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap());
        let to = temp_dir("install-mac").join("bin");
        let output = install(
            &format!("file://{}", dist.display()),
            &to,
            &[("PATH", path.as_str())],
        );
        assert!(!output.status.success());
        assert!(!to.exists(), "something was installed");
        stderr(&output)
    };
    let old = mac("arm64", "10.15.7");
    assert!(
        old.contains("macOS 10.15.7, older than 11.0, which the aarch64-apple-darwin build needs"),
        "{old}"
    );
    let arm = mac("arm64", "14.5");
    assert!(
        arm.contains("has no archive for aarch64-apple-darwin"),
        "{arm}"
    );
    let intel = mac("x86_64", "13.6.1");
    assert!(
        intel.contains("has no archive for x86_64-apple-darwin"),
        "{intel}"
    );
}
