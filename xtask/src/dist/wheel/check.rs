//! What `verify` checks of a wheel: every member is in `RECORD` with its digest and size, as
//! pip checks on install, `RECORD` lists nothing else, no member leaves the wheel, and the
//! scripts (the binaries) are returned for the comparison with the target's archive.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;

/// A wheel's scripts (the binaries), or its SBOMs, by file name.
pub type Scripts = BTreeMap<String, Vec<u8>>;

/// What `verify` compares of a wheel with the rest of the dist.
pub struct Contents {
    /// The binaries, from `.data/scripts/`.
    pub scripts: Scripts,
    /// PEP 770's `.dist-info/sboms/`.
    pub sboms: Scripts,
}

/// The problems of the wheel at `path` (named by `name`), and its scripts and SBOMs.
pub fn check(path: &Path, name: &str) -> anyhow::Result<(Vec<String>, Contents)> {
    let file = fs_err::File::open(path)?;
    let mut zip = zip::ZipArchive::new(file).with_context(|| format!("{name} is not a zip"))?;
    let mut members = BTreeMap::new();
    let mut problems = Vec::new();
    let mut budget = crate::dist::bounded::Budget::new(name);
    for i in 0..zip.len() {
        let member = zip.by_index(i)?;
        let member_name = member.name()?.into_owned();
        if member_name.starts_with('/') || member_name.split('/').any(|part| part == "..") {
            problems.push(format!("{name}: member {member_name:?} leaves the wheel"));
            continue;
        }
        budget.admit(&member_name, member.size())?;
        let content = crate::dist::bounded::read_member(name, &member_name, member)?;
        members.insert(member_name, content);
    }
    let Some((record_name, record)) = members
        .iter()
        .find(|(member, _)| member.ends_with(".dist-info/RECORD"))
    else {
        problems.push(format!("{name} has no .dist-info/RECORD"));
        let empty = Contents {
            scripts: BTreeMap::new(),
            sboms: BTreeMap::new(),
        };
        return Ok((problems, empty));
    };
    let record = String::from_utf8_lossy(record).into_owned();
    let mut recorded = BTreeSet::new();
    for line in record.lines().filter(|line| !line.is_empty()) {
        let path = line.split(',').next().unwrap_or_default();
        recorded.insert(path.to_owned());
        if path == record_name {
            continue;
        }
        match members.get(path) {
            Some(content) if super::record_line(path, content) == line => {}
            Some(_) => problems.push(format!(
                "{name}: RECORD's line for {path} does not match its content"
            )),
            None => problems.push(format!("{name}: RECORD lists {path}, which it lacks")),
        }
    }
    for member in members.keys().filter(|m| !recorded.contains(*m)) {
        problems.push(format!("{name}: {member} is not in RECORD"));
    }
    let below = |suffix: &str| -> Scripts {
        members
            .iter()
            .filter_map(|(member, content)| {
                let (dir, file) = member.rsplit_once('/')?;
                dir.ends_with(suffix)
                    .then(|| (file.to_owned(), content.clone()))
            })
            .collect()
    };
    let contents = Contents {
        scripts: below(".data/scripts"),
        sboms: below(".dist-info/sboms"),
    };
    Ok((problems, contents))
}
