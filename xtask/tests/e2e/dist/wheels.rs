//! The wheels: pip, uv, PyPA's checkers and versions, and maturin packing the same workspace.

use super::*;
use crate::common::*;

/// The host's wheel, as Python users meet it: PyPA's checkers accept it, `pip` installs it
/// into a fresh venv (checking every RECORD line), the binaries run from the venv's `bin/`,
/// `pip uninstall` leaves nothing of ours, and `uv tool install` takes it too.
#[test]
fn the_wheel_installs_with_pip_and_uv_and_passes_pypas_checkers() {
    let (_, dist) = built();
    let manifest = read_manifest(dist);
    let wheel = artifact_name(&manifest, "wheel");
    assert!(
        wheel.ends_with("-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
        "{wheel}"
    );
    let wheel_path = dist.join(&wheel);
    let auditwheel = checked(
        Command::new(ci_tool("auditwheel"))
            .arg("show")
            .arg(&wheel_path),
    );
    assert!(
        auditwheel
            .contains("is consistent with the following platform tag:\n\"manylinux_2_17_x86_64\""),
        "{auditwheel}"
    );
    checked(
        Command::new(ci_tool("twine"))
            .args(["check", "--strict"])
            .arg(&wheel_path),
    );
    // W007 "wheel library is empty": a wheel of binaries has no importable library by design.
    checked(
        Command::new(ci_tool("check-wheel-contents"))
            .args(["--ignore", "W007"])
            .arg(&wheel_path),
    );

    // PEP 770, checked from the PEP's layout (not the writer's code): the SBOM is in
    // `.dist-info/sboms/`, RECORD lists it with its urlsafe-base64 SHA-256 and size, it is the
    // target's `.cdx.json` byte for byte, and CycloneDX 1.5 as cyclonedx-python-lib reads it.
    let sbom_name = artifact_name(&manifest, "sbom");
    let pep770 = r#"
import base64, hashlib, sys, zipfile
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
wheel, sbom = sys.argv[1:3]
z = zipfile.ZipFile(wheel)
info = next(n.split("/")[0] for n in z.namelist() if n.endswith(".dist-info/RECORD"))
member = f"{info}/sboms/{sbom.rsplit('/', 1)[-1]}"
data = z.read(member)
assert data == open(sbom, "rb").read(), "not the target's SBOM"
digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
record = z.read(f"{info}/RECORD").decode().splitlines()
assert f"{member},sha256={digest},{len(data)}" in record, record
errors = JsonStrictValidator(SchemaVersion.V1_5).validate_str(data.decode())
assert not errors, errors
print(member)
"#;
    let member = checked(
        Command::new(ci_tool("python"))
            .args(["-c", pep770])
            .arg(&wheel_path)
            .arg(dist.join(&sbom_name)),
    );
    assert!(
        member
            .trim()
            .ends_with(&format!(".dist-info/sboms/{sbom_name}")),
        "{member}"
    );

    let version = manifest["version"].as_str().unwrap();
    let pep440 =
        xtask::dist::wheel::plan::pep440(&semver::Version::parse(version).unwrap()).unwrap();
    let venv = fresh_venv("wheel-venv");
    let before = files_below(&venv);
    checked(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--no-index", "--find-links"])
            .arg(dist)
            .arg(format!("jimini=={pep440}")),
    );
    let jimini = venv.join("bin/jimini");
    let printed = checked(Command::new(&jimini).arg("--version"));
    assert!(printed.contains(version), "{printed}");
    let check = run(Command::new(&jimini).args(["check", "ssn 123-45-6789"]));
    assert_eq!(check.status.code(), Some(3), "{}", stderr(&check));
    for binary in ["jimini-admin", "jimini-server"] {
        assert!(venv.join("bin").join(binary).is_file(), "{binary}");
    }
    // Installed where SBOM scanners look: the environment's `<dist-info>/sboms/`.
    let installed_sbom = files_below(&venv)
        .into_iter()
        .find(|p| p.ends_with(format!("jimini-{pep440}.dist-info/sboms/{sbom_name}")));
    assert!(installed_sbom.is_some(), "pip did not install the SBOM");
    checked(Command::new(venv.join("bin/pip")).args(["uninstall", "-y", "jimini"]));
    let left: Vec<_> = files_below(&venv)
        .difference(&before)
        .filter(|path| !path.components().any(|c| c.as_os_str() == "__pycache__"))
        .cloned()
        .collect();
    assert!(left.is_empty(), "pip uninstall left {left:?}");

    let uv_home = temp_dir("wheel-uv");
    checked(
        Command::new(ci_tool("uv"))
            .args(["tool", "install", "--offline", "--no-index", "--find-links"])
            .arg(dist)
            .arg(format!("jimini=={pep440}"))
            .env("UV_TOOL_DIR", uv_home.join("tools"))
            .env("UV_TOOL_BIN_DIR", uv_home.join("bin"))
            .env("UV_CACHE_DIR", uv_home.join("cache")),
    );
    let printed = checked(Command::new(uv_home.join("bin/jimini")).arg("--version"));
    assert!(printed.contains(version), "{printed}");
}

/// The wheels' versions are PEP 440 as PyPI's own `packaging` reads them: each parses to
/// itself, and the order is SemVer's (dev < rc < final).
#[test]
fn wheel_versions_are_pep440_by_pypas_packaging() {
    let ordered = [
        "0.2.1-dev.48+g9f4bae0",
        "0.3.0-alpha.1",
        "0.3.0-beta.2",
        "0.3.0-rc.1",
        "0.3.0-rc.2",
        "0.3.0",
        "0.3.1-dev.1",
    ];
    let pep440: Vec<String> = ordered
        .iter()
        .map(|v| xtask::dist::wheel::plan::pep440(&semver::Version::parse(v).unwrap()).unwrap())
        .collect();
    let script = "import sys\nfrom packaging.version import Version\nvs = sys.argv[1:]\n\
        assert all(str(Version(v)) == v for v in vs), [(v, str(Version(v))) for v in vs]\n\
        assert [Version(v) for v in vs] == sorted(Version(v) for v in vs), vs\nprint('ok')\n";
    let out = checked(
        Command::new(ci_tool("python"))
            .args(["-c", script])
            .args(&pep440),
    );
    assert_eq!(out.trim(), "ok");
}

fn fresh_venv(label: &str) -> PathBuf {
    let venv = temp_dir(label).join("venv");
    checked(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    venv
}

fn files_below(dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    let mut files = std::collections::BTreeSet::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else {
                files.insert(path);
            }
        }
    }
    files
}

/// What `pip install` of `requirement` from `wheels` adds to a fresh venv's `bin/`.
fn installed_scripts(label: &str, wheels: &Path, requirement: &str) -> Vec<String> {
    let venv = fresh_venv(label);
    let before = files_below(&venv.join("bin"));
    checked(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--no-index", "--find-links"])
            .arg(wheels)
            .arg(requirement),
    );
    files_below(&venv.join("bin"))
        .difference(&before)
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// maturin (`bindings = "bin"`), the wheel builder of Rust projects, packages the same
/// workspace: `pip install` of its wheel and of dist's puts the same files in `bin/`. (The
/// fixture and the fast profile: the layout is the point; the closing note of the wheel issue
/// compares sizes, times and reproducibility with the real profiles.)
#[test]
fn dist_and_maturin_wheels_install_the_same_files() {
    let built = build(Build::FixtureHostMusl);
    let (copy, dist) = (&built.workspace, &built.dist);
    let version = read_manifest(dist)["version"].as_str().unwrap().to_owned();
    let pep440 =
        xtask::dist::wheel::plan::pep440(&semver::Version::parse(&version).unwrap()).unwrap();
    let ours = installed_scripts("venv-dist", dist, &format!("jimini=={pep440}"));
    assert_eq!(ours, ["jimini", "jimini-admin", "jimini-server"]);

    let zig = xtask::pins::ZIG.zig_binary(&shared_target_dir());
    let path = std::env::join_paths(
        std::iter::once(zig.parent().unwrap().to_owned())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let out = temp_dir("maturin-out");
    checked(
        Command::new(ci_tool("maturin"))
            .args(["build", "--release", "--bindings", "bin", "--zig"])
            .args([
                "--compatibility",
                "manylinux2014",
                "--manifest-path",
                "app/Cargo.toml",
            ])
            .arg("--out")
            .arg(&out)
            .arg("--target-dir")
            .arg(target_dir("e2e-target-maturin"))
            .current_dir(copy)
            .env("PATH", path)
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16"),
    );
    let theirs = installed_scripts("venv-maturin", &out, "jimini");
    assert_eq!(ours, theirs);
}
