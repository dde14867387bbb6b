#!/usr/bin/env bash
# bench/forward_profile.sh: where the relay's time goes on request/reply
# traffic (wrk through nginx, 612-byte page), measured with perf:
#   1. requests/s direct, portkit forward, rinetd: $ROUNDS interleaved
#      rounds, medians and the per-round portkit/rinetd ratio
#   2. perf record of the portkit process under the same load: the share
#      of its CPU time in the kernel against user space, the top symbols
#   3. system calls per relayed request (perf stat on raw_syscalls)
# Runs in a network namespace of its own (root), loopback only.
# Usage: bench/forward_profile.sh [path/to/portkit]   env DUR=5 ROUNDS=5 CONNS=50
set -euo pipefail
cd "$(dirname "$0")/.."
PK=$(realpath "${1:-build/portkit}")
DUR=${DUR:-5}
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-50}
for t in wrk nginx rinetd perf python3; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { echo "needs $t" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (a network namespace, perf on another process)" >&2; exit 2; }
PATH=$PATH:/usr/sbin
. bench/lib.sh
bench_own_netns fwdprof "$0" "$PK"

tmp=$(mktemp -d /tmp/pk-bench-profile.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
NP=18080 PP=18081 RP=18082
bench_nginx "$tmp" "$NP"
"$PK" forward -q "127.0.0.1:$PP" "127.0.0.1:$NP" 2>/dev/null & fpid=$!; pids+=($fpid)
echo "127.0.0.1 $RP 127.0.0.1 $NP" >"$tmp/rinetd.conf"
rinetd -f -c "$tmp/rinetd.conf" >/dev/null 2>&1 & pids+=($!)
sleep 0.5

echo "== machine: $(nproc) cores, $(uname -r); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
rps() { wrk -t2 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$1/" | awk '/Requests\/sec/{print $2}'; }
D="" P="" R=""
for r in $(seq "$ROUNDS"); do
  d=$(rps $NP); p=$(rps $PP); q=$(rps $RP)
  D="$D $d"; P="$P $p"; R="$R $q"
  printf 'round %d  direct %9.0f  portkit %9.0f  rinetd %9.0f req/s\n' "$r" "$d" "$p" "$q"
done
python3 - "$D" "$P" "$R" <<'PY'
import statistics, sys
d, p, r = ([float(x) for x in a.split()] for a in sys.argv[1:])
ratio = [p[i] / r[i] for i in range(len(p))]
print(f"medians: direct {statistics.median(d):.0f}, portkit {statistics.median(p):.0f}, "
      f"rinetd {statistics.median(r):.0f} req/s; portkit/rinetd per round "
      f"{' '.join(f'{x:.2f}' for x in ratio)}, median {statistics.median(ratio):.2f} (goal >= 1.2)")
PY

echo
echo "== perf record -g on portkit forward during wrk -t2 -c$CONNS -d${DUR}s"
perf record -F 1999 -g -o "$tmp/perf.data" -p "$fpid" -- sleep "$DUR" >/dev/null 2>&1 & prec=$!
n=$(rps $PP)
wait $prec || true
echo "   $n req/s while recorded"
perf report -i "$tmp/perf.data" --no-children --sort dso -g none --stdio 2>/dev/null |
  awk '/%/ {printf "   %-8s %s\n", $1, $2}' | head -6  || true
echo "   top symbols (self time):"
perf report -i "$tmp/perf.data" --no-children --sort dso,sym -g none --stdio 2>/dev/null |
  awk '/%/ {print "   " $0}' | head -25 || true

echo
echo "== system calls per request (perf stat -e raw_syscalls:sys_enter on portkit)"
perf stat -x, -e raw_syscalls:sys_enter -p "$fpid" -o "$tmp/stat.txt" -- sleep "$DUR" & pst=$!
sleep 0.2
out=$(wrk -t2 -c"$CONNS" -d"$((DUR - 1))s" "http://127.0.0.1:$PP/")
wait $pst || true
reqs=$(awk '/requests in/{print $1}' <<<"$out")
calls=$(awk -F, '/raw_syscalls/{print $1}' "$tmp/stat.txt")
python3 -c "print(f'   {int($calls)} system calls for {int($reqs)} requests: {int($calls)/int($reqs):.2f} per request')"
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
