//! A command's machine output on stdout, and what happens when its reader goes away.
//!
//! `cargo xtask plan --json | head -1` closes the pipe before everything is written. Rust
//! ignores SIGPIPE, so `println!` would panic with a backtrace; restoring SIGPIPE's default
//! instead would let a closed pipe to a child (`git tag -F -` during `release`) kill the process
//! between two steps. So every write to stdout goes through [`out!`] and [`outln!`], which turn
//! a closed stdout into [`ReaderGone`]; `main` ends on it quietly with 141, the status a shell
//! reports for a process ended by SIGPIPE, so `set -o pipefail` still sees it. A command that
//! prints before it acts (`release`) stops there and changes nothing.

use std::io::Write;

/// Standard output was closed by its reader.
#[derive(Debug)]
pub struct ReaderGone;

impl std::fmt::Display for ReaderGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed by its reader")
    }
}

impl std::error::Error for ReaderGone {}

/// The exit status for [`ReaderGone`]: 128 + SIGPIPE, as if the signal had ended the process.
pub const READER_GONE_STATUS: u8 = 141;

/// Whether `err` is (or was caused by) a closed stdout.
pub fn reader_gone(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<ReaderGone>())
}

/// Writes `text` to stdout and flushes it: the write behind [`out!`] and [`outln!`].
pub fn write(text: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Err(ReaderGone.into()),
        Err(err) => Err(anyhow::Error::new(err).context("cannot write to standard output")),
    }
}

/// `print!` that returns an error instead of panicking: `out!("{x}")?`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*))
    };
}

/// `println!` that returns an error instead of panicking: `outln!("{x}")?`.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::stdout::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_closed_stdout_is_recognised_through_context() {
        let err = Err::<(), _>(anyhow::Error::new(ReaderGone))
            .context("printing the plan")
            .unwrap_err();
        assert!(reader_gone(&err));
        assert!(!reader_gone(&anyhow::anyhow!("disk full")));
    }
}
