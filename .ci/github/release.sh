#!/usr/bin/env bash
# The GitHub release of a tag, with every file of a merged and verified dist (release.yml's
# publish job; gh reads GH_TOKEN and GH_REPO).
#
#   .ci/github/release.sh TAG DIST
#
# Safe to re-run: the release is made as a draft, completed, then published, so a run that stops
# half-way leaves a draft that the next run finds and completes. A file already attached with the
# same bytes counts as done; one with other bytes stops the job and is never replaced.
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 TAG DIST" >&2
  exit 2
fi
tag=$1
dist=$2
version=${tag#v}
if [ ! -f "$dist/dist-manifest.json" ]; then
  echo "error: $dist/dist-manifest.json is missing: publish a dist that \`cargo xtask dist merge\` wrote" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The release notes are the version's CHANGELOG section.
awk -v v="$version" '
  index($0, "## [" v "]") == 1 { on = 1; next }
  on && /^## \[/ { exit }
  on { print }
' CHANGELOG.md > "$work/notes.md"
if ! grep -q '[^[:space:]]' "$work/notes.md"; then
  echo "error: CHANGELOG.md has no section for $version: \`cargo xtask release\` writes it" >&2
  exit 1
fi

if ! draft=$(gh release view "$tag" --json isDraft --jq .isDraft 2> "$work/view.err"); then
  if ! grep -q 'release not found' "$work/view.err"; then
    cat "$work/view.err" >&2
    exit 1
  fi
  # A SemVer pre-release (1.2.0-rc.1) is a GitHub pre-release, never "latest".
  prerelease=()
  case $version in *-*) prerelease=(--prerelease) ;; esac
  gh release create "$tag" --verify-tag --draft "${prerelease[@]}" --title "jimini $version" \
    --notes-file "$work/notes.md"
  echo "created the draft release $tag"
  draft=true
fi

gh release view "$tag" --json assets --jq '.assets[].name' > "$work/attached"
mkdir "$work/downloaded"
for file in "$dist"/*; do
  [ -f "$file" ] || continue
  name=$(basename "$file")
  if grep -qxF -- "$name" "$work/attached"; then
    gh release download "$tag" --pattern "$name" --dir "$work/downloaded"
    if ! cmp -s "$file" "$work/downloaded/$name"; then
      echo "error: the release $tag already has another $name: delete that asset on GitHub first, nothing is replaced" >&2
      exit 1
    fi
    echo "$name is already attached"
  else
    gh release upload "$tag" "$file"
    echo "uploaded $name"
  fi
done

if [ "$draft" = true ]; then
  gh release edit "$tag" --draft=false
  echo "published the release $tag"
else
  echo "the release $tag was already published; it has every file"
fi
