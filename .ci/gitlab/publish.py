#!/usr/bin/env python3
"""The publish jobs of .gitlab-ci.yml: a merged, verified dist to GitLab, crates.io and PyPI.

  publish.py release DIST    every file of DIST into the project's generic package registry
                             (package <app>, version <version>), then the tag's release, its
                             notes the version's CHANGELOG section, linking each file
  publish.py crates-io DIST  `cargo publish` of the app's crate with a crates.io Trusted Publishing token
  publish.py pypi DIST       the wheels with twine and a PyPI Trusted Publishing token

Each step is safe to re-run: a file already in the registry with the same SHA-256, a release
that exists (it gets only the links it lacks), a version already on crates.io or PyPI count as
done; a file of the same name with other content is an error, never replaced.

JIMINI_PUBLISH_DRY_RUN=1 prints what would be uploaded ("would upload NAME") and touches
nothing. Tokens never reach the log: GitLab masks only the variables it knows, and the
short-lived ones minted here are not among them.

Only Python's standard library (the job image has python3), twine for PyPI (pinned in the
job as TWINE_VERSION).
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

USER_AGENT = "jimini-release (.gitlab-ci.yml)"


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def env(name):
    value = os.environ.get(name, "")
    if not value:
        fail(f"{name} is not set: this runs in a GitLab tag pipeline (see .gitlab-ci.yml)")
    return value


def dry_run():
    return os.environ.get("JIMINI_PUBLISH_DRY_RUN", "0") == "1"


def version():
    tag = env("CI_COMMIT_TAG")
    if not tag.startswith("v"):
        fail(f"the tag {tag} is not vX.Y.Z")
    return tag[1:]


def manifest(dist):
    path = Path(dist) / "dist-manifest.json"
    if not path.is_file():
        fail(f"{path} is missing: publish a dist that `cargo xtask dist merge` wrote")
    return json.loads(path.read_text())


def request(method, url, headers, data=None):
    """(status, body); HTTP errors are answers too, network errors end the job."""
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("User-Agent", USER_AGENT)
    for name, value in headers.items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=300) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except urllib.error.URLError as err:
        fail(f"{method} {url}: {err.reason}")


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def release_notes(version):
    """The version's section of CHANGELOG.md."""
    lines, taking = [], False
    for line in Path("CHANGELOG.md").read_text().splitlines():
        if line.startswith(f"## [{version}]"):
            taking = True
            continue
        if taking and line.startswith("## ["):
            break
        if taking:
            lines.append(line)
    notes = "\n".join(lines).strip()
    if not notes:
        fail(f"CHANGELOG.md has no section for {version}: `cargo xtask release` writes it")
    return notes


def gitlab_release(dist):
    app, ver, tag = manifest(dist)["app"], version(), env("CI_COMMIT_TAG")
    files = sorted(p for p in Path(dist).iterdir() if p.is_file())
    notes = release_notes(ver)
    if dry_run():
        for path in files:
            print(f"would upload {path.name} ({sha256(path)})")
        print(f"would create the release {tag} of {app} {ver} linking {len(files)} files")
        return
    api = f"{env('CI_API_V4_URL')}/projects/{env('CI_PROJECT_ID')}"
    auth = {"JOB-TOKEN": env("CI_JOB_TOKEN")}
    package = f"{api}/packages/generic/{app}/{urllib.parse.quote(ver)}"
    links = []
    for path in files:
        url = f"{package}/{urllib.parse.quote(path.name)}"
        status, body = request("GET", url, auth)
        if status == 200:
            if hashlib.sha256(body).hexdigest() != sha256(path):
                fail(f"{url} holds another {path.name}: delete that package file first, "
                     "nothing is replaced")
            print(f"{path.name} is already in the package registry")
        else:
            status, body = request("PUT", url, auth, path.read_bytes())
            if status not in (200, 201):
                fail(f"uploading {path.name}: HTTP {status}: {body[:500]!r}")
            print(f"uploaded {path.name}")
        links.append({"name": path.name, "url": url, "link_type": "package"})
    json_headers = {**auth, "Content-Type": "application/json"}
    release_url = f"{api}/releases/{urllib.parse.quote(tag, safe='')}"
    status, body = request("GET", release_url, auth)
    if status == 200:
        existing = {link["name"] for link in json.loads(body)["assets"]["links"]}
        for link in links:
            if link["name"] in existing:
                continue
            status, body = request(
                "POST",
                f"{release_url}/assets/links",
                json_headers,
                json.dumps(link).encode(),
            )
            if status not in (200, 201):
                fail(f"linking {link['name']}: HTTP {status}: {body[:500]!r}")
        print(f"the release {tag} exists; it links all {len(links)} files")
        return
    release = {
        "tag_name": tag,
        "name": f"{app} {ver}",
        "description": notes,
        "assets": {"links": links},
    }
    status, body = request("POST", f"{api}/releases", json_headers, json.dumps(release).encode())
    if status not in (200, 201):
        fail(f"creating the release {tag}: HTTP {status}: {body[:500]!r}")
    print(f"created the release {tag} linking {len(links)} files")


def trusted_publishing_token(endpoint, field, id_token_variable, registry):
    """Trades the job's GitLab ID token (`id_tokens` in .gitlab-ci.yml) for the registry's
    short-lived upload token."""
    status, body = request(
        "POST",
        endpoint,
        {"Content-Type": "application/json"},
        json.dumps({field: env(id_token_variable)}).encode(),
    )
    if status != 200:
        fail(f"{registry} refused the ID token (HTTP {status}): add this project's "
             f".gitlab-ci.yml as a trusted publisher there ({body[:300]!r})")
    return json.loads(body)["token"]


def crates_io(dist):
    crate, ver = manifest(dist)["app"], version()
    if dry_run():
        print(f"would publish the crate {crate} {ver} to crates.io")
        run(["cargo", "publish", "--dry-run", "--no-verify", "--locked", "-p", crate])
        return
    status, _ = request("GET", f"https://crates.io/api/v1/crates/{crate}/{ver}", {})
    if status == 200:
        print(f"{crate} {ver} is already on crates.io")
        return
    endpoint = "https://crates.io/api/v1/trusted_publishing/tokens"
    token = trusted_publishing_token(endpoint, "jwt", "CRATES_IO_ID_TOKEN", f"crates.io ({crate})")
    try:
        result = subprocess.run(
            ["cargo", "publish", "--locked", "-p", crate],
            env={**os.environ, "CARGO_REGISTRY_TOKEN": token},
            stderr=subprocess.PIPE,
            text=True,
        )
        sys.stderr.write(result.stderr)
        if result.returncode != 0 and "already exists" not in result.stderr:
            fail(f"cargo publish failed (exit {result.returncode})")
    finally:
        request("DELETE", endpoint, {"Authorization": f"Bearer {token}"})


def pypi(dist):
    wheels = sorted(str(p) for p in Path(dist).glob("*.whl"))
    if not wheels:
        fail(f"{dist} has no wheels")
    # twine's virtualenv is this job's own: removed however the job ends.
    with tempfile.TemporaryDirectory(prefix="twine-") as scratch:
        twine_upload(wheels, Path(scratch))


def twine_upload(wheels, venv):
    if subprocess.run([sys.executable, "-m", "venv", str(venv)]).returncode != 0:
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "python3-venv"])
        run([sys.executable, "-m", "venv", str(venv)])
    twine_version = env("TWINE_VERSION")
    run([str(venv / "bin/pip"), "install", "--quiet", "--disable-pip-version-check",
         f"twine=={twine_version}"])
    twine = str(venv / "bin/twine")
    run([twine, "check", "--strict", *wheels])
    if dry_run():
        for wheel in wheels:
            print(f"would upload {Path(wheel).name}")
        return
    token = trusted_publishing_token(
        "https://pypi.org/_/oidc/mint-token", "token", "PYPI_ID_TOKEN", "PyPI"
    )
    # --skip-existing: a re-run uploads what is missing and is done.
    result = subprocess.run(
        [twine, "upload", "--non-interactive", "--skip-existing", *wheels],
        env={**os.environ, "TWINE_USERNAME": "__token__", "TWINE_PASSWORD": token},
    )
    if result.returncode != 0:
        fail(f"twine upload failed (exit {result.returncode})")


def run(command):
    result = subprocess.run(command)
    if result.returncode != 0:
        fail(f"{command[0]} {command[1]} failed (exit {result.returncode})")


def main(argv):
    if len(argv) == 2 and argv[0] == "release":
        gitlab_release(argv[1])
    elif len(argv) == 2 and argv[0] == "crates-io":
        crates_io(argv[1])
    elif len(argv) == 2 and argv[0] == "pypi":
        pypi(argv[1])
    else:
        fail("usage: publish.py release DIST | crates-io DIST | pypi DIST")


if __name__ == "__main__":
    main(sys.argv[1:])
