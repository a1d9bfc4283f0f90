//! Bakes build information into the binaries from what the release tooling sets.
//!
//! **Architecture Invariant:** nothing here reads the clock or the file system beyond the
//! environment, so two builds of the same commit with the same variables are byte-identical.
//! Inputs: `JIMINI_BUILD_VERSION` (snapshot version, defaults to the package version),
//! `JIMINI_BUILD_COMMIT` (short commit hash) and `SOURCE_DATE_EPOCH` (commit time).

use std::env;
use std::path::Path;

fn main() {
    for var in [
        "JIMINI_BUILD_VERSION",
        "JIMINI_BUILD_COMMIT",
        "SOURCE_DATE_EPOCH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");

    let version = non_empty("JIMINI_BUILD_VERSION")
        .unwrap_or_else(|| env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION"));
    let commit = non_empty("JIMINI_BUILD_COMMIT").unwrap_or_else(|| "unknown".to_owned());
    let date = match non_empty("SOURCE_DATE_EPOCH") {
        Some(epoch) => {
            let seconds: i64 = epoch.parse().unwrap_or_else(|_| {
                panic!("SOURCE_DATE_EPOCH must be whole seconds, got {epoch:?}")
            });
            time::OffsetDateTime::from_unix_timestamp(seconds)
                .unwrap_or_else(|err| panic!("SOURCE_DATE_EPOCH {seconds} is out of range: {err}"))
                .date()
                .to_string()
        }
        None => "unknown".to_owned(),
    };
    let target = env::var("TARGET").expect("cargo sets TARGET");
    // PROFILE only says debug or release; the profile directory names custom profiles (`dist`).
    let out_dir = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let profile = Path::new(&out_dir)
        .ancestors()
        .nth(3)
        .and_then(|dir| dir.file_name())
        .and_then(|name| name.to_str())
        .map(|name| if name == "debug" { "dev" } else { name }.to_owned())
        .unwrap_or_else(|| env::var("PROFILE").expect("cargo sets PROFILE"));

    println!("cargo:rustc-env=JIMINI_VERSION={version}");
    println!("cargo:rustc-env=JIMINI_COMMIT={commit}");
    println!("cargo:rustc-env=JIMINI_COMMIT_DATE={date}");
    println!("cargo:rustc-env=JIMINI_TARGET={target}");
    println!("cargo:rustc-env=JIMINI_PROFILE={profile}");
}

fn non_empty(var: &str) -> Option<String> {
    env::var(var).ok().filter(|value| !value.trim().is_empty())
}
