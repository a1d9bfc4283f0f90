//! pip pointed at a release's files (`--find-links`, as GitHub's asset listing is used), with
//! Debian 12's pip 23 (/usr/bin/python3's venv) and the current pip (pinned, in the tools'
//! venv): the wheel is installed and runs, and no other file is taken for a source
//! distribution of the app: pip 23 read `jimini-<version>-<target>.tar.gz` as one (a legacy
//! version) and, for a pre-release or where no wheel fit, failed with "does not appear to be a
//! Python project". Also checked from pip's published rule (a file is a candidate when a
//! `-`-separated prefix of its name is the project's name), written here, over every file.

use super::*;

/// pip's reading of a `--find-links` file name (pip's `LinkEvaluator`: an sdist extension, and
/// some `-` in the stem before which the name, normalised as PEP 503 says, is the project's).
fn pip_reads_as_project(file: &str, project: &str) -> bool {
    const SDIST: [&str; 11] = [
        ".tar.gz",
        ".tgz",
        ".tar",
        ".zip",
        ".tar.bz2",
        ".tbz",
        ".tar.xz",
        ".txz",
        ".tlz",
        ".tar.lz",
        ".tar.lzma",
    ];
    let normalise = |name: &str| {
        let mut out = String::new();
        for c in name.chars() {
            if matches!(c, '-' | '_' | '.') {
                if !out.ends_with('-') {
                    out.push('-');
                }
            } else {
                out.push(c.to_ascii_lowercase());
            }
        }
        out
    };
    let Some(stem) = SDIST.iter().find_map(|ext| file.strip_suffix(ext)) else {
        return false;
    };
    stem.match_indices('-')
        .any(|(i, _)| normalise(&stem[..i]) == normalise(project))
}

#[test]
fn pip_23_and_the_current_pip_install_the_wheel_and_take_no_archive_for_an_sdist() {
    let (_, dist) = built();
    for file in file_names(dist) {
        assert!(
            file.ends_with(".whl") || !pip_reads_as_project(&file, "jimini"),
            "pip would read {file} as a source distribution of jimini"
        );
    }
    assert!(pip_reads_as_project(
        "jimini-0.2.0-x86_64-unknown-linux-gnu.tar.gz",
        "jimini"
    ));
    assert!(!pip_reads_as_project(
        "jimini_0.2.0_x86_64-unknown-linux-gnu.tar.gz",
        "jimini"
    ));

    let debian = temp_dir("pip-debian");
    checked(
        Command::new("/usr/bin/python3")
            .args(["-m", "venv"])
            .arg(&debian),
    );
    // The current pip is the tools' venv's (pinned); it installs into a directory of its own.
    let current = temp_dir("pip-current");
    let pinned = xtask::pins::python_tool_version("pip").unwrap();
    for (venv, pip_path, into) in [
        (&debian, debian.join("bin/pip"), None),
        (&current, ci_tool("pip"), Some(current.join("target"))),
    ] {
        let pip = |args: &[&str]| {
            let mut cmd = Command::new(&pip_path);
            // Nothing of this machine's pip configuration (an index, other find-links).
            cmd.env("PIP_CONFIG_FILE", "/dev/null")
                .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
                .args(args);
            run(&mut cmd)
        };
        let version = String::from_utf8_lossy(&pip(&["--version"]).stdout).into_owned();
        let expected = if into.is_some() { pinned } else { "23.0" };
        assert!(version.starts_with(&format!("pip {expected}")), "{version}");
        let find_links = dist.to_str().unwrap();
        // Source distributions only: there is none.
        let sdist = pip(&[
            "download",
            "--no-index",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--find-links",
            find_links,
            "--dest",
            venv.join("sdist").to_str().unwrap(),
            "jimini",
        ]);
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&sdist.stdout),
            stderr(&sdist)
        );
        assert!(!sdist.status.success(), "{version}: {said}");
        assert!(
            said.contains("No matching distribution found for jimini")
                && !said.contains("Processing"),
            "{version}: {said}"
        );
        let mut install = vec!["install", "--no-index", "--find-links", find_links];
        let target = into.as_ref().map(|dir| dir.to_str().unwrap());
        if let Some(target) = target {
            install.extend(["--target", target]);
        }
        install.push("jimini");
        let installed = pip(&install);
        assert!(
            installed.status.success(),
            "{version}: {}{}",
            String::from_utf8_lossy(&installed.stdout),
            stderr(&installed)
        );
        let bin = into.as_ref().unwrap_or(venv).join("bin/jimini");
        let line = checked(Command::new(bin).arg("--version"));
        assert!(line.starts_with("jimini "), "{version}: {line}");
    }
}
