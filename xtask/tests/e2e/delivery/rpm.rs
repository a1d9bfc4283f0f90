//! The RPM, checked by the RPM ecosystem's own tools: `rpm -K` (digests), `rpm -qp` (requires,
//! provides, the file dump) against the plan `dist --dry-run --json` prints, `rpmlint` (no
//! errors), `rpm -i --root` (the files land, the installed `jimini --version` runs), and the
//! same bytes from another build of the same commit.

use super::*;

#[test]
fn the_rpm_matches_its_plan_passes_rpmlint_and_installs_into_a_root() {
    let (copy, dist) = built();
    let manifest = read_manifest(dist);
    let name = artifact_name(&manifest, "rpm");
    let path = dist.join(&name);
    let rpm = |args: &[&str]| checked(Command::new("rpm").args(args).arg(&path));

    let digests = rpm(&["-K", "--nosignature"]);
    assert!(digests.contains("digests OK"), "{digests}");

    let plan: serde_json::Value = serde_json::from_str(&checked(xtask(copy).args([
        "dist",
        "--dry-run",
        "--json",
        "--target",
        &host(),
    ])))
    .unwrap();
    let planned = &plan["targets"][0]["rpm"];
    assert_eq!(planned["file"], name.as_str(), "{planned}");
    let requires = rpm(&["-qp", "--requires"]);
    for requirement in planned["requires"].as_array().unwrap() {
        let requirement = requirement.as_str().unwrap();
        assert!(
            requires.lines().any(|l| l == requirement),
            "{requirement} in:\n{requires}"
        );
    }
    let provides = rpm(&["-qp", "--provides"]);
    let version = planned["version"].as_str().unwrap();
    assert!(
        provides.contains(&format!("jimini = {version}-1")),
        "{provides}"
    );
    // `--dump`: path size mtime digest mode owner group isconfig isdoc rdev symlink.
    let dump = rpm(&["-qp", "--dump"]);
    let entries = planned["entries"].as_array().unwrap();
    assert_eq!(dump.lines().count(), entries.len(), "{dump}");
    for entry in entries {
        let file = entry["path"].as_str().unwrap();
        let line = dump
            .lines()
            .find(|l| l.split(' ').next() == Some(file))
            .unwrap_or_else(|| panic!("{file} is not in the RPM:\n{dump}"));
        let fields: Vec<&str> = line.split(' ').collect();
        let mode = format!("0100{}", &entry["mode"].as_str().unwrap()[1..]);
        assert_eq!(fields[4], mode, "{line}");
        assert_eq!((fields[5], fields[6]), ("root", "root"), "{line}");
        let config = entry["role"] == "config";
        assert_eq!(fields[7], if config { "1" } else { "0" }, "{line}");
        assert_eq!(
            fields[2],
            manifest["source_date_epoch"].to_string(),
            "{line}"
        );
    }
    // RPM's places: systemd units under /usr/lib (disabled: the package runs no scriptlet),
    // the licence under /usr/share/licenses.
    for file in [
        "/usr/lib/systemd/system/jimini-server.service",
        "/usr/share/licenses/jimini/LICENSE",
    ] {
        assert!(
            dump.lines().any(|l| l.starts_with(&format!("{file} "))),
            "{file}:\n{dump}"
        );
    }
    assert_eq!(rpm(&["-qp", "--scripts"]).trim(), "");
    for config in ["/etc/jimini/rules.toml", "/etc/jimini/server.env"] {
        let flags = checked(
            Command::new("rpm")
                .args(["-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]"])
                .arg(&path),
        );
        let line = flags.lines().find(|l| l.starts_with(config)).unwrap();
        assert!(
            line.ends_with(" cn"),
            "{config} is %config(noreplace): {line}"
        );
    }
    let changelog = rpm(&["-qp", "--changelog"]);
    assert!(changelog.contains(&format!("- {version}-1")), "{changelog}");

    // With the project's rpmlint profile (a distribution's settings, and two exceptions, each
    // with its reason, in packaging/rpm/rpmlint.toml).
    let lint = run(Command::new("rpmlint")
        .arg("-c")
        .arg(copy.join("packaging/rpm/rpmlint.toml"))
        .arg(&path));
    let said = String::from_utf8_lossy(&lint.stdout).into_owned();
    assert!(
        !said.lines().any(|l| l.contains(": E: ")),
        "rpmlint errors:\n{said}"
    );
    eprintln!("rpmlint:\n{said}");

    let root = temp_dir("rpm-root");
    checked(
        Command::new("rpm")
            .args(["-i", "--nodeps", "--root"])
            .arg(&root)
            .arg(&path),
    );
    for file in [
        "usr/bin/jimini",
        "usr/bin/jimini-server",
        "usr/share/man/man1/jimini.1.gz",
    ] {
        assert!(root.join(file).is_file(), "{file} was not installed");
    }
    let line = checked(Command::new(root.join("usr/bin/jimini")).arg("--version"));
    assert!(
        line.starts_with(&format!(
            "jimini {} (",
            manifest["version"].as_str().unwrap()
        )),
        "{line}"
    );
    let installed = checked(
        Command::new("rpm")
            .args(["-q", "--root"])
            .arg(&root)
            .arg("jimini"),
    );
    assert!(installed.starts_with("jimini-"), "{installed}");

    // One changed byte inside the payload: verify names the RPM.
    let tampered = copy_dist(dist, "rpm-tampered");
    let mut bytes = std::fs::read(tampered.join(&name)).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x01;
    std::fs::write(tampered.join(&name), &bytes).unwrap();
    expect_failure(
        xtask(copy).arg("verify").arg(&tampered),
        &format!("{name}: sha256 is"),
    );

    // Another build of the same commit (the signed host dist) holds the same bytes.
    let other = &build(Build::FixtureSigned).dist;
    assert_eq!(
        std::fs::read(other.join(&name)).unwrap(),
        std::fs::read(&path).unwrap(),
        "two builds of {name} differ"
    );
}
