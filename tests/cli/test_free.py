"""portkit free: the ports it prints must bind, held ones must never come back."""
import json
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from pktest import run  # noqa: E402

EPH_LO, EPH_HI = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())


def binds(port, typ=socket.SOCK_STREAM):
    """Binds the port on the dual-stack wildcard, as a server would."""
    s = socket.socket(socket.AF_INET6, typ)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    try:
        s.bind(("::", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def ports(cp):
    return [int(x) for x in cp.stdout.split()]


class FreePorts(unittest.TestCase):
    def test_one_tcp_port_that_binds(self):
        cp = run("free", check=0)
        got = ports(cp)
        self.assertEqual(len(got), 1)
        p = got[0]
        self.assertTrue(1024 <= p <= 49151, p)
        self.assertFalse(EPH_LO <= p <= EPH_HI, p)
        self.assertTrue(binds(p))

    def test_several_distinct(self):
        got = ports(run("free", "-n", 25, check=0))
        self.assertEqual(len(got), 25)
        self.assertEqual(len(set(got)), 25)
        self.assertTrue(all(binds(p) for p in got))

    def test_udp_and_both(self):
        p = ports(run("free", "--udp", check=0))[0]
        self.assertTrue(binds(p, socket.SOCK_DGRAM))
        for p in ports(run("free", "--both", "-n", 3, check=0)):
            self.assertTrue(binds(p))
            self.assertTrue(binds(p, socket.SOCK_DGRAM))

    def test_range(self):
        got = ports(run("free", "--range", "40000-40100", "-n", 5, check=0))
        self.assertTrue(all(40000 <= p <= 40100 for p in got))

    def test_a_held_port_is_never_offered(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))  # even loopback-only: a wildcard server could not bind it
        s.listen(1)
        held = s.getsockname()[1]
        try:
            cp = run("free", "--range", f"{held}-{held}")
            self.assertEqual(cp.returncode, 1)
            self.assertEqual(cp.stdout, "")
            self.assertEqual(len(cp.stderr.splitlines()), 1)
            lo, hi = held - 3, held + 3
            for p in ports(run("free", "--range", f"{lo}-{hi}", "-n", 1, check=0)):
                self.assertNotEqual(p, held)
        finally:
            s.close()

    def test_udp_holder_blocks_udp_only(self):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", 0))
        held = u.getsockname()[1]
        try:
            self.assertEqual(run("free", "--udp", "--range", f"{held}-{held}").returncode, 1)
            self.assertEqual(run("free", "--both", "--range", f"{held}-{held}").returncode, 1)
            cp = run("free", "--range", f"{held}-{held}")  # TCP: free unless someone else has it
            if cp.returncode == 0:
                self.assertEqual(ports(cp), [held])
        finally:
            u.close()

    def test_not_enough_ports(self):
        cp = run("free", "--range", "40000-40001", "-n", 3)
        self.assertEqual(cp.returncode, 1)
        self.assertEqual(cp.stdout, "")  # all or nothing
        self.assertEqual(len(cp.stderr.splitlines()), 1)
        self.assertRegex(cp.stderr, r"only \d free port.*3 asked|no free port")

    def test_unassigned(self):
        got = ports(run("free", "--unassigned", "-n", 5, check=0))
        cp = run("info", "--json", *[f"{p}/tcp" for p in got], check=0)
        for line in cp.stdout.splitlines():
            r = json.loads(line)
            self.assertFalse(r["official"], r)
            self.assertIsNone(r["name"], r)
            self.assertFalse(r["reserved"], r)
        # the well-known range is nearly all assigned: 20-23 entirely
        self.assertEqual(run("free", "-U", "--range", "20-23").returncode, 1)


class BadInput(unittest.TestCase):
    def bad(self, *args):
        cp = run("free", *args)
        self.assertEqual(cp.returncode, 2, (args, cp.stdout, cp.stderr))
        self.assertEqual(len(cp.stderr.splitlines()), 1, cp.stderr)
        self.assertTrue(cp.stderr.startswith("portkit: free: "), cp.stderr)
        self.assertEqual(cp.stdout, "")

    def test_ranges(self):
        for r in ("5-3", "0-10", "1-70000", "abc", "10-", ""):
            with self.subTest(r=r):
                self.bad("--range", r)

    def test_counts_and_args(self):
        for n in ("0", "-1", "abc", "70000", ""):
            with self.subTest(n=n):
                self.bad("-n", n)
        self.bad("8080")
        self.bad("--frob")
        self.bad("-r")


if __name__ == "__main__":
    pktest.main()
