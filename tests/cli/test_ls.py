"""portkit ls against real sockets this test process opens itself."""
import os
import pwd
import random
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from pktest import run, run_json  # noqa: E402

PID = os.getpid()
COMM = open("/proc/self/comm").read().strip()
USER = pwd.getpwuid(os.geteuid()).pw_name
EPH_LO, EPH_HI = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())


def bind_in(sock, addr, lo, hi):
    """Binds sock to addr on some free port in lo..hi (random order)."""
    ports = list(range(lo, hi + 1))
    random.shuffle(ports)
    for port in ports[:500]:
        try:
            sock.bind((addr, port))
            return port
        except OSError:
            continue
    raise unittest.SkipTest(f"no free port in {lo}-{hi}")


class Sockets:
    """Every kind of socket ls must report, held for the whole test file."""

    def __init__(self):
        self.all = []
        self.tcp4_any = self.listen(socket.AF_INET, "0.0.0.0")
        self.tcp4_lo = self.listen(socket.AF_INET, "127.0.0.1")
        self.tcp6_any = self.listen(socket.AF_INET6, "::", v6only=True)
        self.tcp6_lo = self.listen(socket.AF_INET6, "::1")
        # a port outside the ephemeral range, and a privileged one (we are root)
        s = self.new(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp4_fixed = bind_in(s, "127.0.0.1", 20000, 30000)
        s.listen(4)
        self.tcp4_priv = None
        if os.geteuid() == 0:
            s = self.new(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp4_priv = bind_in(s, "127.0.0.1", 900, 1000)
            s.listen(4)
        self.udp4_any = self.bind_udp(socket.AF_INET, "0.0.0.0")
        self.udp6_lo = self.bind_udp(socket.AF_INET6, "::1")
        # an established pair over loopback, and a connected UDP socket
        lsock = self.by_port[self.tcp4_lo]
        self.client = self.new(socket.AF_INET, socket.SOCK_STREAM)
        self.client.connect(("127.0.0.1", self.tcp4_lo))
        self.accepted, _ = lsock.accept()
        self.all.append(self.accepted)
        self.client_port = self.client.getsockname()[1]
        self.udp_conn = self.new(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp_conn.connect(("127.0.0.1", self.udp4_any))
        self.udp_conn_port = self.udp_conn.getsockname()[1]

    by_port = {}

    def new(self, fam, typ):
        s = socket.socket(fam, typ)
        self.all.append(s)
        return s

    def listen(self, fam, addr, v6only=False):
        s = self.new(fam, socket.SOCK_STREAM)
        if v6only:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, 0))
        s.listen(16)
        port = s.getsockname()[1]
        self.by_port[port] = s
        return port

    def bind_udp(self, fam, addr):
        s = self.new(fam, socket.SOCK_DGRAM)
        s.bind((addr, 0))
        return s.getsockname()[1]

    def close(self):
        for s in self.all:
            s.close()


S = None


def setUpModule():
    global S
    S = Sockets()


def tearDownModule():
    S.close()


def mine(rows):
    return [r for r in rows if r["pid"] == PID]


def find(rows, proto, port, state=None, remote_port=None):
    out = [r for r in rows if r["proto"] == proto and r["local_port"] == port
           and (state is None or r["state"] == state)
           and (remote_port is None or r["remote_port"] == remote_port)]
    return out


class Listeners(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cp, cls.rows = run_json("ls", "--json", check=0)

    def one(self, proto, port):
        got = find(self.rows, proto, port)
        self.assertEqual(len(got), 1, f"{proto} {port}: {got}")
        r = got[0]
        self.assertEqual(r["pid"], PID)
        self.assertEqual(r["pids"], [PID])
        self.assertEqual(r["process"], COMM)
        self.assertEqual(r["user"], USER)
        self.assertIsNone(r["remote_addr"])
        self.assertIsNone(r["remote_port"])
        return r

    def test_tcp_wildcard_v4_is_exposed(self):
        r = self.one("tcp", S.tcp4_any)
        self.assertEqual((r["family"], r["local_addr"], r["state"]), ("ipv4", "0.0.0.0", "LISTEN"))
        self.assertIn("EXPOSED", r["flags"])
        self.assertIn("EPHEMERAL", r["flags"])  # the kernel chose it from that range
        self.assertNotIn("PRIVILEGED", r["flags"])

    def test_tcp_loopback_is_not_exposed(self):
        r = self.one("tcp", S.tcp4_lo)
        self.assertEqual(r["local_addr"], "127.0.0.1")
        self.assertNotIn("EXPOSED", r["flags"])
        r = self.one("tcp", S.tcp6_lo)
        self.assertEqual((r["family"], r["local_addr"]), ("ipv6", "::1"))
        self.assertNotIn("EXPOSED", r["flags"])

    def test_tcp_wildcard_v6(self):
        r = self.one("tcp", S.tcp6_any)
        self.assertEqual((r["family"], r["local_addr"], r["state"]), ("ipv6", "::", "LISTEN"))
        self.assertIn("EXPOSED", r["flags"])

    def test_udp_bound_sockets_are_unconn(self):
        r = self.one("udp", S.udp4_any)
        self.assertEqual((r["local_addr"], r["state"]), ("0.0.0.0", "UNCONN"))
        self.assertIn("EXPOSED", r["flags"])
        r = self.one("udp", S.udp6_lo)
        self.assertEqual((r["local_addr"], r["state"]), ("::1", "UNCONN"))
        self.assertNotIn("EXPOSED", r["flags"])

    def test_port_outside_the_ephemeral_range(self):
        r = self.one("tcp", S.tcp4_fixed)
        self.assertNotIn("EPHEMERAL", r["flags"])
        self.assertEqual(r["range"], "registered")
        self.assertIsInstance(r["inode"], int)

    def test_privileged_port(self):
        if S.tcp4_priv is None:
            self.skipTest("needs root to bind below 1024")
        r = self.one("tcp", S.tcp4_priv)
        self.assertIn("PRIVILEGED", r["flags"])
        self.assertEqual(r["range"], "well-known")

    def test_default_lists_no_connections(self):
        self.assertEqual(self.cp.stderr, "")
        self.assertTrue(all(r["state"] in ("LISTEN", "UNCONN") for r in self.rows), self.rows[:3])
        self.assertFalse(find(self.rows, "tcp", S.client_port))

    def test_every_key_is_there(self):
        keys = {"proto", "family", "local_addr", "local_port", "remote_addr", "remote_port", "state",
                "pid", "process", "user", "service", "range", "flags"}
        for r in self.rows:
            self.assertLessEqual(keys, set(r))


class AllStates(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cp, cls.rows = run_json("ls", "-a", "--json", "--pid", PID, check=0)

    def test_established_pair(self):
        server = find(self.rows, "tcp", S.tcp4_lo, "ESTABLISHED", S.client_port)
        client = find(self.rows, "tcp", S.client_port, "ESTABLISHED", S.tcp4_lo)
        self.assertEqual(len(server), 1, self.rows)
        self.assertEqual(len(client), 1, self.rows)
        self.assertEqual(server[0]["remote_addr"], "127.0.0.1")
        self.assertEqual(client[0]["pid"], PID)
        self.assertNotIn("EXPOSED", client[0]["flags"])

    def test_connected_udp(self):
        r = find(self.rows, "udp", S.udp_conn_port, "ESTABLISHED", S.udp4_any)
        self.assertEqual(len(r), 1, self.rows)

    def test_only_our_pid(self):
        self.assertTrue(self.rows)
        self.assertTrue(all(r["pid"] == PID for r in self.rows))
        # every socket we opened: 6 TCP listeners (5 without root), 2 bound UDP,
        # the established pair and the connected UDP socket
        expected = 11 if S.tcp4_priv else 10
        self.assertEqual(len(self.rows), expected, [(r["proto"], r["local_port"], r["state"]) for r in self.rows])


class Filters(unittest.TestCase):
    def ports(self, *args):
        cp, rows = run_json("ls", "--json", "--pid", PID, *args, check=0)
        return {(r["proto"], r["local_port"], r["state"]) for r in rows}

    def test_tcp_udp(self):
        self.assertTrue(all(p == "tcp" for p, _, _ in self.ports("-t")))
        self.assertEqual({p for p, _, _ in self.ports("-u")}, {"udp"})
        self.assertEqual({p for p, _, _ in self.ports("-t", "-u")}, {"tcp", "udp"})

    def test_families(self):
        cp, rows = run_json("ls", "--json", "--pid", PID, "-6", check=0)
        self.assertEqual({r["family"] for r in rows}, {"ipv6"})
        self.assertEqual({r["local_port"] for r in rows}, {S.tcp6_any, S.tcp6_lo, S.udp6_lo})
        cp, rows = run_json("ls", "--json", "--pid", PID, "-4", check=0)
        self.assertEqual({r["family"] for r in rows}, {"ipv4"})

    def test_port_matches_local_and_remote(self):
        got = self.ports("-a", "--port", S.tcp4_lo)
        self.assertEqual(got, {("tcp", S.tcp4_lo, "LISTEN"), ("tcp", S.tcp4_lo, "ESTABLISHED"),
                               ("tcp", S.client_port, "ESTABLISHED")})

    def test_state(self):
        got = self.ports("--state", "established")
        self.assertEqual(got, {("tcp", S.tcp4_lo, "ESTABLISHED"), ("tcp", S.client_port, "ESTABLISHED"),
                               ("udp", S.udp_conn_port, "ESTABLISHED")})
        got = self.ports("-s", "listen,unconn", "-a")  # --state wins over -a
        self.assertTrue(all(st in ("LISTEN", "UNCONN") for _, _, st in got))
        self.assertEqual(self.ports("--state", "time-wait"), set())

    def test_process_name(self):
        self.assertTrue(self.ports("--process", COMM))
        cp, rows = run_json("ls", "--json", "--process", "no-such-proc-x", check=0)
        self.assertEqual(rows, [])

    def test_numeric_drops_service_names(self):
        cp, rows = run_json("ls", "--json", "-n", check=0)
        self.assertTrue(all(r["service"] is None for r in rows))
        cp = run("ls", "-n", check=0)
        self.assertNotIn("SERVICE", cp.stdout.splitlines()[0])

    def test_service_names_from_the_registry(self):
        # the UDP client socket talks to our UDP port: its service is the remote's (none);
        # a listener on a named port: check with a port the registry knows
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", 3306))
        except OSError:
            s.close()
            self.skipTest("3306 busy")
        s.listen(1)
        try:
            cp, rows = run_json("ls", "--json", "--port", "3306", check=0)
            mine_ = [r for r in rows if r["pid"] == PID]
            self.assertEqual(len(mine_), 1)
            self.assertEqual(mine_[0]["service"], "mysql")
            cp, rows = run_json("ls", "--json", "--port", "mysql", "--pid", PID, check=0)
            self.assertEqual(len(rows), 1)
        finally:
            s.close()

    def test_risky_port(self):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", 31337))
        except OSError:
            s.close()
            self.skipTest("31337 busy")
        s.listen(1)
        try:
            cp, rows = run_json("ls", "--json", "--pid", PID, "--port", 31337, check=0)
            self.assertEqual(len(rows), 1)
            self.assertIn("RISK", rows[0]["flags"])
            self.assertNotIn("EXPOSED", rows[0]["flags"])
        finally:
            s.close()


class Text(unittest.TestCase):
    def test_columns_through_a_pipe(self):
        cp = run("ls", "--pid", PID, check=0)
        lines = cp.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["PROTO", "LOCAL", "REMOTE", "STATE", "PID", "PROCESS",
                                            "USER", "SERVICE", "RANGE", "FLAGS"])
        self.assertNotIn("\033[", cp.stdout)
        self.assertNotIn("sockets", cp.stdout)  # the summary is for terminals only
        body = [l.split() for l in lines[1:]]
        self.assertTrue(all(len(f) == 10 for f in body), body)  # no field is ever empty
        row = [f for f in body if f[1] == f"0.0.0.0:{S.tcp4_any}"]
        self.assertEqual(len(row), 1, cp.stdout)
        self.assertEqual(row[0][:7], ["tcp", f"0.0.0.0:{S.tcp4_any}", "-", "LISTEN", str(PID), COMM, USER])
        self.assertIn("EXPOSED", row[0][9])
        self.assertIn(f"[::]:{S.tcp6_any}", cp.stdout)

    def test_no_header(self):
        cp = run("ls", "-H", "--pid", PID, check=0)
        self.assertNotIn("PROTO", cp.stdout)

    def test_terminal_gets_colour_and_summary(self):
        # a pseudo-terminal: what a person sees
        text = pktest.run_on_tty("ls", "--pid", PID, env={"NO_COLOR": None, "TERM": "xterm"})
        self.assertIn("\033[", text)
        self.assertRegex(text, r"\d+ sockets")
        self.assertIn("LISTEN", text)
        self.assertIn("exposed", text)


class ProcFallback(unittest.TestCase):
    def key(self, r):
        return tuple(str(r[k]) for k in ("proto", "family", "local_addr", "local_port", "remote_addr",
                                         "remote_port", "state", "inode", "pid", "user"))

    def test_proc_agrees_with_netlink(self):
        for args in (["-a"], []):
            _, nl = run_json("ls", "--json", "--pid", PID, *args, env={"PORTKIT_SOCKETS": "netlink"}, check=0)
            _, pr = run_json("ls", "--json", "--pid", PID, "--proc", *args, check=0)
            _, pr2 = run_json("ls", "--json", "--pid", PID, *args, env={"PORTKIT_SOCKETS": "proc"}, check=0)
            self.assertTrue(nl)
            self.assertEqual(sorted(map(self.key, nl)), sorted(map(self.key, pr)))
            self.assertEqual(sorted(map(self.key, pr)), sorted(map(self.key, pr2)))

    def test_bad_source_name(self):
        cp = run("ls", env={"PORTKIT_SOCKETS": "carrier-pigeon"})
        self.assertEqual(cp.returncode, 2)
        self.assertEqual(len(cp.stderr.splitlines()), 1)


class CountsMatchSs(unittest.TestCase):
    @pktest.need_tool("ss")
    def test_listening_tcp_count_equals_ss(self):
        # Other programs open and close sockets meanwhile: retry until ss
        # gives the same count before and after us.
        for _ in range(10):
            before = subprocess.run(["ss", "-Htln"], capture_output=True, text=True).stdout.count("\n")
            cp, rows = run_json("ls", "-t", "-l", "--json", check=0)
            after = subprocess.run(["ss", "-Htln"], capture_output=True, text=True).stdout.count("\n")
            if before == after:
                self.assertEqual(len(rows), before)
                return
            time.sleep(0.2)
        self.fail("sockets kept changing; could not compare with ss")


class Churn(unittest.TestCase):
    def test_vanishing_processes_are_quiet(self):
        """Processes that open a socket and die while ls reads /proc."""
        stop = time.time() + 2
        kids = []
        runs = []
        while time.time() < stop:
            for _ in range(20):
                pid = os.fork()
                if pid == 0:
                    s = socket.socket()
                    s.bind(("127.0.0.1", 0))
                    s.listen(1)
                    os._exit(0)
                kids.append(pid)
            runs.append(run("ls", "-a", "--json"))
            for pid in kids:
                os.waitpid(pid, 0)
            kids.clear()
        for cp in runs:
            self.assertEqual(cp.returncode, 0)
            self.assertEqual(cp.stderr, "")


class BadInput(unittest.TestCase):
    def bad(self, *args):
        cp = run("ls", *args)
        self.assertEqual(cp.returncode, 2, (args, cp.stdout, cp.stderr))
        self.assertEqual(len(cp.stderr.splitlines()), 1, cp.stderr)
        self.assertTrue(cp.stderr.startswith("portkit: ls: "), cp.stderr)
        self.assertEqual(cp.stdout, "")
        return cp.stderr

    def test_bogus_state(self):
        self.assertIn("bogus", self.bad("--state", "bogus"))
        self.bad("--state", "listen,,nope")
        self.bad("--state", "")

    def test_bad_port_and_pid(self):
        self.assertIn("70000", self.bad("--port", "70000"))
        self.bad("--port", "0")
        self.bad("--port", "no-such-service-xyz")
        self.bad("--pid", "x")
        self.bad("--pid", "-3")
        self.bad("--process", "")

    def test_stray_arguments_and_options(self):
        self.bad("8080")
        self.bad("--frobnicate")
        self.bad("--no-process", "--pid", "1")
        self.assertIn("--port", self.bad("--port"))
        self.assertIn("-Z", self.bad("-Z"))


if __name__ == "__main__":
    pktest.main()
