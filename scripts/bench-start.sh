#!/usr/bin/env bash
# patina's start with the preflight linked against its start without it: the stand-in
# launcher examples/patina.rs (`ensure_clean_state()`, then dispatch) run as
# `patina status`, with the preflight on (default threshold; after the first clean start
# its proof spares the scan) and off (`PATINA_REAP_THRESHOLD=off`: it returns after
# reading the variable), and once more with the proof removed before every run (a scan
# each time). Beside them, the exec path: `patina-reap --preflight` (the same preflight,
# which takes the same proof) against `patina-reap --version` (the same binary doing
# nothing). All go through env(1), so all pay the same exec.
#
# Each count runs in a private PID namespace (root) with that many extra sleeping
# processes and a temporary directory of its own, where nothing else can be hit; the
# rounds alternate the commands so that load from other programs falls on all alike.
#
# Usage: sudo scripts/bench-start.sh [EXTRA_COUNT...]   (default: 0 1000 5000)
#   BENCH_ROUNDS=R  rounds per count (default 8), BENCH_RUNS=N runs per command a round
#                   (default 20); medians are over all R*N runs of a command.
set -euo pipefail
cd "$(dirname "$0")/.."

counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(0 1000 5000)
rounds=${BENCH_ROUNDS:-8}
runs=${BENCH_RUNS:-20}
out=$PWD/target/bench-start
mkdir -p "$out"
for tool in hyperfine jq unshare; do
  command -v "$tool" >/dev/null || { echo "bench-start.sh: please install $tool" >&2; exit 2; }
done
cargo build --release --quiet --bin patina-reap --example patina
patina=$PWD/target/release/examples/patina
reaper=$PWD/target/release/patina-reap

for n in "${counts[@]}"; do
  rm -f "$out"/start-"$n"-*.json
  unshare --pid --fork --mount-proc bash -s "$n" "$patina" "$out" "$rounds" "$runs" "$reaper" <<'EOF'
set -euo pipefail
n=$1 patina=$2 out=$3 rounds=$4 runs=$5 reaper=$6
tmp=$(mktemp -d)
export TMPDIR=$tmp XDG_RUNTIME_DIR=$tmp HOME=$tmp
for _ in $(seq "$n"); do sleep 100000 & done
for r in $(seq "$rounds"); do
  hyperfine -N -i --style none --warmup 5 --runs "$runs" \
    --export-json "$out/start-$n-$r.json" \
    --prepare true --prepare true --prepare true --prepare true \
    --prepare "sh -c 'rm -f $tmp/*.proof'" \
    -n linked "env PATINA_BENCH=1 $patina status" \
    -n bare "env PATINA_REAP_THRESHOLD=off $patina status" \
    -n exec "env PATINA_BENCH=1 $reaper --preflight" \
    -n version "env PATINA_BENCH=1 $reaper --version" \
    -n scanning "env PATINA_BENCH=1 $patina status" \
    >/dev/null
done
rm -rf "$tmp"
EOF
  # Each command's median, over bare (the launcher without a preflight) and over version
  # (the binary doing nothing).
  jq -rs --arg n "$n" '
    [.[].results[]] | group_by(.command) | map({name: .[0].command,
      times: ([.[].times[]] | sort)})
    | map({name, median: ((.times[(.times | length) / 2 | floor]) * 1000)})
    | (map(select(.name == "bare"))[0].median) as $bare
    | (map(select(.name == "version"))[0].median) as $version
    | .[] | "| +\($n) | \(.name) | \(.median * 100 | round / 100) | \(.median / $bare * 100 | round / 100) | \(.median / $version * 100 | round / 100) |"
  ' "$out"/start-"$n"-*.json
done
