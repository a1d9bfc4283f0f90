//! `cargo xtask docker [--tag T]`: the runtime container image, built from an existing dist's
//! static musl archive (verified first), so the image's binaries are byte-identical to the
//! released ones. Uses docker (when its daemon answers), podman or buildah; prints the image id.
//!
//! The image's runtime stage is read from the root `Dockerfile` (the `FROM scratch AS runtime`
//! stage to the end), so the Dockerfile stays the one description of the image.
//! `--image-root DIR` only lays out the image's files; the Dockerfile's builder stage uses it.

use std::path::Path;

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::dist::manifest::{Artifact, ArtifactKind, Manifest};
use crate::flags;

/// The image's platform; its binaries are the static build of that platform's target.
pub const IMAGE_PLATFORM: &str = "linux/amd64";
const RUNTIME_STAGE: &str = "FROM scratch AS runtime";

/// The files of the image, relative to its root: (path in the archive, path in the image, mode).
pub const IMAGE_FILES: [(&str, &str, u32); 3] = [
    ("jimini-server", "usr/local/bin/jimini-server", 0o755),
    ("jimini-admin", "usr/local/bin/jimini-admin", 0o755),
    ("rules/default.toml", "etc/jimini/rules.toml", 0o644),
];
/// The audit log's directory, owned by the image's user.
pub const STATE_DIR: &str = "var/lib/jimini";

fn musl_archive(manifest: &Manifest) -> anyhow::Result<&Artifact> {
    let target = crate::targets::scratch_image_target(IMAGE_PLATFORM)
        .context("no target is known to run in a FROM scratch image")?;
    manifest
        .artifacts
        .iter()
        .find(|a| a.kind == ArtifactKind::Archive && a.target.as_ref() == Some(&target))
        .with_context(|| {
            format!(
                "the dist has no {target} archive (the image's {IMAGE_PLATFORM} binaries): run \
                 `cargo xtask dist --target {target}` first"
            )
        })
}

/// Lays out the image's files at `out` from the verified dist in `dist`, replacing `out` only
/// when it is new, empty or an earlier image root.
pub fn image_root(
    dist: &Path,
    out: &Path,
    signatures: &crate::verify::SignatureCheck,
) -> anyhow::Result<Manifest> {
    let mut ours: Vec<&str> = IMAGE_FILES.iter().map(|(_, to, _)| *to).collect();
    ours.push(STATE_DIR);
    crate::dist::output::OutputDir::claim(out, &crate::dist::output::Ownership::Files(&ours))?
        .publish(|staging| lay_out(dist, staging, signatures))
}

/// Writes the image's files into the existing directory `root`.
fn lay_out(
    dist: &Path,
    root: &Path,
    signatures: &crate::verify::SignatureCheck,
) -> anyhow::Result<Manifest> {
    let manifest = crate::verify::verify_dir(dist, signatures)
        .context("the dist the image is built from must verify")?;
    let archive = musl_archive(&manifest)?;
    // The unpacked archive is removed however the copy ends.
    crate::util::in_tempdir("image", |unpacked| {
        crate::util::extract(
            &dist.join(&archive.name),
            archive.archive_format()?,
            unpacked,
        )?;
        let top = unpacked.join(archive.top_dir.as_deref().unwrap_or_default());
        for (from, to, mode) in IMAGE_FILES {
            let target = root.join(to);
            fs_err::create_dir_all(target.parent().expect("image paths have parents"))?;
            fs_err::copy(top.join(from), &target)
                .with_context(|| format!("{} has no {from}", archive.name))?;
            set_mode(&target, mode)?;
        }
        Ok(fs_err::create_dir_all(root.join(STATE_DIR))?)
    })?;
    Ok(manifest)
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// The runtime stage of the Dockerfile, to put on top of a stage holding the dist's files.
pub fn containerfile(dockerfile: &str) -> anyhow::Result<String> {
    let start = dockerfile
        .find(RUNTIME_STAGE)
        .with_context(|| format!("Dockerfile has no `{RUNTIME_STAGE}` stage"))?;
    Ok(format!(
        "FROM scratch AS artifacts\nCOPY image-root/ /\n\n{}",
        &dockerfile[start..]
    ))
}

/// Docker tags allow `[A-Za-z0-9_.-]`; SemVer build metadata (`+g3f2a9c1`) does not fit.
pub fn image_tag(app: &str, version: &str) -> String {
    let tag: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{app}:{tag}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Docker,
    Podman,
    Buildah,
}

pub fn detect_engine(sh: &Shell) -> anyhow::Result<Engine> {
    if let Ok(name) = std::env::var("JIMINI_CONTAINER_ENGINE") {
        return match name.as_str() {
            "docker" => Ok(Engine::Docker),
            "podman" => Ok(Engine::Podman),
            "buildah" => Ok(Engine::Buildah),
            other => bail!("JIMINI_CONTAINER_ENGINE={other}: use docker, podman or buildah"),
        };
    }
    if cmd!(sh, "docker info")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok()
    {
        return Ok(Engine::Docker);
    }
    for (program, engine) in [("podman", Engine::Podman), ("buildah", Engine::Buildah)] {
        if cmd!(sh, "{program} --version")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .is_ok()
        {
            return Ok(engine);
        }
    }
    bail!(
        "no container engine: install docker (with a running daemon), podman or buildah (`apt-get install podman`)"
    )
}

impl flags::Docker {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let root = sh.current_dir();
        let cwd = std::env::current_dir()?;
        let dist = self
            .dist
            .as_ref()
            .map(|d| cwd.join(d))
            .unwrap_or_else(|| root.join("dist"));
        let signatures = crate::verify::SignatureCheck {
            keyring: crate::verify::workspace_keyring(sh)?,
            required: false,
        };
        if let Some(image_root_dir) = &self.image_root {
            image_root(&dist, &cwd.join(image_root_dir), &signatures)?;
            return Ok(());
        }
        // The context is a temporary directory of ours: removed whether the build worked or not.
        let (tag, engine, id) = crate::util::in_tempdir("docker-context", |context| {
            build_in(sh, &root, &dist, &signatures, self.tag, context)
        })?;
        eprintln!("built {tag} from {} ({engine:?})", dist.display());
        crate::outln!("{}", id.trim())?;
        Ok(())
    }
}

/// Lays the image out in `context` and builds it: the tag, the engine and the image id.
fn build_in(
    sh: &Shell,
    root: &Path,
    dist: &Path,
    signatures: &crate::verify::SignatureCheck,
    tag: Option<String>,
    context: &Path,
) -> anyhow::Result<(String, Engine, String)> {
    let image_root = context.join("image-root");
    fs_err::create_dir(&image_root)?;
    let manifest = lay_out(dist, &image_root, signatures)?;
    let dockerfile =
        fs_err::read_to_string(root.join("Dockerfile")).context("cannot read the Dockerfile")?;
    let file = context.join("Containerfile");
    fs_err::write(&file, containerfile(&dockerfile)?)?;
    let tag = tag.unwrap_or_else(|| image_tag(&manifest.app, &manifest.version));
    let iid = context.join("image-id");
    let engine = build_image(sh, context, &file, &tag, &manifest, &iid)?;
    let id = fs_err::read_to_string(&iid).context("the engine wrote no image id")?;
    Ok((tag, engine, id))
}

/// Builds the image from `context` with the detected engine; the image id goes to `iid`.
fn build_image(
    sh: &Shell,
    context: &Path,
    file: &Path,
    tag: &str,
    manifest: &Manifest,
    iid: &Path,
) -> anyhow::Result<Engine> {
    let version = format!("VERSION={}", manifest.version);
    let revision = format!("REVISION={}", manifest.commit);
    let created = format!("CREATED={}", manifest.source_date);
    let epoch = manifest.source_date_epoch.to_string();
    let engine = detect_engine(sh)?;
    let build = match engine {
        Engine::Docker => cmd!(sh, "docker build"),
        Engine::Podman => cmd!(sh, "podman build --timestamp {epoch}"),
        Engine::Buildah => cmd!(sh, "buildah build --timestamp {epoch}"),
    };
    let build = build
        .args(["--file".as_ref(), file.as_os_str()])
        .args(["--target", "runtime", "--tag", tag])
        .args([
            "--build-arg",
            &version,
            "--build-arg",
            &revision,
            "--build-arg",
            &created,
        ])
        .args(["--iidfile".as_ref(), iid.as_os_str()])
        .arg(context)
        .ignore_status()
        .output()
        .with_context(|| format!("cannot run the {engine:?} build"))?;
    // The engines print their progress on stdout, which is reserved for the image id; their
    // errors go with it, so that a failed build says why.
    eprint!("{}", String::from_utf8_lossy(&build.stdout));
    eprint!("{}", String::from_utf8_lossy(&build.stderr));
    if !build.status.success() {
        bail!(
            "the {engine:?} build of {tag} failed ({}): its error is above",
            build.status
        );
    }
    Ok(engine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containerfile_reuses_the_dockerfile_runtime_stage() {
        let dockerfile =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Dockerfile")).unwrap();
        let file = containerfile(&dockerfile).unwrap();
        assert!(file.starts_with(
            "FROM scratch AS artifacts\nCOPY image-root/ /\n\nFROM scratch AS runtime\n"
        ));
        assert!(file.contains("USER 10001:10001") && file.contains("EXPOSE 9000"));
        assert!(!file.contains("AS builder"));
        assert!(containerfile("FROM x\n").is_err());
    }

    #[test]
    fn tags_drop_build_metadata_characters() {
        assert_eq!(
            image_tag("jimini", "0.2.1-dev.3+g3f2a9c1"),
            "jimini:0.2.1-dev.3-g3f2a9c1"
        );
        assert_eq!(image_tag("jimini", "0.2.0"), "jimini:0.2.0");
    }
}
