//! `cargo xtask`: parses flags and dispatches; every command lives in its own module.

use clap::Parser;
use xtask::flags::{Command, DistCommand, Xtask};

fn main() -> anyhow::Result<()> {
    let flags = Xtask::parse();
    let sh = xtask::shell()?;
    match flags.subcommand {
        Command::Dist(cmd) => match cmd.merge {
            Some(DistCommand::Merge(merge)) => merge.run(&sh),
            None => cmd.run(&sh),
        },
        Command::Verify(cmd) => cmd.run(&sh),
        Command::Release(cmd) => cmd.run(&sh),
        Command::Doctor(cmd) => cmd.run(&sh),
        Command::Plan(cmd) => cmd.run(&sh),
        Command::Docker(cmd) => cmd.run(&sh),
        Command::Ci(cmd) => cmd.run(&sh),
    }
}
