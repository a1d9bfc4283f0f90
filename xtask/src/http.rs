//! HTTP for `publish` and `verify URL`, through `curl` (on every CI image and runner; it keeps TLS and
//! HTTP out of the tooling's compile).
//!
//! **Architecture Invariant:** a credential travels only on curl's stdin (its `--config -`),
//! never in its arguments (visible to every process) or a log; a response is read through a
//! bound, so a host that never stops sending costs a bounded amount of memory and disk; plain
//! `http://` is refused except to loopback (the tests' stand-ins), so a token never travels in
//! the clear.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// A value that must not be printed: its `Debug` says so instead.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// What a request sends.
pub enum Body<'a> {
    Empty,
    Json(&'a serde_json::Value),
    /// A file's bytes, streamed by curl, with this content type.
    File(&'a Path, &'a str),
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "the host answered HTTP {} with something that is not JSON: {}",
                self.status,
                self.excerpt()
            )
        })
    }

    /// The response when its status is a success, else an error: `{what}: HTTP n: <body>`.
    pub fn require_ok(self, what: std::fmt::Arguments<'_>) -> anyhow::Result<Response> {
        if !self.ok() {
            bail!("{what}: HTTP {}: {}", self.status, self.excerpt());
        }
        Ok(self)
    }

    /// The start of the body, for an error message.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(300).collect()
    }
}

/// A host sent (or announced) more than the bound: for a download compared with a dist's file,
/// certainly other bytes.
#[derive(Debug)]
pub struct TooLarge {
    pub url: String,
    pub max_bytes: u64,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: the host sent more than {} bytes, more than this can be",
            self.url, self.max_bytes
        )
    }
}

impl std::error::Error for TooLarge {}

/// An API's answers are small; a file's download is bounded by the file's size.
pub const MAX_API_RESPONSE: u64 = 16 << 20;

/// A client for one host: its credential headers are sent with every request to it.
pub struct Client {
    headers: Vec<(String, Secret)>,
}

impl Client {
    pub fn new(headers: Vec<(String, Secret)>) -> Client {
        Client { headers }
    }

    /// Sends one request whose answer is an API's (at most [`MAX_API_RESPONSE`]); HTTP error
    /// statuses are answers, transport failures are errors.
    pub fn send(&self, method: &str, url: &str, body: Body<'_>) -> anyhow::Result<Response> {
        let mut sink = Vec::new();
        let status = self.transfer(method, url, &[], body, MAX_API_RESPONSE, &mut sink)?;
        Ok(Response { status, body: sink })
    }

    /// GETs `url` into `sink`, following redirects (over HTTPS only, without the credential
    /// when they leave the host, as curl does); fails past `max_bytes`.
    pub fn download(
        &self,
        url: &str,
        extra_headers: &[(&str, &str)],
        max_bytes: u64,
        sink: &mut dyn Write,
    ) -> anyhow::Result<u16> {
        self.transfer("GET", url, extra_headers, Body::Empty, max_bytes, sink)
    }

    fn transfer(
        &self,
        method: &str,
        url: &str,
        extra_headers: &[(&str, &str)],
        body: Body<'_>,
        max_bytes: u64,
        sink: &mut dyn Write,
    ) -> anyhow::Result<u16> {
        let protocols = allowed_protocols(url)?;
        let mut config = String::new();
        for (name, value) in &self.headers {
            config.push_str(&config_line(
                "header",
                &format!("{name}: {}", value.expose()),
            ));
        }
        for (name, value) in extra_headers {
            config.push_str(&config_line("header", &format!("{name}: {value}")));
        }
        let mut command = Command::new("curl");
        crate::secrets::scrubbed(&mut command)
            .args(["--silent", "--show-error", "--globoff", "--location"])
            .args(["--proto", protocols, "--proto-redir", "=https"])
            .args(["--connect-timeout", "30", "--max-time", "1800"])
            .args(["--user-agent", USER_AGENT])
            .args(["--max-filesize", &max_bytes.to_string()])
            .args(["--write-out", "%{stderr}\nhttp-status %{http_code}\n"])
            .args(["--config", "-", "--request", method]);
        match body {
            Body::Empty => {}
            Body::Json(value) => {
                // On stdin after the configuration would need a second pipe; `@-` reads stdin,
                // so the JSON goes in the config as `data-binary` (no secrets in it).
                config.push_str(&config_line("header", "Content-Type: application/json"));
                config.push_str(&config_line("data-binary", &serde_json::to_string(value)?));
            }
            Body::File(path, content_type) => {
                config.push_str(&config_line(
                    "header",
                    &format!("Content-Type: {content_type}"),
                ));
                command.arg("--upload-file").arg(path);
            }
        }
        command.arg("--").arg(url);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().context(
            "cannot run curl, which publishing talks to the hosts with: install it \
             (`apt-get install curl`)",
        )?;
        let mut stdin = child.stdin.take().expect("piped");
        let written = stdin.write_all(config.as_bytes());
        drop(stdin);
        let mut stderr = child.stderr.take().expect("piped");
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = (&mut stderr).take(1 << 20).read_to_string(&mut text);
            text
        });
        let mut stdout = child.stdout.take().expect("piped");
        let copied = std::io::copy(&mut (&mut stdout).take(max_bytes + 1), sink);
        let over = matches!(copied, Ok(n) if n > max_bytes);
        if over {
            let _ = child.kill();
        }
        drop(stdout);
        let status = child.wait()?;
        let errors = errors.join().unwrap_or_default();
        let too_large = || TooLarge {
            url: url.to_owned(),
            max_bytes,
        };
        if over {
            return Err(too_large().into());
        }
        copied.with_context(|| format!("{method} {url}: cannot keep the response"))?;
        written.with_context(|| format!("{method} {url}: curl did not take its configuration"))?;
        let (message, code) = match errors.rsplit_once("http-status ") {
            Some((message, code)) => (message.trim(), code.trim().parse::<u16>().ok()),
            None => (errors.trim(), None),
        };
        if status.code() == Some(63) {
            return Err(too_large().into());
        }
        match (status.success(), code) {
            (true, Some(code)) if code != 0 => Ok(code),
            _ => bail!(
                "{method} {url} failed ({}): {message}",
                match status.code() {
                    Some(code) => format!("curl exit {code}"),
                    None => "curl was killed".to_owned(),
                }
            ),
        }
    }
}

const USER_AGENT: &str = "jimini-xtask (cargo xtask publish, verify)";

/// `https` only, unless the URL is on this machine (the tests' stand-ins, a local proxy).
fn allowed_protocols(url: &str) -> anyhow::Result<&'static str> {
    if url.starts_with("https://") {
        return Ok("=https");
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', '?']).next().unwrap_or("");
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.rsplit_once(':').map_or(host, |(h, _)| h),
        };
        if matches!(host, "127.0.0.1" | "localhost" | "::1") {
            return Ok("=http");
        }
    }
    bail!("{url} is not an https:// URL: credentials and releases travel over HTTPS only")
}

/// One line of a curl config file, the value quoted as curl's config syntax wants.
fn config_line(option: &str, value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' | '\r' => {}
            c => quoted.push(c),
        }
    }
    format!("{option} = \"{quoted}\"\n")
}

/// `owner/name` and tags in a URL path.
pub fn escape_path_segment(segment: &str) -> String {
    let mut out = String::new();
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_leaves_this_machine() {
        assert_eq!(
            allowed_protocols("https://api.github.com/x").unwrap(),
            "=https"
        );
        assert_eq!(
            allowed_protocols("http://127.0.0.1:8080/api").unwrap(),
            "=http"
        );
        assert_eq!(allowed_protocols("http://localhost/api").unwrap(), "=http");
        assert_eq!(allowed_protocols("http://[::1]:99/x").unwrap(), "=http");
        for url in [
            "http://example.com/",
            "http://127.0.0.1.evil.test/",
            "ftp://x/",
        ] {
            let err = allowed_protocols(url).unwrap_err().to_string();
            assert!(err.contains("HTTPS only"), "{url}: {err}");
        }
    }

    #[test]
    fn config_values_are_quoted_and_cannot_add_lines() {
        assert_eq!(
            config_line("header", "A: b\"c\\d\ninjected = 1"),
            "header = \"A: b\\\"c\\\\dinjected = 1\"\n"
        );
        assert_eq!(escape_path_segment("v1.0.0+build"), "v1.0.0%2Bbuild");
        assert_eq!(format!("{:?}", Secret::new("ghp_x".into())), "Secret(…)");
    }
}
