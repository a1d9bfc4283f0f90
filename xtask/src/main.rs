//! `cargo xtask`: parses flags and dispatches; every command lives in its own module.

use std::process::ExitCode;

use clap::Parser;
use xtask::flags::{Command, DistCommand, Xtask};

fn main() -> ExitCode {
    let backtrace = xtask::errors::backtrace_requested();
    let flags = Xtask::parse();
    let result = match flags.subcommand {
        // A user who downloaded a release has no checkout: verify runs anywhere.
        Command::Verify(cmd) => xtask::shell_anywhere().and_then(|sh| cmd.run(&sh)),
        other => xtask::shell().and_then(|sh| dispatch(other, &sh)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if xtask::stdout::reader_gone(&err) => {
            ExitCode::from(xtask::stdout::READER_GONE_STATUS)
        }
        Err(err) => {
            eprintln!("{}", xtask::errors::render(&err, backtrace));
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command, sh: &xshell::Shell) -> anyhow::Result<()> {
    match command {
        Command::Dist(cmd) => match cmd.merge {
            Some(DistCommand::Merge(merge)) => merge.run(sh),
            None => cmd.run(sh),
        },
        Command::Rebuild(cmd) => cmd.run(sh),
        Command::Release(cmd) => cmd.run(sh),
        Command::Doctor(cmd) => cmd.run(sh),
        Command::Plan(cmd) => cmd.run(sh),
        Command::Docker(cmd) => cmd.run(sh),
        Command::Ci(cmd) => cmd.run(sh),
        Command::Keygen(cmd) => cmd.run(sh),
        Command::RotateKey(cmd) => cmd.run(sh),
        Command::RevokeKey(cmd) => cmd.run(sh),
        Command::Publish(cmd) => cmd.run(sh),
        Command::Smoke(cmd) => cmd.run(sh),
        Command::Verify(cmd) => cmd.run(sh),
    }
}
