//! `jimini-server`: the policy gateway over HTTP.

use std::path::PathBuf;
use std::process::ExitCode;

use jimini::audit::AUDIT_KEY_VAR;
use jimini::build_info::BUILD_INFO;
use jimini::exit_code;
use jimini::rules::RulePack;
use jimini::server::{
    API_KEY_VAR, Config, DEFAULT_BIND, DEFAULT_MAX_BODY_BYTES, KeySource, Limits, Server,
};

/// `--help`, and the source of the man page `cargo xtask dist` ships (one text, no drift).
const HELP: &str = include_str!("../../help/jimini-server.txt");

enum Command {
    Serve(Box<Config>, Options),
    Help,
    Version,
}

/// How the process around the server behaves.
#[derive(Default)]
struct Options {
    exit_on_stdin_eof: bool,
    /// `--rules`: loaded after parsing, so an unreadable file is a failure (exit 1), not a
    /// usage error.
    rules_path: Option<PathBuf>,
}

fn parse_args() -> Result<Command, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut bind = DEFAULT_BIND.to_owned();
    let mut audit_log = PathBuf::from("jimini-audit.jsonl");
    let mut audit_key_file: Option<PathBuf> = None;
    let mut max_body_bytes = DEFAULT_MAX_BODY_BYTES;
    let mut per_client = Limits::default().max_connections_per_client;
    let mut rotate_bytes: Option<u64> = None;
    let mut shadow = false;
    let mut options = Options::default();
    let usage = |err: lexopt::Error| err.to_string();
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Long("help") | Short('h') => return Ok(Command::Help),
            Long("version") | Short('V') => return Ok(Command::Version),
            Long("bind") => bind = parser.value().map_err(usage)?.string().map_err(usage)?,
            Long("rules") => options.rules_path = Some(parser.value().map_err(usage)?.into()),
            Long("audit-log") => audit_log = parser.value().map_err(usage)?.into(),
            Long("audit-key-file") => audit_key_file = Some(parser.value().map_err(usage)?.into()),
            Long("max-body-bytes") => {
                max_body_bytes = parser.value().map_err(usage)?.parse().map_err(usage)?
            }
            Long("max-connections-per-client") => {
                per_client = parser.value().map_err(usage)?.parse().map_err(usage)?
            }
            Long("audit-rotate-bytes") => {
                rotate_bytes = Some(parser.value().map_err(usage)?.parse().map_err(usage)?)
            }
            Long("shadow") => shadow = true,
            Long("exit-on-stdin-eof") => options.exit_on_stdin_eof = true,
            _ => return Err(usage(arg.unexpected())),
        }
    }
    let api_key = std::env::var(API_KEY_VAR).map_err(|_| {
        format!("{API_KEY_VAR} is not set: export the bearer key clients will send")
    })?;
    let audit_key = match (std::env::var(AUDIT_KEY_VAR), audit_key_file) {
        (Ok(_), Some(_)) => {
            return Err(format!(
                "both {AUDIT_KEY_VAR} and --audit-key-file are given: use one"
            ));
        }
        (Ok(secret), None) => KeySource::Secret(secret),
        (Err(_), Some(path)) => KeySource::File(path),
        (Err(_), None) => {
            let mut name = audit_log.file_name().unwrap_or_default().to_owned();
            name.push(".key");
            KeySource::File(audit_log.with_file_name(name))
        }
    };
    Ok(Command::Serve(
        Box::new(Config {
            bind,
            rules: RulePack::default_pack(),
            audit_log,
            audit_key,
            limits: Limits {
                max_body_bytes,
                max_connections_per_client: per_client,
                ..Limits::default()
            },
            api_key,
            shadow,
            audit_rotate_bytes: rotate_bytes,
        }),
        options,
    ))
}

/// Completes on SIGINT or SIGTERM (Ctrl-C or Ctrl-Break on Windows), or when stdin ends if
/// `stdin_eof` is set.
async fn shutdown_requested(stdin_eof: bool) {
    let stdin_closed = async {
        if !stdin_eof {
            return std::future::pending().await;
        }
        let (closed, wait) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            // Whatever arrives is ignored; only the end of stdin matters.
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = closed.send(());
        });
        let _ = wait.await;
        eprintln!("jimini-server: stdin closed, shutting down");
    };
    let interrupted = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminated = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminated = std::future::pending::<()>();
    tokio::select! {
        _ = stdin_closed => {}
        _ = interrupted => eprintln!("jimini-server: shutdown requested"),
        _ = terminated => eprintln!("jimini-server: shutdown requested"),
    }
}

/// `--help` and `--version`: the text on stdout, or exit 1 when it cannot be written.
fn print_info(text: &str) -> ExitCode {
    match jimini::write_stdout_line(text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("jimini-server: {message}");
            ExitCode::from(exit_code::FAILURE as u8)
        }
    }
}

fn main() -> ExitCode {
    let (mut config, options) = match parse_args() {
        Ok(Command::Serve(config, options)) => (config, options),
        Ok(Command::Help) => return print_info(HELP.trim_end()),
        Ok(Command::Version) => return print_info(&BUILD_INFO.version_line("jimini-server")),
        Err(message) => {
            eprintln!("jimini-server: {message}");
            return ExitCode::from(exit_code::USAGE as u8);
        }
    };
    if let Some(path) = &options.rules_path {
        match RulePack::load(path) {
            Ok(rules) => config.rules = rules,
            Err(err) => {
                eprintln!("jimini-server: {err}");
                return ExitCode::from(exit_code::FAILURE as u8);
            }
        }
    }
    let rule_count = config.rules.len();
    let server = match Server::bind(*config) {
        Ok(server) => server,
        Err(message) => {
            eprintln!("jimini-server: {message}");
            return ExitCode::from(exit_code::FAILURE as u8);
        }
    };
    for note in server.notes() {
        eprintln!("jimini-server: {note}");
    }
    match server.local_addr() {
        Some(addr) => eprintln!("jimini-server listening on http://{addr} ({rule_count} rules)"),
        None => eprintln!("jimini-server listening ({rule_count} rules)"),
    }
    let exit_on_stdin_eof = options.exit_on_stdin_eof;
    if let Err(message) = server.run(move || shutdown_requested(exit_on_stdin_eof)) {
        eprintln!("jimini-server: {message}");
        return ExitCode::from(exit_code::FAILURE as u8);
    }
    eprintln!("jimini-server: stopped");
    ExitCode::SUCCESS
}
