//! Benchmarks of `cargo xtask dist`, each against a baseline measured in the same run.
//!
//! ```text
//! cargo bench -p xtask --bench dist                     # packaging (default, 200 MB)
//! cargo bench -p xtask --bench dist -- packaging --mb 400
//! cargo bench -p xtask --bench dist -- build            # dist vs plain cargo build, cold; no-op rerun
//! cargo bench -p xtask --bench dist -- invocations      # one cargo build for 4 targets vs 4 builds
//! cargo bench -p xtask --bench dist -- compile          # cold dev build of xtask vs of the app
//! ```
//!
//! Goals: packaging at most 0.6x the time of `tar -czf` + `sha256sum` with peak memory
//! under 64 MiB whatever the payload; dist's overhead over a plain cold build under 5%.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use xtask::dist::archive::{Entry, write_tar_gz, write_tar_xz, write_zip};
use xtask::dist::manifest::{Artifact, ArtifactKind, Manifest};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mb = args
        .iter()
        .position(|a| a == "--mb")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse::<u64>().expect("--mb takes a number"))
        .unwrap_or(200);
    let mode = args
        .iter()
        .find(|a| !a.starts_with("--") && a.parse::<u64>().is_err())
        .map(String::as_str);
    match mode.unwrap_or("packaging") {
        "packaging" => packaging(mb),
        "build" => build(),
        "invocations" => invocations(),
        "compile" => compile(),
        "formats" => formats(),
        other => {
            panic!("unknown benchmark {other}: packaging, formats, build, invocations or compile")
        }
    }
}

fn scratch(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-bench-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Binary-like data: runs of pseudo-random bytes mixed with repetitive ones, about as
/// compressible as a release binary. Written in 1 MiB chunks.
fn synthetic(path: &Path, bytes: u64, seed: u64) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state = seed | 1;
    let mut chunk = vec![0u8; 1 << 20];
    let mut written = 0;
    while written < bytes {
        for (i, byte) in chunk.iter_mut().enumerate() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = if (i / 4096) % 3 == 0 {
                (state >> 24) as u8
            } else {
                (i % 251) as u8 ^ (state as u8 & 0x3)
            };
        }
        let take = chunk.len().min((bytes - written) as usize);
        out.write_all(&chunk[..take]).unwrap();
        written += take as u64;
    }
    out.flush().unwrap();
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn reset_peak_rss() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn packaging(mb: u64) {
    let dir = scratch("packaging");
    let payload = dir.join("payload");
    std::fs::create_dir_all(&payload).unwrap();
    let total = mb * 1024 * 1024;
    let names = ["jimini", "jimini-admin", "jimini-server"];
    for (i, name) in names.iter().enumerate() {
        synthetic(
            &payload.join(name),
            total / 3,
            0x9e37_79b9_7f4a_7c15 + i as u64,
        );
    }
    std::fs::write(payload.join("README.md"), "readme\n".repeat(1000)).unwrap();
    eprintln!("payload: {mb} MiB in {}", payload.display());

    // Baseline: what a shell script would do.
    let baseline_archive = dir.join("baseline.tar.gz");
    let baseline = shell_baseline("-czf", &baseline_archive, &payload);

    // Ours: archive (hashed while written), SBOM of this workspace, checksums and manifest.
    let metadata = cargo_metadata::MetadataCommand::new()
        .exec()
        .expect("cargo metadata");
    let root = metadata
        .workspace_packages()
        .into_iter()
        .find(|p| p.name.as_str() == "xtask")
        .unwrap()
        .id
        .clone();
    let linked = metadata.packages.iter().map(|p| p.id.clone()).collect();
    reset_peak_rss();
    let rss_before = peak_rss_kib();
    let start = Instant::now();
    let entries: Vec<Entry> = std::fs::read_dir(&payload)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| Entry {
            name: e.file_name().to_string_lossy().into_owned(),
            executable: e.file_name() != "README.md",
            source: e.path(),
        })
        .collect();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let digest = write_tar_gz(
        &out.join("bench.tar.gz"),
        "bench-1.0.0",
        &entries,
        1_700_000_000,
    )
    .unwrap();
    let sbom = xtask::dist::sbom::build(&xtask::dist::sbom::SbomInput {
        metadata: &metadata,
        root: &root,
        linked: &linked,
        proc_macros: &Default::default(),
        host_libraries: &Default::default(),
        checksums: &Default::default(),
        app_version: "1.0.0",
        target: "x86_64-unknown-linux-gnu",
        artifacts: &["bench.tar.gz"],
        source_date_epoch: 1_700_000_000,
    })
    .unwrap();
    std::fs::write(out.join("bench.cdx.json"), &sbom).unwrap();
    let sbom_artifact = xtask::dist::manifest::Artifact::of_file(
        "bench.cdx.json",
        ArtifactKind::Sbom,
        None,
        &out.join("bench.cdx.json"),
    )
    .unwrap();
    let mut manifest = Manifest {
        format: xtask::dist::manifest::FORMAT.into(),
        format_version: xtask::dist::manifest::FORMAT_VERSION,
        app: "bench".into(),
        version: "1.0.0".into(),
        commit: "0".into(),
        source_date_epoch: 1_700_000_000,
        source_date: "2023-11-14T22:13:20Z".into(),
        partial: false,
        targets: vec![],
        artifacts: vec![
            Artifact::new("bench.tar.gz", ArtifactKind::Archive, None, digest.clone()),
            sbom_artifact,
        ],
    };
    xtask::dist::manifest::write(&mut manifest, &out).unwrap();
    let ours = start.elapsed().as_secs_f64();
    let peak = peak_rss_kib();

    let archive_mb = digest.size as f64 / 1048576.0;
    let baseline_mb = std::fs::metadata(&baseline_archive).unwrap().len() as f64 / 1048576.0;
    println!("packaging {mb} MiB payload:");
    println!("  baseline tar -czf + sha256sum: {baseline:7.2} s  ({baseline_mb:.1} MiB archive)");
    println!("  xtask archive+sbom+checksums:  {ours:7.2} s  ({archive_mb:.1} MiB archive)");
    println!(
        "  ratio (xtask / baseline):      {:7.3}   goal <= 0.6",
        ours / baseline
    );
    println!(
        "  peak RSS during packaging:     {:7.1} MiB (process before: {:.1} MiB)  goal < 64 MiB",
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );

    // The xz row: the same payload as .tar.xz, against `tar -cJf` + sha256sum.
    let baseline_xz = dir.join("baseline.tar.xz");
    let baseline_xz_s = shell_baseline("-cJf", &baseline_xz, &payload);
    reset_peak_rss();
    let start = Instant::now();
    let xz = write_tar_xz(
        &out.join("bench.tar.xz"),
        "bench-1.0.0",
        &entries,
        1_700_000_000,
    )
    .unwrap();
    let ours_xz = start.elapsed().as_secs_f64();
    let peak_xz = peak_rss_kib();
    let xz_mb = xz.size as f64 / 1048576.0;
    let baseline_xz_mb = std::fs::metadata(&baseline_xz).unwrap().len() as f64 / 1048576.0;
    println!(
        "  baseline tar -cJf + sha256sum: {baseline_xz_s:7.2} s  ({baseline_xz_mb:.1} MiB archive)"
    );
    println!("  xtask .tar.xz archive:         {ours_xz:7.2} s  ({xz_mb:.1} MiB archive)");
    println!(
        "  ratio (xtask xz / tar -cJf):   {:7.3}   peak RSS {:.1} MiB (bounded: 8 MiB dictionary)",
        ours_xz / baseline_xz_s,
        peak_xz as f64 / 1024.0
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Seconds for `tar <create_flag> archive -C payload .` and `sha256sum archive`.
fn shell_baseline(create_flag: &str, archive: &Path, payload: &Path) -> f64 {
    let start = Instant::now();
    let status = Command::new("tar")
        .arg(create_flag)
        .arg(archive)
        .arg("-C")
        .arg(payload)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let status = Command::new("sha256sum")
        .arg(archive)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    start.elapsed().as_secs_f64()
}

/// A fresh git copy of this workspace (tracked files), so builds start cold in their own target dir.
fn workspace_copy(label: &str) -> PathBuf {
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

fn timed(cmd: &mut Command) -> f64 {
    let start = Instant::now();
    let status = cmd.status().unwrap();
    assert!(status.success(), "{cmd:?} failed");
    start.elapsed().as_secs_f64()
}

/// `cargo build` of the shipped binaries with the dist profile, without anything dist adds.
fn plain_build(workspace: &Path, targets: &[&str], target_dir: PathBuf) -> Command {
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

fn host() -> String {
    let out = Command::new("rustc").arg("-vV").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap()
        .to_owned()
}

fn build() {
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

fn invocations() {
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
fn compile() {
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

/// Every package format over the real dist-profile binaries of the host target (run `cargo
/// xtask dist` first): size and time each, with the system tools as the baseline in the same
/// run (`tar -czf`, `tar -cJf`, `dpkg-deb --build`).
fn formats() {
    let host_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/x86_64-unknown-linux-gnu/dist");
    let names = ["jimini", "jimini-admin", "jimini-server"];
    for name in names {
        assert!(
            host_dir.join(name).is_file(),
            "{} is missing: run `cargo xtask dist` first",
            host_dir.join(name).display()
        );
    }
    let entries: Vec<Entry> = names
        .iter()
        .map(|name| Entry {
            name: name.to_string(),
            source: host_dir.join(name),
            executable: true,
        })
        .collect();
    let raw: u64 = entries
        .iter()
        .map(|e| std::fs::metadata(&e.source).unwrap().len())
        .sum();
    let dir = scratch("formats");
    let payload = dir.join("payload");
    std::fs::create_dir_all(&payload).unwrap();
    for e in &entries {
        std::fs::copy(&e.source, payload.join(&e.name)).unwrap();
    }
    println!(
        "package formats over the host's three dist binaries ({:.2} MiB):",
        raw as f64 / 1048576.0
    );
    type Writer = fn(&Path, &str, &[Entry], u64) -> anyhow::Result<xtask::dist::archive::Digest256>;
    let writers: [(&str, Writer, Option<&str>); 3] = [
        ("tar.gz", write_tar_gz, Some("-czf")),
        ("tar.xz", write_tar_xz, Some("-cJf")),
        ("zip", write_zip, None),
    ];
    for (ext, write, flag) in writers {
        let start = Instant::now();
        let digest = write(
            &dir.join(format!("bench.{ext}")),
            "bench",
            &entries,
            1_700_000_000,
        )
        .unwrap();
        let ours = start.elapsed().as_secs_f64();
        let baseline = flag
            .map(|flag| {
                let archive = dir.join(format!("baseline.{ext}"));
                let seconds = shell_baseline(flag, &archive, &payload);
                format!(
                    "  baseline tar {flag}: {seconds:.2} s ({} B)  ratio {:.3}",
                    std::fs::metadata(&archive).unwrap().len(),
                    ours / seconds
                )
            })
            .unwrap_or_default();
        println!("  {ext:<7} {:>10} B  {ours:6.2} s{baseline}", digest.size);
    }
    use xtask::dist::deb::plan::{Copyright, DebControl, DebPlan, Depends};
    use xtask::dist::plan::entry::{PackageEntry, Source};
    let deb = DebPlan {
        file: "bench.deb".into(),
        control: DebControl {
            package: "bench".into(),
            version: "1.0.0".into(),
            architecture: "amd64",
            maintainer: "Bench <bench@example.org>".into(),
            section: "utils".into(),
            priority: "optional",
            homepage: None,
            depends: Depends::Libc6AtLeast("2.17".parse().unwrap()),
            synopsis: "bench".into(),
            description: "bench.".into(),
        },
        entries: entries
            .iter()
            .map(|e| PackageEntry::binary(format!("/usr/bin/{}", e.name), &e.name))
            .collect(),
        conffiles: vec![],
        copyright: Copyright {
            upstream_name: "bench".into(),
            upstream_contact: "Bench <bench@example.org>".into(),
            source: None,
            holder: "bench".into(),
            license: "MIT".into(),
            license_file: "LICENSE".into(),
        },
    };
    let read = |source: &Source| -> anyhow::Result<Vec<u8>> {
        let Source::Binary { name } = source else {
            return Ok(b"MIT".to_vec());
        };
        let entry = entries.iter().find(|e| &e.name == name).unwrap();
        Ok(std::fs::read(&entry.source)?)
    };
    let start = Instant::now();
    let digest =
        xtask::dist::deb::write(&dir.join("bench.deb"), &deb, 1_700_000_000, &read).unwrap();
    let ours = start.elapsed().as_secs_f64();
    // dpkg-deb over the same files (xz, its default), from a tree laid out by hand.
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(tree.join("usr/bin")).unwrap();
    for e in &entries {
        std::fs::copy(&e.source, tree.join("usr/bin").join(&e.name)).unwrap();
    }
    std::fs::write(
        tree.join("DEBIAN/control"),
        "Package: bench\nVersion: 1.0.0\nArchitecture: amd64\nMaintainer: Bench <bench@example.org>\nDescription: bench\n",
    )
    .unwrap();
    let start = Instant::now();
    let status = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&tree)
        .arg(dir.join("baseline.deb"))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let baseline = start.elapsed().as_secs_f64();
    let baseline_size = std::fs::metadata(dir.join("baseline.deb")).unwrap().len();
    println!(
        "  deb     {:>10} B  {ours:6.2} s  baseline dpkg-deb -Zxz: {baseline:.2} s ({baseline_size} B)  ratio {:.3}",
        digest.size,
        ours / baseline
    );
    wheel_row(&dir, &entries, &payload);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The wheel of the same binaries against `python3 -m zipfile -c` (deflate level 6) over them.
fn wheel_row(dir: &Path, entries: &[Entry], payload: &Path) {
    use xtask::dist::plan::entry::{PackageEntry, Source};
    use xtask::dist::wheel::plan::{WheelMetadata, WheelPlan};
    let wheel = WheelPlan {
        file: "bench-1.0.0-py3-none-manylinux_2_17_x86_64.whl".into(),
        version: "1.0.0".into(),
        tags: vec!["py3-none-manylinux_2_17_x86_64".into()],
        entries: entries
            .iter()
            .map(|e| PackageEntry::binary(format!("bench-1.0.0.data/scripts/{}", e.name), &e.name))
            .collect(),
        record: "bench-1.0.0.dist-info/RECORD".into(),
        metadata: WheelMetadata {
            name: "bench".into(),
            version: "1.0.0".into(),
            summary: None,
            readme: None,
            license_expression: None,
            license_files: vec![],
            keywords: vec![],
            classifiers: vec![],
            project_urls: vec![],
        },
    };
    let read = |source: &Source| -> anyhow::Result<Vec<u8>> {
        let Source::Binary { name } = source else {
            anyhow::bail!("the bench wheel has only binaries");
        };
        let entry = entries.iter().find(|e| &e.name == name).unwrap();
        Ok(std::fs::read(&entry.source)?)
    };
    let start = Instant::now();
    let digest =
        xtask::dist::wheel::write(&dir.join(&wheel.file), &wheel, 1_700_000_000, &read).unwrap();
    let ours = start.elapsed().as_secs_f64();
    let baseline_zip = dir.join("baseline.whl");
    let start = Instant::now();
    let status = Command::new("python3")
        .args(["-m", "zipfile", "-c"])
        .arg(&baseline_zip)
        .arg(payload)
        .status()
        .unwrap();
    assert!(status.success());
    let baseline = start.elapsed().as_secs_f64();
    let baseline_size = std::fs::metadata(&baseline_zip).unwrap().len();
    println!(
        "  wheel   {:>10} B  {ours:6.2} s  baseline python3 -m zipfile -c: {baseline:.2} s ({baseline_size} B)  ratio {:.3}",
        digest.size,
        ours / baseline
    );
}
