use super::*;

const HOST: &str = "x86_64-unknown-linux-gnu";
const RELEASE: [&str; 4] = [
    "x86_64-unknown-linux-gnu",
    "x86_64-unknown-linux-musl",
    "aarch64-unknown-linux-gnu",
    "x86_64-pc-windows-gnu",
];

fn triple(text: &str) -> Triple {
    Triple::parse(text).unwrap()
}

/// The targets under the release settings: a glibc floor, so the gnu targets link through zig.
fn infos(triples: &[&str]) -> Vec<Target> {
    let settings = crate::targets::Settings {
        glibc: Some("2.17".parse().unwrap()),
        ..Default::default()
    };
    triples
        .iter()
        .map(|t| Target::configured(&triple(t), &triple(HOST), &settings))
        .collect()
}

/// The targets without a glibc floor: every target links with the host's toolchain.
fn native_infos(triples: &[&str]) -> Vec<Target> {
    triples
        .iter()
        .map(|t| Target::new(&triple(t), &triple(HOST)))
        .collect()
}

/// A fresh Debian 12 machine: rustup's stable toolchain for the host, nothing else.
fn fresh() -> Facts {
    Facts {
        host: triple(HOST),
        rust_targets: [HOST.to_owned()].into(),
        programs: BTreeSet::new(),
        sysroots: BTreeSet::new(),
        wine_prng: false,
        cargo_auditable: false,
        zig: false,
    }
}

const ALL: Scope = Scope::BuildAndRun;
const BUILD: Scope = Scope::Build;

/// What running a fix does to the machine, as far as the facts go. A package installs the
/// programs and files it ships; the shim only installs where wine and mingw are present.
fn simulate(facts: &mut Facts, fix: &Fix) {
    match fix {
        Fix::RustupTarget(t) => {
            facts.rust_targets.insert(t.clone());
        }
        Fix::CargoInstall(_) => facts.cargo_auditable = true,
        Fix::ZigInstall(_) => facts.zig = true,
        Fix::Apt(packages) => {
            for package in packages {
                let programs: &[&str] = match package.as_str() {
                    "gcc-aarch64-linux-gnu" => &["aarch64-linux-gnu-gcc"],
                    "qemu-user" => &["qemu-aarch64"],
                    "gcc-mingw-w64-x86-64" => &["x86_64-w64-mingw32-gcc"],
                    "wine" => &["wine"],
                    _ => &[],
                };
                facts
                    .programs
                    .extend(programs.iter().map(|p| p.to_string()));
                if package == "libc6-dev-arm64-cross" || package == "libc6-arm64-cross" {
                    facts
                        .sysroots
                        .insert(crate::targets::QEMU_AARCH64_SYSROOT.into());
                }
            }
        }
        Fix::WinePrng => {
            if facts.programs.contains("wine") && facts.programs.contains("x86_64-w64-mingw32-gcc")
            {
                facts.wine_prng = true;
            }
        }
        Fix::Manual(_) => {}
    }
}

/// Runs the convergence loop over simulated facts; returns the rounds it took and what is left.
fn converge_simulated(targets: &[Target], mut facts: Facts) -> (usize, Round) {
    let mut previous: Option<Vec<Problem>> = None;
    for round in 1..=MAX_ROUNDS {
        match next_round(problems(targets, &facts, ALL), previous.as_deref()) {
            Round::Fix(todo) => {
                for p in &todo {
                    simulate(&mut facts, &p.fix);
                }
                previous = Some(todo);
            }
            end => return (round, end),
        }
    }
    panic!("did not converge in {MAX_ROUNDS} rounds");
}

#[test]
fn nothing_installed_converges_to_everything_installed() {
    let targets = infos(&RELEASE);
    let first = problems(&targets, &fresh(), ALL);
    // Every build runs through the pinned cargo-auditable: a fresh machine installs it first.
    assert!(
        first
            .iter()
            .any(|p| p.fix == Fix::CargoInstall(crate::pins::CARGO_AUDITABLE)),
        "{first:?}"
    );
    // The shim problem cannot be seen before wine exists: that is why one pass was not enough.
    assert!(!first.iter().any(|p| p.fix == Fix::WinePrng), "{first:?}");
    assert!(
        first
            .iter()
            .any(|p| p.fix == Fix::RustupTarget(RELEASE[1].into()))
    );
    let (rounds, end) = converge_simulated(&targets, fresh());
    assert_eq!(end, Round::Done);
    assert_eq!(rounds, 3, "apt + rustup, then the wine shim, then nothing");
}

#[test]
fn a_wine_without_the_shim_needs_one_round() {
    let mut facts = fresh();
    facts.cargo_auditable = true;
    facts.zig = true;
    facts.rust_targets.insert(RELEASE[3].into());
    facts.programs = ["wine", "x86_64-w64-mingw32-gcc"].map(String::from).into();
    let targets = infos(&RELEASE[3..]);
    assert_eq!(
        problems(&targets, &facts, ALL)
            .iter()
            .map(|p| &p.fix)
            .collect::<Vec<_>>(),
        [&Fix::WinePrng]
    );
    assert!(problems(&targets, &facts, BUILD).is_empty());
    assert_eq!(converge_simulated(&targets, facts), (2, Round::Done));
}

#[test]
fn a_fix_that_changes_nothing_stops_and_names_what_is_left() {
    // apt "succeeds" but the shim cannot be built: mingw is missing from the package list.
    let mut facts = fresh();
    facts.cargo_auditable = true;
    facts.zig = true;
    facts.rust_targets.insert(RELEASE[3].into());
    facts.programs.insert("wine".into());
    let mut targets = infos(&RELEASE[3..]);
    targets[0].apt_packages = vec!["wine"];
    let (rounds, end) = converge_simulated(&targets, facts);
    let Round::Stuck(left) = end else {
        panic!("expected to be stuck, got {end:?}")
    };
    assert_eq!(rounds, 2);
    assert!(
        describe(&left).contains("linker x86_64-w64-mingw32-gcc"),
        "{left:?}"
    );
}

#[test]
fn foreign_platforms_are_named_with_their_runner_and_never_retried() {
    let targets = infos(&["aarch64-apple-darwin", "x86_64-pc-windows-msvc"]);
    let mut facts = fresh();
    facts.cargo_auditable = true;
    facts.zig = true;
    let found = problems(&targets, &facts, BUILD);
    assert_eq!(found.len(), 2);
    assert!(describe(&found).contains("build it on a macos-14 runner"));
    assert!(describe(&found).contains("build it on a windows-2022 runner"));
    assert_eq!(converge_simulated(&targets, facts).0, 1);
}

#[test]
fn everything_installed_is_done_at_once() {
    let mut facts = fresh();
    let targets = infos(&RELEASE);
    for _ in 0..3 {
        for p in problems(&targets, &facts, ALL) {
            simulate(&mut facts, &p.fix);
        }
    }
    assert!(problems(&targets, &facts, ALL).is_empty());
    assert_eq!(converge_simulated(&targets, facts), (1, Round::Done));
}

#[test]
fn a_glibc_floor_needs_the_pinned_zig() {
    let targets = infos(&[HOST]);
    let mut facts = fresh();
    facts.cargo_auditable = true;
    let found = problems(&targets, &facts, ALL);
    let fixes: Vec<&Fix> = found.iter().map(|p| &p.fix).collect();
    assert_eq!(fixes, [&Fix::ZigInstall(crate::pins::ZIG)]);
    assert!(
        describe(&found).contains("zig 0.15.2 and cargo-zigbuild 0.24.1"),
        "{found:?}"
    );
    assert_eq!(
        converge_simulated(&targets, facts.clone()),
        (2, Round::Done)
    );
    // Without a floor it is not needed.
    assert!(problems(&native_infos(&[HOST]), &facts, ALL).is_empty());
}

#[test]
fn each_target_is_marked_by_what_blocks_it() {
    // Everything but zig: the targets zig links are blocked by it though no problem's text
    // names them; musl and Windows link with the host's toolchain and are ready.
    let targets = infos(&RELEASE);
    let mut facts = fresh();
    for _ in 0..3 {
        for p in problems(&targets, &facts, ALL) {
            if !matches!(p.fix, Fix::ZigInstall(_)) {
                simulate(&mut facts, &p.fix);
            }
        }
    }
    let left = problems(&targets, &facts, ALL);
    assert_eq!(left.len(), 1, "{left:?}");
    let marks = target_marks(&targets, &left);
    assert_eq!(marks.len(), 4);
    for (target, mark) in targets.iter().zip(&marks) {
        if target.links_through_zig() {
            assert!(
                mark.starts_with(&format!("  ✗ {}: zig 0.15.2", target.triple)),
                "{mark}"
            );
        } else {
            assert_eq!(mark, &format!("  ✓ {}", target.triple));
        }
    }
    // A problem of one target marks that target only.
    facts.zig = true;
    facts.rust_targets.remove("x86_64-pc-windows-gnu");
    let left = problems(&targets, &facts, ALL);
    let marks = target_marks(&targets, &left);
    let blocked: Vec<&String> = marks.iter().filter(|m| m.contains('✗')).collect();
    assert_eq!(blocked.len(), 1, "{marks:?}");
    assert!(
        blocked[0].contains("x86_64-pc-windows-gnu: the Rust standard library"),
        "{marks:?}"
    );
}

#[test]
fn a_target_that_zig_links_needs_no_cross_gcc() {
    let mut facts = fresh();
    facts.cargo_auditable = true;
    facts.zig = true;
    facts.rust_targets.insert(RELEASE[2].into());
    let zig = infos(&RELEASE[2..3]);
    let built = problems(&zig, &facts, BUILD);
    assert!(
        built.is_empty(),
        "zig links it, nothing else is needed: {built:?}"
    );
    let run = describe(&problems(&zig, &facts, ALL));
    assert!(!run.contains("aarch64-linux-gnu-gcc"), "{run}");
    assert!(run.contains("runner qemu-aarch64"), "{run}");
    let Fix::Apt(packages) = &problems(&zig, &facts, ALL)[0].fix else {
        panic!("qemu comes from apt")
    };
    assert!(
        !packages.iter().any(|p| p.starts_with("gcc-")),
        "{packages:?}"
    );
    // Linked by the host's toolchain, the cross gcc is a build problem.
    let gcc = describe(&problems(&native_infos(&RELEASE[2..3]), &facts, BUILD));
    assert!(gcc.contains("linker aarch64-linux-gnu-gcc"), "{gcc}");
}
