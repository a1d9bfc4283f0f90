//! The GitHub release, through GitHub's REST API: the tag checked against the dist's commit,
//! a draft made (or found), every missing file attached, the attached ones compared by the
//! SHA-256 GitHub reports (`digest`), then published.
//!
//! Re-runnable: a run cut off anywhere leaves a draft (or a published release) that the next
//! run completes; a file attached with other bytes stops the run before anything is uploaded,
//! and is never replaced; an immutable release that lacks files is refused before any upload.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::plan::{HostPlan, PublishPlan, Upload};
use super::{Remote, compare_all, say};
use crate::http::{Body, Client, Secret, escape_path_segment};

pub struct Github {
    pub api: String,
    pub repo: String,
    client: Client,
}

impl Github {
    /// The API from `GITHUB_API_URL`, the token from `GH_TOKEN` or `GITHUB_TOKEN`.
    pub fn from_env(api: &str, repo: &str) -> anyhow::Result<Github> {
        let token = ["GH_TOKEN", "GITHUB_TOKEN"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
            .context(
                "publishing to GitHub needs a token in GH_TOKEN (release.yml passes \
                 `github.token` with `contents: write`)",
            )?;
        Ok(Github {
            api: api.trim_end_matches('/').to_owned(),
            repo: repo.to_owned(),
            client: Client::new(vec![
                (
                    "Authorization".into(),
                    Secret::new(format!("Bearer {token}")),
                ),
                (
                    "Accept".into(),
                    Secret::new("application/vnd.github+json".into()),
                ),
                (
                    "X-GitHub-Api-Version".into(),
                    Secret::new("2022-11-28".into()),
                ),
            ]),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/repos/{}{path}", self.api, self.repo)
    }

    fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self.client.send("GET", &self.url(path), Body::Empty)?;
        if response.status == 404 {
            return Ok((404, Value::Null));
        }
        let response = response.require_ok(format_args!("GitHub answered GET {path}"))?;
        Ok((response.status, response.json()?))
    }

    fn send_json(&self, method: &str, url: &str, body: &Value) -> anyhow::Result<Value> {
        self.client
            .send(method, url, Body::Json(body))?
            .require_ok(format_args!("GitHub answered {method} {url}"))?
            .json()
    }

    /// The commit the tag names on GitHub.
    fn tag_commit(&self, tag: &str) -> anyhow::Result<String> {
        let (status, reference) =
            self.get(&format!("/git/ref/tags/{}", escape_path_segment(tag)))?;
        if status == 404 {
            bail!(
                "the tag {tag} is not on GitHub ({}): push it first (`git push origin {tag}`)",
                self.repo
            );
        }
        let object = &reference["object"];
        let sha = object["sha"]
            .as_str()
            .context("GitHub's tag has no object")?;
        if object["type"] == "tag" {
            let (_, annotated) = self.get(&format!("/git/tags/{sha}"))?;
            return annotated["object"]["sha"]
                .as_str()
                .map(str::to_owned)
                .context("GitHub's annotated tag names no commit");
        }
        Ok(sha.to_owned())
    }

    /// The tag's release, a draft included (drafts are only in the list).
    fn find_release(&self, tag: &str) -> anyhow::Result<Option<Value>> {
        let (status, release) =
            self.get(&format!("/releases/tags/{}", escape_path_segment(tag)))?;
        if status != 404 {
            return Ok(Some(release));
        }
        let (_, list) = self.get("/releases?per_page=100")?;
        Ok(list
            .as_array()
            .into_iter()
            .flatten()
            .find(|release| release["tag_name"] == tag)
            .cloned())
    }

    /// What the release has under `name`: by the digest GitHub computed, or (for assets from
    /// before GitHub reported digests) by downloading it, bounded by the dist's file size.
    fn remote_file(&self, release: &Value, upload: &Upload) -> anyhow::Result<Remote> {
        let Some(asset) = release["assets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|asset| asset["name"] == upload.file.as_str())
        else {
            return Ok(Remote::Missing);
        };
        if asset["state"] != "uploaded" {
            // An upload that was cut off: GitHub keeps a broken asset of that name.
            return Ok(Remote::Broken(asset["id"].as_u64().unwrap_or(0)));
        }
        if let Some(digest) = asset["digest"].as_str() {
            let sha256 = digest.strip_prefix("sha256:").unwrap_or(digest);
            return Ok(Remote::Present(sha256.to_owned()));
        }
        let url = asset["url"]
            .as_str()
            .context("a GitHub asset without a url")?;
        let mut hasher = super::Sha256Sink::default();
        let status = self.client.download(
            url,
            &[("Accept", "application/octet-stream")],
            upload.size,
            &mut hasher,
        );
        match status {
            Ok(200) => Ok(Remote::Present(hasher.hex())),
            Ok(status) => bail!("GitHub answered GET {url} with HTTP {status}"),
            // Longer than the dist's file: certainly other bytes.
            Err(err) if err.is::<crate::http::TooLarge>() => Ok(Remote::Present(String::new())),
            Err(err) => Err(err),
        }
    }
}

/// What GitHub has for the release, read before anything is sent.
pub struct Found {
    release: Option<Value>,
    remote: Vec<Remote>,
}

/// The preflight: every read and every refusal (the tag on another commit, a file attached
/// with other bytes, an immutable release lacking files), before any host is sent anything.
pub fn inspect(github: &Github, plan: &PublishPlan, host: &HostPlan) -> anyhow::Result<Found> {
    let tag = &plan.tag;
    let commit = github.tag_commit(tag)?;
    if commit != plan.commit {
        bail!(
            "the tag {tag} on GitHub is commit {commit}, but this dist was built from {}: \
             publish the dist of that tag's commit",
            plan.commit
        );
    }
    let release = github.find_release(tag)?;
    let remote: Vec<Remote> = match &release {
        Some(release) => host
            .uploads
            .iter()
            .map(|upload| github.remote_file(release, upload))
            .collect::<anyhow::Result<_>>()?,
        None => host.uploads.iter().map(|_| Remote::Missing).collect(),
    };
    compare_all(
        &format!("the release {tag}"),
        &host.uploads,
        &remote,
        "delete that asset on GitHub first",
    )?;
    let missing = remote
        .iter()
        .filter(|r| !matches!(r, Remote::Present(_)))
        .count();
    if let Some(release) = &release
        && release["draft"] == false
        && release["immutable"] == true
        && missing > 0
    {
        bail!(
            "the release {tag} is published and immutable, and lacks {missing} file(s): an \
             immutable release takes no files; release a new version"
        );
    }
    Ok(Found { release, remote })
}

/// Sends what [`inspect`] found missing, then publishes the draft.
pub fn apply(
    github: &Github,
    plan: &PublishPlan,
    host: &HostPlan,
    dir: &Path,
    found: Found,
) -> anyhow::Result<()> {
    let tag = &plan.tag;
    let Found { release, remote } = found;
    let release = match release {
        Some(release) => release,
        None => {
            let created = github.send_json(
                "POST",
                &github.url("/releases"),
                &json!({
                    "tag_name": tag,
                    "name": plan.title,
                    "body": plan.notes,
                    "draft": true,
                    "prerelease": plan.prerelease,
                }),
            )?;
            say(format_args!("created the draft release {tag}"));
            created
        }
    };
    let upload_url = release["upload_url"]
        .as_str()
        .context("GitHub's release has no upload_url")?;
    let upload_url = upload_url.split('{').next().unwrap_or(upload_url);
    for (upload, remote) in host.uploads.iter().zip(&remote) {
        match remote {
            Remote::Present(_) => {
                say(format_args!("{} is already attached", upload.file));
                continue;
            }
            Remote::Broken(id) => {
                let url = github.url(&format!("/releases/assets/{id}"));
                github
                    .client
                    .send("DELETE", &url, Body::Empty)?
                    .require_ok(format_args!(
                        "cannot remove the broken upload of {}",
                        upload.file
                    ))?;
            }
            Remote::Missing => {}
        }
        let url = format!("{upload_url}?name={}", escape_path_segment(&upload.file));
        let file = Body::File(&dir.join(&upload.file), "application/octet-stream");
        let response = github
            .client
            .send("POST", &url, file)?
            .require_ok(format_args!(
                "uploading {} to the release {tag}",
                upload.file
            ))?;
        if let Some(digest) = response.json()?["digest"].as_str()
            && digest != format!("sha256:{}", upload.sha256)
        {
            bail!(
                "GitHub stored {} with digest {digest}, not the dist's sha256:{}: the upload \
                 was altered on the way; delete that asset and re-run",
                upload.file,
                upload.sha256
            );
        }
        say(format_args!("uploaded {}", upload.file));
    }
    if release["draft"] == true {
        let id = release["id"]
            .as_u64()
            .context("GitHub's release has no id")?;
        github.send_json(
            "PATCH",
            &github.url(&format!("/releases/{id}")),
            &json!({
                "draft": false,
                "make_latest": if plan.prerelease { "false" } else { "true" },
            }),
        )?;
        say(format_args!("published the release {tag}"));
    } else {
        say(format_args!(
            "the release {tag} was already published; it has every file"
        ));
    }
    Ok(())
}
