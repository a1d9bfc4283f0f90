//! `jimini-admin`: manage jimini's files: verify audit logs, lint rule packs.

use std::path::PathBuf;
use std::process::ExitCode;

use jimini::audit::{AUDIT_KEY_VAR, AuditKey, Head};
use jimini::build_info::BUILD_INFO;
use jimini::exit_code;
use jimini::rules::RulePack;

/// `--help`, and the source of the man page `cargo xtask dist` ships (one text, no drift).
const HELP: &str = include_str!("../../help/jimini-admin.txt");

enum Command {
    AuditVerify {
        logs: Vec<PathBuf>,
        key_file: Option<PathBuf>,
        expect_head: Option<Head>,
    },
    RulesLint(PathBuf),
    Version,
    Help,
}

/// The command and whether its result is printed as JSON.
fn parse_args() -> Result<(Command, bool), lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut words = Vec::new();
    let mut json = false;
    let mut key_file: Option<PathBuf> = None;
    let mut expect_head: Option<Head> = None;
    while let Some(arg) = parser.next()? {
        match arg {
            Long("help") | Short('h') => return Ok((Command::Help, false)),
            Long("version") | Short('V') if words.is_empty() => {
                return Ok((Command::Version, false));
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
    let command = match words.as_slice() {
        ["audit", "verify", files @ ..] if !files.is_empty() => Command::AuditVerify {
            logs: files.iter().map(PathBuf::from).collect(),
            key_file,
            expect_head,
        },
        _ if verify_options => {
            return Err("--key and --expect-head belong to `audit verify`".into());
        }
        ["rules", "lint", file] => Command::RulesLint(file.into()),
        ["version"] => Command::Version,
        [] => return Err("missing command; run `jimini-admin --help`".into()),
        _ => {
            return Err(format!(
                "unknown command `{}`; run `jimini-admin --help`",
                words.join(" ")
            )
            .into());
        }
    };
    Ok((command, json))
}

fn main() -> ExitCode {
    let (command, json) = match parse_args() {
        Ok(parsed) => parsed,
        Err(err) => {
            eprintln!("jimini-admin: {err}");
            return ExitCode::from(exit_code::USAGE as u8);
        }
    };
    let result = match command {
        Command::Help => jimini::write_stdout_line(HELP.trim_end()),
        Command::Version if json => {
            print_json(&serde_json::to_value(BUILD_INFO).expect("plain struct"))
        }
        Command::Version => jimini::write_stdout_line(&BUILD_INFO.version_line("jimini-admin")),
        Command::AuditVerify {
            logs,
            key_file,
            expect_head,
        } => audit_verify(&logs, key_file, expect_head.as_ref(), json),
        Command::RulesLint(path) => RulePack::load(&path)
            .map_err(|err| err.to_string())
            .and_then(|pack| {
                if json {
                    print_json(&serde_json::json!({
                        "ok": true,
                        "file": path,
                        "rules": pack.len(),
                    }))
                } else {
                    jimini::write_stdout_line(&format!(
                        "{}: {} rules, ok",
                        path.display(),
                        pack.len()
                    ))
                }
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            if json {
                // Reported on stderr below whether or not this reaches stdout.
                let _ = print_json(&serde_json::json!({"ok": false, "error": message}));
            }
            eprintln!("jimini-admin: {message}");
            ExitCode::from(exit_code::FAILURE as u8)
        }
    }
}

fn print_json(value: &serde_json::Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    jimini::write_stdout_line(&text)
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
    logs: &[PathBuf],
    key_file: Option<PathBuf>,
    expect_head: Option<&Head>,
    json: bool,
) -> Result<(), String> {
    let key = audit_key(key_file)?;
    let key_ref = key.as_ref().map(|(key, _)| key);
    let named = logs
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let summary = match logs {
        [one] if !one.is_dir() => jimini::audit::verify(one, key_ref, expect_head),
        [one] => jimini::audit::files_of(one)
            .and_then(|files| jimini::audit::verify_files(&files, key_ref, expect_head)),
        many => jimini::audit::verify_files(many, key_ref, expect_head),
    }
    .map_err(|err| format!("{named}: {err}"))?;
    let log = named;
    if json {
        return print_json(&serde_json::json!({
            "ok": true,
            "file": log,
            "records": summary.records,
            "macs_checked": summary.macs_checked,
            "key_source": key.as_ref().map(|(_, source)| source),
            "legacy_records": summary.legacy_records,
            "torn_bytes": summary.torn_bytes,
            "expected_head_present": expect_head.map(|_| true),
            "head": {"seq": summary.head.seq, "hash": summary.head.hash},
        }));
    }
    let mut lines = vec![format!(
        "{}: {} records, chain intact",
        log, summary.records
    )];
    lines.push(match &key {
        Some((_, source)) => format!("MACs: all verified with the key from {source}"),
        None => format!(
            "MACs: NOT checked (no key): pass --key KEYFILE or set {AUDIT_KEY_VAR} to detect \
             an edited record"
        ),
    });
    if summary.legacy_records > 0 {
        lines.push(format!(
            "note: the first {} records are from before 0.3 and carry no MAC",
            summary.legacy_records
        ));
    }
    if let Some(expected) = expect_head {
        lines.push(format!("expected head {}: present", expected.seq));
    }
    if summary.torn_bytes > 0 {
        lines.push(format!(
            "note: {} bytes after the last record are an unfinished line (a write in progress, \
             or a crash during one: jimini-server moves it aside on start)",
            summary.torn_bytes
        ));
    }
    lines.push(format!("head: {}", summary.head));
    jimini::write_stdout_line(&lines.join("\n"))
}
