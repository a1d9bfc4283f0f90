//! Every package format over the real dist-profile binaries, against the system tools.

use super::*;

/// Every package format over the real dist-profile binaries of the host target (run `cargo
/// xtask dist` first): size and time each, with the system tools as the baseline in the same
/// run (`tar -czf`, `tar -cJf`, `dpkg-deb --build`).
pub(super) fn formats() {
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
pub(super) fn wheel_row(dir: &Path, entries: &[Entry], payload: &Path) {
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
