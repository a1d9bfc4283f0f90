//! The publish jobs the configuration adds to both pipelines (`BuildMatrix::channels`): npm,
//! a Homebrew tap, a Scoop bucket. Their placeholders (`{linux}`, `{app}`, …) are filled with
//! the rest of each pipeline.

use crate::publish::plan::Host;

/// The npm job: the packages with the runner's npm (10.8 on ubuntu-24.04: provenance on
/// GitHub since 9.5), provenance signed with the job's OIDC token.
const GITHUB_NPM_JOB: &str = r#"  publish-npm:
    # After the GitHub release: the platform packages, then the package that pins them; npm
    # signs their provenance with this job's OIDC token. NPM_TOKEN is a secret of the `npm`
    # environment (an automation token of the package's owner).
    needs: [plan, publish]
    runs-on: {linux}
    environment:
      name: npm
      url: https://www.npmjs.com/package/{app}
    permissions:
      contents: read
      id-token: write
    steps:
{dist_steps}
      - name: The npm packages
        env:
          NPM_TOKEN: ${{ secrets.NPM_TOKEN }}
        run: cargo xtask publish --to npm --require-signature dist

"#;

/// A tap's or bucket's job: the file committed with the repository's token.
const GITHUB_REPOSITORY_JOB: &str = r#"  publish-{host}:
    # After the GitHub release, whose files it points at: {what} committed to the {place}
    # (nothing when it has it already). {token} is a secret of the `{host}` environment that
    # may push there.
    needs: [plan, publish]
    runs-on: {linux}
    environment:
      name: {host}
    permissions:
      contents: read
    steps:
{dist_steps}
      - name: {what}
        env:
          {token}: ${{ secrets.{token} }}
        # A git repository has no trusted publishing: the token may push to it and no more.
        run: cargo xtask publish --to {host} --require-signature dist # zizmor: ignore[use-trusted-publishing]

"#;

/// The npm job: Debian's Node with the pinned npm; npm signs the provenance with the job's
/// SIGSTORE_ID_TOKEN.
const GITLAB_NPM_JOB: &str = r#"# The npm packages: the platform packages, then the package that pins them. NPM_TOKEN is a
# masked, protected CI/CD variable (an automation token of the package's owner); npm signs
# their provenance with SIGSTORE_ID_TOKEN.
npm:
  extends: .publish
  needs: [merge, release]
  environment:
    name: npm
    url: https://www.npmjs.com/package/{app}
  id_tokens:
    SIGSTORE_ID_TOKEN:
      aud: sigstore
  before_script:
    - command -v npm || (apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm)
    # The pinned npm in a directory of the job's own, never over the machine's (a shell
    # runner's is someone's); a dry run runs no npm.
    - |
      if [ "${JIMINI_PUBLISH_DRY_RUN:-}" != 1 ]; then
        npm_cli=$(mktemp -d)
        npm install --prefix "$npm_cli" --no-audit --no-fund --silent npm@{npm}
        export PATH="$npm_cli/node_modules/.bin:$PATH"
      fi
  script:
    - cargo xtask publish --to npm --require-signature dist

"#;

/// A tap's or bucket's job: the file committed with the repository's token.
const GITLAB_REPOSITORY_JOB: &str = r#"# {what}, committed to the {place} (nothing when it has it already) with {token}, a
# masked, protected CI/CD variable that may push there.
{host}:
  extends: .publish
  needs: [merge, release]
  script:
    - cargo xtask publish --to {host} --require-signature dist

"#;

/// The job of a tap or bucket, filled in.
fn repository_job(template: &str, host: Host) -> String {
    let (what, place, token) = match host {
        Host::Homebrew => ("The Homebrew formula", "tap", "HOMEBREW_TAP_TOKEN"),
        _ => ("The Scoop manifest", "bucket", "SCOOP_BUCKET_TOKEN"),
    };
    template
        .replace("{host}", &host.to_string())
        .replace("{what}", what)
        .replace("{place}", place)
        .replace("{token}", token)
}

/// The GitHub jobs of `hosts`, in order.
pub fn github_jobs(hosts: &[Host]) -> String {
    jobs(hosts, GITHUB_NPM_JOB, GITHUB_REPOSITORY_JOB)
}

/// The GitLab jobs of `hosts`, in order.
pub fn gitlab_jobs(hosts: &[Host]) -> String {
    jobs(hosts, GITLAB_NPM_JOB, GITLAB_REPOSITORY_JOB)
}

fn jobs(hosts: &[Host], npm: &str, repository: &str) -> String {
    hosts
        .iter()
        .map(|host| match host {
            Host::Npm => npm.to_owned(),
            host => repository_job(repository, *host),
        })
        .collect()
}
