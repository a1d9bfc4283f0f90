//! `jimini-admin`: manage jimini's files: verify audit logs, lint rule packs.

use std::path::PathBuf;
use std::process::ExitCode;

use jimini::audit::{AUDIT_KEY_VAR, AuditKey, Head};
use jimini::build_info::BUILD_INFO;
use jimini::exit_code;
use jimini::rules::RulePack;

const HELP: &str = "\
jimini-admin: manage jimini's audit logs and rule packs

Usage:
  jimini-admin audit verify FILE [--key KEYFILE] [--expect-head SEQ:HASH]
                                   check the audit log: its hash chain and, with the audit key
                                   (--key or JIMINI_AUDIT_KEY), every record's MAC; with
                                   --expect-head, that a head seen earlier (GET /v1/audit/head)
                                   is still in it, so records were not cut off or rewritten.
                                   Reports the first broken line and prints the head.
  jimini-admin rules lint FILE     check a rule pack (TOML, regexes, unique ids)
  jimini-admin version [--json]    print build information
  jimini-admin --version | --help

Exit codes: 0 ok, 1 a check failed or a file is unreadable, 2 usage error.";

enum Command {
    AuditVerify {
        log: PathBuf,
        key_file: Option<PathBuf>,
        expect_head: Option<Head>,
    },
    RulesLint(PathBuf),
    Version {
        json: bool,
    },
    Help,
}

fn parse_args() -> Result<Command, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut words = Vec::new();
    let mut json = false;
    let mut key_file: Option<PathBuf> = None;
    let mut expect_head: Option<Head> = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Long("help") | Short('h') => return Ok(Command::Help),
            Long("version") | Short('V') if words.is_empty() => {
                return Ok(Command::Version { json: false });
            }
            Long("json") => json = true,
            Long("key") => key_file = Some(parser.value()?.into()),
            Long("expect-head") => {
                let text = parser.value()?.string()?;
                expect_head = Some(text.parse::<Head>()?);
            }
            Value(word) => words.push(word.string()?),
            _ => return Err(arg.unexpected()),
        }
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let verify_options = key_file.is_some() || expect_head.is_some();
    match words.as_slice() {
        ["audit", "verify", file] if !json => Ok(Command::AuditVerify {
            log: file.into(),
            key_file,
            expect_head,
        }),
        _ if verify_options => Err("--key and --expect-head belong to `audit verify`".into()),
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
        Command::AuditVerify {
            log,
            key_file,
            expect_head,
        } => audit_verify(&log, key_file, expect_head.as_ref()),
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

/// The key to check MACs with, and where it came from.
fn audit_key(key_file: Option<PathBuf>) -> Result<Option<(AuditKey, String)>, String> {
    if let Some(path) = key_file {
        let secret = std::fs::read_to_string(&path)
            .map_err(|err| format!("cannot read key file {}: {err}", path.display()))?;
        let key =
            AuditKey::from_secret(&secret).map_err(|err| format!("{}: {err}", path.display()))?;
        return Ok(Some((key, path.display().to_string())));
    }
    match std::env::var(AUDIT_KEY_VAR) {
        Ok(secret) => {
            let key =
                AuditKey::from_secret(&secret).map_err(|err| format!("{AUDIT_KEY_VAR}: {err}"))?;
            Ok(Some((key, AUDIT_KEY_VAR.to_owned())))
        }
        Err(_) => Ok(None),
    }
}

fn audit_verify(
    log: &std::path::Path,
    key_file: Option<PathBuf>,
    expect_head: Option<&Head>,
) -> Result<(), String> {
    let key = audit_key(key_file)?;
    let summary = jimini::audit::verify(log, key.as_ref().map(|(key, _)| key), expect_head)
        .map_err(|err| format!("{}: {err}", log.display()))?;
    println!(
        "{}: {} records, chain intact",
        log.display(),
        summary.records
    );
    match &key {
        Some((_, source)) => println!("MACs: all verified with the key from {source}"),
        None => println!(
            "MACs: NOT checked (no key): pass --key KEYFILE or set {AUDIT_KEY_VAR} to detect \
             an edited record"
        ),
    }
    if summary.legacy_records > 0 {
        println!(
            "note: the first {} records are from before 0.3 and carry no MAC",
            summary.legacy_records
        );
    }
    if let Some(expected) = expect_head {
        println!("expected head {}: present", expected.seq);
    }
    if summary.torn_bytes > 0 {
        println!(
            "note: {} bytes after the last record are an unfinished line (a write in progress, \
             or a crash during one: jimini-server moves it aside on start)",
            summary.torn_bytes
        );
    }
    println!("head: {}", summary.head);
    Ok(())
}
