//! A binary's man page (section 1), rendered from the text its `--help` prints: the help file
//! (`[workspace.metadata.xtask-dist] man-pages`, `<dir>/<binary>.txt`) is compiled into the
//! binary and read here, so the page and `--help` cannot drift. Roff through the `roff` crate
//! (escaping is its job).
//!
//! The help text's shape: `<binary>: <what it is>` first; paragraphs; and sections, each a line
//! `Heading:` alone, whose indented lines are `  TERM  description` items (continuation lines
//! indented deeper). `Usage:` becomes SYNOPSIS, kept as written.

use anyhow::bail;
use roff::{Roff, bold, roman};

/// The rendered page of `binary` from its help `text`; `version` and `date` (YYYY-MM-DD, the
/// release's source date) go in the title line. Pure.
pub fn render(binary: &str, version: &str, date: &str, text: &str) -> anyhow::Result<String> {
    let mut lines = text.lines();
    let Some(description) = lines
        .next()
        .and_then(|first| first.strip_prefix(&format!("{binary}: ")))
    else {
        bail!("the help text of {binary} must start with `{binary}: <what it is>`");
    };
    let mut page = Roff::new();
    page.control(
        "TH",
        [
            binary.to_uppercase().as_str(),
            "1",
            date,
            &format!("{binary} {version}"),
            "User Commands",
        ],
    );
    page.control("SH", ["NAME"]);
    page.text([roman(format!("{binary} - {description}"))]);
    let mut section: Option<String> = None;
    let mut paragraph: Vec<String> = vec![];
    let mut item: Option<(String, Vec<String>)> = None;
    let mut described = false;
    for line in lines {
        let indent = line.len() - line.trim_start().len();
        let heading = (indent == 0 && line.ends_with(':') && !line.contains(' '))
            .then(|| line.trim_end_matches(':'));
        if line.trim().is_empty() || heading.is_some() {
            flush(&mut page, &mut paragraph, &mut item, section.as_deref());
        } else if indent == 0 {
            flush_item(&mut page, &mut item);
        }
        if let Some(heading) = heading {
            let name = match heading {
                "Usage" => "SYNOPSIS".to_owned(),
                other => other.to_uppercase(),
            };
            page.control("SH", [name.as_str()]);
            section = Some(name);
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        // What is not in a section, or follows the synopsis, describes the command.
        let after_synopsis = section.as_deref() == Some("SYNOPSIS") && indent == 0;
        if after_synopsis {
            flush(&mut page, &mut paragraph, &mut item, section.as_deref());
            section = None;
        }
        if section.is_none() && !described {
            page.control("SH", ["DESCRIPTION"]);
            described = true;
        }
        if section.as_deref() == Some("SYNOPSIS") {
            // As written: the continuation lines keep their place under the command.
            paragraph.push(line.strip_prefix("  ").unwrap_or(line).to_owned());
        } else if indent == 0 {
            paragraph.push(line.to_owned());
        } else if indent == 2 {
            flush_item(&mut page, &mut item);
            let rest = line.trim_start();
            let (term, text) = match rest.find("  ") {
                Some(at) => (&rest[..at], rest[at..].trim()),
                None => (rest, ""),
            };
            let text = (!text.is_empty()).then(|| text.to_owned());
            item = Some((term.to_owned(), text.into_iter().collect()));
        } else if let Some((_, text)) = &mut item {
            text.push(line.trim().to_owned());
        } else {
            paragraph.push(line.trim().to_owned());
        }
    }
    flush(&mut page, &mut paragraph, &mut item, section.as_deref());
    Ok(page.render())
}

/// Writes the pending paragraph (SYNOPSIS: as written, line by line) and item.
fn flush(
    page: &mut Roff,
    paragraph: &mut Vec<String>,
    item: &mut Option<(String, Vec<String>)>,
    section: Option<&str>,
) {
    flush_item(page, item);
    if paragraph.is_empty() {
        return;
    }
    if section == Some("SYNOPSIS") {
        page.control("nf", []);
        for line in paragraph.drain(..) {
            page.text([roman(line)]);
        }
        page.control("fi", []);
    } else {
        page.control("PP", []);
        page.text([roman(paragraph.join(" "))]);
        paragraph.clear();
    }
}

fn flush_item(page: &mut Roff, item: &mut Option<(String, Vec<String>)>) {
    if let Some((term, text)) = item.take() {
        page.control("TP", []);
        page.text([bold(term)]);
        page.text([roman(text.join(" "))]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELP: &str = "tool: does a thing

Usage:
  tool run [--fast] FILE
  tool --version | --help

run reads FILE.
It is careful.

Options:
  --fast        go fast
  --limit N
                at most N; 0: none
  --env        .env files are read

Exit codes: 0 ok, 1 error.
";

    #[test]
    fn sections_items_and_the_synopsis_as_written() {
        let page = render("tool", "1.2.3", "2026-12-03", HELP).unwrap();
        for expected in [
            ".TH TOOL 1 2026-12-03 \"tool 1.2.3\" \"User Commands\"\n",
            ".SH NAME\ntool \\- does a thing\n",
            ".SH SYNOPSIS\n.nf\ntool run [\\-\\-fast] FILE\ntool \\-\\-version | \\-\\-help\n.fi\n",
            ".fi\n.SH DESCRIPTION\n.PP\nrun reads FILE. It is careful.\n",
            ".SH OPTIONS\n.TP\n\\fB\\-\\-fast\\fR\ngo fast\n",
            ".TP\n\\fB\\-\\-limit N\\fR\nat most N; 0: none\n",
            ".PP\nExit codes: 0 ok, 1 error.\n",
        ] {
            assert!(page.contains(expected), "{expected:?} in:\n{page}");
        }
        // A text line never starts a roff request.
        assert!(page.contains("\\&.env files are read\n"), "{page}");
    }

    #[test]
    fn the_apps_help_texts_render_with_every_flag() {
        for (binary, text) in [
            ("jimini", include_str!("../../../app/help/jimini.txt")),
            (
                "jimini-server",
                include_str!("../../../app/help/jimini-server.txt"),
            ),
            (
                "jimini-admin",
                include_str!("../../../app/help/jimini-admin.txt"),
            ),
        ] {
            let page = render(binary, "0.2.0", "2026-12-03", text).unwrap();
            for flag in text
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .filter(|w| w.starts_with("--") && w.len() > 2)
            {
                let escaped = flag.replace('-', "\\-");
                assert!(page.contains(&escaped), "{flag} of {binary}:\n{page}");
            }
        }
    }

    #[test]
    fn a_help_text_without_its_name_line_is_refused() {
        let err = render("other", "1.0.0", "2026-12-03", HELP).unwrap_err();
        assert!(err.to_string().contains("`other: <what it is>`"), "{err}");
    }
}
