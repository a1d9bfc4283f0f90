//! `cargo xtask`: parses flags and dispatches; every command lives in its own module.

use std::process::ExitCode;

use clap::Parser;
use xtask::flags::{Command, DistCommand, Xtask};

fn main() -> ExitCode {
    let backtrace = xtask::errors::backtrace_requested();
    let flags = Xtask::parse();
    let result = xtask::shell().and_then(|sh| match flags.subcommand {
        Command::Dist(cmd) => match cmd.merge {
            Some(DistCommand::Merge(merge)) => merge.run(&sh),
            None => cmd.run(&sh),
        },
        Command::Verify(cmd) => cmd.run(&sh),
        Command::Rebuild(cmd) => cmd.run(&sh),
        Command::Release(cmd) => cmd.run(&sh),
        Command::Doctor(cmd) => cmd.run(&sh),
        Command::Plan(cmd) => cmd.run(&sh),
        Command::Docker(cmd) => cmd.run(&sh),
        Command::Ci(cmd) => cmd.run(&sh),
        Command::Keygen(cmd) => cmd.run(&sh),
        Command::Publish(cmd) => cmd.run(&sh),
    });
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
