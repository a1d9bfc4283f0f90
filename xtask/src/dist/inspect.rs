//! What a shipped ELF binary needs from the system it runs on, read with the `object` crate.

pub mod macho;

use anyhow::{Context, bail};

use super::TargetPlan;
use super::archive::Entry;
use super::manifest::Artifact;
use crate::targets::GlibcVersion;
use crate::targets::Libc;
use object::Endianness;
use object::elf::{DT_NEEDED, PT_INTERP};
use object::read::elf::{Dyn, ElfFile64, ProgramHeader};

fn parse(data: &[u8]) -> anyhow::Result<ElfFile64<'_, Endianness>> {
    ElfFile64::parse(data).context("not a 64-bit ELF file")
}

/// The newest glibc symbol version the binary requires (its glibc floor), if it links glibc.
pub fn glibc_floor(data: &[u8]) -> anyhow::Result<Option<GlibcVersion>> {
    let file = parse(data)?;
    let endian = file.endian();
    let sections = file.elf_section_table();
    let Some((mut needs, link)) = sections.gnu_verneed(endian, data)? else {
        return Ok(None);
    };
    let strings = sections.strings(endian, data, link)?;
    let mut newest: Option<GlibcVersion> = None;
    while let Some((_, mut aux)) = needs.next()? {
        while let Some(entry) = aux.next()? {
            let name = entry.name(endian, strings)?;
            let Some(version) = std::str::from_utf8(name)
                .ok()
                .and_then(|n| n.strip_prefix("GLIBC_"))
            else {
                continue;
            };
            let Ok(parts) = version
                .split('.')
                .map(str::parse)
                .collect::<Result<Vec<u32>, _>>()
            else {
                continue; // GLIBC_PRIVATE and friends carry no version number
            };
            let parsed = GlibcVersion(parts);
            if newest.as_ref().is_none_or(|n| parsed > *n) {
                newest = Some(parsed);
            }
        }
    }
    Ok(newest)
}

/// True when the binary has no program interpreter and needs no shared library.
pub fn is_static(data: &[u8]) -> anyhow::Result<bool> {
    let file = parse(data)?;
    let endian = file.endian();
    if file
        .elf_program_headers()
        .iter()
        .any(|ph| ph.p_type(endian) == PT_INTERP)
    {
        return Ok(false);
    }
    let needs_library = match file.elf_section_table().dynamic(endian, data)? {
        Some((entries, _)) => entries.iter().any(|d| d.d_tag(endian) as u32 == DT_NEEDED),
        None => false,
    };
    Ok(!needs_library)
}

/// What the archive's manifest entry records about its binaries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinaryFacts {
    /// Glibc targets: the newest glibc any binary needs.
    pub glibc_min: Option<String>,
    /// Musl targets: every binary is static (checked).
    pub static_binaries: Option<bool>,
    /// macOS targets: the newest `minos` of the binaries.
    pub macos_min: Option<String>,
}

impl BinaryFacts {
    pub fn record(&self, artifact: &mut Artifact) {
        artifact.glibc_min = self.glibc_min.clone();
        artifact.static_binaries = self.static_binaries;
        artifact.macos_min = self.macos_min.clone();
    }
}

/// Measures the binaries' glibc floor (glibc targets, refusing one above the configured floor)
/// or checks that every binary is static (musl targets), as the target's libc says.
pub fn check_binaries(target: &TargetPlan, entries: &[Entry]) -> anyhow::Result<BinaryFacts> {
    let mut facts = BinaryFacts::default();
    let read = |entry: &Entry| {
        fs_err::read(&entry.source)
            .with_context(|| format!("cannot read {}", entry.source.display()))
    };
    let binaries = entries.iter().filter(|e| e.executable);
    match target.target.libc {
        Libc::Glibc => {
            let mut floor = None;
            for entry in binaries {
                let data = read(entry)?;
                let needed = glibc_floor(&data)
                    .with_context(|| format!("cannot read {}", entry.source.display()))?;
                if let (Some(needed), Some(allowed)) = (&needed, target.target.glibc_floor())
                    && needed > allowed
                {
                    bail!(
                        "{} for {} needs glibc {needed}, above the configured floor {allowed}: \
                         build against an older glibc, or raise `glibc` in \
                         [workspace.metadata.xtask-dist]",
                        entry.name,
                        target.target.triple
                    );
                }
                floor = floor.max(needed);
            }
            facts.glibc_min = floor.map(|v| v.to_string());
        }
        Libc::MuslStatic => {
            for entry in binaries {
                let data = read(entry)?;
                if !is_static(&data)? {
                    bail!(
                        "{} for {} is dynamically linked; musl builds must be static: remove any \
                         `linker = \"musl-gcc\"` for this target from .cargo/config.toml",
                        entry.name,
                        target.target.triple
                    );
                }
            }
            facts.static_binaries = Some(true);
        }
        Libc::Other if target.target.os == crate::targets::Os::MacOs => {
            let cpu = target.target.arch.apple();
            let mut newest = None;
            for entry in binaries {
                let data = read(entry)?;
                let found = macho::facts(&data)
                    .with_context(|| format!("cannot read {}", entry.source.display()))?;
                let problems = macho::problems(&found, cpu, target.target.macos_floor());
                if let Some(problem) = problems.first() {
                    bail!("{} for {} {problem}", entry.name, target.target.triple);
                }
                newest = newest.max(found.minos);
            }
            facts.macos_min = newest.map(|v| v.to_string());
        }
        Libc::Other => {}
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_test_binary_is_a_dynamic_glibc_binary() {
        if !cfg!(all(
            target_os = "linux",
            target_env = "gnu",
            target_pointer_width = "64"
        )) {
            return;
        }
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let floor = glibc_floor(&exe)
            .unwrap()
            .expect("a glibc binary needs GLIBC_ versions");
        assert!(floor >= GlibcVersion(vec![2, 2, 5]), "{floor}");
        assert!(!is_static(&exe).unwrap());
    }

    #[test]
    fn a_binary_above_the_configured_glibc_floor_is_refused() {
        if !cfg!(all(
            target_os = "linux",
            target_env = "gnu",
            target_arch = "x86_64"
        )) {
            return;
        }
        let host = crate::targets::Triple::parse("x86_64-unknown-linux-gnu").unwrap();
        let exe = std::env::current_exe().unwrap();
        let plan = |floor: &str| TargetPlan {
            target: crate::targets::Target::configured(
                &host,
                &host,
                &crate::targets::Settings {
                    glibc: Some(floor.parse().unwrap()),
                    ..Default::default()
                },
            ),
            artifact_dir: "/w/target".into(),
            stem: "jimini".into(),
            archive: "jimini.tar.gz".into(),
            sbom: "jimini.cdx.json".into(),
            fallback_archive: None,
            binaries: vec![],
            archive_entries: vec![],
            deb: None,
            wheel: None,
            rpm: None,
            npm: None,
        };
        let entries = [Entry {
            name: "tool".into(),
            source: exe.clone(),
            executable: true,
        }];
        let needed = glibc_floor(&std::fs::read(&exe).unwrap()).unwrap().unwrap();
        let facts = check_binaries(&plan(&needed.to_string()), &entries).unwrap();
        assert_eq!(facts.glibc_min, Some(needed.to_string()));
        let err = check_binaries(&plan("2.2"), &entries)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(
                "needs glibc {needed}, above the configured floor 2.2"
            )),
            "{err}"
        );
    }

    #[test]
    fn glibc_versions_order_numerically() {
        assert!(GlibcVersion(vec![2, 34]) > GlibcVersion(vec![2, 9]));
        assert_eq!(
            "2.17".parse::<GlibcVersion>(),
            Ok(GlibcVersion(vec![2, 17]))
        );
        assert!("2".parse::<GlibcVersion>().is_err() && "2.x".parse::<GlibcVersion>().is_err());
        assert_eq!(GlibcVersion(vec![2, 2, 5]).to_string(), "2.2.5");
    }

    #[test]
    fn non_elf_input_is_an_error() {
        assert!(is_static(b"MZ not an elf").is_err());
    }
}
