//! How a rebuilt dist is held against the published one: every file, byte for byte.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

/// One file that did not come out the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub file: String,
    pub detail: String,
}

/// Compares `files` of `published` with those of `rebuilt`: missing files, sizes, and the
/// first differing byte.
pub fn compare(
    published: &Path,
    rebuilt: &Path,
    files: &[String],
) -> anyhow::Result<Vec<Difference>> {
    let mut differences = Vec::new();
    for file in files {
        let ours = fs_err::read(published.join(file))?;
        let Ok(theirs) = std::fs::read(rebuilt.join(file)) else {
            differences.push(Difference {
                file: file.clone(),
                detail: "the rebuild did not make it".to_owned(),
            });
            continue;
        };
        if let Some(offset) = ours.iter().zip(&theirs).position(|(a, b)| a != b) {
            differences.push(Difference {
                file: file.clone(),
                detail: format!("first differs at byte {offset}"),
            });
        } else if ours.len() != theirs.len() {
            differences.push(Difference {
                file: file.clone(),
                detail: format!("{} bytes published, {} rebuilt", ours.len(), theirs.len()),
            });
        }
    }
    Ok(differences)
}

/// diffoscope's report on one differing file, when it is installed (Debian: `apt install
/// diffoscope`); the byte offset above is the report otherwise.
pub fn diffoscope(published: &Path, rebuilt: &Path) {
    if !rebuilt.is_file() {
        return;
    }
    match Command::new("diffoscope")
        .arg(published)
        .arg(rebuilt)
        .status()
    {
        Ok(status) if status.code() == Some(0) || status.code() == Some(1) => {}
        Ok(status) => eprintln!("    (diffoscope failed: {status})"),
        Err(_) => eprintln!("    (install diffoscope for a report of what differs)"),
    }
}
