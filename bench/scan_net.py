"""bench/scan.py's network scenarios (--only n1,...,n5): scanning networks
from a scanner namespace into a target namespace (tests/lib/scannet.py),
portkit and nmap side by side in the same run, both as root (raw packets)
unless said otherwise.

  n1 a /20, 256 live hosts with 5 open ports, top 100 ports:
     portkit -sS vs nmap -sS (its default discovery)    [<= 0.1 x]
     portkit --unprivileged vs nmap -sT --unprivileged  [<= 0.5 x]
  n2 one host, every TCP port, -sS                      [<= 0.5 x nmap -sS -T4]
  n3 a /16 with 1 % live hosts, 3 ports: time, peak RSS [<= 64 MiB], probes/s;
     and the same with -Pn (every address probed; no nmap run)
  n4 raw send rate into silence on one core (packets/s)
  n5 a /24, 5 % random loss and DROP-filtered ports     [exact, <= 0.1 x nmap -sS -T4]
"""
import json
import os
import random
import re
import subprocess
import time
import xml.etree.ElementTree as ET

import scannet

BIG = scannet.BIG
OPEN = [22, 80, 443, 3306, 8080]


def run_pk(t, args, cpu=None, collect=True):
    """(seconds, peak RSS KiB, {(host, port): state}, {host: status}, stderr) of one portkit run."""
    pre = ["taskset", "-c", str(cpu)] if cpu is not None else []
    pre = ["/usr/bin/time", "-f", "PK-PEAK-RSS %M", *pre]  # this run's own peak, in KiB
    t0 = time.monotonic()
    out = ["--json", "--all-states"] if collect else ["-oJ", "/dev/null"]
    cp = subprocess.run(["ip", "netns", "exec", t.scanner, *pre, PK, "scan", *args,
                         *out, "--no-progress", "-v"],
                        capture_output=True, text=True, env=dict(os.environ, NO_COLOR="1"))
    took = time.monotonic() - t0
    m = re.search(r"PK-PEAK-RSS (\d+)", cp.stderr)
    peak = int(m.group(1)) if m else None
    if cp.returncode not in (0, 1):
        raise SystemExit(f"portkit failed: {cp.stderr}")
    ports, hosts = {}, {}
    for line in (cp.stdout.splitlines() if collect else []):
        d = json.loads(line)
        if "status" in d:
            hosts[d["host"]] = d["status"]
        else:
            ports[(d["host"], d["port"])] = d["state"]
    return took, peak, ports, hosts, cp.stderr


def run_nmap(t, args, timeout=600):
    """(seconds or None when it did not finish, {(host, port): state} of hosts up)."""
    t0 = time.monotonic()
    try:
        cp = subprocess.run(["ip", "netns", "exec", t.scanner, "nmap", "-n", *args, "-oX", "-"],
                            capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, {}
    took = time.monotonic() - t0
    ports = {}
    for h in ET.fromstring(cp.stdout).iter("host"):
        addr = h.find("address").get("addr")
        for p in h.iter("port"):
            ports[(addr, int(p.get("portid")))] = p.find("state").get("state")
    return took, ports


def check(name, ports, hosts, truth_open, live, all_ports, total_hosts, filtered=()):
    """Exact: every live host's ports as the truth, every other host down."""
    want = {}
    for h in live:
        for p in all_ports:
            want[(h, p)] = "open" if p in truth_open else "filtered" if p in filtered else "closed"
    wrong = [k for k in want if ports.get(k) != want[k]] + [k for k in ports if k not in want]
    down = sum(1 for s in hosts.values() if s == "down")
    exact = not wrong and down == total_hosts - len(live)
    if not exact:
        print(f"  {name} NOT EXACT: {len(wrong)} ports wrong e.g. {[(k, ports.get(k), want.get(k)) for k in wrong[:4]]}; "
              f"{down} down, expected {total_hosts - len(live)}", flush=True)
    return exact


def top100(pk):
    cp = subprocess.run([pk, "scan", "--unprivileged", "--top-ports", "100", "-oX", "-", "127.0.0.1",
                         "--no-progress", "--max-retries", "0"], capture_output=True, text=True)
    services = cp.stdout.split(' services="')[1].split('"')[0]
    out = []
    for part in services.split(","):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


PK = None


def scenarios(pk, only, runs, table):
    global PK
    PK = pk
    rng = random.Random(20261201)
    if "n1" in only or "n5" in only:
        with scannet.Topo("bnet") as t:
            live = sorted(rng.sample([f"{BIG}.{i >> 8}.{i & 255}" for i in range(1, 4095)], 256))
            t.add_hosts(live)
            t.listen(OPEN)
            if "n1" in only:
                ports = top100(pk)
                print("== n1: /20, 256 live hosts, top 100 ports", flush=True)
                for label, ours, theirs, goal in (
                        ("n1 /20 top100 -sS", ["-sS"], ["-sS"], 0.1),
                        ("n1 /20 top100 unprivileged", ["--unprivileged"], ["-sT", "--unprivileged"], 0.5)):
                    pks, nms, exact = [], [], True
                    for _ in range(runs):
                        took, _, st, hs, _ = run_pk(t, [*ours, "--top-ports", "100", f"{BIG}.0.0/20"])
                        pks.append(took)
                        exact &= check(label, st, hs, OPEN, live, ports, 4096)
                    took, nst = run_nmap(t, [*theirs, "--top-ports", "100", f"{BIG}.0.0/20"])
                    nms.append(took or float("nan"))
                    n_open = sum(1 for s in nst.values() if s == "open")
                    table.add(label, sorted(pks)[len(pks) // 2], nms[0], goal, exact, f"(nmap found {n_open} open)")
            if "n5" in only:
                print("== n5: /24, 5% random loss, DROP-filtered ports", flush=True)
                net = [h for h in live if h.startswith(f"{BIG}.0.")]
                t.nft_target("table inet bn5 { chain input { type filter hook input priority 0;\n"
                             "  tcp dport 1000-1099 drop\n"
                             "  numgen random mod 100 < 5 drop\n}\n}\n")
                ports = list(range(1, 1101)) + [3306, 8080]
                spec = "1-1100,3306,8080"
                pks, exact = [], True
                for _ in range(runs):
                    took, _, st, hs, _ = run_pk(t, ["-sS", "-p", spec, f"{BIG}.0.0/24"])
                    pks.append(took)
                    exact &= check("n5", st, hs, OPEN, net, ports, 256, filtered=range(1000, 1100))
                took, _ = run_nmap(t, ["-sS", "-T4", "-p", spec, f"{BIG}.0.0/24"])
                table.add(f"n5 /24 5% loss + DROP ({len(net)} live)", sorted(pks)[len(pks) // 2],
                          took or float("nan"), 0.1, exact)
    if "n2" in only:
        print("== n2: one host, every TCP port, -sS", flush=True)
        with scannet.Topo("bn2") as t:
            host = f"{BIG}.3.3"
            t.add_hosts([host])
            t.listen(OPEN)
            pks = []
            exact = True
            for _ in range(runs):
                took, _, st, hs, _ = run_pk(t, ["-sS", "-p-", host])
                pks.append(took)
                exact &= check("n2", st, {}, OPEN, [host], range(1, 65536), 1)
            nms = [run_nmap(t, ["-sS", "-T4", "-p-", host])[0] for _ in range(max(1, runs // 2))]
            table.add("n2 one host -p- -sS", sorted(pks)[len(pks) // 2], sorted(nms)[len(nms) // 2], 0.5, exact)
    if "n3" in only:
        print("== n3: /16, 1% live, 3 ports", flush=True)
        with scannet.Topo("bn3") as t:
            live = sorted(rng.sample([f"{BIG}.{i >> 8}.{i & 255}" for i in range(1, 65535)
                                      if (i >> 8) != 250], 655))
            t.add_hosts(live)
            t.listen([22, 80])
            args = ["-sS", "-p", "22,80,443", f"{BIG}.0.0/16", "--exclude", f"{BIG}.250.0/24", "--force"]
            took, peak, st, hs, err = run_pk(t, args)
            exact = check("n3", st, hs, [22, 80], live, [22, 80, 443], 65280)
            rate = err.split(" probes, ")[0].rsplit(" ", 1)[-1] if " probes, " in err else "?"
            ntook, _ = run_nmap(t, ["-sS", "-T4", "-p", "22,80,443", f"{BIG}.0.0/16", "--exclude",
                                    f"{BIG}.250.0/24"], timeout=600)
            table.add("n3 /16 1% live x 3 ports", took, ntook or float("nan"), None, exact,
                      f"(peak RSS {peak or 0} KiB, {rate} port probes{'' if ntook else '; nmap > 10 min'})")
            # -Pn probes every address: memory must follow the probes in flight all the same.
            took, peak, st, _, _ = run_pk(t, ["-Pn", *args])
            alive = set(live)
            exact = (len(st) == 65280 * 3 and
                     all(st[(h, p)] == ("open" if p != 443 else "closed") for h in live for p in (22, 80, 443)) and
                     all(v == "filtered" for (h, _), v in st.items() if h not in alive))
            table.add("n3 -Pn /16 1% live x 3 ports", took, float("nan"), None, exact,
                      f"(peak RSS {peak or 0} KiB [<= 64 MiB])")
    if "n4" in only:
        print("== n4: raw send rate into silence, one core", flush=True)
        with scannet.Topo("bn4") as t:
            args = ["-sS", "-Pn", "-p", "1-16", f"{BIG}.0.0/16", "--exclude", f"{BIG}.250.0/24", "--force",
                    "--max-retries", "0", "--initial-rtt-timeout", "300ms", "--rate", "100000000"]
            took, peak, _, _, err = run_pk(t, args, cpu=0, collect=False)
            sent = 65280 * 16
            send_s = max(took - 0.3, 1e-3)  # less the final 300 ms wait for answers
            table.add("n4 raw SYNs into silence (1 core)", took, float("nan"), None, "-",
                      f"({sent / send_s:,.0f} packets/s sending, peak RSS {peak or 0} KiB)")
