#!/usr/bin/env python3
"""bench/scan.py: portkit scan against nmap on the same test hosts, in the
same run. Test hosts are network namespaces joined by veth (created here,
removed afterwards); nothing else is ever probed.

Scenarios (goal in brackets, as a fraction of nmap's time):
  1 full TCP range, clean link, 20 open ports        [<= 0.65 x nmap -sT -T4 -n]
  2 full TCP range, 5% of SYNs dropped at random      [<= 0.10 x, and exact]
  3 ports 1-10000 on a host that DROPs them           [<= 0.10 x, and exact]
  4 16 hosts x the top 1000 ports
  5 -sV on ten real services                          [<= 0.20 x nmap -sV, same services]
  6 (only when asked: --only 6) UDP ports 1-100 of a host that rations
    ICMP port-unreachable (Linux defaults), against nmap -sU: time and
    ports labelled wrongly

  n1-n5 networks from a scanner namespace, both scanners as root: see
    bench/scan_net.py (--only n1,n2,n3,n4,n5)

Usage: bench/scan.py [--portkit PATH] [--runs N] [--only 1,2,...,n1,...]
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
import pktest  # noqa: E402
import scantest  # noqa: E402
import servers  # noqa: E402

LISTENER = os.path.join(HERE, "..", "tests", "lib", "pk_listener.py")


def timed(argv, **kw):
    t = time.monotonic()
    cp = subprocess.run(argv, capture_output=True, text=True, **kw)
    return time.monotonic() - t, cp


def portkit_time(pk, args):
    """Seconds of one portkit run with its normal output (as nmap's)."""
    took, cp = timed([pk, "scan", "--unprivileged", *args, "--no-progress"], env=dict(os.environ, NO_COLOR="1"))
    if cp.returncode not in (0, 1):
        raise SystemExit(f"portkit failed: {cp.stderr}")
    return took


def portkit_states(pk, args):
    """(seconds, {(host, port): state}) of one portkit run writing every
    port's state (JSON Lines to a file, read afterwards so the reader does
    not compete for the CPU while the scan runs)."""
    with open(os.devnull, "w") as devnull, __import__("tempfile").TemporaryFile("w+") as out:
        t = time.monotonic()
        cp = subprocess.run([pk, "scan", "--unprivileged", *args, "-oJ", "-", "--all-states", "--no-progress"],
                            stdout=out, stderr=subprocess.PIPE, text=True, env=dict(os.environ, NO_COLOR="1"))
        took = time.monotonic() - t
        if cp.returncode not in (0, 1):
            raise SystemExit(f"portkit failed: {cp.stderr}")
        out.seek(0)
        st = {}
        for line in out:
            d = json.loads(line)
            st[(d["host"], d["port"])] = d["state"]
    return took, st


def compare(pk, args, truth, runs, nmap_args, nmap_runs=None):
    """Times portkit and nmap alternately (the machine's load hits both
    alike); returns (median portkit s, median nmap s, exact)."""
    pks, nms = [], []
    t, st = portkit_states(pk, args)
    exact = st == truth
    if not exact:
        diff = [k for k in truth if st.get(k) != truth[k]][:5]
        print(f"  NOT EXACT: e.g. {[(k, st.get(k), truth[k]) for k in diff]}", flush=True)
    for i in range(runs):
        pks.append(portkit_time(pk, args))
        if i < (nmap_runs or runs):
            nms.append(nmap_time(nmap_args)[0])
    return med(pks), med(nms), exact


def nmap_time(args):
    # As nmap is usually run: with its host discovery (as root: ICMP echo
    # and TCP pings), which also gives it timing probes when every scanned
    # port is silent. With -Pn scenario 3 takes it five times longer.
    took, cp = timed(["nmap", "-sT", "-T4", "-n", *args, "-oX", "-"])
    if cp.returncode != 0:
        raise SystemExit(f"nmap failed: {cp.stderr}")
    return took, cp.stdout


def listener(ns, addrs, ports):
    argv = ["python3", LISTENER, "--lifetime", "1800"]
    for a in addrs:
        argv += ["--addr", a]
    for p in ports:
        argv += ["--tcp", str(p)]
    p = ns.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.5)
    return p


def stop(p):
    p.terminate()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()


class Table:
    def __init__(self):
        self.rows = []

    def add(self, name, pk, nm, goal, exact, note=""):
        ratio = pk / nm if nm else float("nan")
        ok = "yes" if (goal is None or ratio <= goal) else "NO"
        self.rows.append((name, pk, nm, ratio, goal, ok, exact, note))
        print(f"  {name}: portkit {pk:.2f} s, nmap {nm:.2f} s, ratio {ratio:.3f}"
              f"{'' if goal is None else f' (goal <= {goal})'}, exact {exact} {note}", flush=True)

    def show(self):
        print("\n| scenario | portkit (s) | nmap (s) | ratio | goal | met | exact |")
        print("|---|---:|---:|---:|---:|:---:|:---:|")
        for name, pk, nm, ratio, goal, ok, exact, note in self.rows:
            g = f"<= {goal}" if goal is not None else "-"
            print(f"| {name}{' ' + note if note else ''} | {pk:.2f} | {nm:.2f} | {ratio:.3f} | {g} | {ok} | {exact} |")


def med(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--portkit", default=os.path.join(HERE, "..", "build", "portkit"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="1,2,3,4,5")
    a = ap.parse_args()
    pk = os.path.abspath(a.portkit)
    only_net = {x for x in a.only.split(",") if x.startswith("n")}
    only = {int(x) for x in a.only.split(",") if x and not x.startswith("n")}
    if not pktest.is_root():
        raise SystemExit("bench/scan.py needs root (network namespaces)")
    table = Table()
    rng = random.Random(20261123)

    if only & {1, 2, 3}:
        ns = pktest.Netns("sc-bench", 48).__enter__()
        try:
            open_ports = sorted(scantest.random_ports(20, lo=1, hi=65535, rng=rng))
            lst = listener(ns, [ns.ip], open_ports)
            truth_full = {(ns.ip, p): ("open" if p in open_ports else "closed") for p in range(1, 65536)}
            try:
                if 1 in only:
                    print("== 1: full range, clean link", flush=True)
                    pkt, nmt, exact = compare(pk, ["-p-", ns.ip], truth_full, a.runs, ["-p-", ns.ip])
                    table.add("1 full range, clean", pkt, nmt, 0.65, exact)

                if 2 in only:
                    print("== 2: full range, 5% random SYN loss", flush=True)
                    scantest.nft_filter(ns, "tcp flags & (syn|ack) == syn numgen random mod 100 < 5 drop",
                                        name="bloss")
                    try:
                        pkt, nmt, exact = compare(pk, ["-p-", ns.ip], truth_full, a.runs, ["-p-", ns.ip],
                                                  nmap_runs=max(1, a.runs // 2))
                        table.add("2 full range, 5% SYN loss", pkt, nmt, 0.10, exact)
                    finally:
                        scantest.nft_flush(ns, "bloss")

                if 3 in only:
                    print("== 3: ports 1-10000 DROPped", flush=True)
                    scantest.nft_filter(ns, "tcp dport 1-10000 drop", name="bdrop")
                    try:
                        truth = {(ns.ip, p): "filtered" for p in range(1, 10001)}
                        pkt, nmt, exact = compare(pk, ["-p", "1-10000", ns.ip], truth, a.runs,
                                                  ["-p", "1-10000", ns.ip], nmap_runs=1)
                        table.add("3 1-10000 DROPped", pkt, nmt, 0.10, exact)
                    finally:
                        scantest.nft_flush(ns, "bdrop")
            finally:
                stop(lst)
        finally:
            ns.close()

    if 4 in only:
        print("== 4: 16 hosts x top 1000", flush=True)
        ns = pktest.Netns("sc-bench16", 46).__enter__()
        try:
            hosts = [f"{pktest.NET4}.46.{i}" for i in range(10, 26)]
            for h in hosts:
                ns.exec(f"ip addr add {h}/24 dev {ns.veth_ns}")
            tops = subprocess.run([pk, "scan", "--unprivileged", "--top-ports", "1000", "-oX", "-", "127.0.0.1", "--no-progress",
                                   "--max-retries", "0", "--rate", "100000"], capture_output=True, text=True).stdout
            services = tops.split(' services="')[1].split('"')[0]
            top = []
            for part in services.split(","):
                lo, _, hi = part.partition("-")
                top += range(int(lo), int(hi or lo) + 1)
            listeners, truth = [], {}
            for h in hosts:
                ports = rng.sample(top, 8)
                listeners.append(listener(ns, [h], ports))
                truth.update({(h, p): ("open" if p in ports else "closed") for p in top})
            try:
                target = f"{pktest.NET4}.46.10-25"
                pkt, nmt, exact = compare(pk, [target], truth, a.runs, [target])
                table.add("4 16 hosts x top 1000", pkt, nmt, None, exact)
            finally:
                for p in listeners:
                    stop(p)
        finally:
            ns.close()

    if 5 in only:
        print("== 5: -sV on ten real services", flush=True)
        ns = pktest.Netns("sc-benchsv", 47).__enter__()
        srv = []
        try:
            for s in (servers.Nginx(ns, port=80, tls_port=443), servers.Sshd(ns, port=22),
                      servers.Redis(ns, port=6379), servers.Memcached(ns, port=11211),
                      servers.Exim(ns, port=25), servers.Vsftpd(ns, port=21),
                      servers.Dovecot(ns, port=143, pop3_port=110), servers.MariaDB(ns, port=3306),
                      servers.Postgres(ns, port=5432), servers.Dnsmasq(ns, port=53)):
                srv.append(s.start())
            ports = "21,22,25,53,80,110,143,443,3306,5432,6379,11211"
            pks, nms = [], []
            for _ in range(a.runs):
                t, cp = timed([pk, "scan", "--unprivileged", "-sV", "-p", ports, ns.ip, "--json", "--no-progress"])
                pks.append(t)
                ours = {json.loads(l)["port"]: json.loads(l) for l in cp.stdout.splitlines()}
            for _ in range(max(1, a.runs // 2)):
                t, cp = timed(["nmap", "-sV", "-n", "-p", ports, ns.ip, "-oX", "-"])
                nms.append(t)
                theirs = cp.stdout
            import xml.etree.ElementTree as ET
            nm = {}
            for p in ET.fromstring(theirs).iter("port"):
                s = p.find("service")
                nm[int(p.get("portid"))] = (s.get("name") if s is not None else "",
                                            s.get("product", "") if s is not None else "")
            same = 0
            print("  port  nmap                         portkit")
            for port in sorted(nm):
                o = ours.get(port, {})
                print(f"  {port:<5} {nm[port][0] + ' ' + nm[port][1]:<28} {o.get('service')} {o.get('version') or ''}")
                theirs_name = nm[port][0].replace("ssl/", "")
                ours_name = {"tls": "https"}.get(o.get("service"), o.get("service"))
                same += theirs_name == ours_name or (nm[port][1] and nm[port][1].split()[0].lower()
                                                      in (o.get("version") or "").lower())
            table.add("5 -sV ten services", med(pks), med(nms), 0.20, f"{same}/{len(nm)} named alike")
        finally:
            for s in srv:
                s.stop()
            ns.close()

    if 6 in only:
        print("== 6: -sU on 100 ports of an ICMP-rationing host", flush=True)
        ns = pktest.Netns("sc-benchudp", 49).__enter__()
        srv = []
        try:
            srv.append(servers.Dnsmasq(ns, port=53).start())
            srv.append(servers.Listener(ns, udp=[67]).start())  # silent: open|filtered
            scantest.nft_filter(ns, "udp dport { 69, 88 } drop")
            truth = {p: "closed" for p in range(1, 101)}
            truth.update({53: "open", 67: "open|filtered", 69: "open|filtered", 88: "open|filtered"})
            time.sleep(7)  # a full ICMP bucket for both scanners
            t, cp = timed([pk, "scan", "--unprivileged", "-sU", "-p", "1-100", ns.ip, "--json", "--all-states", "--no-progress"])
            ours = {json.loads(l)["port"]: json.loads(l)["state"] for l in cp.stdout.splitlines()}
            wrong_ours = sum(ours.get(p) != s_ for p, s_ in truth.items())
            time.sleep(7)
            tn, cp = timed(["nmap", "-sU", "-T4", "-n", "-p", "1-100", ns.ip, "-oX", "-"])
            import xml.etree.ElementTree as ET
            theirs = {p: "closed" for p in range(1, 101)}
            for p in ET.fromstring(cp.stdout).iter("port"):
                theirs[int(p.get("portid"))] = p.find("state").get("state")
            wrong_theirs = sum(theirs.get(p) != s_ for p, s_ in truth.items())
            table.add("6 -sU 1-100, rationed ICMP", t, tn, None,
                      f"portkit {100 - wrong_ours}/100, nmap {100 - wrong_theirs}/100 right")
        finally:
            for s_ in srv:
                s_.stop()
            ns.close()

    if only_net:
        import scan_net
        scan_net.scenarios(pk, only_net, a.runs, table)
    table.show()


if __name__ == "__main__":
    main()
