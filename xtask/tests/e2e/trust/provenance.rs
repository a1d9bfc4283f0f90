//! The provenance statement, validated by in-toto-attestation, for a dist and a merge of partials.

use super::*;
use crate::common::*;

/// Validates with PyPI's in-toto-attestation (Statement v1 and the SLSA Provenance v1 proto)
/// and returns the subjects as `sha256sum` lines.
fn validated_subjects(statement: &Path) -> String {
    let validator = r#"
import json, sys
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
text = open(sys.argv[1]).read()
assert text.endswith("\n") and text.count("\n") == 1, "one statement, one line"
statement = json_format.Parse(text, statement_pb2.Statement())
Statement.copy_from_pb(statement).validate()
assert statement.predicate_type == "https://slsa.dev/provenance/v1", statement.predicate_type
predicate = json_format.ParseDict(json.loads(text)["predicate"], provenance_pb2.Provenance())
assert predicate.build_definition.build_type.startswith("https://")
assert predicate.run_details.builder.id
for subject in statement.subject:
    print(subject.digest["sha256"] + "  " + subject.name)
"#;
    checked(
        Command::new(ci_tool("python"))
            .args(["-c", validator])
            .arg(statement),
    )
}

/// SHA256SUMS without the lines a statement does not cover: itself, the packages' signatures
/// (made after it, by whoever holds the key; they sign subjects) and the channel manifests
/// written from the subjects' digests when the release is sealed (formula, Scoop, winget).
fn sums_of_subjects(dist: &Path) -> String {
    let manifest = read_manifest(dist);
    let not_subjects: Vec<&str> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            [
                "provenance",
                "signature",
                "homebrew-formula",
                "scoop-manifest",
                "winget-manifest",
            ]
            .contains(&a["kind"].as_str().unwrap())
        })
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    std::fs::read_to_string(dist.join("SHA256SUMS"))
        .unwrap()
        .lines()
        .filter(|line| {
            !not_subjects
                .iter()
                .any(|name| line.ends_with(&format!("  {name}")))
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn the_provenance_statement_validates_and_its_subjects_match_the_checksums() {
    let (copy, dist) = signed();
    let name = artifact_name(&read_manifest(dist), "provenance");
    assert_eq!(name, format!("jimini-{}.intoto.jsonl", version(dist)));
    assert!(
        std::fs::read_to_string(dist.join("SHA256SUMS"))
            .unwrap()
            .contains(&name)
    );
    assert_eq!(
        validated_subjects(&dist.join(&name)),
        sums_of_subjects(dist)
    );
    let text = std::fs::read_to_string(dist.join(&name)).unwrap();
    assert!(
        !text.contains(copy.to_str().unwrap()),
        "no machine paths: {text}"
    );
    assert!(text.contains(r#""builder":{"id":"local"}"#), "{text}");

    // A statement whose subjects no longer match the files fails verify, even when the
    // manifest is made to agree with the edited statement.
    let edited = copy_dist(dist, "edited-provenance");
    let archive = artifact_name(&read_manifest(dist), "archive");
    let manifest = read_manifest(dist);
    let archive_sha = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == archive.as_str())
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = text.replace(&archive_sha, &"0".repeat(64));
    assert_ne!(forged, text);
    std::fs::write(edited.join(&name), &forged).unwrap();
    let manifest_text = std::fs::read_to_string(edited.join("dist-manifest.json")).unwrap();
    let old_sha = checked(Command::new("sha256sum").arg(dist.join(&name)));
    let new_sha = checked(Command::new("sha256sum").arg(edited.join(&name)));
    let (old_sha, new_sha) = (&old_sha[..64], &new_sha[..64]);
    std::fs::write(
        edited.join("dist-manifest.json"),
        manifest_text.replace(old_sha, new_sha),
    )
    .unwrap();
    expect_failure(
        xtask(copy).arg("verify").arg(&edited),
        "digest differs from the file's",
    );
}

#[test]
fn merge_signs_the_merged_checksums_and_joins_the_provenance() {
    let copy = fixture_workspace();
    let base = temp_dir("merge-signed");
    let partials = [
        build(Build::FixturePartialHost),
        build(Build::FixturePartialMusl),
    ];
    for partial in &partials {
        assert!(!partial.dist.join("SHA256SUMS.minisig").exists());
    }
    expect_failure(
        xtask_fast(&copy)
            .args(["dist", "--partial", "--signing-key"])
            .arg(release_key(&copy))
            .arg("--out")
            .arg(base.join("signed-partial")),
        "a partial dist is not signed",
    );
    let merged = base.join("merged");
    checked(
        xtask(&copy)
            .args([
                "dist",
                "merge",
                "--quiet",
                "--require-signature",
                "--signing-key",
            ])
            .arg(release_key(&copy))
            .args(["--target", &host(), "--target", MUSL, "--out"])
            .arg(&merged)
            .arg(&partials[0].dist)
            .arg(&partials[1].dist),
    );
    assert!(
        minisign_verify(&merged, &copy.join("keys/jimini.pub"))
            .status
            .success()
    );
    let name = artifact_name(&read_manifest(&merged), "provenance");
    assert_eq!(
        validated_subjects(&merged.join(&name)),
        sums_of_subjects(&merged)
    );
    let statement: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(merged.join(&name)).unwrap()).unwrap();
    let definition = &statement["predicate"]["buildDefinition"];
    assert_eq!(
        definition["externalParameters"]["targets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        definition["internalParameters"]["cargo"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
