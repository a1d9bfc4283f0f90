//! jimini: a minimal AI-policy gateway.
//!
//! Text (a prompt or a model response) is evaluated against a pack of regex rules. Every
//! matching rule is reported and the decision is the strictest action among them:
//! block > flag > allow. In shadow mode the decision that *would* have been enforced is reported
//! but the enforced decision is always allow, so that a new rule pack can be trialled safely.
//! Every decision the server makes is appended to a hash-chained JSONL audit log.
//!
//! The library is shared by the three binaries: `jimini` (CLI), `jimini-server` (HTTP, behind
//! the `server` feature) and `jimini-admin` (management).

pub mod audit;
pub mod build_info;
pub mod rules;
#[cfg(feature = "server")]
pub mod server;

/// Process exit codes shared by every binary; documented in the README.
pub mod exit_code {
    /// Allowed or flagged, or a command that succeeded.
    pub const OK: i32 = 0;
    /// A runtime failure: unreadable file, invalid rule pack, broken audit chain.
    pub const FAILURE: i32 = 1;
    /// The command line was wrong.
    pub const USAGE: i32 = 2;
    /// `jimini check` blocked the text.
    pub const BLOCKED: i32 = 3;
}

/// Writes a command's output to stdout, ending its last line, and flushes it. A full disk or a
/// reader that closed the pipe is an error to report (exit code 1), never a panic: a check
/// whose output was lost must not end as if it had succeeded, nor with a backtrace.
pub fn write_stdout_line(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(|err| format!("cannot write to standard output: {err}"))
}
