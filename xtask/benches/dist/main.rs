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
mod builds;
mod formats;

use builds::{build, compile, invocations};
use formats::formats;

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
