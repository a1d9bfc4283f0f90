//! Human progress on stderr: one line per step with its elapsed time. Machine output goes to
//! stdout and never through here.

use std::io::IsTerminal;
use std::time::Instant;

pub struct Progress {
    quiet: bool,
    color: bool,
    started: Instant,
}

pub struct Step<'a> {
    progress: &'a Progress,
    label: String,
    started: Instant,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stderr().is_terminal();
        Progress {
            quiet,
            color,
            started: Instant::now(),
        }
    }

    pub fn step(&self, label: impl Into<String>) -> Step<'_> {
        let label = label.into();
        if !self.quiet {
            eprintln!("{} {label}", self.paint("==>", "1;34"));
        }
        Step {
            progress: self,
            label,
            started: Instant::now(),
        }
    }

    pub fn note(&self, message: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("    {}", message.as_ref());
        }
    }

    pub fn warn(&self, message: impl AsRef<str>) {
        eprintln!("{} {}", self.paint("warning:", "1;33"), message.as_ref());
    }

    pub fn is_loud(&self) -> bool {
        !self.quiet
    }

    pub fn table(&self, text: &str) {
        if !self.quiet {
            eprint!("{text}");
        }
    }

    pub fn finish(&self, what: &str) {
        if !self.quiet {
            let seconds = self.started.elapsed().as_secs_f64();
            eprintln!("{} {what} in {seconds:.1}s", self.paint("done", "1;32"));
        }
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

impl Step<'_> {
    pub fn done(self) {
        if !self.progress.quiet {
            let seconds = self.started.elapsed().as_secs_f64();
            eprintln!("    {} ({seconds:.1}s)", self.label);
        }
    }
}

/// `12.3 MiB`-style sizes for the summary table.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
