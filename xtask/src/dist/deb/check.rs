//! `verify`'s check of a `.deb`: the layout dpkg requires, and every file against the
//! package's own `md5sums`.

use fs_err::File;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use md5::Digest;

use crate::dist::bounded;

/// What `verify` finds wrong with a `.deb`: the ar layout dpkg requires, and every file of
/// `data.tar.xz` against the package's own `md5sums` (conffiles aside), so a changed binary
/// is caught even when the package's checksum was changed with it.
pub fn check(
    path: &Path,
    artifact: &crate::dist::manifest::Artifact,
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut members = Vec::new();
    let file =
        File::open(path).map_err(|err| anyhow::anyhow!("cannot open {}: {err}", path.display()))?;
    let package = artifact.name.as_str();
    let mut ar = ar::Archive::new(file);
    while let Some(entry) = ar.next_entry() {
        let entry = entry?;
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        let data = bounded::read_member(package, &name, entry)?;
        members.push((name, data));
    }
    let names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
    if names != ["debian-binary", "control.tar.xz", "data.tar.xz"] || members[0].1 != b"2.0\n" {
        problems.push(format!(
            "{}: not a Debian 2.0 package of control.tar.xz and data.tar.xz ({names:?})",
            artifact.name
        ));
        return Ok(problems);
    }
    // Each file of a member: its bytes (the control files, to read) or its MD5 (the data,
    // streamed), every entry admitted by its declared size first.
    let mut budget = bounded::Budget::new(package);
    let mut read_tar = |data: &[u8], keep: bool| -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
        let mut files = BTreeMap::new();
        let mut tar = tar::Archive::new(lzma_rust2::XzReader::new(data, false));
        for entry in tar.entries()? {
            let mut entry = entry?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            budget.admit(&name, entry.header().size()?)?;
            if entry.header().entry_type().is_file() {
                let content = if keep {
                    bounded::read_member(package, &name, &mut entry)?
                } else {
                    let mut md5 = md5::Md5::new();
                    let mut chunk = vec![0; 64 << 10];
                    loop {
                        let read = io::Read::read(&mut entry, &mut chunk)?;
                        if read == 0 {
                            break;
                        }
                        md5.update(&chunk[..read]);
                    }
                    md5.finalize().to_vec()
                };
                files.insert(name.trim_start_matches("./").to_owned(), content);
            }
        }
        Ok(files)
    };
    let control = read_tar(&members[1].1, true)?;
    let data = read_tar(&members[2].1, false)?;
    let md5sums = String::from_utf8_lossy(
        control
            .get("md5sums")
            .map(Vec::as_slice)
            .unwrap_or_default(),
    )
    .into_owned();
    let mut listed = std::collections::BTreeSet::new();
    for line in md5sums.lines() {
        let Some((sum, file)) = line.split_once("  ") else {
            continue;
        };
        listed.insert(file.to_owned());
        match data.get(file) {
            Some(digest) if hex::encode(digest) == sum => {}
            Some(_) => problems.push(format!(
                "{}: {file} differs from its md5sums entry",
                artifact.name
            )),
            None => problems.push(format!(
                "{}: {file} is in md5sums but not in the package",
                artifact.name
            )),
        }
    }
    // dpkg checks conffiles by their own hashes: the package's `conffiles` says which.
    let conffiles = String::from_utf8_lossy(
        control
            .get("conffiles")
            .map(Vec::as_slice)
            .unwrap_or_default(),
    )
    .into_owned();
    let conffiles: std::collections::BTreeSet<&str> = conffiles
        .lines()
        .map(|line| line.trim_start_matches('/'))
        .collect();
    for file in data
        .keys()
        .filter(|f| !conffiles.contains(f.as_str()) && !listed.contains(*f))
    {
        problems.push(format!("{}: {file} is not in md5sums", artifact.name));
    }
    Ok(problems)
}
