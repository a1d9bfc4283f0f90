//! The man pages a target's packages plan, rendered from the help files into a directory of
//! dist's own, and where each planned source's bytes are.

use fs_err as fs;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Packing;
use crate::dist::TargetPlan;

/// Where the bytes of a target's planned sources are: its built binaries, by cargo's name,
/// and the directory of its rendered man pages.
pub struct Files {
    pub binaries: BTreeMap<String, PathBuf>,
    pub man_pages: PathBuf,
}

/// A rendered man page's file name (`jimini.1`, or `jimini.1.gz`).
pub(super) fn man_page_name(binary: &str, gzip: bool) -> String {
    format!("{binary}.1{}", if gzip { ".gz" } else { "" })
}

/// Renders the man pages the target's packages plan (from the help files) into a directory of
/// dist's own beside the target's build output, plain and gzipped (`gzip -9n`).
pub(super) fn render_man_pages(packing: &Packing, target: &TargetPlan) -> anyhow::Result<PathBuf> {
    use crate::dist::plan::entry::Source;
    let dir = Path::new(&target.artifact_dir).join("xtask-man-pages");
    let deb_entries = target.deb.iter().flat_map(|deb| deb.entries.iter());
    let rpm_entries = target
        .rpm
        .iter()
        .flat_map(|rpm| rpm.entries.iter().map(|e| &e.entry));
    let plan = packing.plan;
    let date = time::OffsetDateTime::from_unix_timestamp(plan.source_date_epoch)?.date();
    let date = format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        date.month() as u8,
        date.day()
    );
    for entry in target
        .archive_entries
        .iter()
        .chain(deb_entries)
        .chain(rpm_entries)
    {
        let Source::ManPage { binary, help, gzip } = &entry.source else {
            continue;
        };
        let path = packing.context.workspace.root.join(help);
        let text = fs::read_to_string(&path)?;
        let page = crate::dist::manpage::render(binary, &plan.version, &date, &text)
            .with_context(|| format!("fix {}", path.display()))?;
        let bytes = match gzip {
            true => crate::dist::deb::gzip_max(page.as_bytes())?,
            false => page.into_bytes(),
        };
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(man_page_name(binary, *gzip)), bytes)?;
    }
    Ok(dir)
}
