"""portkit scan against real test hosts: a network namespace joined by veth
(IPv4 and IPv6) with nginx and plain listeners on random ports, nftables
rules that DROP or reject some ports and drop a few percent of SYNs at
random. Every port's state must equal the ground truth, exactly; the XML
must validate against nmap's DTD and agree with nmap's own scan in ndiff."""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import pktest
import scantest
import servers

TAG, INDEX = "sc-tcp", 33

RNG = random.Random()
SEED = RNG.randrange(1 << 30)


@pktest.need_root
class ScanTcp(scantest.ServedHosts):
    @classmethod
    def serve(cls):
        cls.host(TAG, INDEX)
        web = servers.Nginx(cls.ns, port=80).start()
        cls.servers.append(web)
        rng = random.Random(SEED)
        cls.listen = scantest.random_ports(12, avoid={80}, rng=rng)
        lst = servers.Listener(cls.ns, tcp=cls.listen).start()
        cls.servers.append(lst)
        cls.open = {80, *cls.listen}
        # Ports nobody answers: some random, one listener behind DROP, a
        # range; plus two rejected with ICMP admin-prohibited.
        cls.dropped = set(scantest.random_ports(6, avoid=cls.open, rng=rng)) | {cls.listen[0]} | set(
            range(5000, 5011))
        rejected = scantest.random_ports(2, avoid=cls.open | cls.dropped, rng=rng)
        cls.rejected = set(rejected)
        drop = ", ".join(map(str, sorted(cls.dropped - set(range(5000, 5011))))) + ", 5000-5010"
        scantest.nft_filter(cls.ns, f"tcp dport {{ {drop} }} drop",
                            f"tcp dport {{ {', '.join(map(str, rejected))} }} "
                            "reject with icmpx type admin-prohibited")

    def truth(self, ports):
        """{('tcp', port): state} for the ports scanned."""
        out = {}
        for p in ports:
            if p in self.dropped or p in self.rejected:
                out[("tcp", p)] = "filtered"
            elif p in self.open:
                out[("tcp", p)] = "open"
            else:
                out[("tcp", p)] = "closed"
        return out

    def assertExact(self, got, want, label):
        if got == want:
            return
        wrong = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
        extra = set(got) - set(want)
        self.fail(f"{label} (seed {SEED}): {len(wrong)} ports wrong, e.g. "
                  f"{dict(list(wrong.items())[:10])} (got, want); extra {sorted(extra)[:10]}")

    def test_full_range_ipv4_exact(self):
        t = time.monotonic()
        cp, res = scantest.scan("-p-", self.ns.ip, check=0)
        took = time.monotonic() - t
        self.assertExact(scantest.states(res), self.truth(range(1, 65536)), "IPv4 -p-")
        reasons = scantest.reasons(res)
        for p in self.rejected:
            self.assertEqual(reasons[("tcp", p)], "admin-prohibited")
        self.assertEqual(reasons[("tcp", 80)], "syn-ack")
        self.assertEqual(reasons[("tcp", self.listen[0])], "no-response")
        self.assertLess(took, 60, "a clean full-range scan must not crawl")

    def test_full_range_epoll_module_exact(self):
        """The epoll TCP module (used where io_uring is unavailable) gives
        the same answers."""
        cp, res = scantest.scan("-p-", self.ns.ip, check=0, env={"PORTKIT_IO": "epoll"})
        self.assertExact(scantest.states(res), self.truth(range(1, 65536)), "IPv4 -p- (epoll)")
        for p in self.rejected:
            self.assertEqual(scantest.reasons(res)[("tcp", p)], "admin-prohibited")

    def test_full_range_ipv6_exact(self):
        cp, res = scantest.scan("-p-", self.ns.ip6, check=0)
        self.assertExact(scantest.states(res), self.truth(range(1, 65536)), "IPv6 -p-")
        self.assertEqual({v[2]["host"] for v in res.values()}, {self.ns.ip6})

    def test_random_syn_loss_exact(self):
        """5% of SYNs vanish at random: retries must find every port anyway,
        and loss must not make the scan crawl."""
        scantest.nft_filter(self.ns, "tcp flags & (syn|ack) == syn numgen random mod 100 < 5 drop",
                            name="pkloss")
        try:
            t = time.monotonic()
            cp, res = scantest.scan("-v", "-p", "1-20000," + ",".join(map(str, sorted(self.open))),
                                    self.ns.ip, check=0)
            took = time.monotonic() - t
        finally:
            scantest.nft_flush(self.ns, "pkloss")
        ports = set(range(1, 20001)) | self.open
        self.assertExact(scantest.states(res), self.truth(ports), "5% SYN loss")
        m = re.search(r"decided in [0-9.]+ s, (\d+) probes", cp.stderr)
        self.assertTrue(m, cp.stderr)
        self.assertGreater(int(m.group(1)), len(ports) * 1.03, "the lost SYNs were retried")
        self.assertLess(took, 30)

    def test_names_ranges_and_exclusions(self):
        """Several addresses of one host given as a range, one excluded;
        the default top ports; -4 keeps IPv4."""
        extra = [f"{pktest.NET4}.{INDEX}.{i}" for i in (20, 21, 22)]
        for a in extra:
            self.ns.exec(f"ip addr add {a}/24 dev {self.ns.veth_ns}")
        try:
            ports = "22,80,443," + ",".join(map(str, self.listen[1:4]))
            cp, res = scantest.scan("-p", ports, f"{pktest.NET4}.{INDEX}.20-22", "--exclude",
                                    f"{pktest.NET4}.{INDEX}.21", check=1)  # 1: nothing open
            hosts = {v[2]["host"] for v in res.values()}
            self.assertEqual(hosts, {extra[0], extra[2]})
            for h in hosts:
                st = scantest.states(res, h)
                # nginx and the listener bind ns.ip only: other addresses refuse
                self.assertEqual(set(st.values()), {"closed"}, h)
            cp, res = scantest.scan("-p", ports, self.ns.ip, self.ns.ip6, check=0)
            self.assertEqual({v[2]["host"] for v in res.values()}, {self.ns.ip, self.ns.ip6})
            self.assertEqual(scantest.states(res, self.ns.ip), scantest.states(res, self.ns.ip6))
            cp = pktest.run("scan", "-4", "-p", ports, self.ns.ip6)
            self.assertEqual(cp.returncode, 2)
            self.assertIn("-4", cp.stderr)
        finally:
            for a in extra:
                self.ns.exec(f"ip addr del {a}/24 dev {self.ns.veth_ns}", check=False)

    def test_xml_dtd_and_ndiff_against_nmap(self):
        if not shutil.which("nmap"):
            self.skipTest("nmap not installed")
        ports = "1-1200," + ",".join(map(str, sorted(self.open | self.rejected)))
        with tempfile.TemporaryDirectory() as d:
            ours, theirs = os.path.join(d, "portkit.xml"), os.path.join(d, "nmap.xml")
            cp = pktest.run("scan", "-p", ports, self.ns.ip, "-oX", ours, "--no-progress", timeout=120)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            ok, msg = scantest.xmllint_valid(ours)
            self.assertTrue(ok, msg)
            subprocess.run(["nmap", "-sT", "-Pn", "-n", "-T4", "-p", ports, self.ns.ip, "-oX", theirs],
                           check=True, capture_output=True, timeout=240)
            ndiff, minus, plus = scantest.ndiff_port_states(theirs, ours)
            self.assertEqual(minus, plus, f"ndiff shows different port states:\n{ndiff.stdout}")
            self.assertNotIn("Not shown", ndiff.stdout, ndiff.stdout)
            # the XML says what the JSON says
            import xml.etree.ElementTree as ET
            root = ET.parse(ours).getroot()
            listed = {(p.get("protocol"), int(p.get("portid"))): p.find("state").get("state")
                      for p in root.iter("port")}
            for p in self.open - {self.listen[0]}:
                self.assertEqual(listed.get(("tcp", p)), "open")
            extra = {e.get("state"): int(e.get("count")) for e in root.iter("extraports")}
            self.assertEqual(extra.get("closed"), sum(1 for v in self.truth(
                set(range(1, 1201)) | self.open | self.rejected).values() if v == "closed"))

    def test_outputs_agree(self):
        ports = "1-300," + ",".join(map(str, sorted(self.open)))
        with tempfile.TemporaryDirectory() as d:
            paths = {k: os.path.join(d, f"out.{k}") for k in ("J", "G", "L", "N", "X")}
            args = ["scan", "-p", ports, self.ns.ip, "--no-progress"]
            for k, p in paths.items():
                args += [f"-o{k}", p]
            cp = pktest.run(*args, timeout=60)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertIn("Done:", cp.stdout)  # the text still goes to stdout
            want_open = {p for p in self.open if p not in self.dropped}
            jl = [json.loads(l) for l in open(paths["J"])]
            self.assertEqual({d["port"] for d in jl}, want_open)
            self.assertTrue(all(d["state"] == "open" and d["proto"] == "tcp" for d in jl))
            grep = open(paths["G"]).read()
            self.assertIn(f"Host: {self.ns.ip} ()\tStatus: Up", grep)
            ports_line = [l for l in grep.splitlines() if "\tPorts: " in l][0]
            self.assertEqual({int(x.split("/")[0]) for x in ports_line.split("\tPorts: ")[1]
                              .split("\t")[0].split(", ") if "/open/" in x}, want_open)
            lst = [l.split() for l in open(paths["L"]) if not l.startswith("#")]
            self.assertEqual({int(f[2]) for f in lst}, want_open)
            self.assertTrue(all(f[0] == "open" and f[3] == self.ns.ip for f in lst))
            text = open(paths["N"]).read()
            for p in want_open:
                self.assertRegex(text, rf"\n  {p}/tcp +open ")
            self.assertIn("Done:", text)
            ok, msg = scantest.xmllint_valid(paths["X"])
            self.assertTrue(ok, msg)

    def test_shards_union_is_whole_scan(self):
        ports = "1-4000," + ",".join(map(str, sorted(self.open)))
        _, whole = scantest.scan("-p", ports, self.ns.ip, "--seed", "7", check=0)
        union = {}
        for i in (1, 2, 3):
            cp, part = scantest.scan("-p", ports, self.ns.ip, "--shard", f"{i}/3", check=None)
            self.assertIn(cp.returncode, (0, 1), cp.stderr)
            overlap = set(part) & set(union)
            self.assertFalse(overlap, f"shard {i} repeats {sorted(overlap)[:5]}")
            self.assertGreater(len(part), 1000)
            union.update(part)
        self.assertEqual(scantest.states(union), scantest.states(whole))
        self.assertEqual(len(union), 4000 + len(self.open - set(range(1, 4001))))

    def test_interrupt_leaves_complete_outputs(self):
        """Ctrl-C in the middle: exit 130, what was found is printed, every
        output file is complete and valid."""
        scantest.nft_filter(self.ns, "tcp dport 20000-40000 drop", name="pkslow")
        try:
            with tempfile.TemporaryDirectory() as d:
                xml, js = os.path.join(d, "o.xml"), os.path.join(d, "o.json")
                env = dict(os.environ, NO_COLOR="1")
                p = subprocess.Popen([pktest.PORTKIT, "scan", "--unprivileged", "-p-", self.ns.ip, "-oX", xml, "-oJ", js,
                                      "--initial-rtt-timeout", "5s", "--min-rtt-timeout", "3s",
                                      "--no-progress"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                time.sleep(1.5)
                p.send_signal(signal.SIGINT)
                out, err = p.communicate(timeout=30)
                self.assertEqual(p.returncode, 130, err)
                self.assertIn("Stopped:", out)
                ok, msg = scantest.xmllint_valid(xml)
                self.assertTrue(ok, msg)
                self.assertIn('exit="error"', open(xml).read())
                for line in open(js):
                    json.loads(line)
        finally:
            scantest.nft_flush(self.ns, "pkslow")

    def test_self_connect_reprobed(self):
        """Inside the namespace, with a four-port ephemeral range, connects to
        those very ports keep landing on their own source port: each must be
        probed again, and the ports must come out closed, never open.
        Which source port the kernel picks is its choice, so scan until it
        has picked the target port at least once."""
        self.ns.exec("sysctl -qw net.ipv4.ip_local_port_range='40000 40003'")
        self_connects = 0
        try:
            for run in range(30):
                cp = self.ns.exec(f"{pktest.PORTKIT} scan -v --json --all-states --no-progress "
                                  f"--seed {run} -p 40000-40003 127.0.0.1", check=False)
                self.assertEqual(cp.returncode, 1, cp.stderr)
                rows = [json.loads(l) for l in cp.stdout.splitlines()]
                self.assertEqual({(r["port"], r["state"]) for r in rows},
                                 {(p, "closed") for p in range(40000, 40004)})
                m = re.search(r"(\d+) self-connects", cp.stderr)
                self.assertTrue(m, cp.stderr)
                self_connects += int(m.group(1))
                if self_connects >= 3:
                    break
        finally:
            self.ns.exec("sysctl -qw net.ipv4.ip_local_port_range='32768 60999'")
        self.assertGreater(self_connects, 0, "the kernel never picked a target port as source")

    def test_unresolvable_name_is_bad_input(self):
        """Resolved inside the test namespace: no route, so no query leaves."""
        cp = self.ns.exec(f"{pktest.PORTKIT} scan -p 80 no-such-host.invalid", check=False)
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertEqual(len(cp.stderr.strip().splitlines()), 1, cp.stderr)
        self.assertIn("no-such-host.invalid", cp.stderr)


if __name__ == "__main__":
    pktest.main()
