#!/usr/bin/env bash
# bench/audit.sh: `portkit audit` on a host with LISTEN listeners (default
# 1,000 TCP + 100 UDP) and a generated ruleset of RULES rules (default
# 10,000: an inet filter table with address and port matches, named sets,
# jumps into 100 sub-chains, a verdict map, a NAT table with redirects).
# Everything lives in a network namespace the bench creates and removes;
# nothing is loaded in the machine's own namespace. The peer is what an
# administrator runs to answer the same question by hand: `ss -tulnp` and
# `nft list ruleset` (which still leaves the reading to them).
# Goal: <= 200 ms for the whole audit. Also prints peak memory.
#
# Usage: bench/audit.sh [path/to/portkit]     env: RULES LISTEN RUNS PK_NETNS_SLOT
set -euo pipefail
cd "$(dirname "$0")/.."
PK=$(realpath "${1:-build/portkit}")
RULES=${RULES:-10000}
LISTEN=${LISTEN:-1000}
RUNS=${RUNS:-10}
SLOT=${PK_NETNS_SLOT:-0}
NS="pk${SLOT#0}-bench-audit"
NET="10.$((200 + SLOT)).250"
[ -x "$PK" ] || { echo "build first: make" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench/audit.sh: needs root (a network namespace)" >&2; exit 2; }
for t in hyperfine nft ss ip /usr/bin/time python3; do
  command -v "$t" >/dev/null || { echo "needs $t (make bench installs it)" >&2; exit 2; }
done
tmp=$(mktemp -d)
holder=
cleanup() {
  if [ -n "$holder" ]; then kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true; fi
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns ip link add bench0 type veth peer name bench1
in_ns ip addr add "$NET.2/24" dev bench0
in_ns ip link set bench0 up
in_ns ip link set bench1 up

python3 - "$RULES" "$NET" >"$tmp/rules.nft" <<'PY'
import random, sys
rules, net = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(42)
out = ["table inet benchf {",
       "  set admins { type ipv4_addr; flags interval; elements = { 192.0.2.0/24, 198.51.100.0/24 } }",
       "  set blocked { type inet_service; elements = { " + ", ".join(str(p) for p in range(30000, 30500)) + " } }",
       "  map udpv { type inet_service : verdict; elements = { 20001 : accept, 20003 : drop } }"]
subs, per = 100, (rules - 200) // 100
for c in range(subs):
    out.append(f"  chain sub{c} {{")
    for i in range(per):
        kind = rnd.randrange(4)
        port = rnd.randrange(1, 65500)
        if kind == 0:
            out.append(f"    ip saddr 203.0.{rnd.randrange(113, 114)}.{rnd.randrange(1, 255)} tcp dport {port} counter accept")
        elif kind == 1:
            out.append(f"    tcp dport {port} ip saddr @admins counter accept")
        elif kind == 2:
            out.append(f"    iifname \"nosuch{c}\" udp dport {port} counter accept")
        else:
            out.append(f"    tcp dport {port}-{port + 3} ip saddr 10.{c}.0.0/16 counter drop")
    out.append("  }")
out.append("  chain input { type filter hook input priority 0; policy drop;")
out.append("    ct state established,related accept")
out.append("    iif lo accept")
out.append("    tcp dport @blocked counter drop")
out.append("    udp dport vmap @udpv")
for c in range(subs):
    out.append(f"    counter jump sub{c}")
# every fifth listener is allowed
for p in range(20000, 21000, 5):
    out.append(f"    tcp dport {p} counter accept")
out.append("  }")
out.append("}")
out.append("table ip benchnat { chain pre { type nat hook prerouting priority -100;")
for p in range(40000, 40050):
    out.append(f"    tcp dport {p} redirect to :{p - 20000}")
out.append("  }")
out.append("}")
print("\n".join(out))
PY
in_ns nft -f "$tmp/rules.nft"
nrules=$(in_ns nft -a list ruleset | grep -c '# handle' || true)

ip netns exec "$NS" python3 -c '
import socket, sys, time, resource
n = int(sys.argv[1]); held = []
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 500, n + 500))
for p in range(20000, 20000 + n):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", p)); s.listen(4); held.append(s)
for p in range(20000, 20100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", p)); held.append(u)
print("READY", flush=True)
time.sleep(3600)' "$LISTEN" >"$tmp/holder.out" &
holder=$!
for _ in $(seq 1 100); do grep -q READY "$tmp/holder.out" 2>/dev/null && break; sleep 0.1; done
grep -q READY "$tmp/holder.out" || { echo "bench/audit.sh: listeners did not come up" >&2; exit 1; }

found=$(in_ns "$PK" audit --json | wc -l)
echo "== namespace $NS: $(in_ns ss -Htuln | wc -l) listening sockets, ruleset of ~$nrules rules (nft handles)," \
     "portkit audit judged $found (listener, family, way-in) rows"
in_ns "$PK" audit --json | python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(l)["verdict"] for l in sys.stdin)
print("   verdicts:", dict(c))'
echo "   $(nproc) cores; $(uname -r)"
echo

# the same ruleset saved: what portkit spends on its own (JSON parse and
# evaluation), without libnftables' listing
in_ns nft -j list ruleset >"$tmp/saved.json"
cmds=("ip netns exec $NS $PK audit" "ip netns exec $NS $PK audit --json"
      "ip netns exec $NS $PK audit --ruleset $tmp/saved.json"
      "ip netns exec $NS sh -c 'ss -tulnp; nft list ruleset'" "ip netns exec $NS nft -j list ruleset")
echo "== time, whole process, output to /dev/null (hyperfine, $RUNS runs each after 2 warm-ups)"
hyperfine -N -i --warmup 2 --runs "$RUNS" --export-json "$tmp/h.json" --export-markdown "$tmp/h.md" \
  "${cmds[@]}" >/dev/null
cat "$tmp/h.md"
echo
echo "== peak memory (max RSS, /usr/bin/time, one run)"
in_ns /usr/bin/time -f '%M' -o "$tmp/mem" "$PK" audit >/dev/null
echo "portkit audit: $(tail -1 "$tmp/mem") KiB"
in_ns /usr/bin/time -f '%M' -o "$tmp/mem" nft -j list ruleset >/dev/null
echo "nft -j list ruleset: $(tail -1 "$tmp/mem") KiB"
echo
python3 - "$tmp/h.json" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
ours, saved, nft = (res[i]["mean"] * 1e3 for i in (0, 2, 4))
print(f"== portkit audit: {ours:.0f} ms (goal <= 200 ms: {'met' if ours <= 200 else 'NOT met'}); "
      f"libnftables' own listing (nft -j list ruleset) {nft:.0f} ms; "
      f"from the saved ruleset (parse + evaluation only) {saved:.0f} ms")
PY
