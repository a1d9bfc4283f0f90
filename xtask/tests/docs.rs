//! ARCHITECTURE.md cannot drift from the tree: every module is on its map, the manifest format
//! version it documents is the code's, and every Rust file it names exists.
//!
//! The map is the first code block: an entry line starts with its path (a directory ends in
//! `/`) before the description column; a description names other files relative to the entry's
//! directory or to the entry's module directory (`src/audit.rs` → `src/audit/`), and
//! `{a,b}.rs` stands for `a.rs` and `b.rs`.

use std::collections::BTreeSet;
use std::path::Path;

/// Lines indented this far or more continue the entry above them.
const DESCRIPTION_COLUMN: usize = 20;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn architecture() -> String {
    std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap()
}

/// Every tracked file of the repository, as paths relative to its root.
fn tracked_files() -> Vec<String> {
    let output = std::process::Command::new("git")
        .current_dir(root())
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git ls-files failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .split('\0')
        .filter(|f| !f.is_empty() && root().join(f).exists())
        .map(str::to_owned)
        .collect()
}

/// `a/{b,c}.rs` → `a/b.rs`, `a/c.rs`.
fn expand_braces(token: &str) -> Vec<String> {
    match (token.find('{'), token.find('}')) {
        (Some(open), Some(close)) if open < close => token[open + 1..close]
            .split(',')
            .flat_map(|alt| {
                expand_braces(&format!("{}{alt}{}", &token[..open], &token[close + 1..]))
            })
            .collect(),
        _ => vec![token.to_owned()],
    }
}

/// The path-like words of a line: runs of letters, digits, `_-./{},` that name a `.rs` file
/// or (for `dirs`) end in `/`.
fn path_words(line: &str) -> Vec<String> {
    line.split(|c: char| !(c.is_alphanumeric() || "_-./{},".contains(c)))
        .map(|w| w.trim_matches(|c| c == ',' || c == '.'))
        .flat_map(expand_braces)
        .filter(|w| w.ends_with(".rs"))
        .collect()
}

fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = vec![];
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// Every file the map names, resolved to a path from the repository root.
fn mapped_files(doc: &str) -> BTreeSet<String> {
    let map = doc
        .split("```")
        .nth(1)
        .expect("ARCHITECTURE.md opens with the map in a code block");
    let mut named = BTreeSet::new();
    // (indentation, directory) of the enclosing directory entries.
    let mut dirs: Vec<(usize, String)> = vec![];
    // The bases that the current entry's description resolves against.
    let mut bases: Vec<String> = vec![];
    for line in map.lines().skip(1) {
        let indent = line.len() - line.trim_start().len();
        if line.trim().is_empty() {
            continue;
        }
        if indent < DESCRIPTION_COLUMN {
            let entry = line
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches(',');
            dirs.retain(|(level, _)| *level < indent);
            let parent = dirs.last().map(|(_, d)| d.clone()).unwrap_or_default();
            let path = normalize(&format!("{parent}/{entry}"));
            if entry.ends_with('/') {
                dirs.push((indent, path.clone()));
                bases = vec![path.clone()];
                named.insert(format!("{path}/"));
            } else {
                let dir = Path::new(&path)
                    .parent()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                bases = vec![dir, path.trim_end_matches(".rs").to_owned()];
                named.insert(path);
            }
        }
        let first_is_entry = indent < DESCRIPTION_COLUMN
            && line
                .split_whitespace()
                .next()
                .is_some_and(|w| w.trim_end_matches(',').ends_with(".rs"));
        let words = if first_is_entry {
            path_words(line).into_iter().skip(1).collect::<Vec<_>>()
        } else {
            path_words(line)
        };
        for word in words {
            for base in &bases {
                named.insert(normalize(&format!("{base}/{word}")));
            }
        }
    }
    named
}

#[test]
fn every_module_is_on_the_map() {
    let named = mapped_files(&architecture());
    let missing: Vec<String> = tracked_files()
        .into_iter()
        .filter(|f| {
            (f.starts_with("xtask/src/") || f.starts_with("app/src/"))
                && f.ends_with(".rs")
                // Unit tests live beside the module they test.
                && !f.ends_with("/tests.rs")
                && !f.contains("/tests/")
                && f != "xtask/src/main.rs"
        })
        .filter(|f| !named.contains(f))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's map does not name these modules; add each with what it holds:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_directory_on_the_map_exists() {
    let files = tracked_files();
    let missing: Vec<String> = mapped_files(&architecture())
        .into_iter()
        .filter(|p| p.ends_with('/'))
        .filter(|dir| !files.iter().any(|f| f.starts_with(dir.as_str())))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's map names directories that hold no tracked file: {missing:?}"
    );
}

#[test]
fn every_rust_file_the_document_names_exists() {
    let doc = architecture();
    let files = tracked_files();
    let exists = |word: &str, under_tests: bool| {
        files.iter().any(|f| {
            (f == word || f.ends_with(&format!("/{word}")))
                && (!under_tests || f.contains("/tests/") || f.contains("/benches/"))
        })
    };
    let tests_section = doc
        .find("\n## Tests")
        .expect("ARCHITECTURE.md has a Tests section");
    let mut missing = vec![];
    for (offset, line) in doc
        .match_indices('\n')
        .map(|(i, _)| i)
        .zip(doc.lines().skip(1))
    {
        let under_tests = offset >= tests_section;
        for word in path_words(line) {
            if !exists(&word, under_tests) {
                missing.push(word);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names Rust files that do not exist (in the Tests section: test files): \
         {missing:?}"
    );
    // The map's resolved paths too, not only their last components.
    let unresolved: Vec<String> = mapped_files(&doc)
        .into_iter()
        .filter(|p| p.ends_with(".rs"))
        .filter(|p| {
            // A description word resolves against two bases; one of them must exist.
            !files.contains(p)
        })
        .collect();
    let mut really_missing = vec![];
    for path in unresolved {
        let name = path.rsplit('/').next().unwrap();
        if !files.iter().any(|f| f.ends_with(&format!("/{name}"))) {
            really_missing.push(path);
        }
    }
    assert!(
        really_missing.is_empty(),
        "ARCHITECTURE.md's map names files that do not exist: {really_missing:?}"
    );
}

#[test]
fn the_manifest_format_version_is_the_codes() {
    let doc = architecture();
    let heading = doc
        .lines()
        .find(|l| l.starts_with("### dist-manifest.json"))
        .expect("ARCHITECTURE.md documents dist-manifest.json under a heading of that name");
    let documented: u32 = heading
        .rsplit("version ")
        .next()
        .and_then(|v| v.trim_end_matches(')').trim().parse().ok())
        .unwrap_or_else(|| panic!("no `version N)` in {heading:?}"));
    assert_eq!(
        documented,
        xtask::dist::manifest::FORMAT_VERSION,
        "ARCHITECTURE.md documents manifest format version {documented}; the code writes {}: \
         describe the change in the document and bump its heading",
        xtask::dist::manifest::FORMAT_VERSION
    );
}

#[test]
fn the_map_reader_resolves_descriptions() {
    let doc = "```\napp/\n  src/audit.rs        log; audit/key.rs (k), record.rs\n  src/x/\n    a.rs              y; a/{b,c}.rs\n```\n";
    let named = mapped_files(doc);
    for path in [
        "app/",
        "app/src/audit.rs",
        "app/src/audit/key.rs",
        "app/src/audit/record.rs",
        "app/src/x/",
        "app/src/x/a.rs",
        "app/src/x/a/b.rs",
        "app/src/x/a/c.rs",
    ] {
        assert!(named.contains(path), "{path} not in {named:?}");
    }
}
