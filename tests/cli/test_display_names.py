"""Names and RISK flags users see in scan and ls: the curated display name
where the notes give one (http-alt for 8000, BackOrifice for 31337), RISK
only for ports a trojan or backdoor made its own, each risky port once in the
ls footer. Real listeners on loopback."""
import json
import os
import pty
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from pktest import run, run_json  # noqa: E402

PID = os.getpid()


def listen(addr, port, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        s.bind((addr, port))
    except OSError:
        s.close()
        raise unittest.SkipTest(f"{addr} port {port} is busy")
    s.listen(4)
    return s


def on_tty(*args):
    return pktest.run_on_tty(*args, env={"NO_COLOR": "1", "COLUMNS": "200"})


class DisplayNames(unittest.TestCase):
    def test_scan_shows_the_name_users_know(self):
        socks = [listen("127.0.0.1", 8000), listen("127.0.0.1", 31337), listen("127.0.0.1", 22222)]
        try:
            cp = run("scan", "-p", "8000,31337,22222", "127.0.0.1", "--json", "--no-progress", timeout=60)
            rows = {r["port"]: r for r in map(json.loads, cp.stdout.splitlines())}
            self.assertEqual(rows[8000]["service"], "http-alt")       # IANA: irdmi
            self.assertEqual(rows[31337]["service"], "BackOrifice")   # IANA: eldim
            text = run("scan", "-p", "8000,31337", "127.0.0.1", "--no-progress", timeout=60).stdout
            self.assertIn("http-alt", text)
            self.assertNotIn("irdmi", text)
        finally:
            for s in socks:
                s.close()
        # info keeps IANA's name
        self.assertEqual(run_json("info", "--json", "8000/tcp", check=0)[1][0]["name"], "irdmi")

    def test_ls_names_and_quiet_risk(self):
        socks = [listen("127.0.0.1", 8000), listen("127.0.0.1", 8080), listen("127.0.0.1", 31337)]
        try:
            cp, rows = run_json("ls", "--json", "--pid", PID, check=0)
            by_port = {r["local_port"]: r for r in rows if r["state"] == "LISTEN"}
            self.assertEqual(by_port[8000]["service"], "http-alt")
            self.assertEqual(by_port[31337]["service"], "BackOrifice")
            self.assertIn("RISK", by_port[31337]["flags"])
            # 8080's notes mention MyDoom (a worm on a legitimate service): no RISK
            self.assertNotIn("RISK", by_port[8080]["flags"])
            self.assertNotIn("RISK", by_port[8000]["flags"])
        finally:
            for s in socks:
                s.close()

    def test_ls_footer_names_each_risky_port_once(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6")
        socks = [listen("127.0.0.1", 31337), listen("::1", 31337, socket.AF_INET6),
                 listen("127.0.0.1", 12345)]
        try:
            out = on_tty("ls", "-a", "--pid", str(PID))
        finally:
            for s in socks:
                s.close()
        footer = [l for l in out.splitlines() if "risky" in l]
        self.assertEqual(len(footer), 1, out)
        self.assertEqual(footer[0].count("31337/tcp"), 1, footer[0])
        self.assertIn("2 risky ports", footer[0])


if __name__ == "__main__":
    pktest.main()
