"""nmap habits against a real subnet: one test host in a namespace, its
neighbours silent. Host discovery reports them down; with -Pn, addresses
that answered nothing are one summary line,
--open drops hosts with nothing open, --reason names why."""
import re
import unittest

import pktest

TAG, INDEX = "sc-hab", 47


@pktest.need_root
class SubnetHabits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ns = pktest.Netns(TAG, INDEX, v6=False).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.ns.close()

    def scan(self, *args):
        # .1 is our side of the veth, .2 the test host, .3-.14 nobody
        return pktest.run("scan", "-p", "9", "--max-retries", "1", "--initial-rtt-timeout", "300ms",
                          "--no-progress", f"{self.ns.net}.1-14", *args, timeout=120)

    def test_silent_addresses_are_one_line(self):
        cp = self.scan("-Pn")  # no discovery: every address is probed
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        m = re.search(r"^(\d+) addresses did not answer", cp.stdout, re.M)
        self.assertIsNotNone(m, cp.stdout)
        self.assertEqual(int(m.group(1)), 12, cp.stdout)
        for i in range(3, 15):
            self.assertNotIn(f"{self.ns.net}.{i} ", cp.stdout)
            self.assertNotIn(f"{self.ns.net}.{i}\n", cp.stdout)
        self.assertIn(f"{self.ns.net}.2", cp.stdout)  # answered: its own block

    def test_discovery_reports_the_silent_down(self):
        cp = self.scan()  # several addresses: discovery first (connects, without raw sockets here)
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        self.assertIn("hosts: 2 up, 12 down", cp.stdout)
        self.assertNotIn("did not answer", cp.stdout)
        for i in range(3, 15):
            self.assertNotIn(f"{self.ns.net}.{i} ", cp.stdout)
        cp = self.scan("--all-states")
        self.assertIn(f"{self.ns.net}.3  host down (no-response)", cp.stdout)

    def test_open_hides_hosts_with_nothing_open(self):
        cp = self.scan("--open")
        self.assertNotIn(f"{self.ns.net}.2", cp.stdout)
        self.assertNotIn("did not answer", cp.stdout)


if __name__ == "__main__":
    pktest.main()
