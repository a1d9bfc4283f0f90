//! Who built a dist, as its provenance says (`runDetails.builder.id`).

/// Set by `rebuild` to the builder its dist records: a rebuild makes the same statement.
pub const BUILDER_ID_VAR: &str = "JIMINI_BUILDER_ID";

/// The builder: the GitHub workflow or the GitLab pipeline definition, at the ref it ran for,
/// when there is one; else `local`. [`BUILDER_ID_VAR`] wins over both.
pub fn builder_id(env: impl Fn(&str) -> Option<String>) -> String {
    if let Some(id) = env(BUILDER_ID_VAR).filter(|id| !id.is_empty()) {
        return id;
    }
    if let (Some("true"), Some(workflow)) =
        (env("GITHUB_ACTIONS").as_deref(), env("GITHUB_WORKFLOW_REF"))
    {
        return format!("https://github.com/{workflow}");
    }
    if let (Some("true"), Some(project)) = (env("GITLAB_CI").as_deref(), env("CI_PROJECT_URL")) {
        let config = env("CI_CONFIG_PATH").unwrap_or_else(|| ".gitlab-ci.yml".to_owned());
        let reference = match (env("CI_COMMIT_TAG"), env("CI_COMMIT_REF_NAME")) {
            (Some(tag), _) => format!("refs/tags/{tag}"),
            (None, Some(branch)) => format!("refs/heads/{branch}"),
            (None, None) => "unknown".to_owned(),
        };
        return format!("{project}/{config}@{reference}");
    }
    "local".to_owned()
}
