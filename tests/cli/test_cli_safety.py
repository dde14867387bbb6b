"""Issue 8's security items and habits, as the CLI shows them: symlinks in
shared directories, outputs that survive failures and Ctrl-C, /dev/zero as
input under a memory cap, escape bytes in messages, failed writes, ss /
lsof / nmap habits, and the terminal width."""
import json
import os
import pty
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import fcntl
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from pktest import run  # noqa: E402


def asan():
    with open(pktest.PORTKIT, "rb") as f:
        return b"AddressSanitizer" in f.read()


ASAN = asan()


def run_capped(*args, stdin=b"", limit_mb=256):
    env = dict(os.environ, NO_COLOR="1")
    pre = None
    if ASAN:
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + f":hard_rss_limit_mb={limit_mb}"
    else:
        def pre():
            resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
    return subprocess.run([pktest.PORTKIT, *args], input=stdin, capture_output=True, timeout=120,
                          env=env, preexec_fn=pre)


class Listener:
    """A TCP listener on loopback, held by this process."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class Dir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pk-safety-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name, text=None):
        p = os.path.join(self.dir, name)
        if text is not None:
            with open(p, "w") as f:
                f.write(text)
        return p


class Symlinks(Dir):
    @unittest.skipUnless(os.geteuid() == 0, "needs root to plant another user's symlink")
    def test_planted_symlink_in_sticky_dir_is_refused(self):
        sticky = self.path("tmp")
        os.mkdir(sticky)
        os.chmod(sticky, 0o1777)
        os.chmod(self.dir, 0o755)
        victim = self.path("victim", "root's file\n")
        link = os.path.join(sticky, "out.xml")
        os.symlink(victim, link)
        os.lchown(link, 65534, 65534)
        for opt in ("-oX", "-oN", "-oJ", "-oG", "-oL"):
            cp = run("scan", "-p", "9", "127.0.0.1", opt, link)
            self.assertEqual(cp.returncode, 2, cp.stderr)
            self.assertEqual(len(cp.stderr.splitlines()), 1, cp.stderr)
            self.assertIn("protected_symlinks", cp.stderr)
            with open(victim) as f:
                self.assertEqual(f.read(), "root's file\n")
        # -oA: one refused name refuses the whole run, the others stay absent
        os.symlink(victim, os.path.join(sticky, "all.xml"))
        os.lchown(os.path.join(sticky, "all.xml"), 65534, 65534)
        cp = run("scan", "-p", "9", "127.0.0.1", "-oA", os.path.join(sticky, "all"))
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertEqual(sorted(os.listdir(sticky)), ["all.xml", "out.xml"])

    def test_own_symlink_is_followed_and_replaced_whole(self):
        target = self.path("real.xml", "old\n")
        link = self.path("link.xml")
        os.symlink(target, link)
        cp = run("scan", "-p", "9", "127.0.0.1", "-oX", link)
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        self.assertTrue(os.path.islink(link))
        ET.parse(target)  # a complete document


class OutputsSurvive(Dir):
    def test_failing_output_leaves_others_untouched(self):
        keep = self.path("keep.xml", "keep me\n")
        cp = run("scan", "-p", "9", "-oX", keep, "-oJ", "/nonexistent/d/x.json", "127.0.0.1")
        self.assertEqual(cp.returncode, 2)
        self.assertEqual(len(cp.stderr.splitlines()), 1, cp.stderr)
        with open(keep) as f:
            self.assertEqual(f.read(), "keep me\n")
        self.assertEqual(os.listdir(self.dir), ["keep.xml"])  # no temporary left

    def test_output_that_is_an_input_is_refused(self):
        targets = self.path("t.txt", "127.0.0.1\n")
        for opt in ("-oL", "-oX", "-oN"):
            cp = run("scan", "-iL", targets, opt, targets, "-p", "9")
            self.assertEqual(cp.returncode, 2)
            self.assertIn("input", cp.stderr)
            with open(targets) as f:
                self.assertEqual(f.read(), "127.0.0.1\n")
        ex = self.path("ex.txt", "10.9.9.9\n")
        cp = run("scan", "--excludefile", ex, "-oG", ex, "-p", "9", "127.0.0.1")
        self.assertEqual(cp.returncode, 2)
        # the same file under another name (a hard link) is caught too
        os.link(targets, self.path("alias.txt"))
        cp = run("scan", "-iL", targets, "-oL", self.path("alias.txt"), "-p", "9")
        self.assertEqual(cp.returncode, 2, cp.stderr)

    def test_ctrl_c_completes_and_renames(self):
        out = self.path("scan.xml", "old\n")
        p = subprocess.Popen([pktest.PORTKIT, "scan", "--scan-delay", "200ms", "-p", "1-50",
                              "127.0.0.1", "-oX", out, "--no-progress"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
        with open(out) as f:
            self.assertEqual(f.read(), "old\n")  # untouched while the scan runs
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, err)
        root = ET.parse(out).getroot()  # complete and valid
        self.assertEqual(root.tag, "nmaprun")
        self.assertEqual(os.listdir(self.dir), ["scan.xml"])

    def test_second_ctrl_c_keeps_the_old_file(self):
        out = self.path("scan.xml", "old\n")
        # stopped before the scan runs: while reading targets from a pipe
        p = subprocess.Popen([pktest.PORTKIT, "scan", "-iL", "-", "-p", "9", "-oX", out],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130)
        with open(out) as f:
            self.assertEqual(f.read(), "old\n")
        self.assertEqual(os.listdir(self.dir), ["scan.xml"])

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run as another user")
    def test_writable_file_in_a_locked_directory(self):
        # nobody may write the file but not its directory: written in place,
        # cut to length only at the end, untouched when the run fails first
        os.chmod(self.dir, 0o755)
        out = self.path("out.txt", "old content, longer than the new one will be\n" * 4)
        os.chmod(out, 0o666)

        def as_nobody():
            os.setgid(65534)
            os.setuid(65534)
        probe = subprocess.run([pktest.PORTKIT, "--version"], preexec_fn=as_nobody, capture_output=True)
        if probe.returncode != 0:
            self.skipTest("the binary is not reachable for nobody")
        cp = subprocess.run([pktest.PORTKIT, "scan", "-p", "9", "-oL", out, "-oJ", "/nonexistent/d/x",
                             "127.0.0.1"], preexec_fn=as_nobody, capture_output=True, text=True)
        self.assertEqual(cp.returncode, 2, cp.stderr)
        with open(out) as f:
            self.assertTrue(f.read().startswith("old content"))
        cp = subprocess.run([pktest.PORTKIT, "scan", "-p", "9", "--all-states", "-oL", out, "127.0.0.1"],
                            preexec_fn=as_nobody, capture_output=True, text=True)
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        with open(out) as f:
            text = f.read()
        self.assertNotIn("old content", text)
        self.assertIn("closed tcp 9 127.0.0.1", text)

    def test_oA_writes_three_files(self):
        base = self.path("all")
        cp = run("scan", "-p", "9", "127.0.0.1", "-oA", base)
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        self.assertEqual(sorted(os.listdir(self.dir)), ["all.gnmap", "all.nmap", "all.xml"])
        ET.parse(base + ".xml")
        with open(base + ".gnmap") as f:
            self.assertIn("127.0.0.1", f.read())


class BoundedInput(unittest.TestCase):
    """Each of these grew past 11 GB before; now one line under a 256 MB cap."""

    def test_dev_zero_and_urandom(self):
        for args in (["scan", "-iL", "/dev/zero", "-p", "9"],
                     ["scan", "-iL", "/dev/urandom", "-p", "9"],
                     ["scan", "--excludefile", "/dev/zero", "-p", "9", "127.0.0.1"],
                     ["info", "--registry", "/dev/zero", "80"],
                     ["--registry", "/dev/urandom", "info", "80"]):
            with self.subTest(args=args):
                cp = run_capped(*args)
                self.assertEqual(cp.returncode, 2, cp.stderr[-300:])
                self.assertEqual(len(cp.stderr.splitlines()), 1, cp.stderr[-300:])
                self.assertNotIn(b"no targets", cp.stderr)
        with open("/dev/zero", "rb") as z:
            cp = subprocess.run([pktest.PORTKIT, "info", "-"], stdin=z, capture_output=True, timeout=60)
        self.assertEqual(cp.returncode, 2)
        self.assertIn(b"NUL", cp.stderr)


class Messages(unittest.TestCase):
    def test_escape_bytes_never_reach_the_terminal(self):
        for args, stdin in ((["info", "x\x1b[2Jy"], None),
                            (["info", "a\nb"], None),
                            (["info", "-"], "\x1b]0;owned\x07\n"),
                            (["who", "\x1b[31m"], None),
                            (["scan", "-p", "\x1b[2J", "127.0.0.1"], None),
                            (["ls", "--state", "\x9b2J"], None)):
            with self.subTest(args=args):
                cp = run(*args, input=stdin)
                self.assertEqual(cp.returncode, 2)
                self.assertEqual(len(cp.stderr.splitlines()), 1, repr(cp.stderr))
                self.assertNotIn("\x1b", cp.stderr)
                self.assertNotIn("\x07", cp.stderr)
                self.assertNotIn("\x9b", cp.stderr)

    def test_info_negative_number(self):
        cp = run("info", "-80")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("'-80'", cp.stderr)
        self.assertNotIn("'-8'", cp.stderr)

    def test_write_failure_is_exit_3_with_one_line(self):
        for args in (["info", "80"], ["ls", "-a"], ["free"], ["scan", "-p", "9", "127.0.0.1"],
                     ["info", "--search", "http"]):
            with self.subTest(args=args, to="/dev/full"):
                with open("/dev/full", "w") as full:
                    cp = subprocess.run([pktest.PORTKIT, *args], stdout=full, stderr=subprocess.PIPE,
                                        text=True, timeout=60)
                self.assertEqual(cp.returncode, 3, cp.stderr)
                self.assertEqual(len(cp.stderr.splitlines()), 1, cp.stderr)
                self.assertIn("No space left", cp.stderr)
            with self.subTest(args=args, to="closed pipe"):
                r, w = os.pipe()
                os.close(r)
                cp = subprocess.run([pktest.PORTKIT, *args], stdout=w, stderr=subprocess.PIPE,
                                    text=True, timeout=60)
                os.close(w)
                self.assertEqual(cp.returncode, 3, cp.stderr)
                self.assertEqual(len(cp.stderr.splitlines()), 1, cp.stderr)

    def test_color_after_the_verb(self):
        cp = run("info", "80", "--color=always")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("\x1b[", cp.stdout)
        cp = run("info", "80", "--color=always", "--no-color")
        self.assertNotIn("\x1b[", cp.stdout)
        cp = run("ls", "--color=never")
        self.assertEqual(cp.returncode, 0, cp.stderr)


class Habits(unittest.TestCase):
    def test_ss_flags(self):
        lst = Listener()
        try:
            for flags in ("-tlnp", "-tunap", "-antp", "-tulpn", "-lntu"):
                with self.subTest(flags=flags):
                    cp = run("ls", flags, check=0)
                    self.assertIn(f"127.0.0.1:{lst.port}", cp.stdout)
        finally:
            lst.close()

    def test_port_lists_names_and_repeats(self):
        a, b = Listener(), Listener()
        try:
            cp = run("ls", "--port", f"{a.port},ssh", "--port", str(b.port), check=0)
            self.assertIn(f":{a.port}", cp.stdout)
            self.assertIn(f":{b.port}", cp.stdout)
            cp = run("ls", "--sport", str(a.port), check=0)
            self.assertIn(f":{a.port}", cp.stdout)
            self.assertNotIn(f":{b.port}", cp.stdout)
            cp = run("ls", "--dport", str(a.port), check=0)  # nothing connects to it
            self.assertNotIn(f":{a.port}", cp.stdout)
        finally:
            a.close()
            b.close()

    def test_who_lsof_forms_and_clients(self):
        lst = Listener()
        client = socket.create_connection(("127.0.0.1", lst.port))
        try:
            for form in (f":{lst.port}", f"tcp:{lst.port}", f"{lst.port}/tcp"):
                cp, rows = pktest.run_json("who", "--json", form, check=0)
                roles = {r["role"] for r in rows if r["pid"] == os.getpid()}
                self.assertEqual(roles, {"holder", "client"}, form)
            cp = run("who", f":{lst.port}", check=0)
            self.assertIn("client", cp.stdout)
        finally:
            client.close()
            lst.close()

    def test_who_kill(self):
        child = subprocess.Popen([sys.executable, "-c",
                                  "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\n"
                                  "s.listen()\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)"],
                                 stdout=subprocess.PIPE, text=True)
        try:
            port = int(child.stdout.readline())
            cp = run("who", "-k", str(port))  # no terminal: --yes is required
            self.assertEqual(cp.returncode, 2)
            self.assertIsNone(child.poll())
            cp = run("who", "-k", "--yes", str(port), check=0)
            self.assertIn(f"pid {child.pid}", cp.stderr)
            self.assertEqual(child.wait(timeout=10), -signal.SIGTERM)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()

    def test_who_kill_asks_on_a_terminal(self):
        child = subprocess.Popen([sys.executable, "-c",
                                  "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\n"
                                  "s.listen()\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)"],
                                 stdout=subprocess.PIPE, text=True)
        try:
            port = int(child.stdout.readline())
            for answer, stopped in ((b"n\n", False), (b"y\n", True)):
                pid, fd = pty.fork()
                if pid == 0:
                    os.execv(pktest.PORTKIT, [pktest.PORTKIT, "who", "-k", str(port)])
                out = b""
                while b"[y/N]" not in out:
                    out += os.read(fd, 4096)
                os.write(fd, answer)
                while True:
                    try:
                        chunk = os.read(fd, 4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
                _, status = os.waitpid(pid, 0)
                if stopped:
                    self.assertEqual(child.wait(timeout=10), -signal.SIGTERM, out)
                else:
                    time.sleep(0.2)
                    self.assertIsNone(child.poll(), out)
                    self.assertIn(b"nothing stopped", out)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()

    def test_nmap_reason_open_and_refusals(self):
        lst = Listener()
        try:
            cp = run("scan", "-p", f"9,{lst.port}", "--reason", "--all-states", "127.0.0.1")
            self.assertIn("REASON", cp.stdout)
            self.assertIn("syn-ack", cp.stdout)
            self.assertIn("conn-refused", cp.stdout)
            cp = run("scan", "-p", "9", "--open", "127.0.0.1")
            self.assertNotIn("127.0.0.1  rtt", cp.stdout)  # no line for a host with nothing open
            self.assertNotIn("Not shown", cp.stdout)
            for fmt, host in (("-oX", "<host "), ("-oG", "Host:")):
                cp = run("scan", "-p", "9", "--open", fmt, "-", "127.0.0.1")
                self.assertNotIn(host, cp.stdout, fmt)
                cp = run("scan", "-p", f"9,{lst.port}", "--open", fmt, "-", "127.0.0.1")
                self.assertIn(host, cp.stdout, fmt)
            for opt, hint in (("-A", "-sV"), ("-O", "-sV"), ("--script=http-title", "-sV"),
                              ("-d", "-v"), ("--packet-trace", "--reason")):
                cp = run("scan", opt, "-p", "9", "127.0.0.1")
                self.assertEqual(cp.returncode, 2)
                self.assertIn(hint, cp.stderr)
        finally:
            lst.close()

    def test_slow_templates_are_slow(self):
        t0 = time.monotonic()
        cp = run("scan", "-T2", "-v", "-p", "9,10,11", "127.0.0.1", "--no-progress")
        # three probes one at a time, 400 ms apart: at least two gaps
        self.assertGreaterEqual(time.monotonic() - t0, 0.75)
        self.assertIn("up to 1 in flight", cp.stderr)


class TerminalWidth(unittest.TestCase):
    def ls_on_pty(self, cols):
        return pktest.run_on_tty("ls", "--pid", os.getpid(), env={"NO_COLOR": "1"}, cols=cols)

    def test_same_columns_on_a_wide_tty_and_a_pipe_and_fewer_when_narrow(self):
        lst = Listener()
        try:
            piped = run("ls", "--pid", os.getpid(), check=0).stdout.splitlines()[0].split()
            wide = self.ls_on_pty(250).splitlines()[0].split()
            self.assertEqual(wide, piped)
            narrow = self.ls_on_pty(60)
            head = narrow.splitlines()[0].split()
            self.assertNotIn("RANGE", head)
            self.assertIn("PROCESS", head)
            self.assertTrue(all(len(l) <= 60 for l in narrow.splitlines() if l and "socket" not in l),
                            narrow)
        finally:
            lst.close()


if __name__ == "__main__":
    pktest.main()
