//! `jimini-admin`: manage jimini's files: verify audit logs, lint rule packs.

use std::path::PathBuf;
use std::process::ExitCode;

use jimini::build_info::BUILD_INFO;
use jimini::exit_code;
use jimini::rules::RulePack;

const HELP: &str = "\
jimini-admin: manage jimini's audit logs and rule packs

Usage:
  jimini-admin audit verify FILE   check the audit log's hash chain; reports the first broken line
  jimini-admin rules lint FILE     check a rule pack (TOML, regexes, unique ids)
  jimini-admin version [--json]    print build information
  jimini-admin --version | --help

Exit codes: 0 ok, 1 a check failed or a file is unreadable, 2 usage error.";

enum Command {
    AuditVerify(PathBuf),
    RulesLint(PathBuf),
    Version { json: bool },
    Help,
}

fn parse_args() -> Result<Command, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut words = Vec::new();
    let mut json = false;
    while let Some(arg) = parser.next()? {
        match arg {
            Long("help") | Short('h') => return Ok(Command::Help),
            Long("version") | Short('V') if words.is_empty() => {
                return Ok(Command::Version { json: false });
            }
            Long("json") => json = true,
            Value(word) => words.push(word.string()?),
            _ => return Err(arg.unexpected()),
        }
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["audit", "verify", file] if !json => Ok(Command::AuditVerify(file.into())),
        ["rules", "lint", file] if !json => Ok(Command::RulesLint(file.into())),
        ["version"] => Ok(Command::Version { json }),
        [] => Err("missing command; run `jimini-admin --help`".into()),
        _ => Err(format!(
            "unknown command `{}`; run `jimini-admin --help`",
            words.join(" ")
        )
        .into()),
    }
}

fn main() -> ExitCode {
    let command = match parse_args() {
        Ok(command) => command,
        Err(err) => {
            eprintln!("jimini-admin: {err}");
            return ExitCode::from(exit_code::USAGE as u8);
        }
    };
    let result = match command {
        Command::Help => {
            println!("{HELP}");
            Ok(())
        }
        Command::Version { json: false } => {
            println!("{}", BUILD_INFO.version_line("jimini-admin"));
            Ok(())
        }
        Command::Version { json: true } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&BUILD_INFO).expect("plain struct")
            );
            Ok(())
        }
        Command::AuditVerify(path) => jimini::audit::verify(&path)
            .map(|summary| {
                println!(
                    "{}: {} records, chain intact",
                    path.display(),
                    summary.records
                )
            })
            .map_err(|err| format!("{}: {err}", path.display())),
        Command::RulesLint(path) => RulePack::load(&path)
            .map(|pack| println!("{}: {} rules, ok", path.display(), pack.len()))
            .map_err(|err| err.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("jimini-admin: {message}");
            ExitCode::from(exit_code::FAILURE as u8)
        }
    }
}
