//! What a shipped Mach-O binary (macOS) says about where it runs, read with the `object` crate:
//! its CPU, the oldest macOS it runs on (`LC_BUILD_VERSION` minos), the dylibs it loads, and
//! whether it carries a code signature (Apple silicon runs only signed code; the linker's
//! ad-hoc signature is enough).

use anyhow::Context;
use object::Endianness;
use object::macho::{self, CPU_TYPE_ARM64, CPU_TYPE_X86_64};
use object::read::macho::MachOFile64;

use crate::targets::MacOsVersion;

/// The facts `verify` and `dist` hold a Mach-O binary to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachOFacts {
    /// `arm64` or `x86_64`.
    pub cpu: &'static str,
    pub minos: Option<MacOsVersion>,
    pub dylibs: Vec<String>,
    pub signed: bool,
}

pub fn facts(data: &[u8]) -> anyhow::Result<MachOFacts> {
    let file = MachOFile64::<Endianness>::parse(data).context("not a 64-bit Mach-O file")?;
    let header = file.macho_header();
    let cpu = match object::read::macho::MachHeader::cputype(header, file.endian()) {
        CPU_TYPE_ARM64 => "arm64",
        CPU_TYPE_X86_64 => "x86_64",
        _ => "other",
    };
    let mut facts = MachOFacts {
        cpu,
        minos: None,
        dylibs: Vec::new(),
        signed: false,
    };
    let endian = file.endian();
    let mut commands = file.macho_load_commands()?;
    while let Some(command) = commands.next()? {
        if command.cmd() == macho::LC_CODE_SIGNATURE {
            facts.signed = true;
        }
        if let Some(build) = command.build_version()? {
            let minos = build.minos.get(endian);
            facts.minos = Some(MacOsVersion(vec![minos >> 16, (minos >> 8) & 0xff]));
        }
        if let Some(dylib) = command.dylib()? {
            let name = command.string(endian, dylib.dylib.name)?;
            facts
                .dylibs
                .push(String::from_utf8_lossy(name).into_owned());
        }
    }
    Ok(facts)
}

/// What is wrong with a Mach-O binary for a target of `cpu` whose floor is `floor`.
pub fn problems(facts: &MachOFacts, cpu: &str, floor: Option<&MacOsVersion>) -> Vec<String> {
    let mut problems = Vec::new();
    if facts.cpu != cpu {
        problems.push(format!("is built for {}, not {cpu}", facts.cpu));
    }
    match (&facts.minos, floor) {
        (None, _) => problems.push("has no LC_BUILD_VERSION (no minimum macOS)".to_owned()),
        (Some(minos), Some(floor)) if minos > floor => problems.push(format!(
            "needs macOS {minos}, above the configured floor {floor}: lower `macos` or \
             MACOSX_DEPLOYMENT_TARGET"
        )),
        _ => {}
    }
    for dylib in &facts.dylibs {
        if !dylib.starts_with("/usr/lib/") && !dylib.starts_with("/System/Library/") {
            problems.push(format!("loads {dylib}, which is not part of macOS"));
        }
    }
    if cpu == "arm64" && !facts.signed {
        problems.push("has no code signature, so Apple silicon refuses to run it".to_owned());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_arm64() -> MachOFacts {
        MachOFacts {
            cpu: "arm64",
            minos: Some(MacOsVersion(vec![11, 0])),
            dylibs: vec!["/usr/lib/libSystem.B.dylib".into()],
            signed: true,
        }
    }

    #[test]
    fn a_binary_for_the_floor_with_system_dylibs_and_a_signature_passes() {
        let floor = MacOsVersion(vec![11, 0]);
        assert!(problems(&signed_arm64(), "arm64", Some(&floor)).is_empty());
    }

    #[test]
    fn each_fault_is_named() {
        let floor = MacOsVersion(vec![11, 0]);
        let bad = MachOFacts {
            cpu: "x86_64",
            minos: Some(MacOsVersion(vec![13, 0])),
            dylibs: vec!["/opt/homebrew/lib/libssl.3.dylib".into()],
            signed: false,
        };
        let found = problems(&bad, "arm64", Some(&floor)).join("\n");
        for needle in [
            "built for x86_64, not arm64",
            "needs macOS 13.0, above the configured floor 11.0",
            "loads /opt/homebrew/lib/libssl.3.dylib",
            "no code signature",
        ] {
            assert!(found.contains(needle), "{needle} in {found}");
        }
        // Intel Macs run unsigned code.
        let intel = MachOFacts {
            cpu: "x86_64",
            signed: false,
            ..signed_arm64()
        };
        assert!(problems(&intel, "x86_64", Some(&floor)).is_empty());
    }

    #[test]
    fn an_elf_file_is_not_mach_o() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        if cfg!(target_os = "linux") {
            assert!(facts(&exe).is_err());
        }
    }
}
