#!/usr/bin/env bash
# Evaluate throughput and p99 latency of jimini-server with its durable audit log, at 1, 8 and
# 64 concurrent clients, against the 0.2.0 server (built from the `release: v0.2.0` commit) as
# the baseline measured in the same run, with the same load generator (wrk).
#
#   bash app/benches/server.sh [SECONDS]     (default 5 s per run)
#
# Prints one row per client count: requests/s and p99 of both servers, the throughput ratio, and
# the fsyncs per second the current server reached (from its /metrics). Everything it builds or
# writes is under target/bench-server; the baseline's worktree is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
seconds=${1:-5}
work="$root/target/bench-server"
key=bench-key

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    else
        echo "bench-server: wrk is missing: run \`sudo apt-get install wrk\`" >&2
        exit 1
    fi
fi

baseline_commit=$(git log --format=%H --grep='^release: v0\.2\.0$' -n 1)
if [ -z "$baseline_commit" ]; then
    echo "bench-server: no \`release: v0.2.0\` commit in this history: fetch the whole history (git fetch --unshallow)" >&2
    exit 1
fi

mkdir -p "$work"
worktree="$work/baseline-src"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    git -C "$root" worktree remove --force "$worktree" 2>/dev/null || true
}
trap cleanup EXIT

echo "bench-server: building the current server and 0.2.0 (${baseline_commit:0:7}) in release mode" >&2
cargo build --quiet --locked --release -p jimini --bin jimini-server
current_bin="$root/target/release/jimini-server"
git -C "$root" worktree remove --force "$worktree" 2>/dev/null || true
git -C "$root" worktree add --quiet --detach "$worktree" "$baseline_commit"
(cd "$worktree" && CARGO_TARGET_DIR="$work/baseline-target" cargo build --quiet --locked --release -p jimini --bin jimini-server)
baseline_bin="$work/baseline-target/release/jimini-server"

cat >"$work/evaluate.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"text":"please summarise the ticket from a@b.example, ssn 123-45-6789","endpoint":"/chat"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
LUA

# Starts a server with a fresh audit log; sets $addr.
start() {
    local bin=$1 name=$2
    rm -rf "${work:?}/$name" && mkdir -p "$work/$name"
    JIMINI_API_KEY=$key "$bin" --bind 127.0.0.1:0 --audit-log "$work/$name/audit.jsonl" \
        2>"$work/$name/stderr" &
    pids+=("$!")
    for _ in $(seq 100); do
        addr=$(grep -o 'http://[0-9.:]*' "$work/$name/stderr" || true)
        [ -n "$addr" ] && return 0
        sleep 0.1
    done
    echo "bench-server: $name did not start: $(cat "$work/$name/stderr")" >&2
    exit 1
}

stop() {
    local pid=${pids[-1]}
    kill "$pid"
    wait "$pid" || true
    unset 'pids[-1]'
}

# Runs wrk; prints "requests/s p99".
load() {
    local clients=$1 threads=$(( $1 < 2 ? 1 : 2 ))
    wrk -t "$threads" -c "$clients" -d "${seconds}s" --latency -s "$work/evaluate.lua" \
        "$addr/v1/evaluate" >"$work/wrk.out"
    if grep -q 'Non-2xx' "$work/wrk.out"; then
        echo "bench-server: some responses were not 200:" >&2
        cat "$work/wrk.out" >&2
        exit 1
    fi
    local rps p99
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.out")
    p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.out")
    echo "$rps $p99"
}

fsyncs() {
    curl -sf "$addr/metrics" | awk '$1 == "jimini_audit_fsyncs_total" { print $2 }'
}

declare -A baseline current fsync_rate
start "$baseline_bin" baseline
for clients in 1 8 64; do baseline[$clients]=$(load "$clients"); done
stop
start "$current_bin" current
for clients in 1 8 64; do
    before=$(fsyncs)
    current[$clients]=$(load "$clients")
    after=$(fsyncs)
    fsync_rate[$clients]=$(awk -v a="$after" -v b="$before" -v s="$seconds" 'BEGIN { printf "%.0f", (a - b) / s }')
done
stop

printf '\nevaluate with a durable audit log, %ss per run (wrk)\n' "$seconds"
printf '%-8s %14s %10s %14s %10s %8s %10s\n' clients "0.2.0 req/s" "0.2.0 p99" "now req/s" "now p99" ratio fsyncs/s
for clients in 1 8 64; do
    read -r b_rps b_p99 <<<"${baseline[$clients]}"
    read -r c_rps c_p99 <<<"${current[$clients]}"
    ratio=$(awk -v c="$c_rps" -v b="$b_rps" 'BEGIN { printf "%.2f", c / b }')
    printf '%-8s %14s %10s %14s %10s %7sx %10s\n' "$clients" "$b_rps" "$b_p99" "$c_rps" "$c_p99" "$ratio" "${fsync_rate[$clients]}"
done
