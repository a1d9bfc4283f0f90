//! `jimini`: evaluate text against a rule pack from the command line.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use jimini::build_info::BUILD_INFO;
use jimini::exit_code;
use jimini::rules::{Decision, RulePack};

/// `--help`, and the source of the man page `cargo xtask dist` ships (one text, no drift).
const HELP: &str = include_str!("../../help/jimini.txt");

struct CheckArgs {
    rules: Option<PathBuf>,
    shadow: bool,
    json: bool,
    text: Option<String>,
}

enum Command {
    Check(CheckArgs),
    Help,
    Version,
}

fn parse_args() -> Result<Command, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    match parser.next()? {
        Some(Long("help") | Short('h')) => return Ok(Command::Help),
        Some(Long("version") | Short('V')) => return Ok(Command::Version),
        Some(Value(command)) if command == "check" => {}
        Some(arg) => return Err(arg.unexpected()),
        None => return Err("missing command; try `jimini check TEXT` or `jimini --help`".into()),
    }
    let mut args = CheckArgs {
        rules: None,
        shadow: false,
        json: false,
        text: None,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Long("rules") => args.rules = Some(parser.value()?.into()),
            Long("shadow") => args.shadow = true,
            Long("json") => args.json = true,
            Long("help") | Short('h') => return Ok(Command::Help),
            Value(text) if args.text.is_none() => args.text = Some(text.string()?),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(Command::Check(args))
}

fn main() -> ExitCode {
    let command = match parse_args() {
        Ok(command) => command,
        Err(err) => {
            eprintln!("jimini: {err}\nRun `jimini --help` for usage.");
            return ExitCode::from(exit_code::USAGE as u8);
        }
    };
    let result = match command {
        Command::Help => jimini::write_stdout_line(HELP.trim_end()).map(|()| exit_code::OK),
        Command::Version => {
            jimini::write_stdout_line(&BUILD_INFO.version_line("jimini")).map(|()| exit_code::OK)
        }
        Command::Check(args) => check(args),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(message) => {
            eprintln!("jimini: {message}");
            ExitCode::from(exit_code::FAILURE as u8)
        }
    }
}

fn check(args: CheckArgs) -> Result<i32, String> {
    let pack = match &args.rules {
        Some(path) => RulePack::load(path).map_err(|err| err.to_string())?,
        None => RulePack::default_pack(),
    };
    let text = match args.text.as_deref() {
        Some("-") | None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|err| format!("cannot read standard input: {err}"))?;
            text
        }
        Some(text) => text.to_owned(),
    };
    let evaluation = pack.evaluate(&text, args.shadow);
    let output = if args.json {
        serde_json::to_string_pretty(&evaluation).map_err(|err| err.to_string())?
    } else {
        let mut lines = vec![if evaluation.shadow {
            format!(
                "decision: {} (shadow mode; the rules decided {})",
                evaluation.decision, evaluation.rules_decision
            )
        } else {
            format!("decision: {}", evaluation.decision)
        }];
        for m in &evaluation.matches {
            lines.push(format!(
                "  {:<16} {:<6} {}",
                m.rule_id,
                Decision::from(m.action),
                m.description
            ));
        }
        lines.join("\n")
    };
    jimini::write_stdout_line(&output)?;
    Ok(if evaluation.decision == Decision::Block {
        exit_code::BLOCKED
    } else {
        exit_code::OK
    })
}
