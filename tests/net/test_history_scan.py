"""Scan history against a real test host whose listeners change between
two runs: a network namespace (IPv4 + IPv6) with TCP and UDP listeners,
an nftables DROP rule and an extra address that goes away. `portkit diff`
must list exactly the changes made, and nmap's own XML of the same host,
imported, must give the same history as portkit's scan of it."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

import pktest
import scantest
import servers
from pktest import run

TAG, INDEX = "hist-scan", 60


@pktest.need_root
class HistoryScan(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.env = {"PORTKIT_DB": os.path.join(cls.tmp.name, "h.db")}
        cls.ns = pktest.Netns(TAG, INDEX).__enter__()
        cls.extra_ip = f"{cls.ns.net}.3"

    @classmethod
    def tearDownClass(cls):
        scantest.nft_flush(cls.ns, "pkhist")
        cls.ns.close()
        cls.tmp.cleanup()

    def pk(self, *args, check=None, timeout=120):
        return run(*args, env=self.env, check=check, timeout=timeout)

    def scan_save(self, spec, *targets, label=None):
        args = ["scan", "-p", spec, "--max-retries", "2", "--initial-rtt-timeout", "300ms", "--save"]
        if label:
            args += ["--label", label]
        cp = self.pk(*args, *targets)
        self.assertIn(cp.returncode, (0, 1), cp.stderr)

    def changes(self, *refs):
        cp = self.pk("diff", "--json", *refs)
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        got = [json.loads(line) for line in cp.stdout.splitlines()]
        self.assertEqual(cp.returncode, 1 if got else 0)
        return got

    def test_diff_lists_exactly_the_changes(self):
        ns = self.ns
        a, b, c, d = scantest.random_ports(4)
        u1, u2 = scantest.random_ports(2, avoid={a, b, c, d})
        spec = f"T:{a},{b},{c},{d},U:{u1},{u2}"
        targets = [ns.ip, ns.ip6, self.extra_ip]
        ns.exec(f"ip addr add {self.extra_ip}/24 dev {ns.veth_ns}")
        # run 1: TCP a, b, d and UDP u1 listen; the extra address answers (closed)
        first = [servers.Listener(ns, tcp=[a, b, d], udp=[u1], udp_echo=True).start()]
        try:
            self.scan_save(spec, "-sT", "-sU", *targets, label="monday")
        finally:
            for s in first:
                s.stop()
        # run 2: a closed, c opened, d filtered (DROP), u1 closed, u2 opened,
        # the extra address gone
        ns.exec(f"ip addr del {self.extra_ip}/24 dev {ns.veth_ns}")
        scantest.nft_filter(ns, f"tcp dport {d} drop", name="pkhist")
        second = [servers.Listener(ns, tcp=[b, c, d], udp=[u2], udp_echo=True).start()]
        try:
            self.scan_save(spec, "-sT", "-sU", *targets)
        finally:
            for s in second:
                s.stop()
            scantest.nft_flush(ns, "pkhist")

        got = sorted((j["host"], j["proto"] or "", j["port"] or 0, j["change"], j["before"], j["after"])
                     for j in self.changes("monday", "last"))
        want = [(self.extra_ip, "", 0, "host-down", "up", "down")]
        for host in (ns.ip, ns.ip6):
            want += [(host, "tcp", a, "closed", "open", "closed"),
                     (host, "tcp", c, "opened", "closed", "open"),
                     (host, "tcp", d, "state", "open", "filtered"),
                     (host, "udp", u1, "closed", "open", "closed"),
                     (host, "udp", u2, "opened", "closed", "open")]
        self.assertEqual(got, sorted(want))
        # the default pair is the same two runs (same hosts)
        self.assertEqual(len(self.changes()), len(want))
        # and the text form says the same, one line per change
        text = self.pk("diff", "monday", "last").stdout
        self.assertIn(f"+ {c}/tcp", text)
        self.assertIn(f"- {u1}/udp", text)
        self.assertIn("host down (was up)", text)

    def test_firewalled_host_is_a_few_rows(self):
        """A host that drops everything but one port: the run stores the host,
        the open port and "filtered" as the state of the rest, not thousands
        of filtered rows; lifting the firewall is one change for the rest."""
        ns = self.ns
        port = 2222
        srv = servers.Listener(ns, tcp=[port]).start()
        db = os.path.join(self.tmp.name, "fw.db")
        try:
            scantest.nft_filter(ns, f"tcp dport != {port} drop", name="pkhist")
            args = ["scan", "-p", "1-3000", "--max-retries", "1", "--max-rtt-timeout", "200ms", ns.ip, "--db", db]
            self.pk(*args, "--label", "walled", check=0)
            scantest.nft_flush(ns, "pkhist")
            self.pk(*args, "--save", check=0)
        finally:
            srv.stop()
            scantest.nft_flush(ns, "pkhist")
        con = sqlite3.connect(db)
        try:
            rows = con.execute("SELECT r.label, h.rest_tcp, h.closed_tcp, (SELECT count(*) FROM ports p WHERE "
                               "p.host_id=h.id) FROM runs r JOIN hosts h ON h.run_id=r.id ORDER BY r.id").fetchall()
        finally:
            con.close()
        self.assertEqual(rows, [("walled", "filtered", 0, 1), ("", "closed", 2999, 1)])
        got = [(j["change"], j["proto"], j["port"], j["before"], j["after"])
               for j in self.changes("--db", db, "walled", "last")]
        self.assertEqual(got, [("state", "tcp", None, "filtered", "closed")])

    def test_watch_scan_rounds(self):
        """watch --scan repeats the scan, saves each round and prints the diff
        to the round before; --count ends it."""
        ns = self.ns
        a, b = scantest.random_ports(2)
        db = os.path.join(self.tmp.name, "watch.db")
        first = servers.Listener(ns, tcp=[a]).start()
        p = subprocess.Popen([pktest.PORTKIT, "watch", "--json", "--scan", f"-p {a},{b} {ns.ip}", "--every", "2s",
                              "--count", "2", "--label", "rounds", "--db", db],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, NO_COLOR="1"))
        second = None
        try:
            # the first round is the baseline; then b opens and a closes
            line = p.stderr.readline()
            self.assertIn("baseline", line)
            first.stop()
            second = servers.Listener(ns, tcp=[b]).start()
            out, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
            if second:
                second.stop()
            first.stop()
        self.assertEqual(p.returncode, 0, err)
        got = sorted((j["change"], j["port"]) for j in map(json.loads, out.splitlines()))
        self.assertEqual(got, sorted([("closed", a), ("opened", b)]))
        runs = [json.loads(x) for x in self.pk("history", "--json", "--db", db, check=0).stdout.splitlines()]
        self.assertEqual([(r["label"], r["open"]) for r in runs], [("rounds", 1), ("rounds", 1)])

    @pktest.need_tool("nmap")
    def test_nmap_import_equals_own_scan(self):
        ns = self.ns
        ports = scantest.random_ports(6)
        listening, dropped = ports[:3], ports[3]
        scantest.nft_filter(ns, f"tcp dport {dropped} drop", name="pkhist")
        srv = servers.Listener(ns, tcp=listening).start()
        xml = os.path.join(self.tmp.name, "nmap.xml")
        spec = ",".join(map(str, ports)) + ",1-1000"
        try:
            self.scan_save(spec, ns.ip, label="own")
            # connect scan, no discovery, no raw sockets: nmap from the root
            # namespace only connects to the test host, as portkit does
            cp = subprocess.run(["nmap", "-sT", "-Pn", "-n", "--unprivileged", "-p", spec, ns.ip, "-oX", xml],
                                capture_output=True, text=True, timeout=300)
            self.assertEqual(cp.returncode, 0, cp.stderr)
        finally:
            srv.stop()
            scantest.nft_flush(ns, "pkhist")
        self.pk("history", "import", "--label", "nmap", xml, check=0)
        runs = [json.loads(line) for line in self.pk("history", "--json", check=0).stdout.splitlines()]
        imported = runs[0]
        self.assertEqual((imported["source"], imported["label"]), ("nmap", "nmap"))
        self.assertEqual((imported["hosts"], imported["hosts_up"], imported["open"]), (1, 1, 3))
        # no change between portkit's run and nmap's, whichever way
        self.assertEqual(self.changes("own", "nmap"), [])
        self.assertEqual(self.changes("nmap", "own"), [])
        self.assertEqual(self.changes("own", xml), [])

        def stored(ref):
            rows = [json.loads(line) for line in self.pk("history", "show", "--json", ref, check=0).stdout.splitlines()]
            host = [r for r in rows if "port" not in r]
            ports = sorted((r["port"], r["proto"], r["state"]) for r in rows if "port" in r)
            return [(h["host"], h["status"], h["closed_tcp"]) for h in host], ports

        own, theirs = stored("own"), stored("nmap")
        self.assertEqual(own, theirs)
        self.assertEqual(own[1], sorted([(p, "tcp", "open") for p in listening] + [(dropped, "tcp", "filtered")]))


if __name__ == "__main__":
    pktest.main()
