#!/usr/bin/env bash
# bench/ls.sh: `portkit ls -a` (with processes) against ss -tuanp,
# netstat -tuanp and lsof -nP -i, all in the same run, on a host holding
# LISTEN listening sockets and CONNS established loopback connections
# (default 10,000 + 10,000 = 30,000 sockets over three processes, made by
# bench/sockload.py on 127.77.0.0/16 only). Prints hyperfine's table, the
# ratio to ss -tuanp (goal: <= 0.7) and each tool's peak memory.
#
# Usage: bench/ls.sh [path/to/portkit]     env: LISTEN CONNS RUNS
set -euo pipefail
cd "$(dirname "$0")/.."
PK=${1:-build/portkit}
LISTEN=${LISTEN:-10000}
CONNS=${CONNS:-10000}
RUNS=${RUNS:-10}
[ -x "$PK" ] || { echo "build first: make" >&2; exit 2; }
for t in hyperfine ss netstat lsof /usr/bin/time python3; do
  command -v "$t" >/dev/null || { echo "needs $t (make bench installs it)" >&2; exit 2; }
done
tmp=$(mktemp -d)

coproc LOAD { exec python3 bench/sockload.py "$LISTEN" "$CONNS"; }
load_pid=$LOAD_PID
cleanup() {
  # closing its stdin (or SIGTERM) makes sockload stop its workers
  kill "$load_pid" 2>/dev/null || true
  wait "$load_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
if ! read -r -t 300 -u "${LOAD[0]}" ready total _; then
  echo "bench/ls.sh: the socket load did not come up" >&2
  exit 1
fi
[ "$ready" = READY ] || { echo "bench/ls.sh: sockload said '$ready'" >&2; exit 1; }

echo "== load: $total sockets from sockload ($LISTEN listeners + $CONNS loopback connections)"
echo "   this host now: $(ss -Htan | wc -l) TCP sockets, $(ss -Htln | wc -l) listening;" \
     "portkit ls -a sees $("$PK" ls -a --json | wc -l) TCP+UDP sockets, ss -tuan $(ss -Htuan | wc -l)"
echo "   $(nproc) cores; $(uname -r)"
echo

cmds=("$PK ls -a" "ss -tuanp" "netstat -tuanp" "lsof -nP -i" "$PK ls -a --json" "$PK ls -a --no-process" "ss -tuan")
echo "== time, whole process, output to /dev/null (hyperfine, $RUNS runs each after 2 warm-ups)"
hyperfine -N -i --warmup 2 --runs "$RUNS" --export-json "$tmp/h.json" --export-markdown "$tmp/h.md" \
  "${cmds[@]}" >/dev/null
cat "$tmp/h.md"
echo

echo "== peak memory (max RSS, /usr/bin/time, one run each)"
printf '| %-34s | %11s |\n' command "max RSS"
printf '|%s|%s|\n' "------------------------------------" "-------------"
for c in "${cmds[@]}"; do
  # shellcheck disable=SC2086
  /usr/bin/time -f '%M' -o "$tmp/mem" $c >/dev/null 2>&1 || true
  kb=$(tail -1 "$tmp/mem")
  printf '| %-34s | %7s KiB |\n' "$c" "$kb"
done
echo

python3 - "$tmp/h.json" "$PK" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
pk = sys.argv[2]
ours, ss = res[f"{pk} ls -a"], res["ss -tuanp"]
ratio = ours["mean"] / ss["mean"]
print(f"== portkit ls -a / ss -tuanp = {ours['mean']*1e3:.0f} ms / {ss['mean']*1e3:.0f} ms = {ratio:.2f}x "
      f"(goal <= 0.70: {'met' if ratio <= 0.7 else 'NOT met'})")
for peer in ("netstat -tuanp", "lsof -nP -i"):
    print(f"   vs {peer}: {ours['mean'] / res[peer]['mean']:.2f}x")
PY
