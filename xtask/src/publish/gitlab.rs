//! GitLab: every file into the project's generic package registry (package `<app>`, version
//! `<version>`), then the tag's release, its notes the CHANGELOG section, linking each file.
//!
//! Re-runnable: a file already in the registry with the same SHA-256 is done, one with other
//! bytes stops the run before anything is uploaded (never replaced); an existing release gets
//! only the links it lacks.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::plan::{HostPlan, PublishPlan};
use super::{Remote, Sha256Sink, compare_all, say};
use crate::http::{Body, Client, Secret, escape_path_segment};

pub struct Gitlab {
    /// `CI_API_V4_URL/projects/CI_PROJECT_ID`
    project: String,
    client: Client,
}

impl Gitlab {
    /// The job's token (`CI_JOB_TOKEN`), which may write the project's packages and releases.
    pub fn from_env(api: &str, project: &str) -> anyhow::Result<Gitlab> {
        let token = std::env::var("CI_JOB_TOKEN")
            .ok()
            .filter(|v| !v.is_empty())
            .context("publishing to GitLab needs CI_JOB_TOKEN: run it in a GitLab tag pipeline")?;
        Ok(Gitlab {
            project: format!(
                "{}/projects/{}",
                api.trim_end_matches('/'),
                escape_path_segment(project)
            ),
            client: Client::new(vec![("JOB-TOKEN".into(), Secret::new(token))]),
        })
    }
}

/// The preflight: what the registry holds under each name; a file with other bytes is
/// refused before any host is sent anything.
pub fn inspect(
    gitlab: &Gitlab,
    plan: &PublishPlan,
    host: &HostPlan,
) -> anyhow::Result<Vec<Remote>> {
    let client = &gitlab.client;
    let remote: Vec<Remote> = host
        .uploads
        .iter()
        .map(|upload| {
            let mut hasher = Sha256Sink::default();
            // One byte more than the file: a longer one is other bytes, and is not read on.
            match client.download(&upload.destination, &[], upload.size + 1, &mut hasher) {
                Ok(200) => Ok(Remote::Present(hasher.hex())),
                Ok(404) => Ok(Remote::Missing),
                Ok(status) => bail!(
                    "GitLab answered GET {} with HTTP {status}",
                    upload.destination
                ),
                // Longer than the dist's file: certainly other bytes.
                Err(err) if err.is::<crate::http::TooLarge>() => Ok(Remote::Present(String::new())),
                Err(err) => Err(err),
            }
        })
        .collect::<anyhow::Result<_>>()?;
    compare_all(
        &format!("the package registry ({} {})", plan.app, plan.version),
        &host.uploads,
        &remote,
        "delete that package file first",
    )?;
    Ok(remote)
}

/// Uploads what [`inspect`] found missing, then makes (or completes) the release.
pub fn apply(
    gitlab: &Gitlab,
    plan: &PublishPlan,
    host: &HostPlan,
    dir: &Path,
    remote: Vec<Remote>,
) -> anyhow::Result<()> {
    let client = &gitlab.client;
    for (upload, remote) in host.uploads.iter().zip(&remote) {
        if matches!(remote, Remote::Present(_)) {
            say(format_args!(
                "{} is already in the package registry",
                upload.file
            ));
            continue;
        }
        let file = Body::File(&dir.join(&upload.file), "application/octet-stream");
        client
            .send("PUT", &upload.destination, file)?
            .require_ok(format_args!("uploading {}", upload.file))?;
        say(format_args!("uploaded {}", upload.file));
    }

    let links: Vec<Value> = host
        .uploads
        .iter()
        .map(|upload| json!({"name": upload.file, "url": upload.destination, "link_type": "package"}))
        .collect();
    let release_url = format!(
        "{}/releases/{}",
        gitlab.project,
        escape_path_segment(&plan.tag)
    );
    let response = client.send("GET", &release_url, Body::Empty)?;
    match response.status {
        200 => {
            let release = response.json()?;
            let existing: Vec<&str> = release["assets"]["links"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|link| link["name"].as_str())
                .collect();
            for link in links
                .iter()
                .filter(|l| !existing.contains(&l["name"].as_str().unwrap_or("")))
            {
                client
                    .send(
                        "POST",
                        &format!("{release_url}/assets/links"),
                        Body::Json(link),
                    )?
                    .require_ok(format_args!("linking {}", link["name"]))?;
            }
            say(format_args!(
                "the release {} exists; it links all {} files",
                plan.tag,
                links.len()
            ));
        }
        404 => {
            let release = json!({
                "tag_name": plan.tag,
                "name": plan.title,
                "description": plan.notes,
                "assets": {"links": links},
            });
            let url = format!("{}/releases", gitlab.project);
            client
                .send("POST", &url, Body::Json(&release))?
                .require_ok(format_args!("creating the release {}", plan.tag))?;
            say(format_args!(
                "created the release {} linking {} files",
                plan.tag,
                links.len()
            ));
        }
        status => bail!(
            "GitLab answered GET {release_url} with HTTP {status}: {}",
            response.excerpt()
        ),
    }
    Ok(())
}
