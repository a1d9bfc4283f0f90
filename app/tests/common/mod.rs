//! Starting the binaries under test, also when the tests themselves run on an emulated target.
#![allow(dead_code)]

use std::process::Command;

/// A command for one of this package's binaries. Under `cargo test --target <cross triple>` the
/// test runs inside the target's runner (qemu), which cannot start other foreign binaries by
/// itself; `.cargo/config.toml` passes the runner in `JIMINI_TEST_RUNNER` for that case.
pub fn binary(path: &str) -> Command {
    let runner = std::env::var("JIMINI_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(words).arg(path);
            command
        }
        None => Command::new(path),
    }
}
