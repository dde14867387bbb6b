#!/usr/bin/env python3
"""Network scans from a scanner namespace: host discovery (raw and by
connect), the SYN scan against the connect scan, the privilege drop, the
end-of-scan bound, memory on a large silent range, and --shard with
discovery. Every packet stays between two namespaces made here."""
import json
import re
import os
import resource
import subprocess
import time
import unittest

import pktest
import scannet

BIG = scannet.BIG


def lines(cp):
    return [json.loads(line) for line in cp.stdout.splitlines() if line.strip()]


def host_status(cp):
    """{host: (status, reason)} from -sn --json --all-states."""
    return {d["host"]: (d["status"], d["reason"]) for d in lines(cp) if "status" in d}


def port_states(cp):
    return {(d["host"], d["port"]): (d["state"], d["reason"]) for d in lines(cp) if "port" in d}


@pktest.need_root
class ScanNet(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = scannet.Topo("snet").__enter__()
        cls.live = [f"{BIG}.1.{i}" for i in range(1, 9)]
        cls.t.add_hosts(cls.live)
        cls.t.add_hosts([f"{BIG6}:100::{i}" for i in range(1, 3)])
        cls.open = [22, 8080]
        cls.t.listen(cls.open, v6=True)

    @classmethod
    def tearDownClass(cls):
        cls.t.close()

    def tearDown(self):
        self.t.t_exec("nft delete table inet pktest", check=False)

    def test_discovery_per_address(self):
        """ICMP blocked but TCP answering is up; TCP blocked but ICMP answering
        is up; an address nobody holds is down, never 'filtered'."""
        a, b = self.live[0], self.live[1]
        self.t.nft_target("table inet pktest { chain input { type filter hook input priority 0;\n"
                          f"  ip daddr {a} meta l4proto icmp drop\n"
                          f"  ip daddr {b} meta l4proto tcp drop\n"
                          "}\n}\n")
        absent = f"{BIG}.1.200"
        for extra in ([], ["--unprivileged"]):
            cp = self.t.portkit("scan", *extra, "-sn", a, b, self.live[2], absent, "--json", "--all-states",
                                "--no-progress")
            self.assertEqual(cp.returncode, 0, cp.stderr)
            st = host_status(cp)
            self.assertEqual(st[absent], ("down", "no-response"), extra)
            self.assertEqual(st[self.live[2]][0], "up", extra)
            self.assertEqual(st[a][0], "up", extra)
            self.assertIn(st[a][1], ("syn-ack", "reset", "conn-refused"), extra)
            if extra:  # connect pings cannot see ICMP: b looks down without root
                self.assertEqual(st[b], ("down", "no-response"))
                self.assertIn("without root", cp.stderr)
            else:
                self.assertIn(st[b], (("up", "echo-reply"), ("up", "timestamp-reply")))

    def test_neighbour_discovery(self):
        """On an attached network ARP (IPv4) and ND (IPv6) find a host that
        drops every IP packet; an empty address there is down."""
        self.t.nft_target("table inet pktest { chain input { type filter hook input priority 0;\n"
                          f"  ip daddr {self.t.t_ip} drop\n"
                          "  meta l4proto tcp drop\n"
                          "  icmpv6 type echo-request drop\n"
                          "}\n}\n")
        empty = f"{BIG}.250.77"
        cp = self.t.portkit("scan", "-sn", self.t.t_ip, empty, self.t.t_ip6, "--json", "--all-states",
                            "--no-progress")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        st = host_status(cp)
        self.assertEqual(st[self.t.t_ip], ("up", "arp-response"))
        self.assertEqual(st[self.t.t_ip6], ("up", "nd-response"))
        self.assertEqual(st[empty], ("down", "no-response"))

    def test_down_hosts_in_outputs(self):
        """Down hosts: counted in the summary, in XML as status down with
        --all-states, left out without it."""
        absent = [f"{BIG}.1.{i}" for i in (201, 202)]
        cp = self.t.portkit("scan", "-p", "22", self.live[0], *absent, "-oX", "-", "--all-states",
                            "--no-progress")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.count('<status state="down" reason="no-response"'), 2)
        self.assertIn('<hosts up="1" down="2" total="3"/>', cp.stdout)
        cp = self.t.portkit("scan", "-p", "22", self.live[0], *absent, "-oX", "-", "--no-progress")
        self.assertNotIn('state="down"', cp.stdout)
        cp = self.t.portkit("scan", "-p", "22", self.live[0], *absent, "--no-progress")
        self.assertIn("hosts: 1 up, 2 down", cp.stdout)

    def test_syn_equals_connect(self):
        """-sS decides every port as -sT does, with nmap -sS's reasons."""
        h = self.live[3]
        self.t.nft_target("table inet pktest { chain input { type filter hook input priority 0;\n"
                          f"  ip daddr {h} tcp dport 100-199 drop\n"
                          f"  ip daddr {h} tcp dport 200-209 reject with icmp admin-prohibited\n"
                          "}\n}\n")
        ports = "1-300,8080"
        syn = self.t.portkit("scan", "-sS", "-p", ports, h, "--json", "--all-states", "--no-progress")
        con = self.t.portkit("scan", "-sT", "--unprivileged", "-p", ports, h, "--json", "--all-states",
                             "--no-progress")
        self.assertEqual(syn.returncode, 0, syn.stderr)
        s, c = port_states(syn), port_states(con)
        self.assertEqual(len(s), 301)
        self.assertEqual({k: v[0] for k, v in s.items()}, {k: v[0] for k, v in c.items()})
        self.assertEqual(s[(h, 22)], ("open", "syn-ack"))
        self.assertEqual(s[(h, 23)], ("closed", "reset"))
        self.assertEqual(s[(h, 150)], ("filtered", "no-response"))
        # Linux rations ICMP errors (a burst of 6, then 1/s): some rejected
        # ports answer admin-prohibited, the rest stay silent.
        rejected = {s[(h, p)] for p in range(200, 210)}
        self.assertIn(("filtered", "admin-prohibited"), rejected)
        self.assertLessEqual(rejected, {("filtered", "admin-prohibited"), ("filtered", "no-response")})
        self.assertEqual(c[(h, 23)], ("closed", "conn-refused"))

    def test_syn_frames_skip_output_hook(self):
        """Through a resolved gateway IPv4 SYNs leave as Ethernet frames on a
        packet socket (PACKET_QDISC_BYPASS), so this host's output hook sees
        almost none of them, and every port is still decided right."""
        h = self.live[5]
        self.t.portkit("scan", "-sS", "-Pn", "-p", "1-5", h, "--no-progress")  # the kernel resolves the gateway
        self.t.s_exec("nft -f -", input="table ip pkframe { chain out { type filter hook output priority 0;\n"
                      f"  ip daddr {h} tcp flags syn counter\n}}\n}}\n")
        try:
            cp = self.t.portkit("scan", "-sS", "-Pn", "-p", "1-2000,8080", h, "--json", "--all-states",
                                "--no-progress")
            self.assertEqual(cp.returncode, 0, cp.stderr)
            st = port_states(cp)
            self.assertEqual(len(st), 2001)
            self.assertEqual({p for (_, p), v in st.items() if v[0] == "open"}, {22, 8080})
            self.assertEqual({v for (_, p), v in st.items() if p not in (22, 8080)}, {("closed", "reset")})
            ruleset = self.t.s_exec("nft list table ip pkframe").stdout
            seen = int(re.search(r"packets (\d+)", ruleset).group(1))
            self.assertLess(seen, 300, ruleset)  # at most the probes before the neighbour is asked again
        finally:
            self.t.s_exec("nft delete table ip pkframe", check=False)

    def test_syn_frames_to_attached_hosts(self):
        """On an attached network each host's SYNs leave as frames to its own
        hardware address: learned from discovery's ARP replies (none passes
        the output hook), or with -Pn from the kernel's neighbour table once
        the first probes made it ask. Every port is still decided right."""
        hosts = [f"{BIG}.250.{i}" for i in (3, 4)]
        for h in hosts:
            self.t.t_exec(f"ip addr add {h}/24 dev {self.t.veth_t}")

        def scan_counting(*args):
            self.t.s_exec(f"ip neigh flush dev {self.t.veth_s}")
            self.t.s_exec("nft -f -", input="table ip pkframe { chain out { type filter hook output priority 0;\n"
                          f"  ip daddr {BIG}.250.0/24 tcp flags & (syn | ack) == syn counter\n}}\n}}\n")
            try:
                cp = self.t.portkit("scan", "-sS", *args, "-p", "1-1000,8080", "--json", "--all-states",
                                    "--no-progress")
                self.assertEqual(cp.returncode, 0, cp.stderr)
                ruleset = self.t.s_exec("nft list table ip pkframe").stdout
                return port_states(cp), int(re.search(r"packets (\d+)", ruleset).group(1))
            finally:
                self.t.s_exec("nft delete table ip pkframe", check=False)

        try:
            st, seen = scan_counting(*hosts)
            self.assertEqual(len(st), 2 * 1001)
            for h in hosts:
                self.assertEqual({p for (a, p), v in st.items() if a == h and v[0] == "open"}, {22, 8080})
            self.assertEqual({v for (_, p), v in st.items() if p not in (22, 8080)}, {("closed", "reset")})
            self.assertEqual(seen, 0)
            st, seen = scan_counting("-Pn", hosts[0])
            self.assertEqual({p for (_, p), v in st.items() if v[0] == "open"}, {22, 8080})
            self.assertEqual(len(st), 1001)
            self.assertLess(seen, 400)  # the probes before the kernel's entry is asked for again
        finally:
            for h in hosts:
                self.t.t_exec(f"ip addr del {h}/24 dev {self.t.veth_t}", check=False)

    def test_syn_ipv6_and_sv(self):
        """IPv6 SYN scan; -sV after a SYN scan connects to the open ports."""
        h6 = f"{BIG6}:100::1"
        cp = self.t.portkit("scan", "-sS", "-p", "21-23,8080", h6, "--json", "--all-states", "--no-progress")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        st = port_states(cp)
        self.assertEqual(st[(h6, 22)], ("open", "syn-ack"))
        self.assertEqual(st[(h6, 23)], ("closed", "reset"))
        self.t.t_exec("sh -c 'nohup sh -c \"printf \\\"SSH-2.0-OpenSSH_9.2p1 Debian-2\\\\r\\\\n\\\" | "
                      "timeout 20 nc -l -p 2222\" >/dev/null 2>&1 &'", check=False)
        time.sleep(0.3)
        cp = self.t.portkit("scan", "-sS", "-sV", "-p", "2222", self.live[4], "--json", "--no-progress")
        st = lines(cp)
        if st:  # nc may be missing; the SYN half is tested above
            self.assertEqual(st[0]["state"], "open")
            self.assertEqual(st[0]["service"], "ssh", st)

    def test_privileges_dropped(self):
        """After the raw sockets open the scanning process is uid nobody
        with no capability at all, checked from /proc/PID/status while the
        scan runs."""
        silent = f"{BIG}.7.7"  # nobody holds it: every probe goes unanswered
        p = self.t.popen_portkit("scan", "-sS", "-Pn", "-p", "1-50", silent, "--initial-rtt-timeout", "4s",
                                 "--no-progress", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            # As root the process forks: the child scans without privileges,
            # the parent only waits to put output files in place.
            with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                kids = f.read().split()
            self.assertEqual(len(kids), 1)
            with open(f"/proc/{kids[0]}/status") as f:
                status = f.read()
            # The parent holds no raw or packet socket any more.
            with open(f"/proc/{p.pid}/net/packet") as f:  # the scanner namespace's view
                inodes = {line.split()[-1] for line in f.read().splitlines()[1:]}

            def packet_sockets(pid):
                out = 0
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    try:
                        link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    except OSError:
                        continue
                    out += link.startswith("socket:[") and link[8:-1] in inodes
                return out
            self.assertEqual(packet_sockets(p.pid), 0)
            self.assertGreaterEqual(packet_sockets(kids[0]), 1)
        finally:
            p.wait(20)
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        uids = fields["Uid"].split()
        self.assertTrue(all(u != "0" for u in uids), fields["Uid"])
        for cap in ("CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"):
            self.assertEqual(int(fields[cap].strip(), 16), 0, cap)
        self.assertEqual(fields["NoNewPrivs"].strip(), "1")

    def test_outputs_after_privilege_drop(self):
        """The scan runs as nobody, yet -oX/-oA land in a directory only root
        may write: the parent that kept root puts them in place, and leaves
        no temporary file behind."""
        import tempfile
        with tempfile.TemporaryDirectory() as d:  # mode 0700, owned by root
            cp = self.t.portkit("scan", "-sS", "-p", "22,23", self.live[5], "-oX", f"{d}/x.xml", "-oA",
                                f"{d}/all", "--no-progress")
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertEqual(sorted(os.listdir(d)), ["all.gnmap", "all.nmap", "all.xml", "x.xml"])
            with open(f"{d}/x.xml") as f:
                self.assertIn('portid="22"><state state="open" reason="syn-ack"', f.read())
            # --save: the database is opened before the drop and written after
            cp = self.t.portkit("scan", "-sS", "-p", "22,23", self.live[5], "--save", "--db", f"{d}/h.db",
                                "--no-progress")
            self.assertEqual(cp.returncode, 0, cp.stderr)
            cp = pktest.run("history", "--db", f"{d}/h.db")
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertRegex(cp.stdout, r"\n1 +\S+ \S+ +scan ")

    def test_ends_within_timeout(self):
        """A scan of silence ends within its last timeout plus one second."""
        silent = f"{BIG}.7.8"
        t0 = time.monotonic()
        cp = self.t.portkit("scan", "-sS", "-Pn", "-p", "1-2000", silent, "--initial-rtt-timeout", "2s",
                            "--no-progress")
        took = time.monotonic() - t0
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("2000 filtered", cp.stdout)
        self.assertLess(took, 2.0 + 1.0)

    def test_rate_honoured(self):
        """--rate N: probes leave at N per second, within 5 %."""
        silent = f"{BIG}.7.9"
        errors = []
        for _ in range(3):  # a machine busy with other work may starve one run
            cp = self.t.portkit("scan", "-sS", "-Pn", "-p", "1-6000", silent, "--rate", "4000",
                                "--max-retries", "0", "--initial-rtt-timeout", "200ms", "--no-progress", "-v")
            m = re.search(r"sent (\d+) probes \(0 pings\) in [\d.]+ s: (\d+) probes/s", cp.stderr)
            self.assertTrue(m, cp.stderr)
            self.assertEqual(int(m.group(1)), 6000)
            errors.append(abs(int(m.group(2)) - 4000) / 4000)
            if errors[-1] < 0.05:
                break
        self.assertLess(min(errors), 0.05, errors)

    def test_large_silent_range_memory(self):
        """A /16 where nothing answers, 3 ports: discovery keeps per-host
        state only for hosts that answer, so memory stays small."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        cp = self.t.portkit("scan", "-p", "22,80,443", f"{BIG}.0.0/16", "--exclude", f"{BIG}.250.0/24",
                            "--force", "--no-progress", "-oJ", "/dev/null", timeout=120)
        self.assertEqual(cp.returncode, 0, cp.stderr)  # port 22 of the 8 live hosts
        self.assertIn("hosts: 8 up, 65272 down", cp.stdout)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if peak > before:  # the largest child so far is this scan
            self.assertLess(peak, 64 * 1024, "KiB")

    def test_shard_union_with_discovery(self):
        """Three shards with discovery on: their union is the whole scan."""
        target = f"{BIG}.1.0/27"
        args = ["-p", "21-23,8080", target, "--seed", "11", "--json", "--all-states", "--no-progress"]
        whole = self.t.portkit("scan", *args)
        union = {}
        hosts = {}
        for i in (1, 2, 3):
            part = self.t.portkit("scan", *args, "--shard", f"{i}/3")
            for k, v in port_states(part).items():
                self.assertNotIn(k, union)
                union[k] = v[0]
            hosts.update(host_status(part))
        self.assertEqual(union, {k: v[0] for k, v in port_states(whole).items()})
        self.assertEqual(hosts, host_status(whole))
        self.assertEqual(len({h for h, _ in union}), len(self.live))


BIG6 = scannet.BIG6

if __name__ == "__main__":
    pktest.main()
