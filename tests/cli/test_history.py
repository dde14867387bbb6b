"""portkit history, diff and report on the command line, against real
loopback listeners (the only place a non-root test may probe): saved runs,
diffs with their exit status and JSON fields, naming runs, pruning,
importing XML, and bad input as one line with exit 2."""
import json
import os
import re
import socket
import sqlite3
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from pktest import run  # noqa: E402


def free_ports(n):
    """n TCP ports nothing listens on right now (bound then released)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


class History(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.db = os.path.join(self.tmp.name, "sub", "history.db")
        self.env = {"PORTKIT_DB": self.db}

    def tearDown(self):
        self.tmp.cleanup()

    def pk(self, *args, check=None):
        return run(*args, env=self.env, check=check)

    def runs(self):
        cp = self.pk("history", "--json", check=0)
        return [json.loads(line) for line in cp.stdout.splitlines()]

    def test_scan_save_and_diff(self):
        a, b, c = free_ports(3)
        spec = f"{a},{b},{c}"
        s1, s2 = listen(a), listen(b)
        self.pk("scan", "-p", spec, "127.0.0.1", "--save", "--label", "before", check=0)
        s1.close()
        s3 = listen(c)
        self.pk("scan", "-p", spec, "127.0.0.1", "--save", check=0)
        s2.close()
        s3.close()
        runs = self.runs()
        self.assertEqual([r["id"] for r in runs], [2, 1])
        self.assertEqual(runs[1]["label"], "before")
        self.assertEqual(runs[0]["open"], 2)
        self.assertEqual(runs[0]["ports"], f"T:{','.join(map(str, sorted((a, b, c))))}")
        self.assertTrue(os.path.exists(self.db), "created with its directory")

        cp = self.pk("diff", "--json")
        self.assertEqual(cp.returncode, 1, cp.stderr)
        changes = sorted((j["change"], j["port"], j["before"], j["after"], j["host"], j["proto"])
                         for j in map(json.loads, cp.stdout.splitlines()))
        self.assertEqual(changes, sorted([("closed", a, "open", "closed", "127.0.0.1", "tcp"),
                                          ("opened", c, "closed", "open", "127.0.0.1", "tcp")]))
        # the same by label, by last~1, and as text
        for refs in (["before", "last"], ["last~1", "2"], ["1"]):
            cp2 = self.pk("diff", "--json", *refs)
            self.assertEqual(cp2.stdout, cp.stdout, refs)
        cp = self.pk("diff", "before", "last")
        self.assertEqual(cp.returncode, 1)
        self.assertIn(f"- {a}/tcp", cp.stdout)
        self.assertIn(f"+ {c}/tcp", cp.stdout)
        # a run against itself: no change, exit 0, nothing printed
        cp = self.pk("diff", "last", "last")
        self.assertEqual((cp.returncode, cp.stdout), (0, ""))
        self.assertEqual(self.pk("diff", "-q", "1", "2").stdout, "")

    def test_report(self):
        a, = free_ports(1)
        s = listen(a)
        self.pk("scan", "-p", str(a), "127.0.0.1", "--save", check=0)
        s.close()
        out = os.path.join(self.tmp.name, "r.html")
        with open(out, "w") as f:
            f.write("old report")
        self.pk("report", "-o", out, check=0)
        with open(out) as f:
            html = f.read()
        self.assertTrue(html.startswith("<!DOCTYPE html>"))
        self.assertIn(f"<td class=\"n\">{a}</td>", html)
        # nothing the page could fetch: no URL at all
        for needle in ("http://", "https://", "//cdn", "src=", "@import", "url("):
            self.assertNotIn(needle, html)
        # a failed report leaves the old file alone
        cp = self.pk("report", "999", "-o", out)
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertIn("no run '999'", cp.stderr)
        with open(out) as f:
            self.assertTrue(f.read().startswith("<!DOCTYPE html>"))

    def test_scan_html_output(self):
        a, b = free_ports(2)
        s = listen(a)
        out = os.path.join(self.tmp.name, "scan.html")
        self.pk("scan", "-p", f"{a},{b}", "127.0.0.1", "-oH", out, check=0)
        s.close()
        with open(out) as f:
            html = f.read()
        self.assertTrue(html.startswith("<!DOCTYPE html>"))
        self.assertIn(f'<tr data-state="open"><td>127.0.0.1</td><td class="n">{a}</td>', html)
        self.assertNotIn(f'<td class="n">{b}</td>', html)
        self.assertIn('id="n-open">1<', html)
        self.assertIsNone(re.search(r"<[^>]*\s(src|href)\s*=", html))
        self.assertFalse(os.path.exists(self.db), "-oH needs no history")

    def test_ls_save(self):
        s = listen(0)
        port = s.getsockname()[1]
        self.pk("ls", "--save", "--label", "snap", check=0)
        s.close()
        self.pk("ls", "--save", check=0)
        runs = self.runs()
        self.assertEqual([r["kind"] for r in runs], ["ls", "ls"])
        cp = self.pk("diff", "--json", "snap", "last")
        self.assertEqual(cp.returncode, 1)
        ours = [j for j in map(json.loads, cp.stdout.splitlines()) if j["port"] == port]
        self.assertEqual(len(ours), 1, cp.stdout)
        self.assertEqual(ours[0]["change"], "removed")
        self.assertEqual(ours[0]["process"], "python3")
        self.assertEqual(ours[0]["pid"], os.getpid())

    def test_rm_and_prune(self):
        for _ in range(3):
            self.pk("ls", "--save", check=0)
        self.pk("history", "rm", "2", check=0)
        self.assertEqual([r["id"] for r in self.runs()], [3, 1])
        cp = self.pk("history", "rm", "2")
        self.assertEqual(cp.returncode, 1)
        self.pk("history", "rm", "--older-than", "1d", check=0)
        self.assertEqual(len(self.runs()), 2)
        # make run 1 old, then prune it
        con = sqlite3.connect(self.db)
        con.execute("UPDATE runs SET end_us=end_us-86400000000*40 WHERE id=1")
        con.commit()
        con.close()
        self.pk("history", "rm", "--older-than", "30d", check=0)
        self.assertEqual([r["id"] for r in self.runs()], [3])

    def test_import_portkit_xml(self):
        a, b = free_ports(2)
        s = listen(a)
        xml = os.path.join(self.tmp.name, "p.xml")
        self.pk("scan", "-p", f"{a},{b}", "127.0.0.1", "-oX", xml, "--save", check=0)
        s.close()
        cp = self.pk("history", "import", "--label", "imported", xml, check=0)
        self.assertIn("run 2", cp.stdout)
        runs = self.runs()
        self.assertEqual(runs[0]["source"], "portkit")
        self.assertEqual(runs[0]["label"], "imported")
        self.assertEqual(self.pk("diff", "1", "2").returncode, 0)
        # the file itself compares with no import
        self.assertEqual(self.pk("diff", "1", xml).returncode, 0)

    def test_no_history(self):
        cp = self.pk("history")
        self.assertEqual(cp.returncode, 1)
        self.assertIn("no history yet", cp.stderr)
        self.assertFalse(os.path.exists(self.db), "reading never creates the database")

    def test_default_location(self):
        state = os.path.join(self.tmp.name, "state")
        run("ls", "--save", env={"PORTKIT_DB": "", "XDG_STATE_HOME": state}, check=0)
        db = os.path.join(state, "portkit", "history.db")
        self.assertTrue(os.path.exists(db))
        self.assertEqual(os.stat(os.path.dirname(db)).st_mode & 0o777, 0o700)
        home = os.path.join(self.tmp.name, "home")
        os.mkdir(home)
        run("ls", "--save", env={"PORTKIT_DB": "", "XDG_STATE_HOME": "", "HOME": home}, check=0)
        self.assertTrue(os.path.exists(os.path.join(home, ".local", "state", "portkit", "history.db")))
        # --db wins over PORTKIT_DB
        other = os.path.join(self.tmp.name, "other.db")
        run("ls", "--save", "--db", other, env={"PORTKIT_DB": db}, check=0)
        cp = run("history", "--json", env={"PORTKIT_DB": db}, check=0)
        self.assertEqual(len(cp.stdout.splitlines()), 1)
        self.assertTrue(os.path.exists(other))

    def test_only_one_run(self):
        self.pk("ls", "--save", check=0)
        cp = self.pk("diff")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("nothing to compare", cp.stderr)


class BadInput(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.db = os.path.join(self.tmp.name, "h.db")
        run("ls", "--save", env={"PORTKIT_DB": self.db}, check=0)

    def tearDown(self):
        self.tmp.cleanup()

    def bad(self, *args, needle=None, code=2, db=None):
        cp = run(*args, env={"PORTKIT_DB": db or self.db})
        self.assertEqual(cp.returncode, code, f"{args}: {cp.stderr}")
        lines = cp.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, f"{args}: {cp.stderr!r}")
        self.assertTrue(lines[0].startswith("portkit: "), lines[0])
        if needle:
            self.assertIn(needle, lines[0])
        return lines[0]

    def test_options(self):
        self.bad("history", "--bogus", needle="--bogus")
        self.bad("history", "frobnicate", needle="frobnicate")
        self.bad("history", "rm", needle="which runs")
        self.bad("history", "rm", "--older-than", "soon", needle="soon")
        self.bad("diff", "1", "2", "3", needle="at most two")
        self.bad("diff", "nosuchlabel", needle="nosuchlabel")
        self.bad("diff", "last~x", needle="last~x")
        self.bad("watch", "--every", "10m", needle="--every needs --scan")
        self.bad("watch", "--scan", "127.0.0.1", "--every", "0.1s", needle="at least 1s")
        self.bad("watch", "--count", "0", needle="--count")
        self.bad("report", "1", "2", "3", needle="at most two")
        # labels that would read as something else, refused before any work
        self.bad("ls", "--save", "--label", "123", needle="run id")
        self.bad("scan", "-p", "1", "127.0.0.1", "--label", "last~2", needle="last")
        self.bad("watch", "--label", "old/new", needle="file name")
        self.bad("history", "import", "--label", "x.xml", "f.xml", needle="file name")
        self.bad("ls", "--label", "a\x1bb", needle="control")

    def test_bad_xml(self):
        path = os.path.join(self.tmp.name, "bad.xml")
        cases = {
            "<html><body/></html>": "not nmap XML",
            "<nmaprun><host>": "line 1",
            '<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY a "aaaa">]><nmaprun>&a;</nmaprun>': "entity",
            "": "no element found",
        }
        for text, needle in cases.items():
            with open(path, "w") as f:
                f.write(text)
            self.bad("history", "import", path, needle=needle)
        self.bad("history", "import", "/nonexistent/x.xml", needle="/nonexistent/x.xml", code=3)
        # nothing half-imported stays behind
        cp = run("history", "--json", env={"PORTKIT_DB": self.db}, check=0)
        self.assertEqual(len(cp.stdout.splitlines()), 1)

    def test_future_schema_refused(self):
        con = sqlite3.connect(self.db)
        con.execute("PRAGMA user_version=99")
        con.commit()
        con.close()
        for verb in (["history"], ["ls", "--save"], ["diff"]):
            line = self.bad(*verb, needle="schema version 99", code=3)
            self.assertIn("upgrade portkit", line)

    def test_not_a_history(self):
        other = os.path.join(self.tmp.name, "other.db")
        con = sqlite3.connect(other)
        con.execute("CREATE TABLE t(x)")
        con.commit()
        con.close()
        self.bad("history", needle="not portkit's history", db=other)
        junk = os.path.join(self.tmp.name, "junk.db")
        with open(junk, "wb") as f:
            f.write(b"this is not a database at all" * 100)
        self.bad("history", db=junk, code=2)
        with open(junk, "rb") as f:
            self.assertEqual(f.read(), b"this is not a database at all" * 100)


class Help(unittest.TestCase):
    def test_help(self):
        for verb in ("history", "diff", "watch", "report"):
            cp = run(verb, "--help", check=0)
            self.assertIn(f"Usage: portkit {verb}", cp.stdout)
            self.assertIn("--db", cp.stdout)
        self.assertIn("--save", run("scan", "--help", check=0).stdout)
        self.assertIn("--save", run("ls", "--help", check=0).stdout)


if __name__ == "__main__":
    pktest.main()
