use super::*;

fn facts() -> Facts {
    Facts {
        branch: "main".into(),
        allowed_branches: vec!["main".into()],
        uncommitted: String::new(),
        tag: "v0.3.0".into(),
        tag_exists: false,
    }
}

#[test]
fn refusals_are_decided_from_facts_alone() {
    assert!(check(&facts()).is_ok());
    let refused = |f: Facts| check(&f).unwrap_err().to_string();
    let on_feature = Facts {
        branch: "feature".into(),
        ..facts()
    };
    assert!(refused(on_feature).contains("--allow-branch feature"));
    let dirty = Facts {
        uncommitted: "?? notes.txt".into(),
        ..facts()
    };
    assert!(refused(dirty).contains("?? notes.txt"));
    let tagged = Facts {
        tag_exists: true,
        ..facts()
    };
    assert!(refused(tagged).contains("tag v0.3.0 already exists"));
}

#[test]
fn branch_globs() {
    assert!(branch_allowed("main", &["main".into()]).unwrap());
    assert!(branch_allowed("release/1.x", &["release/*".into()]).unwrap());
    assert!(!branch_allowed("feature", &["main".into(), "release/*".into()]).unwrap());
}
