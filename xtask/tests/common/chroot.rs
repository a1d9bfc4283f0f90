//! The Debian 11 chroot the delivery tests run binaries, install.sh and the `.deb` in.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;

use super::{COUNTER, source_root};

/// The Debian 11 chroot (`cargo xtask ci` makes it with debootstrap).
pub fn debian_chroot() -> PathBuf {
    let dir = std::env::var_os("JIMINI_DEBIAN_CHROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| xtask::pins::DEBIAN_CHROOT.dir(&source_root()));
    assert!(
        dir.join("etc/debian_version").is_file(),
        "the Debian 11 chroot {} is missing: run `cargo xtask ci` once (as root) to make it",
        dir.display()
    );
    dir
}

/// A directory of its own inside the chroot: (its path on this machine, its path inside). The
/// chroot is shared by every run on the machine: the first call of a test process removes the
/// directories of test processes that have exited.
pub fn chroot_dir(chroot: &Path, label: &str) -> (PathBuf, String) {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        let Ok(entries) = std::fs::read_dir(chroot.join("tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name
                .strip_prefix("jimini-test-")
                .and_then(|rest| rest.rsplit('-').nth(1))
                .and_then(|pid| pid.parse::<u32>().ok());
            if let Some(pid) = pid
                && pid != std::process::id()
                && !Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
    let inside = format!(
        "/tmp/jimini-test-{label}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let outside = chroot.join(inside.trim_start_matches('/'));
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(&outside).unwrap();
    (outside, inside)
}

/// `program args…` inside the chroot, with a clean environment plus `env`.
pub fn in_chroot(chroot: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new("chroot");
    cmd.arg(chroot)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", "/root")
        .env("LC_ALL", "C");
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}
