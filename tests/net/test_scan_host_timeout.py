"""nmap's --host-timeout: a host not finished in time is given up whole and
the others go on. Two live hosts in a scanner/target namespace pair: the
slow one's firewall drops most ports (each costs retries and timeouts), the
fast one refuses every port at once but two that listen. With a 2 s limit the
slow host is skipped (no port reported, in every output format) within about
the limit plus one timeout, while the fast host's results stay complete and
exact; without a limit, or with 0 (nmap's "none"), both hosts complete."""
import json
import os
import re
import tempfile
import time
import unittest

import pktest
import scannet

BIG = scannet.BIG
SLOW, FAST = f"{BIG}.1.1", f"{BIG}.1.2"
OPEN = [22, 8080]
ANSWERING = "{ 20-25, 80, 443, 8080 }"  # what the slow host's firewall lets through
# The slow host: 25 probes at a time, each silent port held 300 ms or more
# per try, so 400 ports take several times the 2 s limit.
SLOW_ARGS = ["-p", "1-400", "--max-host-inflight", "25", "--min-rtt-timeout", "300ms"]
LIMIT_S = 2.0


def port_lines(cp):
    return [json.loads(x) for x in cp.stdout.splitlines() if x.strip()]


@pktest.need_root
class HostTimeout(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = scannet.Topo("hto").__enter__()
        cls.t.add_hosts([SLOW, FAST])
        cls.t.listen(OPEN)
        cls.t.nft_target("table inet pktest { chain input { type filter hook input priority 0;\n"
                         f"  ip daddr {SLOW} tcp dport != {ANSWERING} drop\n"
                         "}\n}\n")
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.t.close()
        cls.tmp.cleanup()

    def scan(self, *args):
        started = time.monotonic()
        cp = self.t.portkit("scan", *SLOW_ARGS, "--json", "--all-states", "--no-progress", *args,
                            SLOW, FAST, timeout=180)
        return cp, time.monotonic() - started

    def assert_fast_exact(self, lines):
        fast = {d["port"]: (d["state"], d["reason"]) for d in lines if d["host"] == FAST and "port" in d}
        self.assertEqual(set(fast), set(range(1, 401)))
        for port, (state, reason) in fast.items():
            if port in OPEN:
                self.assertEqual(state, "open", port)
            else:
                self.assertEqual(state, "closed", port)
                self.assertIn(reason, ("reset", "conn-refused"), port)

    def test_slow_host_is_skipped_fast_host_exact(self):
        for extra in ([], ["--unprivileged"]):  # raw SYN scan, then connect scan
            with self.subTest(extra=extra):
                base = os.path.join(self.tmp.name, "raw" if not extra else "connect")
                cp, took = self.scan(*extra, "--host-timeout", f"{LIMIT_S:g}s", "-oA", base)
                self.assertEqual(cp.returncode, 0, cp.stderr)
                # the limit, one timeout (1 s at most) and discovery's second
                self.assertGreaterEqual(took, LIMIT_S)
                self.assertLess(took, LIMIT_S + 3.0, cp.stderr)
                lines = port_lines(cp)
                self.assert_fast_exact(lines)
                slow = [d for d in lines if d["host"] == SLOW and "port" not in d]
                self.assertEqual(len(slow), 1, lines[-5:])
                self.assertIs(slow[0].get("timed_out"), True)
                self.assertEqual(slow[0]["status"], "up")

                with open(base + ".nmap") as f:
                    text = f.read()
                self.assertRegex(text, rf"{re.escape(SLOW)}\s+skipped due to host timeout")
                self.assertNotRegex(text, rf"{re.escape(SLOW)}\s+rtt")
                self.assertIn("1 host timed out", text)
                self.assertIn("400 of 800 ports decided", text)
                with open(base + ".gnmap") as f:
                    grep = f.read()
                self.assertIn(f"Host: {SLOW} ()\tStatus: Timeout", grep)
                self.assertNotIn(f"Host: {SLOW} ()\tPorts:", grep)
                self.assertIn(f"Host: {FAST} ()\tPorts:", grep)
                with open(base + ".xml") as f:
                    xml = f.read()
                m = re.search(r'<host [^>]*timedout="true"><status state="up"[^>]*/>\n'
                              r'<address addr="([^"]+)"[^>]*/>\n<hostnames>\n</hostnames>\n'
                              r'(<times [^>]*/>\n)?</host>', xml)
                self.assertIsNotNone(m, xml[:3000])
                self.assertEqual(m.group(1), SLOW)
                self.assertEqual(xml.count('timedout="true"'), 1)

    def test_no_limit_both_complete(self):
        for limit in ([], ["--host-timeout", "0"]):  # 0 is nmap's "no limit"
            with self.subTest(limit=limit):
                cp, took = self.scan("--unprivileged", *limit)
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertGreater(took, LIMIT_S + 3.0)  # the slow host is slow indeed
                lines = port_lines(cp)
                self.assert_fast_exact(lines)
                slow = {d["port"]: d["state"] for d in lines if d["host"] == SLOW and "port" in d}
                self.assertEqual(set(slow), set(range(1, 401)))
                self.assertEqual(slow[22], "open")
                self.assertEqual(slow[80], "closed")
                self.assertEqual(slow[100], "filtered")
                self.assertFalse(any(d.get("timed_out") for d in lines))


if __name__ == "__main__":
    pktest.main()
