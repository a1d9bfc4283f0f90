//! How `cargo xtask` reports an error: the message and its causes, which name the fix.
//!
//! **Architecture Invariant:** an expected failure (a refusal, a doctor finding, a failed tool)
//! is an `anyhow::Error` and prints without a backtrace, whatever `RUST_BACKTRACE` says. Real
//! bugs are panics and keep Rust's own panic output. `XTASK_BACKTRACE=1` adds the backtrace of
//! where an error was created, for debugging the tooling itself.

/// The variable that asks for backtraces on errors.
pub const BACKTRACE_VAR: &str = "XTASK_BACKTRACE";

/// Reads `XTASK_BACKTRACE` and sets what anyhow needs to capture error backtraces (or not).
/// Call first thing in `main`, before any thread starts.
pub fn backtrace_requested() -> bool {
    let wanted = std::env::var_os(BACKTRACE_VAR).is_some_and(|v| v != "0" && !v.is_empty());
    // anyhow captures a backtrace for every error when RUST_BACKTRACE is set, which costs time
    // on every `bail!`; RUST_LIB_BACKTRACE decides for library errors alone and leaves panics as
    // RUST_BACKTRACE says.
    // SAFETY: called at the start of `main`, while the process has a single thread.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", if wanted { "1" } else { "0" }) };
    wanted
}

/// `error: <message>` and one `caused by:` line per cause; the backtrace only when asked for.
pub fn render(err: &anyhow::Error, backtrace: bool) -> String {
    let mut text = format!("error: {err}");
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    if backtrace {
        text.push_str(&format!("\n\nbacktrace:\n{}", err.backtrace()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn causes_are_listed_and_no_backtrace_unless_asked() {
        let err = Err::<(), _>(std::io::Error::other("disk full"))
            .context("cannot write dist/SHA256SUMS: free some space")
            .unwrap_err();
        let text = render(&err, false);
        assert_eq!(
            text,
            "error: cannot write dist/SHA256SUMS: free some space\n  caused by: disk full"
        );
        assert!(render(&err, true).contains("backtrace:"));
    }
}
