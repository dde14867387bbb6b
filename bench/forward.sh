#!/usr/bin/env bash
# bench/forward.sh: portkit forward against a direct connection, socat,
# rinetd and redir, all in the same run, all on loopback:
#   1. iperf3 throughput, one TCP stream (iperf3 -t $DUR)
#   2. wrk requests/s against nginx (wrk -t2 -c$CONNS -d$DUR), nginx started
#      here with its own prefix and config in a temp dir
#   3. UDP: iperf3 -u at a fixed rate ($UDP_RATE), loss and jitter: direct,
#      the relay, the kernel
#   4. memory of portkit forward holding $IDLE idle connections
#   5. UDP loss for bursts of 512 B, 4 KB and 64 KB datagrams (bench/udp_burst.py),
#      direct vs portkit forward --udp
# `portkit --kernel` (nftables NAT) runs beside the relay in every round.
# Its rules may only ever be loaded in a namespace this script creates, so
# as root the whole bench re-runs itself inside a fresh network namespace
# (loopback only, every tool alike); without root the kernel rows are left
# out.
# Every figure is the median of $ROUNDS rounds; the rounds interleave the
# tools so a burst of load from elsewhere hits them all alike.
# Usage: bench/forward.sh [path/to/portkit]
#        env DUR=5 CONNS=50 ROUNDS=3 IDLE=9000 UDP_RATE=500M
set -euo pipefail
cd "$(dirname "$0")/.."
PK=${1:-build/portkit}
. bench/lib.sh
bench_own_netns fwdbench "$0" "$@"
KERNEL=${PK_BENCH_NETNS:+yes}
UDP_RATE=${UDP_RATE:-500M}
DUR=${DUR:-5}
CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-9000}
[ -x "$PK" ] || { echo "build first: make" >&2; exit 2; }
for t in iperf3 wrk nginx socat rinetd redir python3; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] ||
    { echo "needs $t (make bench installs the Debian packages)" >&2; exit 2; }
done
PATH=$PATH:/usr/sbin
tmp=$(mktemp -d /tmp/pk-bench-forward.XXXXXX)
pids=()
PID=
cleanup() {
  # PID: a forwarder start() left running when a step failed.
  for p in "${pids[@]}" $PID; do kill "$p" 2>/dev/null || true; done
  [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  python3 - "$1" <<'PY'
import socket, sys, time
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close(); sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit("port %s never opened" % sys.argv[1])
PY
}
# One iperf3 run's Gbit/s; on a loaded machine the server can refuse a run
# (busy, or a control timeout): try again, three times at most.
iperf_gbps() {
  local t out
  for t in 1 2 3; do
    out=$(timeout $((DUR + 30)) iperf3 -c 127.0.0.1 -p "$1" -t "$DUR" -J 2>/dev/null |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9)' \
      2>/dev/null) && { echo "$out"; return 0; }
    sleep 1
  done
  echo "iperf3 through port $1 failed three times" >&2
  return 1
}
median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(statistics.median(v))' "$@"; }

echo "== machine: $(nproc) cores, $(uname -r); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== portkit: $PK ($("$PK" --version))"
if [ -n "$KERNEL" ]; then echo "== in network namespace $PK_BENCH_NETNS (portkit --kernel rules live only there)"
else echo "== not root: no portkit --kernel rows (its rules need a namespace of their own)"; fi

# ---- the servers ----------------------------------------------------------
IPERF_PORT=$(freeport)
iperf3 -s -p "$IPERF_PORT" >/dev/null 2>&1 & pids+=($!)
NGINX_PORT=$(freeport)
bench_nginx "$tmp" "$NGINX_PORT"
wait_port "$IPERF_PORT"
wait_port "$NGINX_PORT"

# ---- the forwarders: start NAME LISTEN_PORT TARGET_PORT sets PID ----------
start() {
  local name=$1 lp=$2 tp=$3
  case $name in
    portkit) "$PK" forward -q "127.0.0.1:$lp" "127.0.0.1:$tp" >/dev/null 2>"$tmp/portkit.log" & ;;
    kernel) "$PK" forward --kernel -q "127.0.0.1:$lp" "127.0.0.1:$tp" >/dev/null 2>"$tmp/kernel.log" & ;;
    socat) socat "TCP-LISTEN:$lp,bind=127.0.0.1,reuseaddr,fork,backlog=4096" "TCP:127.0.0.1:$tp" \
             >/dev/null 2>&1 & ;;
    rinetd) echo "127.0.0.1 $lp 127.0.0.1 $tp" >"$tmp/rinetd.conf"
            rinetd -f -c "$tmp/rinetd.conf" >/dev/null 2>&1 & ;;
    redir) redir -n "127.0.0.1:$lp" "127.0.0.1:$tp" >/dev/null 2>&1 & ;;
  esac
  PID=$!
  wait_port "$lp"
}
# socat and redir fork a child per connection: those go first, by parent PID.
stop() { pkill -P "$1" 2>/dev/null || true; kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

TOOLS=(direct portkit socat rinetd redir)
[ -n "$KERNEL" ] && TOOLS=(direct portkit kernel socat rinetd redir)
declare -A GBPS RPS
for r in $(seq "$ROUNDS"); do
  for tool in "${TOOLS[@]}"; do
    PID=
    if [ "$tool" = direct ]; then ip=$IPERF_PORT; np=$NGINX_PORT
    else ip=$(freeport); start "$tool" "$ip" "$IPERF_PORT"
    fi
    g=$(iperf_gbps "$ip")
    [ -n "$PID" ] && stop "$PID"
    if [ "$tool" != direct ]; then np=$(freeport); start "$tool" "$np" "$NGINX_PORT"; fi
    q=$(wrk -t2 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$np/" | awk '/Requests\/sec/{print $2}')
    [ -n "$PID" ] && stop "$PID"
    GBPS[$tool]="${GBPS[$tool]:-} $g"
    RPS[$tool]="${RPS[$tool]:-} $q"
    printf 'round %d  %-8s %6.2f Gbit/s  %9.0f req/s\n' "$r" "$tool" "$g" "$q"
  done
done

echo
echo "== throughput and requests/s: median of $ROUNDS rounds"
echo "   iperf3 -c 127.0.0.1 -p PORT -t $DUR (one stream);  wrk -t2 -c$CONNS -d${DUR}s http://127.0.0.1:PORT/ (nginx, 612-byte page)"
printf '| %-8s | %12s | %8s | %12s | %8s |\n' tool "Gbit/s" "× direct" "req/s" "× direct"
printf '|%s|%s|%s|%s|%s|\n' ---------- -------------- ---------- -------------- ----------
gd=$(median ${GBPS[direct]}); rd=$(median ${RPS[direct]})
declare -A GM RM
for tool in "${TOOLS[@]}"; do
  GM[$tool]=$(median ${GBPS[$tool]}); RM[$tool]=$(median ${RPS[$tool]})
  python3 -c "print('| %-8s | %12.2f | %8.2f | %12.0f | %8.2f |' % ('$tool', ${GM[$tool]}, ${GM[$tool]}/$gd, ${RM[$tool]}, ${RM[$tool]}/$rd))"
done
# Ratios per round first (each round's tools ran minutes apart at most, under
# the same outside load), then their median.
python3 - "$ROUNDS" "${GBPS[direct]}" "${GBPS[portkit]}" "${GBPS[socat]}" "${GBPS[rinetd]}" \
  "${GBPS[redir]}" "${RPS[direct]}" "${RPS[portkit]}" "${RPS[rinetd]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
d, pk, so, ri, re_, rd, rpk, rri = ([float(x) for x in a.split()] for a in sys.argv[2:])
med = lambda v: statistics.median(v)
vs_direct = [pk[i] / d[i] for i in range(n)]
vs_best = [pk[i] / max(so[i], ri[i], re_[i]) for i in range(n)]
rq_direct = [rpk[i] / rd[i] for i in range(n)]
rq_rinetd = [rpk[i] / rri[i] for i in range(n)]
f = lambda v: " ".join(f"{x:.2f}" for x in v)
print(f"portkit throughput: {med(vs_direct):.2f}x direct (goal >= 0.75; rounds {f(vs_direct)}), "
      f"{med(vs_best):.2f}x the best peer (goal >= 1.3; rounds {f(vs_best)})")
print(f"portkit requests/s: {med(rq_rinetd):.2f}x rinetd (goal >= 1.2; rounds {f(rq_rinetd)}), "
      f"{med(rq_direct):.2f}x direct")
PY

if [ -n "$KERNEL" ]; then
  python3 - "$ROUNDS" "${GBPS[direct]}" "${GBPS[kernel]}" "${RPS[direct]}" "${RPS[kernel]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
d, k, rd, rk = ([float(x) for x in a.split()] for a in sys.argv[2:])
tp = [k[i] / d[i] for i in range(n)]
rq = [rk[i] / rd[i] for i in range(n)]
f = lambda v: " ".join(f"{x:.2f}" for x in v)
print(f"portkit --kernel throughput: {statistics.median(tp):.2f}x direct (goal >= 0.95; rounds {f(tp)})")
print(f"portkit --kernel requests/s: {statistics.median(rq):.2f}x direct (goal >= 0.95; rounds {f(rq)})")
PY
fi

# ---- UDP: iperf3 -u at a fixed rate ----------------------------------------
# iperf3 keeps a TCP control connection beside the UDP stream on the same
# port, so each forwarder gets both rules.
echo
echo "== UDP: iperf3 -u -b $UDP_RATE -l 1400 -t $DUR, median of $ROUNDS rounds"
UTOOLS=(direct portkit)
[ -n "$KERNEL" ] && UTOOLS=(direct portkit kernel)
declare -A ULOSS UJIT UGBPS
for r in $(seq "$ROUNDS"); do
  for tool in "${UTOOLS[@]}"; do
    PID=
    if [ "$tool" = direct ]; then up=$IPERF_PORT
    else
      up=$(freeport)
      printf '127.0.0.1:%s 127.0.0.1:%s tcp\n127.0.0.1:%s 127.0.0.1:%s udp\n' \
        "$up" "$IPERF_PORT" "$up" "$IPERF_PORT" >"$tmp/udp.conf"
      if [ "$tool" = kernel ]; then "$PK" forward --kernel -q -c "$tmp/udp.conf" 2>"$tmp/kernel.log" &
      else "$PK" forward -q -c "$tmp/udp.conf" 2>"$tmp/portkit.log" &
      fi
      PID=$!
      wait_port "$up"
    fi
    read -r loss jit gb < <(timeout $((DUR + 30)) iperf3 -c 127.0.0.1 -p "$up" -u -b "$UDP_RATE" -l 1400 -t "$DUR" -J |
      python3 -c 'import json,sys; s=json.load(sys.stdin)["end"]["sum"]; print(s["lost_percent"], s["jitter_ms"], s["bits_per_second"]*(1-s["lost_percent"]/100)/1e9)')
    [ -n "$PID" ] && stop "$PID"
    ULOSS[$tool]="${ULOSS[$tool]:-} $loss"; UJIT[$tool]="${UJIT[$tool]:-} $jit"; UGBPS[$tool]="${UGBPS[$tool]:-} $gb"
    printf 'round %d  %-8s loss %6.2f %%  jitter %7.4f ms  %6.3f Gbit/s received\n' "$r" "$tool" "$loss" "$jit" "$gb"
  done
done
printf '| %-8s | %8s | %11s | %14s |\n' tool "loss %" "jitter ms" "Gbit/s"
printf '|%s|%s|%s|%s|\n' ---------- ---------- ------------- ----------------
for tool in "${UTOOLS[@]}"; do
  printf '| %-8s | %8.2f | %11.4f | %14.3f |\n' "$tool" "$(median ${ULOSS[$tool]})" \
    "$(median ${UJIT[$tool]})" "$(median ${UGBPS[$tool]})"
done

# ---- memory with idle connections -----------------------------------------
echo
echo "== memory: portkit forward holding $IDLE idle connections"
TP=$(freeport); LP=$(freeport)
python3 - "$TP" "$IDLE" >"$tmp/acceptor.out" 2>&1 <<'PY' & apid=$!
# The target: accepts and holds every connection, says nothing.
import resource, selectors, socket, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
port, n = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(4096)
print("ready", flush=True)
held = []
while len(held) < n:
    c, _ = ls.accept(); held.append(c)
print("held", len(held), flush=True)
__import__("time").sleep(300)
PY
pids+=($apid)
for _ in $(seq 100); do [ -s "$tmp/acceptor.out" ] && break; sleep 0.05; done
start portkit "$LP" "$TP"; fpid=$PID; pids+=($fpid)
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/{print $2}' "/proc/$1/status"; }
base=$(rss_kib "$fpid")
python3 - "$LP" "$IDLE" "$fpid" "$tmp" <<'PY'
import os, resource, socket, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
port, n, fpid, tmp = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
socks = []
t0 = time.monotonic()
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), 10); socks.append(s)
# every connection relayed: the forwarder holds two sockets for each
for _ in range(300):
    fds = len(os.listdir(f"/proc/{fpid}/fd"))
    if fds >= 2 * n:
        break
    time.sleep(0.1)
print(f"   {n} connections open in {time.monotonic()-t0:.1f} s; portkit holds {fds} fds")
st = open(f"/proc/{fpid}/status").read()
val = lambda k: int([l for l in st.splitlines() if l.startswith(k)][0].split()[1])
print(f"   portkit VmRSS {val('VmRSS:')/1024:.1f} MiB, VmHWM {val('VmHWM:')/1024:.1f} MiB (goal <= 20 MiB)")
for s in socks:
    s.close()
PY
echo "   (before the connections: VmRSS $((base / 1024)) MiB)"
stop "$fpid"; stop "$apid"

# ---- UDP bursts ----------------------------------------------------------
echo
echo "== UDP: loss for bursts of datagrams (about 4 MiB a burst, 5 bursts; receiver buffer 8 MiB)"
echo "   bench/udp_burst.py SEND_PORT SINK_PORT SIZE: direct, then through portkit forward --udp"
printf '| %-9s | %14s | %14s |\n' datagram "direct loss" "portkit loss"
printf '|%s|%s|%s|\n' ----------- ---------------- ----------------
udpport() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for size in 512 4096 65000; do
  SINK=$(udpport)
  d=$(python3 bench/udp_burst.py "$SINK" "$SINK" "$size" | awk '{print $4}')
  SINK=$(udpport); LP=$(udpport)
  "$PK" forward -q --udp "127.0.0.1:$LP" "127.0.0.1:$SINK" 2>"$tmp/udp.log" & upid=$!
  sleep 0.3
  p=$(python3 bench/udp_burst.py "$LP" "$SINK" "$size" | awk '{print $4}')
  stop "$upid"
  printf '| %-9s | %13s%% | %13s%% |\n' "$size B" "$d" "$p"
done

echo
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
