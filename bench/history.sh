#!/usr/bin/env bash
# bench/history.sh: the scan history at scale, and the idle cost of watch.
#   1. save: HOSTS hosts x every TCP port (synthetic results through the
#      library API, as `scan --save` writes them: OPEN open ports per host,
#      the rest closed), twice, the second run moving one port on every
#      100th host; time, peak memory, database size.
#   2. diff of the two stored runs: time (hyperfine), peak memory, and the
#      peak memory of the same diff over 4x the hosts (memory follows the
#      changes, not the scan size).
#   3. the same two runs as nmap XML files: `portkit diff a.xml b.xml`
#      (import of both + diff) against nmap's ndiff, in the same run.
#   4. idle `portkit watch`: CPU time over IDLE_SECS seconds (default 60) in
#      a network namespace of its own (no sockets come and go there).
# Usage: bench/history.sh [path/to/portkit]    env: HOSTS OPEN IDLE_SECS RUNS
set -euo pipefail
cd "$(dirname "$0")/.."
PK=${1:-build/portkit}
HOSTS=${HOSTS:-1000}
OPEN=${OPEN:-20}
IDLE_SECS=${IDLE_SECS:-60}
RUNS=${RUNS:-10}
[ -x "$PK" ] || { echo "build first: make" >&2; exit 2; }
[ -f build/libportkit.a ] || { echo "build first: make (needs build/libportkit.a)" >&2; exit 2; }
for t in hyperfine ndiff /usr/bin/time python3 cc pkg-config; do
  command -v "$t" >/dev/null || { echo "needs $t (make bench installs it)" >&2; exit 2; }
done
tmp=$(mktemp -d)
ns=""
cleanup() {
  [ -n "${watch_pid:-}" ] && kill "$watch_pid" 2>/dev/null || true
  [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

libs=$(pkg-config --libs libmnl sqlite3 expat; pkg-config --exists liburing && pkg-config --libs liburing)
cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude tests/tools/pk_histfill.c build/libportkit.a $libs -lm -o "$tmp/pk_histfill"

echo "== $(nproc) cores; $(uname -r); SQLite $(pkg-config --modversion sqlite3)"
echo
echo "== save: $HOSTS hosts x 65535 TCP ports, $OPEN open per host (one transaction per run)"
db="$tmp/h.db"
for v in 0 1; do
  /usr/bin/time -f "%M" -o "$tmp/rss" "$tmp/pk_histfill" "$db" "$HOSTS" "$OPEN" "$v" > "$tmp/fill.json"
  save=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["save_s"])' "$tmp/fill.json")
  size=$(du -cb "$db"* | tail -1 | cut -f1)
  printf "   run %d: %s s, peak RSS %s KB, database now %.1f MB (with WAL)\n" $((v + 1)) "$save" "$(tail -1 "$tmp/rss")" \
    "$(echo "$size / 1048576" | bc -l)"
done
echo

echo "== diff of the two stored runs ($("$PK" diff --db "$db" --json 1 2 | wc -l) changes)"
hyperfine -N -i --warmup 2 --runs "$RUNS" --export-markdown "$tmp/d.md" "$PK diff --db $db --json 1 2" >/dev/null 2>&1
cat "$tmp/d.md"
/usr/bin/time -f "%M" -o "$tmp/rss" "$PK" diff --db "$db" --json 1 2 >/dev/null || true
echo "   peak RSS $(tail -1 "$tmp/rss") KB"
big="$tmp/big.db"
"$tmp/pk_histfill" "$big" $((HOSTS * 4)) "$OPEN" 0 >/dev/null
"$tmp/pk_histfill" "$big" $((HOSTS * 4)) "$OPEN" 1 >/dev/null
/usr/bin/time -f "%M" -o "$tmp/rss" "$PK" diff --db "$big" --json 1 2 >/dev/null || true
echo "   $((HOSTS * 4)) hosts ($("$PK" diff --db "$big" --json 1 2 | wc -l) changes): peak RSS $(tail -1 "$tmp/rss") KB"
echo

echo "== the same runs as nmap XML: portkit diff (import both + diff) vs ndiff"
python3 - "$db" "$tmp" <<'EOF'
import sqlite3, sys
db, out = sys.argv[1], sys.argv[2]
con = sqlite3.connect(db)
for run in (1, 2):
    with open(f"{out}/run{run}.xml", "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n'
                f'<nmaprun scanner="nmap" args="nmap -p- synthetic" start="{1700000000 + run}" version="7.93" '
                'xmloutputversion="1.05">\n<scaninfo type="connect" protocol="tcp" numservices="65535" '
                'services="1-65535"/>\n')
        hosts = con.execute("SELECT id, addr, closed_tcp FROM hosts WHERE run_id=? ORDER BY akey", (run,))
        for hid, addr, closed in hosts.fetchall():
            f.write(f'<host><status state="up" reason="user-set"/><address addr="{addr}" addrtype="ipv4"/>'
                    f'<ports><extraports state="closed" count="{closed}"/>\n')
            for port, in con.execute("SELECT port FROM ports WHERE host_id=? ORDER BY port", (hid,)):
                f.write(f'<port protocol="tcp" portid="{port}"><state state="open" reason="syn-ack"/>'
                        '<service name="http" method="table" conf="3"/></port>\n')
            f.write('</ports></host>\n')
        f.write('<runstats><finished time="1700000100"/><hosts up="0" down="0" total="0"/></runstats>\n</nmaprun>\n')
EOF
ls -la "$tmp"/run1.xml | awk '{printf "   each file %.1f MB\n", $5/1048576}'
hyperfine -N -i --warmup 1 --runs "$RUNS" --export-markdown "$tmp/x.md" \
  "$PK diff --json $tmp/run1.xml $tmp/run2.xml" "ndiff $tmp/run1.xml $tmp/run2.xml" >/dev/null 2>&1
cat "$tmp/x.md"
echo "   changes: portkit $("$PK" diff --json "$tmp/run1.xml" "$tmp/run2.xml" | wc -l)," \
     "ndiff $(ndiff "$tmp/run1.xml" "$tmp/run2.xml" | grep -cE '^[-+][0-9]+/tcp' || true) port lines"
echo

echo "== idle watch: CPU over ${IDLE_SECS} s"
if [ "$(id -u)" -eq 0 ]; then
  ns="pkbench-watch-$$"
  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" "$PK" watch >/dev/null 2>&1 &
  where="a namespace of its own"
else
  "$PK" watch >/dev/null 2>&1 &
  where="this host's namespace (not root)"
fi
watch_pid=$!
sleep 1
ticks() { awk '{print $14 + $15}' "/proc/$watch_pid/stat"; }
t0=$(ticks)
sleep "$IDLE_SECS"
t1=$(ticks)
hz=$(getconf CLK_TCK)
kill "$watch_pid"; wait "$watch_pid" 2>/dev/null || true
watch_pid=""
python3 -c "import sys; c=(int(sys.argv[2])-int(sys.argv[1]))/int(sys.argv[3]); s=float(sys.argv[4]); \
print(f'   {c:.2f} s CPU in {s:.0f} s = {100*c/s:.3f} % of one core ({sys.argv[5]})')" "$t0" "$t1" "$hz" "$IDLE_SECS" "$where"
