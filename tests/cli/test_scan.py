"""portkit scan on the command line: bad input is one line and exit 2, help,
and real scans of loopback (the only place a non-root test may probe),
including the ephemeral range where a connect can land on its own source
port."""
import json
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from pktest import run  # noqa: E402


def listening_tcp_ports(addr="127.0.0.1"):
    """Ports some socket listens on that a connect to addr reaches."""
    out = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
    ports = set()
    for line in out.splitlines():
        local = line.split()[3]
        host, _, port = local.rpartition(":")
        if host in (addr, "0.0.0.0", "*", "[::]", f"[::ffff:{addr}]") and port.isdigit():
            ports.add(int(port))
    return ports


class BadInput(unittest.TestCase):
    def bad(self, *args, needle=None):
        cp = run("scan", *args)
        self.assertEqual(cp.returncode, 2, f"{args}: {cp.stderr}")
        lines = cp.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"{args}: {cp.stderr!r}")
        self.assertTrue(lines[0].startswith("portkit: scan: "), lines[0])
        if needle:
            self.assertIn(needle, lines[0])
        self.assertEqual(cp.stdout, "")

    def test_bad_ports(self):
        self.bad("-p", "0-70000", "127.0.0.1", needle="70000")
        self.bad("-p", "9-3", "127.0.0.1", needle="9-3")
        self.bad("-p", "http,nosuchservicename", "127.0.0.1", needle="nosuchservicename")
        self.bad("-p", "22,,23", "127.0.0.1", needle="empty")
        self.bad("-p", "S:80", "127.0.0.1", needle="SCTP")
        self.bad("--top-ports", "0", "127.0.0.1")
        self.bad("-p", "80", "--exclude-ports", "x-y", "127.0.0.1")
        self.bad("-p", "80", "--top-ports", "10", "127.0.0.1", needle="not both")

    def test_bad_targets(self):
        self.bad("-p", "80", "10.0.0.0/33", needle="/33")
        self.bad("-p", "80", "10.0.0.256", needle="10.0.0.256")
        self.bad("-p", "80", "224.0.0.1", needle="multicast")
        self.bad("-p", "80", "255.255.255.255", needle="broadcast")
        self.bad("-p", "80", "ff02::1", needle="multicast")
        self.bad("-p", "80", "10.0.0.0/8", needle="--force")
        self.bad("-p", "80", needle="what should be scanned")
        self.bad("-p", "80", "-iL", "/nonexistent/list", needle="/nonexistent/list")
        self.bad("-p", "80", "127.0.0.1", "--exclude", "127.0.0.1", needle="no hosts left")

    def test_bad_options(self):
        self.bad("-sX", "127.0.0.1", needle="-sX")
        self.bad("--rate", "-5", "127.0.0.1", needle="--rate")
        self.bad("--shard", "3/2", "127.0.0.1", needle="shard")
        self.bad("--max-retries", "lots", "127.0.0.1", needle="--max-retries")
        self.bad("--min-rtt-timeout", "5parsecs", "127.0.0.1", needle="5parsecs")
        self.bad("-oZ", "f", "127.0.0.1", needle="-oZ")

    def test_help(self):
        cp = run("scan", "--help", check=0)
        for word in ("Usage: portkit scan", "-p SPEC", "--top-ports", "-sU", "-sV", "--shard", "-oX",
                     "--json", "--rate", "Exit status"):
            self.assertIn(word, cp.stdout)
        self.assertEqual(run("help", "scan", check=0).stdout, cp.stdout)


class LoopbackScans(unittest.TestCase):
    def setUp(self):
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()

    def listen(self, port=0, addr="127.0.0.1"):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(16)
        self.socks.append(s)
        return s.getsockname()[1]

    def scan_json(self, *args, check=None):
        cp = run("scan", *args, "--json", "--no-progress", timeout=120)
        if check is not None:
            self.assertEqual(cp.returncode, check, cp.stderr)
        return cp, [json.loads(line) for line in cp.stdout.splitlines()]

    def test_listeners_found(self):
        ports = sorted(self.listen() for _ in range(3))
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: refuses
        cport = closed.getsockname()[1]
        closed.close()
        spec = ",".join(map(str, ports + [cport]))
        cp, rows = self.scan_json("-p", spec, "127.0.0.1", "--all-states", check=0)
        st = {r["port"]: (r["state"], r["reason"]) for r in rows}
        for p in ports:
            self.assertEqual(st[p], ("open", "syn-ack"))
        self.assertEqual(st[cport], ("closed", "conn-refused"))
        for r in rows:
            self.assertEqual(r["host"], "127.0.0.1")
            self.assertEqual(set(r), {"host", "port", "proto", "state", "reason", "service", "banner",
                                      "rtt_ms"})

    def test_ephemeral_range_has_no_phantom_ports(self):
        """A connect to a port of the ephemeral range can pick that very
        port as its source and connect to itself. Those must not show as
        open: only ports that something listens on may."""
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = map(int, f.read().split())
        # An address of our own inside 127/8: listeners that other tests
        # running in parallel open on 127.0.0.1 cannot show up here.
        addr = "127.83.41.9"
        mine = {self.listen(addr=addr) for _ in range(2)}
        before = listening_tcp_ports(addr)
        cp, rows = self.scan_json("-p", f"{lo}-{hi}", addr, check=0)
        after = listening_tcp_ports(addr)
        found = {r["port"] for r in rows if r["state"] == "open"}
        self.assertTrue(mine <= found, f"missed {mine - found}")
        phantom = found - (before | after)
        self.assertFalse(phantom, f"ports open that nothing listens on: {sorted(phantom)[:10]}")

    def test_inflight_and_rate_limits(self):
        """--max-inflight 2 still runs at full speed (answers free room at
        once); --rate holds the probes per second."""
        addr = "127.83.41.10"
        port = self.listen(addr=addr)
        t = time.monotonic()
        cp, rows = self.scan_json("-p", f"1-3000,{port}", addr, "--max-inflight", "2")
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        self.assertIn(port, {r["port"] for r in rows})
        self.assertLess(time.monotonic() - t, 10)
        t = time.monotonic()
        cp = run("scan", "-p", "1-1500", addr, "--rate", "1000", "--no-progress", timeout=60)
        took = time.monotonic() - t
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        self.assertGreater(took, 1.2, "1500 probes at 1000/s take 1.5 s")
        self.assertLess(took, 10)

    def test_host_timeout(self):
        """--rate 1000 makes 1500 ports last 1.5 s: --host-timeout 0 (nmap's
        "no limit") lets every port be decided; 400ms gives the host up, its
        ports unreported, its listener included."""
        addr = "127.83.41.11"
        port = self.listen(addr=addr)
        args = ("-p", f"1-1499,{port}", addr, "--rate", "1000", "--all-states")
        cp, rows = self.scan_json(*args, "--host-timeout", "0", check=0)
        self.assertEqual(len([r for r in rows if "port" in r]), 1500)
        self.assertFalse(any(r.get("timed_out") for r in rows))
        cp = run("scan", *args, "--host-timeout", "400ms", "--no-progress", "-oX", "-", timeout=60)
        self.assertEqual(cp.returncode, 1, cp.stderr)  # nothing reported open
        self.assertIn(f'timedout="true"><status state="up" reason="user-set"', cp.stdout)
        self.assertNotIn("<port ", cp.stdout)
        cp = run("scan", *args, "--host-timeout", "400ms", "--no-progress", timeout=60)
        self.assertIn(f"{addr}  skipped due to host timeout", cp.stdout)
        self.assertIn("0 of 1500 ports decided", cp.stdout)
        self.assertIn("1 host timed out", cp.stdout)

    def test_exit_one_when_nothing_open(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        cp = run("scan", "-p", str(port), "127.0.0.1", "--no-progress")
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("Not shown: 1 closed tcp port", cp.stdout)

    def test_names_and_localhost(self):
        port = self.listen()
        cp, rows = self.scan_json("-p", str(port), "localhost", "-4", check=0)
        self.assertEqual([(r["host"], r["port"], r.get("hostname")) for r in rows],
                         [("127.0.0.1", port, "localhost")])

    def test_top_ports_count(self):
        cp = run("scan", "--top-ports", "50", "-oX", "-", "127.0.0.1", "--no-progress", timeout=60)
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        self.assertIn('numservices="50"', cp.stdout)
        cp = run("scan", "-F", "-oX", "-", "127.0.0.1", "--no-progress", timeout=60)
        self.assertIn('numservices="100"', cp.stdout)

    def test_port_names_and_prefixes(self):
        cp = run("scan", "-p", "ssh,http,U:53", "-oX", "-", "127.0.0.1", "--no-progress",
                 "--max-retries", "1", "--initial-rtt-timeout", "200ms", timeout=60)
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        self.assertIn('<scaninfo type="connect" protocol="tcp" numservices="2" services="22,80"/>',
                      cp.stdout)
        self.assertIn('<scaninfo type="udp" protocol="udp" numservices="1" services="53"/>', cp.stdout)


if __name__ == "__main__":
    pktest.main()
