#!/usr/bin/env bash
# The cost of a flood of daemon-named listeners: N listeners named
# `…/.patina/run/serve.sock`, each under a home of its own (as a test suite with many
# temporary HOMEs makes them), and as many abstract ones, held by a few processes of
# their own. Beside them one old `patina mother start` serves its socket. Measured:
#   - the preflight (`patina status` of examples/patina.rs, threshold 1s, a fresh
#     runtime directory each run so that it scans): wall time and peak RSS;
#   - root's `patina-reap --all-users --dry-run --json --threshold 1s`: wall time, peak
#     RSS, and the verdict on the serving daemon (it must be serving).
#
# Usage: scripts/flood.sh [COUNT...]      (default: 2000 20000)
#   FLOOD_RUNS=N  runs of each command per count (default 5): median and maximum
#   FLOOD_BIN=DIR take patina-reap and examples/patina from DIR instead of building
#                 them (release) here, to measure another build
#
# Runs as root, everything inside a private PID and network namespace: the name
# `patina` touches nothing of the machine's, the listeners are in no other reaper's
# table, and whatever the script started ends with the namespace.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${FLOOD_INSIDE:-}" != 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "flood.sh: run it as root (it uses a PID namespace)" >&2; exit 2; }
  [ -x /usr/bin/time ] || { echo "flood.sh: please install time (/usr/bin/time)" >&2; exit 2; }
  if [ -z "${FLOOD_BIN:-}" ]; then
    cargo build --release --quiet --bin patina-reap --example patina
    export FLOOD_BIN=target/release
    FLOOD_LABEL="target/release, built from $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  fi
  export FLOOD_LABEL=${FLOOD_LABEL:-$FLOOD_BIN}
  mkdir -p target/flood
  sleeper=target/flood/sleeper
  if [ ! -x "$sleeper" ] || [ tests/common/sleeper.rs -nt "$sleeper" ]; then
    rustc -O --edition 2021 -o "$sleeper" tests/common/sleeper.rs
  fi
  FLOOD_INSIDE=1 exec unshare --pid --fork --mount-proc --net "$0" "$@"
fi

counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(2000 20000)
runs=${FLOOD_RUNS:-5}
reaper=$(realpath "$FLOOD_BIN/patina-reap")
patina=$(realpath "$FLOOD_BIN/examples/patina")
sleeper=$(realpath target/flood/sleeper)
base=$(realpath target/flood)
hard=$(ulimit -Hn)
per=$(((hard - 64) / 2))

# Median and maximum of the numbers on stdin.
stats() { sort -n | awk '{v[NR] = $1} END {printf "median %s, max %s", v[int((NR + 1) / 2)], v[NR]}'; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

echo "# Floods of daemon-named listeners"
echo
echo "$(uname -sr), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $FLOOD_LABEL; $runs runs each"
for n in "${counts[@]}"; do
  d=$(mktemp -d "$base/run.XXXX")
  mkdir -p "$d/f" "$d/home"
  # The listeners are held under a program name of their own, not patina.
  ln "$sleeper" "$d/flood"
  flooders=()
  i=0
  while [ "$i" -lt "$n" ]; do
    j=$((i + per)); [ "$j" -gt "$n" ] && j=$n
    SLEEPER_FLOOD="$d/f" SLEEPER_FLOOD_RANGE=$i..$j SLEEPER_PIDFILE="$d/f/pid$i" "$d/flood" &
    flooders+=($!)
    while [ ! -s "$d/f/pid$i" ]; do sleep 0.05; done
    i=$j
  done
  HOME="$d/home" PATINA_REAP_THRESHOLD=off "$patina" mother start 2>/dev/null &
  daemon=$!
  while [ ! -S "$d/home/.patina/run/serve.sock" ]; do sleep 0.01; done
  sleep 1.2
  listeners=$(grep -c '/\.patina/run/serve\.sock$' /proc/net/unix || true)
  echo
  echo "## $n daemon-named listeners ($listeners in /proc/net/unix, and as many abstract ones)"
  echo
  : >"$d/pre.ms"; : >"$d/pre.kib"; : >"$d/cli.ms"; : >"$d/cli.kib"; : >"$d/verdicts"
  for r in $(seq "$runs"); do
    mkdir "$d/t$r"
    t0=$(now_ms)
    HOME="$d/home" TMPDIR="$d/t$r" XDG_RUNTIME_DIR="$d/t$r" PATINA_REAP_THRESHOLD=1s \
      /usr/bin/time -f '%M' -o "$d/rss" "$patina" status >/dev/null 2>"$d/pre.err"
    echo $(($(now_ms) - t0)) >>"$d/pre.ms"
    tail -n 1 "$d/rss" >>"$d/pre.kib"
    [ -s "$d/pre.err" ] && sed 's/^/    preflight said: /' "$d/pre.err"
    t0=$(now_ms)
    TMPDIR="$d/t$r" /usr/bin/time -f '%M' -o "$d/rss" \
      "$reaper" --all-users --dry-run --json --threshold 1s >"$d/doc"
    echo $(($(now_ms) - t0)) >>"$d/cli.ms"
    tail -n 1 "$d/rss" >>"$d/cli.kib"
    grep -o "\"pid\":$daemon,[^}]*" "$d/doc" | grep -o '"reason":"[a-z-]*"' >>"$d/verdicts" || echo '"reason":?' >>"$d/verdicts"
  done
  echo "- preflight (\`patina status\`): $(stats <"$d/pre.ms") ms; peak RSS $(stats <"$d/pre.kib") KiB"
  echo "- \`patina-reap --all-users --dry-run\`: $(stats <"$d/cli.ms") ms; peak RSS $(stats <"$d/cli.kib") KiB"
  echo "- the serving daemon, as the dry runs saw it: $(sort "$d/verdicts" | uniq -c | tr -s ' ' | paste -sd ',')"
  kill "$daemon" "${flooders[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$d"
done
