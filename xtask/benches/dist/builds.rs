//! The build rows: overhead of dist over a plain cargo build, one invocation against many, the tooling's compile.

use super::*;

/// A fresh git copy of this workspace (tracked files), so builds start cold in their own target dir.
pub(super) fn workspace_copy(label: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = scratch(label).join("ws");
    let status = Command::new("git")
        .args(["clone", "-q"])
        .arg(source)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    dir
}

pub(super) fn timed(cmd: &mut Command) -> f64 {
    let start = Instant::now();
    let status = cmd.status().unwrap();
    assert!(status.success(), "{cmd:?} failed");
    start.elapsed().as_secs_f64()
}

/// `cargo build` of the shipped binaries with the dist profile, without anything dist adds.
pub(super) fn plain_build(workspace: &Path, targets: &[&str], target_dir: PathBuf) -> Command {
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(workspace)
        .args([
            "build",
            "--quiet",
            "--locked",
            "--profile",
            "dist",
            "-p",
            "jimini",
            "--bins",
        ])
        .env("CARGO_TARGET_DIR", target_dir);
    for target in targets {
        command.args(["--target", target]);
    }
    command
}

pub(super) fn host() -> String {
    let out = Command::new("rustc").arg("-vV").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap()
        .to_owned()
}

pub(super) fn build() {
    let host = host();
    let plain_ws = workspace_copy("plain");
    let plain = timed(&mut plain_build(
        &plain_ws,
        &[&host],
        plain_ws.join("target"),
    ));
    // The same build through cargo-auditable, which dist uses to embed the dependency list:
    // what that feature costs, apart from what dist itself adds.
    let auditable_ws = workspace_copy("auditable");
    let auditable_tool = xtask::pins::CARGO_AUDITABLE
        .install(&xshell::Shell::new().unwrap(), &auditable_ws.join("target"));
    let plain_args = plain_build(&auditable_ws, &[&host], auditable_ws.join("target"));
    let auditable_args: Vec<_> = plain_args.get_args().map(|a| a.to_owned()).collect();
    let mut auditable_build = Command::new(auditable_tool.unwrap());
    auditable_build
        .current_dir(&auditable_ws)
        .arg("auditable")
        .args(auditable_args)
        .env("CARGO", env!("CARGO"))
        .env("CARGO_TARGET_DIR", auditable_ws.join("target"));
    let auditable = timed(&mut auditable_build);
    let dist_ws = workspace_copy("dist");
    let dist = timed(
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .current_dir(&dist_ws)
            .args(["dist", "--quiet"])
            .env("CARGO_TARGET_DIR", dist_ws.join("target")),
    );
    let noop = timed(
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .current_dir(&dist_ws)
            .args(["dist", "--quiet"])
            .env("CARGO_TARGET_DIR", dist_ws.join("target")),
    );
    println!("cold build of {host}:");
    println!("  cargo build --profile dist: {plain:7.1} s");
    println!("  cargo auditable build:      {auditable:7.1} s");
    println!("  cargo xtask dist:           {dist:7.1} s");
    println!(
        "  cargo-auditable's cost:     {:7.1} %   (the embedded dependency list)",
        (auditable / plain - 1.0) * 100.0
    );
    println!(
        "  dist's own overhead:        {:7.1} %   goal < 5% (over cargo auditable build)",
        (dist / auditable - 1.0) * 100.0
    );
    println!("  no-op rerun of dist:        {noop:7.1} s");
}

pub(super) fn invocations() {
    let targets = [
        "x86_64-unknown-linux-gnu",
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-gnu",
        "x86_64-pc-windows-gnu",
    ];
    let one_ws = workspace_copy("one");
    let single = timed(&mut plain_build(&one_ws, &targets, one_ws.join("target")));
    let each_ws = workspace_copy("each");
    let mut separate = 0.0;
    for target in targets {
        separate += timed(&mut plain_build(
            &each_ws,
            &[target],
            each_ws.join("target"),
        ));
    }
    println!("cold builds of 4 targets:");
    println!("  one cargo invocation:       {single:7.1} s");
    println!("  one invocation per target:  {separate:7.1} s");
    println!("  ratio (one / per-target):   {:7.3}", single / separate);
}

/// The cold dev build of the tooling (what a contributor waits for before the first
/// `cargo xtask`), next to the cold dev build of the app as this machine's yardstick.
pub(super) fn compile() {
    let ws = workspace_copy("compile");
    let cold = |package: &str, label: &str| {
        timed(
            Command::new(env!("CARGO"))
                .current_dir(&ws)
                .args(["build", "--quiet", "--locked", "-p", package])
                .env("CARGO_TARGET_DIR", ws.join(format!("target-{label}"))),
        )
    };
    // The registry sources are already unpacked: this measures compiling, not downloading.
    let app = cold("jimini", "app");
    let xtask = cold("xtask", "xtask");
    println!("cold dev builds:");
    println!("  cargo build -p jimini:      {app:7.1} s");
    println!("  cargo build -p xtask:       {xtask:7.1} s   goal <= 35 s on the 2-core machine");
    println!("  ratio (xtask / app):        {:7.3}", xtask / app);
}
