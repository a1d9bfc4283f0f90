//! Delivery: the container image (hadolint, built with podman from a real dist, run, probed,
//! inspected) and the checksum-verifying install script (file://, HTTP, refusals, shellcheck).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

const MUSL: &str = "x86_64-unknown-linux-musl";

/// The shared workspace copy and a dist of its host and musl targets (fast profile: the
/// installer and the image are the point here, not the optimiser).
fn built() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let copy = shared_workspace();
        let dist = temp_dir("delivery").join("dist");
        checked(
            xtask_fast(&copy)
                .args(["dist", "--quiet", "--target", &host(), "--target", MUSL])
                .arg("--out")
                .arg(&dist),
        );
        (copy, dist)
    })
}

fn version(dist: &Path) -> String {
    read_manifest(dist)["version"].as_str().unwrap().to_owned()
}

/// Runs the install script a dist shipped (it knows its version) against `dist_url`.
fn install(dist_url: &str, to: &Path, extra_env: &[(&str, &str)]) -> std::process::Output {
    let (_, dist) = built();
    let mut cmd = Command::new("sh");
    cmd.arg(dist.join("install.sh"))
        .args(["--to", to.to_str().unwrap()])
        .env("JIMINI_INSTALL_BASE_URL", dist_url);
    for (key, value) in extra_env {
        cmd.env(key, value);
    }
    run(&mut cmd)
}

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
fn serve(dir: &Path) -> (std::process::Child, String) {
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
    start_server(python)
}

/// Starts a server that prints `… port N …` first; the child and N.
fn start_server(mut command: Command) -> (std::process::Child, String) {
    let mut server = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split(" port ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    (server, port)
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
    let archive = format!("jimini-{}-{}.tar.xz", version(dist), host());
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
fn dockerfile_passes_hadolint() {
    let output = run(Command::new(ci_tool("hadolint")).arg(source_root().join("Dockerfile")));
    assert!(
        output.status.success(),
        "hadolint:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

fn podman(args: &[&str]) -> String {
    checked(
        Command::new("podman")
            .args(args)
            .env("CONTAINERS_CONF", containers_conf()),
    )
}

/// Runtime settings this machine needs (runc, ulimits below the hard limits).
fn containers_conf() -> PathBuf {
    let path = temp_dir("containers").join("containers.conf");
    std::fs::write(&path, "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\n[engine]\nruntime = \"runc\"\n").unwrap();
    path
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn image_from_the_dist_runs_has_only_the_expected_files_and_the_released_binary() {
    let (copy, dist) = built();
    let tag = format!("localhost/jimini-test:{}", std::process::id());
    let output = run(xtask_fast(copy)
        .args(["docker", "--tag", &tag, "--dist"])
        .arg(dist)
        .env("CONTAINERS_CONF", containers_conf())
        .env("JIMINI_CONTAINER_ENGINE", "podman"));
    assert!(output.status.success(), "{}", stderr(&output));
    let id = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let hex = id.strip_prefix("sha256:").unwrap_or(&id);
    assert!(
        hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()),
        "image id: {id}"
    );

    let labels = podman(&["image", "inspect", "--format", "{{json .Labels}}", &tag]);
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    let manifest = read_manifest(dist);
    assert_eq!(
        labels["org.opencontainers.image.version"],
        manifest["version"]
    );
    assert_eq!(
        labels["org.opencontainers.image.revision"],
        manifest["commit"]
    );
    assert_eq!(
        labels["org.opencontainers.image.created"],
        manifest["source_date"]
    );
    assert_eq!(labels["org.opencontainers.image.licenses"], "MIT");
    let user = podman(&["image", "inspect", "--format", "{{.Config.User}}", &tag]);
    assert_eq!(user.trim(), "10001:10001");

    // Files: exactly the expected ones, no shell.
    let container = podman(&["create", &tag]).trim().to_owned();
    let export = temp_dir("export").join("image.tar");
    podman(&["export", "-o", export.to_str().unwrap(), &container]);
    podman(&["rm", &container]);
    let listing = checked(Command::new("tar").args(["-tf", export.to_str().unwrap()]));
    let files: Vec<&str> = listing.lines().filter(|l| !l.ends_with('/')).collect();
    let expected = [
        "etc/jimini/rules.toml",
        "usr/local/bin/jimini-admin",
        "usr/local/bin/jimini-server",
    ];
    let unexpected: Vec<&&str> = files
        .iter()
        .filter(|f| !expected.contains(f) && !is_runtime_mount(f))
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected files in the image: {unexpected:?}\n{listing}"
    );
    for file in expected {
        assert!(
            files.contains(&file),
            "{file} missing from the image:\n{listing}"
        );
    }
    assert!(
        !listing
            .lines()
            .any(|l| l.ends_with("bin/sh") || l.ends_with("busybox"))
    );

    // The image's server is the released one, byte for byte.
    let unpacked = temp_dir("image-files");
    checked(Command::new("tar").args([
        "-xf",
        export.to_str().unwrap(),
        "-C",
        unpacked.to_str().unwrap(),
        "usr/local/bin/jimini-server",
    ]));
    let archive = format!("jimini-{}-{MUSL}", manifest["version"].as_str().unwrap());
    let released = temp_dir("released");
    checked(Command::new("tar").args([
        "-xf",
        dist.join(format!("{archive}.tar.xz")).to_str().unwrap(),
        "-C",
        released.to_str().unwrap(),
    ]));
    assert_eq!(
        std::fs::read(unpacked.join("usr/local/bin/jimini-server")).unwrap(),
        std::fs::read(released.join(&archive).join("jimini-server")).unwrap(),
        "the image's jimini-server differs from the archive's"
    );

    // It runs and answers /health on a loopback port.
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let running = podman(&[
        "run",
        "-d",
        "--network",
        "host",
        "-e",
        "JIMINI_API_KEY=test",
        &tag,
        "--bind",
        &bind,
        "--audit-log",
        "/var/lib/jimini/audit.jsonl",
    ])
    .trim()
    .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut answer = None;
    while Instant::now() < deadline {
        answer = http_get(port, "/health");
        if answer.as_deref().is_some_and(|a| a.contains("200 OK")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let logs = run(Command::new("podman")
        .args(["logs", &running])
        .env("CONTAINERS_CONF", containers_conf()));
    podman(&["stop", "-t", "5", &running]);
    // Removed here rather than by `run --rm`: that removal runs in the background after `stop`
    // and races the `rmi` below ("container ... using image could not be removed").
    podman(&["rm", &running]);
    let answer = answer.unwrap_or_default();
    assert!(
        answer.contains("200 OK") && answer.contains(r#"{"status":"ok"}"#),
        "no /health answer: {answer}\n{}",
        stderr(&logs)
    );
    podman(&["rmi", "-f", &tag]);
}

/// Files the engine creates in every container for its own mounts.
fn is_runtime_mount(path: &str) -> bool {
    [
        "etc/hosts",
        "etc/hostname",
        "etc/resolv.conf",
        "run/.containerenv",
        ".containerenv",
    ]
    .contains(&path)
        || path.starts_with("dev/")
        || path.starts_with("proc/")
        || path.starts_with("sys/")
}

#[test]
fn docker_refuses_a_dist_that_does_not_verify() {
    let (copy, dist) = built();
    let extra = copy_dist(dist, "extra-file");
    std::fs::write(extra.join("evil"), "x").unwrap();
    let tmp = temp_dir("docker-refused-tmp");
    expect_failure(
        xtask_fast(copy)
            .args(["docker", "--dist", extra.to_str().unwrap()])
            .env("TMPDIR", &tmp),
        "unexpected file evil",
    );
    assert_eq!(file_names(&tmp), Vec::<String>::new(), "left in TMPDIR");
}

/// A build the engine fails says why (the engine's own error, not only its exit status) and
/// leaves no temporary build context behind.
#[test]
fn a_failed_image_build_says_why_and_leaves_nothing_behind() {
    let (copy, dist) = built();
    let tmp = temp_dir("docker-failed-tmp");
    let output = run(xtask_fast(copy)
        .args(["docker", "--tag", "Not A Valid Tag", "--dist"])
        .arg(dist)
        .env("TMPDIR", &tmp)
        .env("CONTAINERS_CONF", containers_conf())
        .env("JIMINI_CONTAINER_ENGINE", "podman"));
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("repository name must be lowercase")
            && message.contains("the Podman build of Not A Valid Tag failed"),
        "{message}"
    );
    assert!(output.stdout.is_empty(), "no image id on stdout");
    assert_eq!(file_names(&tmp), Vec::<String>::new(), "left in TMPDIR");
}

/// A directory of stand-ins for system tools, put first on the PATH.
fn fake_tools(label: &str, tools: &[(&str, &str)]) -> String {
    let dir = temp_dir(label);
    for (name, script) in tools {
        std::fs::write(dir.join(name), format!("#!/bin/sh\n{script}\n")).unwrap();
        checked(Command::new("chmod").args(["755", dir.join(name).to_str().unwrap()]));
    }
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap())
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

/// The delivery dist, but its host `jimini` cannot start (a script that exits 3), with
/// SHA256SUMS agreeing with the changed archive.
fn broken_dist() -> &'static PathBuf {
    static BROKEN: OnceLock<PathBuf> = OnceLock::new();
    BROKEN.get_or_init(|| {
        let (_, dist) = built();
        let broken = copy_dist(dist, "broken-jimini");
        // Both archives of the host: the .tar.xz, and the .tar.gz a machine without xz takes.
        let repack = r##"
import io, sys, tarfile
path, mode = sys.argv[1:3]
with tarfile.open(path) as old:
    members = [(m, old.extractfile(m).read() if m.isfile() else None) for m in old.getmembers()]
with tarfile.open(path, mode) as new:
    for member, data in members:
        if member.name.endswith("/jimini"):
            data = b"#!/bin/sh\nexit 3\n"
            member.size = len(data)
        new.addfile(member, io.BytesIO(data) if data is not None else None)
"##;
        let mut sums = std::fs::read_to_string(broken.join("SHA256SUMS")).unwrap();
        for (extension, mode) in [("tar.xz", "w:xz"), ("tar.gz", "w:gz")] {
            let archive = format!("jimini-{}-{}.{extension}", version(dist), host());
            checked(
                Command::new("python3")
                    .args(["-c", repack])
                    .arg(broken.join(&archive))
                    .arg(mode),
            );
            let line = checked(Command::new("sha256sum").current_dir(&broken).arg(&archive));
            let replaced: String = sums
                .lines()
                .map(|old| match old.ends_with(&format!("  {archive}")) {
                    true => line.trim_end().to_owned(),
                    false => old.to_owned(),
                })
                .map(|line| line + "\n")
                .collect();
            assert_ne!(replaced, sums, "{archive} is in SHA256SUMS");
            sums = replaced;
        }
        std::fs::write(broken.join("SHA256SUMS"), sums).unwrap();
        broken
    })
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
            "xz is not installed: taking jimini-{}-{}.tar.gz",
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
    let gz = format!("jimini-{}-{}.tar.gz", version(dist), host());
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
        &std::fs::read(dist.join(format!("jimini-{}-{}.cdx.json", version(dist), host()))).unwrap(),
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
            format!("jimini-{}-{}.tar.xz", version(dist), host()),
            format!("jimini-{}-{}.tar.gz", version(dist), host()),
            deb.clone(),
            artifact_name(&manifest, "wheel"),
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
    // Debian's own checker: no errors (warnings are the missing man pages and the 0600
    // environment file that holds the API key).
    let lintian = run(Command::new("lintian").arg(&path));
    let said = String::from_utf8_lossy(&lintian.stdout).into_owned();
    assert!(
        !said.lines().any(|l| l.starts_with("E:")),
        "lintian errors:\n{said}"
    );

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

#[test]
fn cargo_binstall_installs_the_release_archive_named_by_the_crate_metadata() {
    let (copy, dist) = built();
    let version = version(dist);
    // A release page as GitHub lays it out, on a loopback server.
    let site = temp_dir("binstall-site");
    let release = site.join(format!("jimini-dev/jimini/releases/download/v{version}"));
    std::fs::create_dir_all(&release).unwrap();
    for (name, bytes) in snapshot(dist) {
        std::fs::write(release.join(name), bytes).unwrap();
    }
    // cargo-binstall downloads over HTTPS only: a certificate for 127.0.0.1 that it trusts
    // through SSL_CERT_FILE, and Python's server wrapped in TLS.
    let tls = temp_dir("binstall-tls");
    checked(
        Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            // A server certificate, not a CA: rustls refuses a CA as the end entity.
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(tls.join("key.pem"))
            .arg("-out")
            .arg(tls.join("cert.pem")),
    );
    let https = r#"
import functools, http.server, ssl, sys
directory, cert, key = sys.argv[1:4]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("Serving HTTPS on 127.0.0.1 port", server.server_address[1], flush=True)
server.serve_forever()
"#;
    let mut python = Command::new("python3");
    python
        .args(["-c", https])
        .arg(&site)
        .arg(tls.join("cert.pem"))
        .arg(tls.join("key.pem"));
    let (mut server, port) = start_server(python);
    // The crate's own manifests, with `repository` pointing at that server.
    let manifests = temp_dir("binstall-manifests");
    let root = std::fs::read_to_string(copy.join("Cargo.toml")).unwrap();
    let repository = "https://github.com/jimini-dev/jimini";
    assert!(root.contains(&format!("repository = \"{repository}\"")));
    let local = root.replace(
        &format!("repository = \"{repository}\""),
        &format!("repository = \"https://127.0.0.1:{port}/jimini-dev/jimini\""),
    );
    std::fs::write(manifests.join("Cargo.toml"), local).unwrap();
    std::fs::create_dir_all(manifests.join("app")).unwrap();
    std::fs::copy(
        copy.join("app/Cargo.toml"),
        manifests.join("app/Cargo.toml"),
    )
    .unwrap();

    let root_dir = temp_dir("binstall-root");
    let output = run(Command::new(cargo_tool(xtask::pins::CARGO_BINSTALL))
        .args(["binstall", "--no-confirm", "--no-track", "--force"])
        .args(["--disable-strategies", "quick-install,compile"])
        .arg("--manifest-path")
        .arg(manifests.join("app/Cargo.toml"))
        .arg("--root")
        .arg(&root_dir)
        .args(["--targets", &host()])
        .arg("jimini")
        .env("CARGO_HOME", temp_dir("binstall-cargo-home"))
        .env("SSL_CERT_FILE", tls.join("cert.pem"))
        .env("BINSTALL_DISABLE_TELEMETRY", "true"));
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(
        output.status.success(),
        "cargo binstall failed ({:?}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    for binary in ["jimini", "jimini-admin", "jimini-server"] {
        let line = checked(Command::new(root_dir.join("bin").join(binary)).arg("--version"));
        assert!(
            line.starts_with(&format!("{binary} {version} (")) && line.contains(&host()),
            "{line}"
        );
    }
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
