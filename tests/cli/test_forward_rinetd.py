"""rinetd users' files run unchanged (issue 8): Debian's stock
/etc/rinetd.conf from the rinetd package, and a file with rinetd's rules,
options ([timeout=], [src=]), glob allow/deny patterns, logfile, logcommon,
pidlogfile and include lines. Connection lines land in rinetd's own log
formats."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from pktest import run  # noqa: E402
from fwtest import EchoServer, UdpEcho, free_port, wait_until  # noqa: E402

STOCK = "/etc/rinetd.conf"


def stock_file_unchanged():
    """Debian's file as the package shipped it (dpkg --verify is silent)."""
    if not os.path.exists(STOCK) or not shutil.which("dpkg"):
        return False
    cp = subprocess.run(["dpkg", "--verify", "rinetd"], capture_output=True, text=True)
    return cp.returncode == 0 and STOCK not in cp.stdout


def exchange(port, source, data=b"hello"):
    """Bytes echoed back to a client from source, b"" when turned away."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5,
                                      source_address=(source, 0)) as s:
            s.sendall(data)
            got = b""
            while len(got) < len(data):
                chunk = s.recv(100)
                if not chunk:
                    break
                got += chunk
            return got
    except OSError:
        return b""


@unittest.skipUnless(stock_file_unchanged(), "needs the rinetd package's own /etc/rinetd.conf")
class StockFile(unittest.TestCase):
    def test_check_accepts_it(self):
        cp = run("forward", "-n", "-c", STOCK, check=0)
        self.assertEqual(cp.stdout, "logfile /var/log/rinetd.log\n")

    @pktest.need_root
    @pktest.need_tool("unshare")
    def test_it_runs_unchanged(self):
        # Its logfile is /var/log/rinetd.log: a private mount namespace with
        # an empty /var/log keeps the host's untouched.
        script = (f"mount -t tmpfs none /var/log && exec {pktest.PORTKIT} forward -c {STOCK}")
        p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                              script], stderr=subprocess.PIPE, text=True)
        time.sleep(0.7)
        self.assertIsNone(p.poll(), "it should run, waiting for rules")
        p.send_signal(signal.SIGTERM)
        err = p.communicate(timeout=15)[1]
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("no forwarding rules yet", err)


class RinetdFile(unittest.TestCase):
    def write(self, d, text, name="rinetd.conf"):
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, conf):
        p = subprocess.Popen([pktest.PORTKIT, "forward", "-c", conf], stderr=subprocess.PIPE,
                             text=True)
        return p

    def stop(self, p):
        p.send_signal(signal.SIGTERM)
        err = p.communicate(timeout=15)[1]
        self.assertEqual(p.returncode, 0, err)
        return err

    def test_rules_globs_logcommon_pidfile_and_include(self):
        uecho = UdpEcho()
        self.addCleanup(uecho.close)
        with EchoServer() as echo, tempfile.TemporaryDirectory() as d:
            tcp, udp, inc_port = free_port(), free_port(socket.SOCK_DGRAM), free_port()
            log, pid = os.path.join(d, "rinetd.log"), os.path.join(d, "rinetd.pid")
            os.mkdir(os.path.join(d, "rinetd.d"))
            self.write(d, f"127.0.0.1 {inc_port} 127.0.0.1 {echo.port}\n",
                       name="rinetd.d/extra.conf")
            conf = self.write(d, f"""#
# allow and deny as rinetd writes them
allow 127.0.0.*
deny 127.0.0.1?
127.0.0.1   {tcp}      127.0.0.1       {echo.port}
deny 127.0.0.5
127.0.0.1   {udp}/udp  127.0.0.1       {uecho.port}/udp     [src=127.0.0.7,timeout=1200]
include rinetd.d/*.conf
logfile {log}
logcommon
pidlogfile {pid}
""")
            cp = run("forward", "-n", "-c", conf, check=0)
            self.assertIn("allow 127.0.0.*\ndeny 127.0.0.1?\n", cp.stdout)
            self.assertIn("idle-timeout=1200s", cp.stdout)
            self.assertIn("src=127.0.0.7", cp.stdout)
            self.assertIn(f"127.0.0.1:{inc_port}", cp.stdout)
            p = self.start(conf)
            try:
                wait_until(lambda: os.path.exists(pid), 10, what="pid file")
                self.assertEqual(open(pid).read().strip(), str(p.pid))
                self.assertEqual(exchange(tcp, "127.0.0.2"), b"hello")
                self.assertEqual(exchange(tcp, "127.0.0.12"), b"")   # deny 127.0.0.1?
                self.assertEqual(exchange(tcp, "127.0.0.5"), b"")    # the rule's own deny
                self.assertEqual(exchange(inc_port, "127.0.0.3"), b"hello")  # included
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.settimeout(5)
                u.sendto(b"datagram", ("127.0.0.1", udp))
                self.assertEqual(u.recv(100), b"datagram")
                u.close()
                self.assertEqual(uecho.sources, ["127.0.0.7"])  # src= honoured
                wait_until(lambda: sum(1 for _ in open(log)) >= 6, 10, what="log lines")
            finally:
                err = self.stop(p)
            self.assertFalse(os.path.exists(pid), "the pid file is removed at exit")
            lines = open(log).read().splitlines()
            common = re.compile(r'^(\S+) - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d  [+-]\d{4}\] '
                                r'"GET /rinetd-services/127\.0\.0\.1/(\d+)/127\.0\.0\.1/(\d+)/'
                                r'([a-z-]+) HTTP/1\.0" 200 (\d+) - - - (\d+)$')
            parsed = [common.match(l) for l in lines]
            self.assertTrue(all(parsed), lines)
            results = [(m.group(1), int(m.group(2)), m.group(4)) for m in parsed]
            self.assertIn(("127.0.0.2", tcp, "opened"), results)
            self.assertIn(("127.0.0.2", tcp, "done-remote-closed"), results)
            self.assertIn(("127.0.0.12", tcp, "denied"), results)
            done = [m for m in parsed if m.group(1) == "127.0.0.2" and m.group(4).startswith("done")]
            self.assertEqual((done[0].group(5), done[0].group(6)), ("5", "5"))
            self.assertIn("listen tcp", err)  # listener lines go to stderr, not rinetd's file

    def test_tab_separated_log_without_logcommon(self):
        with EchoServer() as echo, tempfile.TemporaryDirectory() as d:
            port, log = free_port(), os.path.join(d, "r.log")
            conf = self.write(d, f"0.0.0.0 {port} 127.0.0.1 {echo.port}\nlogfile {log}\n")
            p = self.start(conf)
            try:
                wait_until(lambda: exchange(port, "127.0.0.1", b"abc") == b"abc", 10,
                           what="a relayed connection")
                wait_until(lambda: os.path.exists(log) and
                           any("done" in l for l in open(log)), 10, what="done line")
            finally:
                self.stop(p)
            done = [l for l in open(log).read().splitlines() if "done" in l][0].split("\t")
            self.assertEqual(len(done), 9, done)
            self.assertRegex(done[0], r"^\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d $")
            self.assertEqual(done[1:6], ["127.0.0.1", "0.0.0.0", str(port), "127.0.0.1",
                                         str(echo.port)])
            self.assertEqual(done[6:8], ["3", "3"])

    def test_missing_include_names_the_file(self):
        with tempfile.TemporaryDirectory() as d:
            conf = self.write(d, "include nothing-here.conf\n")
            cp = run("forward", "-n", "-c", conf)
            self.assertEqual(cp.returncode, 2, cp.stderr)
            self.assertEqual(len(cp.stderr.splitlines()), 1)
            self.assertIn("nothing-here.conf", cp.stderr)
            self.assertIn(f"{conf}:1:", cp.stderr)

    def test_include_loop_is_bounded(self):
        with tempfile.TemporaryDirectory() as d:
            conf = self.write(d, "include rinetd.conf\n")
            cp = run("forward", "-n", "-c", conf)
            self.assertEqual(cp.returncode, 2, cp.stderr)
            self.assertIn("nested more than", cp.stderr)


if __name__ == "__main__":
    pktest.main()
