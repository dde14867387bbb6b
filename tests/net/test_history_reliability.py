"""The history database under stress: concurrent writers and readers,
writers killed with SIGKILL half-way through a save, a full disk (a small
tmpfs), a read-only filesystem. Nothing stored may be lost or damaged, no
half run may ever be visible, and every failure is one clear line.
Root: the filesystems are mounted by the test (and unmounted after)."""
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

import pktest
from pktest import run

TOOLS = os.environ.get("PK_TEST_TOOLS") or os.path.join(pktest.SOURCE_DIR, "build-test", "tests", "tools")
HISTFILL = os.path.join(TOOLS, "pk_histfill")


def check_db(test, path):
    """The database is sound and every visible run is whole: its host rows
    and open ports add up to the counts written at its commit."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        test.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        test.assertEqual(con.execute("PRAGMA foreign_key_check").fetchall(), [])
        rows = con.execute(
            "SELECT r.id, r.hosts, r.open, (SELECT count(*) FROM hosts h WHERE h.run_id=r.id), "
            "(SELECT count(*) FROM ports p JOIN hosts h ON p.host_id=h.id WHERE h.run_id=r.id AND p.state='open') "
            "FROM runs r WHERE r.kind=0").fetchall()
        for rid, hosts, nopen, hrows, prows in rows:
            test.assertEqual((hosts, nopen), (hrows, prows), f"run {rid} is not whole")
        return con.execute("SELECT id FROM runs ORDER BY id").fetchall()
    finally:
        con.close()


class Mount:
    """A small tmpfs at a fresh directory, unmounted on exit."""

    def __init__(self, size):
        self.dir = tempfile.mkdtemp(prefix="pkhist-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", self.dir], check=True)

    def readonly(self):
        subprocess.run(["mount", "-o", "remount,ro", self.dir], check=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", self.dir], check=False)
        os.rmdir(self.dir)


@pktest.need_root
@unittest.skipUnless(os.path.exists(HISTFILL), f"needs {HISTFILL} (a test build)")
class Reliability(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.db = os.path.join(self.tmp.name, "h.db")

    def tearDown(self):
        self.tmp.cleanup()

    def one_line(self, cp, code, needle):
        self.assertEqual(cp.returncode, code, cp.stderr)
        lines = cp.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, cp.stderr)
        self.assertIn(needle, lines[0])

    def test_concurrent_writers_and_readers(self):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        env = dict(os.environ, PORTKIT_DB=self.db, NO_COLOR="1")
        procs = [subprocess.Popen([HISTFILL, self.db, "100", "10", str(i), f"fill{i}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
        procs += [subprocess.Popen([pktest.PORTKIT, "scan", "-p", str(port), "127.0.0.1", "--save"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                  for _ in range(3)]
        procs += [subprocess.Popen([pktest.PORTKIT, "ls", "--save"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
        # and a watch saving a snapshot per change, in a namespace where a
        # listener comes and goes six times meanwhile (each state lasting
        # longer than the watch's slowest look, 0.5 s)
        ns = pktest.Netns("hist-rel", 63).__enter__()
        self.addCleanup(ns.close)
        watch = ns.popen([pktest.PORTKIT, "watch", "--save", "--db", self.db], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        procs.append(ns.popen(["python3", "-c", "import socket, time\n"
                               "for i in range(6):\n"
                               "    s = socket.socket(); s.bind(('127.0.0.1', 18200)); s.listen()\n"
                               "    time.sleep(1.2); s.close(); time.sleep(1.2)\n"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        # a reader all along: it never fails and never sees a half run
        reads = 0
        while any(p.poll() is None for p in procs):
            cp = run("history", "--json", env={"PORTKIT_DB": self.db})
            if cp.returncode == 1 and "no history yet" in cp.stderr:
                continue
            self.assertEqual(cp.returncode, 0, cp.stderr)
            for r in map(json.loads, cp.stdout.splitlines()):
                if r["kind"] == "scan" and r["source"] == "pk_histfill":
                    self.assertEqual(r["hosts"], 100)
            reads += 1
        for p in procs:
            out, err = p.communicate()
            self.assertEqual(p.returncode, 0, err)
        srv.close()
        watch.terminate()
        out, err = watch.communicate(timeout=10)
        self.assertEqual(watch.returncode, 0, err)
        self.assertEqual(len(out.splitlines()), 12, out)  # six listens, six closes
        self.assertGreater(reads, 0)
        runs = check_db(self, self.db)
        # 4 fills + 3 scans + 2 ls, and the watch's snapshots: one per change
        # when the database was free, fewer when other writers held it (the
        # watch never waits for them: it must report within a second)
        self.assertGreaterEqual(len(runs), 9 + 1)
        self.assertLessEqual(len(runs), 9 + 12)
        last = run("history", "--json", "--db", self.db, check=0).stdout.splitlines()
        snapshots = [json.loads(x) for x in last if json.loads(x)["label"] == "watch"]
        self.assertEqual(snapshots[0]["listeners"], 0, "the last snapshot shows the end state")

    def test_kill_during_save(self):
        # two whole runs first
        for i in range(2):
            subprocess.run([HISTFILL, self.db, "50", "10", str(i)], check=True, capture_output=True)
        before = check_db(self, self.db)
        rng = random.Random()
        killed = 0
        for attempt in range(8):
            p = subprocess.Popen([HISTFILL, self.db, "3000", "20", str(attempt)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.05, 0.6))
            if p.poll() is None:
                p.kill()
                killed += 1
            p.communicate()
            runs = check_db(self, self.db)
            self.assertEqual(runs[:2], before, "earlier runs intact")
            # the database stays writable and readable through the CLI
            run("history", env={"PORTKIT_DB": self.db}, check=0)
        self.assertGreater(killed, 0, "no writer was killed mid-save")
        subprocess.run([HISTFILL, self.db, "10"], check=True, capture_output=True)
        check_db(self, self.db)

    def test_full_disk(self):
        with Mount("1m") as m:
            db = os.path.join(m.dir, "h.db")
            run("ls", "--save", "--label", "kept", env={"PORTKIT_DB": db}, check=0)
            # a run far bigger than the disk
            cp = subprocess.run([HISTFILL, db, "3000", "30"], capture_output=True, text=True)
            self.assertEqual(cp.returncode, 3)
            self.assertIn("full", cp.stderr)
            # the CLI says so in one line, and keeps what was stored
            srv = socket.socket()
            srv.bind(("127.0.0.1", 0))
            srv.listen()
            with open(os.path.join(m.dir, "filler"), "wb") as f:
                try:
                    f.write(b"\0" * (2 << 20))
                except OSError:
                    pass
            cp = run("scan", "-p", str(srv.getsockname()[1]), "127.0.0.1", "--save", env={"PORTKIT_DB": db})
            srv.close()
            self.one_line(cp, 3, "full")
            os.unlink(os.path.join(m.dir, "filler"))
            runs = check_db(self, db)
            self.assertEqual(len(runs), 1)
            cp = run("history", "--json", env={"PORTKIT_DB": db}, check=0)
            self.assertEqual(json.loads(cp.stdout)["label"], "kept")
            # room again: saving works again
            run("ls", "--save", env={"PORTKIT_DB": db}, check=0)
            self.assertEqual(len(check_db(self, db)), 2)

    def test_read_only(self):
        with Mount("4m") as m:
            db = os.path.join(m.dir, "h.db")
            env = {"PORTKIT_DB": db}
            run("ls", "--save", env=env, check=0)
            run("ls", "--save", env=env, check=0)
            with open(db, "rb") as f:
                stored = f.read()
            m.readonly()
            # refused before scanning: nothing printed, one line, exit 3
            cp = run("scan", "-p", "1", "127.0.0.1", "--save", env=env)
            self.one_line(cp, 3, "read-only")
            self.assertEqual(cp.stdout, "")
            self.one_line(run("ls", "--save", env=env), 3, "read-only")
            # reading still works: list, diff, report to elsewhere
            self.assertEqual(len(run("history", "--json", env=env, check=0).stdout.splitlines()), 2)
            self.assertIn(run("diff", env=env).returncode, (0, 1))
            out = os.path.join(self.tmp.name, "r.html")
            run("report", "-o", out, env=env, check=0)
            with open(db, "rb") as f:
                self.assertEqual(f.read(), stored)


if __name__ == "__main__":
    pktest.main()
