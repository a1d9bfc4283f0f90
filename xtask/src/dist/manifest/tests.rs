use super::*;

fn artifact(name: &str, kind: ArtifactKind, sha: char) -> Artifact {
    let digest = crate::dist::archive::Digest256 {
        size: 1,
        sha256: sha.to_string().repeat(64),
    };
    let mut artifact = Artifact::new(name, kind, None, digest);
    if kind.is_archive() {
        artifact.format = Some(ArchiveFormat::TarGz);
    }
    artifact
}

#[test]
fn readers_get_the_format_and_arch_from_the_manifest_not_from_names() {
    let good = artifact("a.tar.gz", ArtifactKind::Archive, 'a');
    good.check_facts().unwrap();
    let mut unrecorded = good.clone();
    unrecorded.format = None;
    let err = unrecorded.check_facts().unwrap_err().to_string();
    assert!(err.contains("records no format for a.tar.gz"), "{err}");
    let mut misnamed = good.clone();
    misnamed.format = Some(ArchiveFormat::TarXz);
    let err = misnamed.check_facts().unwrap_err().to_string();
    assert!(err.contains("recorded as tar.xz"), "{err}");
    let mut targeted = good.clone();
    targeted.target = Triple::parse("aarch64-apple-darwin");
    let err = targeted.check_facts().unwrap_err().to_string();
    assert!(err.contains("records no arch"), "{err}");
    targeted.arch = Some(Arch::Aarch64);
    targeted.check_facts().unwrap();
    let json = serde_json::to_value(&targeted).unwrap();
    assert_eq!(json["format"], "tar.gz");
    assert_eq!(json["arch"], "aarch64");
}

#[test]
fn checksums_are_sorted_by_name_and_skip_themselves() {
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        app: "jimini".into(),
        version: "0.1.0".into(),
        commit: "c".into(),
        source_date_epoch: 0,
        source_date: "1970-01-01T00:00:00Z".into(),
        partial: false,
        targets: vec![],
        artifacts: vec![
            artifact("b.tar.gz", ArtifactKind::Archive, 'b'),
            artifact("SHA256SUMS", ArtifactKind::Checksums, 'c'),
            artifact("a.cdx.json", ArtifactKind::Sbom, 'a'),
        ],
    };
    let text = manifest.render_checksums();
    assert_eq!(
        text,
        format!(
            "{}  a.cdx.json\n{}  b.tar.gz\n",
            "a".repeat(64),
            "b".repeat(64)
        )
    );
    assert_eq!(
        parse_checksums(&text).unwrap()[1],
        ("b.tar.gz".to_owned(), "b".repeat(64))
    );
    assert!(parse_checksums("abc file\n").is_err());
    let round = Manifest::from_json(&manifest.to_json()).unwrap();
    assert_eq!(round, manifest);
}
