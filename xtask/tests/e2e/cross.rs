//! End to end: the release dist of every target (glibc, musl, aarch64 under qemu, Windows under
//! wine, macOS linked by zig), its smoke runs, and `doctor`, on the app-shaped fixture
//! ([`Build::FixtureAll`]): the toolchains, formats, emulation and reproducibility are the
//! point; the app's own tests run on the emulated targets in `cargo xtask ci`. Needs the
//! toolchains `cargo xtask ci` installs.

use std::path::Path;
use std::process::Command;

use crate::common::builds::{Build, dist as build};
use crate::common::*;

/// The release targets whose binaries run here (natively, under qemu or wine).
const RUN_HERE: [&str; 4] = [
    "aarch64-unknown-linux-gnu",
    "x86_64-pc-windows-gnu",
    "x86_64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
];

fn archive<'a>(manifest: &'a serde_json::Value, target: &str) -> &'a serde_json::Value {
    manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "archive" && a["target"] == target)
        .unwrap_or_else(|| panic!("no archive for {target}"))
}

fn unpack(dist: &Path, artifact: &serde_json::Value) -> std::path::PathBuf {
    let into = temp_dir("cross-unpacked");
    let name = artifact["name"].as_str().unwrap();
    let script = "import sys, tarfile, zipfile\np, d = sys.argv[1], sys.argv[2]\n\
                  (zipfile.ZipFile(p).extractall(d) if p.endswith('.zip') else tarfile.open(p).extractall(d))";
    checked(
        Command::new("python3")
            .args(["-c", script])
            .arg(dist.join(name))
            .arg(&into),
    );
    into.join(artifact["top_dir"].as_str().unwrap())
}

#[test]
fn four_target_dist_smoke_runs_and_is_reproducible() {
    // The fast profile: emulation, archive formats and reproducibility are the point here.
    let built = build(Build::FixtureAll);
    let (copy, dist) = (&built.workspace, &built.dist);
    // Only wine's own server directory (`wine-XXXXXX`, made by the wine the smoke run starts,
    // and not ours to remove).
    let left: Vec<String> = file_names(built.tmp.as_ref().unwrap())
        .into_iter()
        .filter(|name| !name.starts_with("wine-"))
        .collect();
    assert!(left.is_empty(), "dist leaves nothing in TMPDIR: {left:?}");
    let log = &built.log;
    for target in RUN_HERE {
        assert!(
            log.contains(&format!("{target}: jimini ")),
            "no smoke run for {target}:\n{log}"
        );
    }
    sums_and_verify_pass(copy, dist);
    let manifest = read_manifest(dist);
    let version = manifest["version"].as_str().unwrap().to_owned();
    // And the two that zig links for macOS, which macOS runners run (release.yml).
    let mut all: Vec<&str> = RUN_HERE.to_vec();
    all.extend(["aarch64-apple-darwin", "x86_64-apple-darwin"]);
    all.sort_unstable();
    assert_eq!(manifest["targets"], serde_json::json!(all));

    // Windows: a zip of .exe files that start under wine.
    let windows = archive(&manifest, "x86_64-pc-windows-gnu");
    assert!(windows["name"].as_str().unwrap().ends_with(".zip"));
    assert_eq!(
        windows["binaries"],
        serde_json::json!(["jimini-admin.exe", "jimini-server.exe", "jimini.exe"])
    );
    let dir = unpack(dist, windows);
    let wine = checked(
        Command::new("wine")
            .arg(dir.join("jimini.exe"))
            .arg("--version")
            // The prefix with the ProcessPrng shim: WINEPREFIX as cargo (.cargo/config.toml)
            // or `cargo xtask ci` (the tools cache's) set it for the tests.
            .env("WINEDEBUG", "-all"),
    );
    assert!(
        wine.starts_with(&format!("jimini {version} (")) && wine.contains("x86_64-pc-windows-gnu"),
        "{wine}"
    );
    assert!(dir.join("rules/default.toml").is_file());
    for binary in ["jimini.exe", "jimini-admin.exe", "jimini-server.exe"] {
        let exe = std::fs::read(dir.join(binary)).unwrap();
        assert_eq!(pe_timestamp(&exe), 0, "{binary} carries its link time");
    }

    // aarch64 under qemu, with the glibc floor recorded.
    let arm = archive(&manifest, "aarch64-unknown-linux-gnu");
    let floor = arm["glibc_min"].as_str().expect("glibc floor recorded");
    assert!(floor.starts_with("2."), "{floor}");
    let dir = unpack(dist, arm);
    let qemu = checked(
        Command::new("qemu-aarch64")
            .args(["-L", "/usr/aarch64-linux-gnu"])
            .arg(dir.join("jimini"))
            .arg("--version"),
    );
    assert!(qemu.contains("aarch64-unknown-linux-gnu"), "{qemu}");
    let elf = checked(Command::new("readelf").args(["-h"]).arg(dir.join("jimini")));
    assert!(elf.contains("AArch64"), "{elf}");

    // musl: static (no interpreter, no NEEDED), and it runs.
    let musl = archive(&manifest, "x86_64-unknown-linux-musl");
    assert_eq!(musl["static_binaries"], true);
    let dir = unpack(dist, musl);
    for binary in ["jimini", "jimini-admin", "jimini-server"] {
        let program_headers = checked(Command::new("readelf").args(["-lW"]).arg(dir.join(binary)));
        assert!(
            !program_headers.contains("INTERP"),
            "{binary} has an interpreter"
        );
        let dynamic = checked(Command::new("readelf").args(["-dW"]).arg(dir.join(binary)));
        assert!(
            !dynamic.contains("(NEEDED)"),
            "{binary} needs shared libraries:\n{dynamic}"
        );
    }
    let blocked = run(Command::new(dir.join("jimini")).args(["check", "123-45-6789"]));
    assert_eq!(blocked.status.code(), Some(3));

    let gnu = archive(&manifest, "x86_64-unknown-linux-gnu");
    assert!(gnu["glibc_min"].as_str().unwrap().starts_with("2."));

    // macOS, linked by zig here: the right CPU, only macOS's own dylibs, minos 11.0, and the
    // ad-hoc code signature Apple silicon requires.
    for (triple, cpu) in [
        ("aarch64-apple-darwin", "arm64"),
        ("x86_64-apple-darwin", "x86_64"),
    ] {
        let mac = archive(&manifest, triple);
        assert_eq!(mac["macos_min"], "11.0", "{mac}");
        let dir = unpack(dist, mac);
        for binary in ["jimini", "jimini-admin", "jimini-server"] {
            let facts =
                xtask::dist::inspect::macho::facts(&std::fs::read(dir.join(binary)).unwrap())
                    .unwrap();
            assert_eq!(facts.cpu, cpu);
            assert_eq!(facts.minos.unwrap().to_string(), "11.0");
            assert!(
                facts.dylibs.iter().all(|d| d.starts_with("/usr/lib/")),
                "{:?}",
                facts.dylibs
            );
            assert!(
                facts.signed || cpu == "x86_64",
                "{triple} {binary} is unsigned"
            );
            if cpu == "arm64" {
                check_signature_page_by_page(&dir.join(binary));
            }
        }
    }

    // pip's own tag logic takes each wheel for the platform it is for, and the aarch64 wheel's
    // binaries run under qemu.
    let version = manifest["version"].as_str().unwrap();
    let pep440 =
        xtask::dist::wheel::plan::pep440(&semver::Version::parse(version).unwrap()).unwrap();
    for platform in [
        "manylinux2014_x86_64",
        "manylinux2014_aarch64",
        "musllinux_1_2_x86_64",
        "win_amd64",
        "macosx_11_0_arm64",
        "macosx_11_0_x86_64",
    ] {
        let into = temp_dir(&format!("pip-download-{platform}"));
        checked(
            Command::new(ci_tool("pip"))
                .args([
                    "download",
                    "--no-index",
                    "--only-binary=:all:",
                    "--platform",
                ])
                .arg(platform)
                .args(["--python-version", "3.9", "--find-links"])
                .arg(dist)
                .arg("-d")
                .arg(&into)
                .arg(format!("jimini=={pep440}")),
        );
        let got = file_names(&into);
        assert!(
            got.len() == 1 && got[0].contains(platform),
            "{platform}: {got:?}"
        );
        if platform == "manylinux2014_aarch64" {
            // auditwheel reads the aarch64 ELF symbol versions itself: the glibc floor holds.
            let shown = checked(
                Command::new(ci_tool("auditwheel"))
                    .arg("show")
                    .arg(into.join(&got[0])),
            );
            assert!(
                shown.contains(
                    "consistent with the following platform tag:\n\"manylinux_2_17_aarch64\""
                ),
                "{shown}"
            );
            let mut wheel =
                zip::ZipArchive::new(std::fs::File::open(into.join(&got[0])).unwrap()).unwrap();
            let mut script = wheel
                .by_name(&format!("jimini-{pep440}.data/scripts/jimini"))
                .unwrap();
            let binary = into.join("jimini");
            std::io::copy(&mut script, &mut std::fs::File::create(&binary).unwrap()).unwrap();
            std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            let qemu = checked(
                Command::new("qemu-aarch64")
                    .args(["-L", "/usr/aarch64-linux-gnu"])
                    .arg(&binary)
                    .arg("--version"),
            );
            assert!(qemu.contains(version), "{qemu}");
        }
    }

    // The same commit at another path gives the same aarch64 files, byte for byte: the
    // archives and the .deb of the target that zig cross-links (every target's toolchain across
    // paths, with the dist profile: dist.rs, on the one-crate fixture).
    let arm = "aarch64-unknown-linux-gnu";
    let mac = "aarch64-apple-darwin";
    let clone = cloned_workspace(FixtureClone::Paths);
    let second = run(xtask_fast_clone(FixtureClone::Paths)
        .args(["dist", "--quiet", "--target", arm, "--target", mac]));
    assert!(second.status.success(), "{}", stderr(&second));
    let ours = |name: &String| {
        name.contains(arm)
            || name.contains(mac)
            || name.ends_with("_arm64.deb")
            || name.ends_with("_aarch64.whl")
            || name.ends_with("_arm64.whl")
    };
    let first: Vec<(String, Vec<u8>)> = snapshot(dist)
        .into_iter()
        .filter(|(name, _)| ours(name))
        .collect();
    let again: Vec<(String, Vec<u8>)> = snapshot(&clone.join("dist"))
        .into_iter()
        .filter(|(name, _)| ours(name))
        .collect();
    assert_eq!(
        first.iter().map(|f| f.0.as_str()).collect::<Vec<_>>().len(),
        8,
        "aarch64 Linux: the .tar.xz, its .tar.gz fallback, the SBOM, the .deb and the wheel; \
         aarch64 macOS: the .tar.xz, the SBOM and the wheel"
    );
    assert_eq!(
        first.iter().map(|f| &f.0).collect::<Vec<_>>(),
        again.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, a), (_, b)) in first.iter().zip(&again) {
        assert!(
            a == b,
            "{name} differs between two builds of the same commit at two paths"
        );
    }
}

/// Apple silicon runs only what its signature covers: every page hash recomputed from the file
/// by an outside reading of Apple's layout (common/codesign.rs), and one byte changed anywhere
/// before the signature is caught.
fn check_signature_page_by_page(binary: &Path) {
    let bytes = std::fs::read(binary).unwrap();
    let signature =
        codesign::check(&bytes).unwrap_or_else(|err| panic!("{}: {err}", binary.display()));
    assert!(
        signature.pages > 1 && signature.page_size == 4096,
        "{signature:?}"
    );
    assert!(!signature.identifier.is_empty(), "{signature:?}");
    for at in [0, signature.code_limit / 2, signature.code_limit - 1] {
        let mut tampered = bytes.clone();
        tampered[at] ^= 0x01;
        let err =
            codesign::check(&tampered).expect_err("a binary with one byte changed still checks");
        assert!(
            err.contains("does not match") || err.contains("Mach-O"),
            "{at}: {err}"
        );
    }
}

#[test]
fn doctor_passes_here_and_names_the_runner_for_foreign_targets() {
    let copy = copy_workspace("doctor");
    let ok = run(xtask(&copy).arg("doctor"));
    assert!(ok.status.success(), "doctor: {}", stderr(&ok));
    assert!(stderr(&ok).contains("ready to dist"));

    // zig links the Apple targets here: zig and the rustup target are all they need.
    let mac = run(xtask(&copy).args(["doctor", "--target", "aarch64-apple-darwin"]));
    assert!(mac.status.success(), "{}", stderr(&mac));
    assert!(
        stderr(&mac).contains("ready to dist aarch64-apple-darwin"),
        "{}",
        stderr(&mac)
    );

    // dist runs the same checks first and fails before building anything.
    let dist = run(xtask(&copy).args(["dist", "--target", "x86_64-pc-windows-msvc"]));
    assert!(!dist.status.success());
    assert!(
        stderr(&dist).contains("build it on a windows-2022 runner"),
        "{}",
        stderr(&dist)
    );
    assert!(!copy.join("dist").exists());
}
