#!/bin/sh
# Runs a target's binaries from its partial dist on a machine of that target (the macOS jobs
# of release.yml and .gitlab-ci.yml, where the Apple builds made on Linux first execute):
# `jimini --version`, `jimini check` (exit 3 on an SSN), and a server start, health and stop.
# Usage: smoke.sh PARTIAL_DIR TARGET  (the server listens on $JIMINI_SMOKE_PORT, default 9000)
set -eu
partial=$1
target=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
set -- "$partial"/*-"$target".tar.xz
archive=$1
test -f "$archive" || { echo "no $target archive in $partial" >&2; exit 1; }
tar -xJf "$archive" -C "$work"
dir="$work/$(basename "$archive" .tar.xz)"
"$dir/jimini" --version
status=0
"$dir/jimini" check "ssn 123-45-6789" || status=$?
test "$status" -eq 3 || { echo "jimini check exited $status, expected 3 (block)" >&2; exit 1; }
port=${JIMINI_SMOKE_PORT:-9000}
JIMINI_API_KEY=smoke "$dir/jimini-server" --bind "127.0.0.1:$port" --audit-log "$work/audit.jsonl" &
server=$!
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/health" && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/health"
kill -TERM "$server"
wait "$server"
