"""portkit watch in a network namespace of its own (so only the test's
sockets come and go): TCP and UDP listeners on IPv4 and IPv6 are opened
and closed one at a time, and each change must be reported within 1 s,
exactly once, with its process. Also: --exec gets the change (a failing
hook does not stop the watch), --save stores snapshots, SIGHUP takes a new
baseline, SIGTERM ends with exit 0."""
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import pktest
from pktest import PORTKIT

TAG, INDEX = "hist-watch", 61

# Runs in the namespace: opens and closes sockets on command, one per line
# on stdin ("open tcp ::1 8080" / "close tcp ::1 8080"), answering "ok".
SOCKET_HOLDER = r"""
import socket, sys
held = {}
for line in sys.stdin:
    op, proto, addr, port = line.split()
    key = (proto, addr, int(port))
    if op == "open":
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(port)))
        if proto == "tcp":
            s.listen()
        held[key] = s
    else:
        held.pop(key).close()
    print("ok", flush=True)
"""


class Watch:
    def __init__(self, ns, *args, env=None):
        e = dict(os.environ, NO_COLOR="1")
        e.update(env or {})
        self.p = ns.popen([PORTKIT, "watch", "--json", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=e)
        self.lines = queue.Queue()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put((time.monotonic(), json.loads(line)))

    def next(self, timeout):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None, None

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.t.join(timeout=5)
        err = self.p.stderr.read()
        self.p.stdout.close()
        self.p.stderr.close()
        return rc, err


@pktest.need_root
class WatchListeners(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ns = pktest.Netns(TAG, INDEX).__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.ns.close()

    def setUp(self):
        self.holder = self.ns.popen(["python3", "-c", SOCKET_HOLDER], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.holder.stdin.close()
        self.holder.wait(timeout=10)
        self.holder.stdout.close()
        self.tmp.cleanup()

    def do(self, op, proto, addr, port):
        self.holder.stdin.write(f"{op} {proto} {addr} {port}\n")
        self.holder.stdin.flush()
        self.assertEqual(self.holder.stdout.readline().strip(), "ok")

    def test_each_change_within_a_second_once(self):
        ns = self.ns
        w = Watch(ns)
        try:
            time.sleep(0.5)  # the first look is taken
            cases = [("tcp", "127.0.0.1", 18001), ("tcp", "::1", 18002), ("udp", "127.0.0.1", 18003),
                     ("udp", "::1", 18004), ("tcp", ns.ip, 18005), ("udp", ns.ip6, 18006), ("tcp", "0.0.0.0", 18007)]
            seen = []
            for proto, addr, port in cases:
                for op, change in (("open", "added"), ("close", "removed")):
                    t0 = time.monotonic()
                    self.do(op, proto, addr, port)
                    when, got = w.next(timeout=3)
                    self.assertIsNotNone(got, f"{op} {proto} {addr} {port}: not reported within 3 s")
                    self.assertEqual((got["change"], got["proto"], got["host"], got["port"]),
                                     (change, proto, addr, port))
                    self.assertLessEqual(when - t0, 1.0, f"{change} {proto} {addr}:{port} took {when - t0:.2f} s")
                    self.assertEqual(got["process"], "python3")
                    self.assertEqual(got["pid"], self.holder.pid)
                    seen.append(got)
                    if addr == "0.0.0.0":
                        self.assertIn("EXPOSED", got["flags"])
            # nothing reported twice: a quiet second brings no more lines
            when, extra = w.next(timeout=1.5)
            self.assertIsNone(extra, f"reported again: {extra}")
        finally:
            rc, err = w.stop()
        self.assertEqual(rc, 0, err)

    def test_exec_save_and_signals(self):
        ns = self.ns
        db = os.path.join(self.tmp.name, "h.db")
        log = os.path.join(self.tmp.name, "hook.log")
        # the hook records its environment and stdin, then fails: the watch goes on
        hook = f'(echo "$PORTKIT_CHANGE $PORTKIT_PROTO $PORTKIT_HOST $PORTKIT_PORT $PORTKIT_PROCESS"; cat) >> {log}; exit 3'
        w = Watch(ns, "--exec", hook, "--save", "--db", db)
        try:
            time.sleep(0.5)
            self.do("open", "tcp", "127.0.0.1", 18101)
            self.assertEqual(w.next(3)[1]["port"], 18101)
            self.do("open", "udp", "::1", 18102)
            self.assertEqual(w.next(3)[1]["port"], 18102)
            # SIGHUP: what listens now is the new baseline, not a change
            w.p.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            self.do("close", "tcp", "127.0.0.1", 18101)
            when, got = w.next(3)
            self.assertEqual((got["change"], got["port"]), ("removed", 18101))
        finally:
            rc, err = w.stop()
        self.assertEqual(rc, 0, err)
        self.assertIn("the command failed: exit status 3", err)
        self.assertIn("SIGHUP", err)
        with open(log) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "added tcp 127.0.0.1 18101 python3")
        self.assertEqual(json.loads(lines[1])["port"], 18101)
        self.assertEqual(lines[2], "added udp ::1 18102 python3")
        self.assertEqual(lines[4], "removed tcp 127.0.0.1 18101 python3")
        # one snapshot per change, the last without 18101
        runs = [json.loads(x) for x in pktest.run("history", "--json", "--db", db, check=0).stdout.splitlines()]
        self.assertEqual(len(runs), 3)
        self.assertEqual({r["kind"] for r in runs}, {"ls"})
        show = pktest.run("history", "show", "--db", db, "last", check=0).stdout
        self.assertNotIn(":18101 ", show)
        self.assertIn("[::1]:18102 ", show)
        cp = pktest.run("diff", "--db", db, "--json")
        self.assertEqual([json.loads(x)["change"] for x in cp.stdout.splitlines()], ["removed"])


    def test_syslog(self):
        """--syslog: each change reaches syslog as daemon.notice. The watch
        runs in a private mount namespace whose /dev holds only the test's
        own /dev/log socket, so nothing reaches the machine's logger."""
        devdir = os.path.join(self.tmp.name, "dev")
        os.mkdir(devdir)
        log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        log.bind(os.path.join(devdir, "log"))
        log.settimeout(3)
        p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                              f"mount --bind {devdir} /dev && exec ip netns exec {self.ns.name} {PORTKIT} watch --syslog"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(0.7)
            self.do("open", "tcp", "127.0.0.1", 18301)
            msg = log.recv(4096).decode()
        finally:
            p.terminate()
            out, err = p.communicate(timeout=10)
            log.close()
        self.assertEqual(p.returncode, 0, err)
        self.assertTrue(msg.startswith("<29>"), msg)  # daemon.notice
        self.assertRegex(msg, r"portkit\[\d+\]: \+ tcp 127\.0\.0\.1:18301 +python3\[\d+\] root$")
        self.assertIn("127.0.0.1:18301", out)


if __name__ == "__main__":
    pktest.main()
