#!/usr/bin/env bash
# End-to-end benchmark: `patina-reap --dry-run` against the /proc floor (a program that
# only lists /proc and reads each /proc/PID/stat once), `pgrep -x patina`,
# `killall -o 24h -s 0 patina` and `ps -eo pid,etime,command` plus filtering, with 0,
# 1000 and 5000 extra sleeping processes, all timed by hyperfine in one run.
#
# Usage: scripts/bench.sh [EXTRA_COUNT...]      (default: 0 1000 5000)
#   BENCH_ROUNDS=R  rounds per count (default twice the number of commands: 10, or 12
#                   with BENCH_BEFORE)
#   BENCH_RUNS=N    runs of each command in every round (default 10), so that load from
#                   other programs falls on all commands alike; medians are over all R*N
#                   runs of a command. The rounds' orders are a balanced Latin square and
#                   its mirror: over twice as many rounds as commands, each command
#                   follows each other one equally often, which matters (a command run
#                   after `ps` was 15-27% slower than the same one run after the floor
#                   program, in the same rounds).
#   BENCH_BEFORE=BIN also time `BIN --dry-run` (another build of patina-reap, say the
#                   previous commit's) in the same rounds, for a before/after ratio.
#   BENCH_YOUNG_EVERY=K  one in every K extra processes is a young `patina` that the
#                   kernel knows by that name too (the sleeper linked as `patina`), in
#                   place of the mix's `exec -a patina` ones: K=20 makes 5% of them
#                   young patina processes, each of which the dry run must look at.
#
# The extra processes are a mix: plain sleepers, lookalikes that mention patina only in
# later arguments or in a longer name, and a few young processes named exactly `patina`
# (one in 250, started with `exec -a patina`, so their kernel name is the sleeper's),
# which the dry run leaves alone: they are younger than 24h. Nothing is ever signalled
# except the processes this script started, by PID, on exit or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(0 1000 5000)
runs=${BENCH_RUNS:-10}
young_every=${BENCH_YOUNG_EVERY:-0}
out=target/bench
mkdir -p "$out"

# hyperfine, killall (psmisc), pgrep and ps (procps), /usr/bin/time (time), jq.
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v killall >/dev/null || missing+=(psmisc)
command -v pgrep >/dev/null || missing+=(procps)
[ -x /usr/bin/time ] || missing+=(time)
command -v jq >/dev/null || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  else
    echo "bench.sh: please install: ${missing[*]}" >&2
    exit 2
  fi
fi

# The reaper and the floor program (the bench/ workspace member) in one build, so both
# link the library built once, with the `bench` feature the floor needs.
cargo build --release --quiet -p patina-reap -p patina-reap-bench --bin patina-reap --bin proc-floor
reaper=target/release/patina-reap
floor=target/release/proc-floor
# The test sleeper: pauses until signalled, whatever its argv.
sleeper=$out/sleeper
if [ ! -x "$sleeper" ] || [ tests/common/sleeper.rs -nt "$sleeper" ]; then
  rustc -O --edition 2021 -o "$sleeper" tests/common/sleeper.rs
fi
# The sleeper under the name `patina`: a hard link, so that the kernel's name is too.
ln -f "$sleeper" "$out/patina"

started=()
young_patina=()
cleanup() {
  trap - EXIT INT TERM HUP
  if [ ${#started[@]} -gt 0 ]; then
    kill -KILL "${started[@]}" 2>/dev/null || true
    wait "${started[@]}" 2>/dev/null || true
    echo "bench.sh: stopped the ${#started[@]} processes it started" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Start extra processes until this script has started $1 of them.
start_up_to() {
  local i=${#started[@]}
  while [ "$i" -lt "$1" ]; do
    if [ "$young_every" -gt 0 ] && [ $((i % young_every)) -eq $((young_every - 1)) ]; then
      "$out/patina" serve --test &
      young_patina+=($!)
      started+=($!)
      i=$((i + 1))
      continue
    fi
    case $((i % 10)) in
      0 | 1 | 2 | 3) exec -a sleep "$sleeper" 900 & ;;
      4) exec -a vim "$sleeper" /home/u/src/patina/src/main.rs & ;;
      5) exec -a tail "$sleeper" -f /var/log/patina/serve.log & ;;
      6) exec -a cargo "$sleeper" run --manifest-path /home/u/patina/Cargo.toml & ;;
      7) exec -a patina-index "$sleeper" --db /var/lib/patina & ;;
      8) exec -a /opt/patina/bin/serve "$sleeper" & ;;
      9)
        # One real (young) patina in every 250 extra processes.
        if [ $((i % 250)) -eq 9 ] && [ "$young_every" -eq 0 ]; then
          exec -a patina "$sleeper" serve --test &
          young_patina+=($!)
        else
          exec -a /usr/bin/python3 "$sleeper" -m http.server &
        fi
        ;;
    esac
    started+=($!)
    i=$((i + 1))
  done
}

process_count() { find /proc -maxdepth 1 -name '[0-9]*' 2>/dev/null | wc -l || true; }

# Peak RSS in KiB of the largest of 5 runs.
peak_rss() {
  local max=0 kib
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f '%M' -o "$out/rss" "$@" >/dev/null 2>&1 || true
    kib=$(tail -n 1 "$out/rss")
    [ "$kib" -gt "$max" ] && max=$kib
  done
  echo "$max"
}

ps_filter='ps -eo pid,etime,command | grep -E "^ *[0-9]+ +[0-9:-]+ +([^ ]*/)?patina( |$)"'

report=$out/report.md
{
  echo "## Machine"
  echo
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
  echo "- kernel: $(uname -sr), $(grep MemTotal /proc/meminfo | awk '{printf "%.0f GiB RAM", $2/1048576}')"
  echo "- $(hyperfine --version), $(rustc --version)"
  echo
} >"$report"

for n in "${counts[@]}"; do
  start_up_to "$n"
  sleep 1
  procs=$(process_count)
  echo "== $n extra processes ($procs in /proc) ==" >&2
  rm -f "$out"/hyperfine-"$n"-*.json

  # The dry run must see the young patina processes and leave them alone.
  young=$("$reaper" --dry-run --json | jq '[.processes[] | select(.reason == "young")] | length')
  for pid in "${young_patina[@]}"; do
    kill -0 "$pid" || { echo "bench.sh: young patina $pid is gone" >&2; exit 1; }
  done
  if [ "$young" -lt ${#young_patina[@]} ]; then
    echo "bench.sh: --dry-run --json saw $young young patina of ${#young_patina[@]}" >&2
    exit 1
  fi

  names=(floor "patina-reap --dry-run" "killall -o 24h -s 0 patina" "pgrep -x patina"
    "ps -eo pid,etime,command + grep")
  commands=("$floor" "$reaper --dry-run" "killall -o 24h -s 0 patina" "pgrep -x patina"
    "sh -c '$ps_filter'")
  if [ -n "${BENCH_BEFORE:-}" ]; then
    names+=("before: patina-reap --dry-run")
    commands+=("$BENCH_BEFORE --dry-run")
  fi
  c=${#names[@]}
  rounds=${BENCH_ROUNDS:-$((2 * c))}
  for round in $(seq "$rounds"); do
    # Row r of a Williams square (0, 1, c-1, 2, c-2, ... plus r), mirrored in the
    # second c rounds: each command follows each other one equally often.
    r=$(((round - 1) % (2 * c)))
    args=()
    for k in $(seq 0 $((c - 1))); do
      at=$k
      [ "$r" -lt "$c" ] || at=$((c - 1 - k))
      if [ "$at" -eq 0 ]; then
        first=0
      elif [ $((at % 2)) -eq 1 ]; then
        first=$(((at + 1) / 2))
      else
        first=$((c - at / 2))
      fi
      j=$(((first + r) % c))
      args+=(-n "${names[j]}" "${commands[j]}")
    done
    hyperfine -N -i --style none --warmup 3 --runs "$runs" \
      --export-json "$out/hyperfine-$n-$round.json" "${args[@]}" >/dev/null
  done
  order=$(printf '%s\n' "${names[@]}" | jq -R . | jq -cs .)

  rss_reaper=$(peak_rss "$reaper" --dry-run)
  rss_floor=$(peak_rss "$floor")
  {
    mix="one \`exec -a patina\` in 250"
    [ "$young_every" -eq 0 ] || mix="one young \`patina\` (its kernel name too) in $young_every"
    echo "## $n extra processes ($procs in /proc; $mix; $young young patina seen by --dry-run --json)"
    echo
    echo "| command | median ms | IQR ms | × floor | × patina-reap |"
    echo "|---|---:|---:|---:|---:|"
    jq -rs --argjson order "$order" '
      def q($p): sort | .[(length - 1) * $p | round];
      def ms: . * 100000 | round / 100;
      def x: . * 100 | round / 100;
      [.[].results[]] as $all
      | [$order[] as $c | [$all[] | select(.command == $c) | .times[]]
         | {command: $c, median: q(0.5), q1: q(0.25), q3: q(0.75), n: length}]
      | .[0].median as $floor | .[1].median as $reaper
      | .[]
      | "| `\(.command)` | \(.median | ms) | \(.q1 | ms)–\(.q3 | ms) | \(.median / $floor | x) | \(.median / $reaper | x) |"
    ' "$out"/hyperfine-"$n"-*.json
    echo
    echo "Medians of $((rounds * runs)) runs per command, in $rounds interleaved rounds in"
    echo "balanced orders."
    echo
    echo "Peak RSS (max of 5 runs): patina-reap --dry-run $rss_reaper KiB, floor $rss_floor KiB."
    echo
  } >>"$report"
done

cat "$report"
