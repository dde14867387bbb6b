"""portkit who: which process holds a port, against sockets this test holds."""
import os
import pwd
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from pktest import run, run_json  # noqa: E402

PID = os.getpid()
COMM = open("/proc/self/comm").read().strip()
USER = pwd.getpwuid(os.geteuid()).pw_name


def listener(addr="127.0.0.1", fam=socket.AF_INET):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((addr, 0))
    s.listen(8)
    return s, s.getsockname()[1]


def free_port():
    """A port nobody holds right now (bound then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Held(unittest.TestCase):
    def setUp(self):
        self.s, self.port = listener()

    def tearDown(self):
        self.s.close()

    def test_text_names_pid_process_command_and_state(self):
        cp = run("who", self.port, check=0)
        self.assertIn(f"pid {PID}", cp.stdout)
        self.assertIn(COMM, cp.stdout)
        self.assertIn(f"user {USER}", cp.stdout)
        self.assertIn("test_who.py", cp.stdout)  # the full command line
        self.assertIn(f"127.0.0.1:{self.port}", cp.stdout)
        self.assertIn("LISTEN", cp.stdout)
        self.assertEqual(cp.stderr, "")

    def test_json_per_process(self):
        cp, rows = run_json("who", "--json", f"{self.port}/tcp", check=0)
        self.assertEqual(len(rows), 1)
        r = rows[0]
        self.assertEqual(r["pid"], PID)
        self.assertEqual(r["process"], COMM)
        self.assertEqual(r["user"], USER)
        self.assertEqual(r["holder"], "process")
        self.assertIn("test_who.py", r["cmdline"])
        self.assertEqual(len(r["sockets"]), 1)
        sk = r["sockets"][0]
        self.assertEqual((sk["proto"], sk["local_addr"], sk["local_port"], sk["state"]),
                         ("tcp", "127.0.0.1", self.port, "LISTEN"))

    def test_connections_on_the_port_count(self):
        c = socket.create_connection(("127.0.0.1", self.port))
        a, _ = self.s.accept()
        try:
            cp, rows = run_json("who", "--json", self.port, check=0)
            states = sorted(sk["state"] for sk in rows[0]["sockets"])
            self.assertEqual(states, ["ESTABLISHED", "LISTEN"])
            # the client side uses another local port: not a holder of this one
            self.assertTrue(all(sk["local_port"] == self.port for sk in rows[0]["sockets"]))
        finally:
            c.close()
            a.close()

    def test_udp_transport_is_separate(self):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        try:
            cp, rows = run_json("who", "--json", f"{port}/udp", check=0)
            self.assertEqual(rows[0]["sockets"][0]["state"], "UNCONN")
            cp = run("who", f"{port}/tcp")
            if cp.returncode == 0:  # somebody else may hold it for TCP; not us
                self.assertNotIn(f"pid {PID}", cp.stdout)
            else:
                self.assertEqual(cp.returncode, 1)
            cp = run("who", "-u", port, check=0)
            self.assertIn("UNCONN", cp.stdout)
        finally:
            u.close()

    def test_quiet(self):
        cp = run("who", "-q", self.port, check=0)
        self.assertEqual(cp.stdout + cp.stderr, "")

    def test_proc_source_agrees(self):
        _, a = run_json("who", "--json", self.port, check=0)
        _, b = run_json("who", "--json", "--proc", self.port, check=0)
        self.assertEqual([(r["pid"], len(r["sockets"])) for r in a], [(r["pid"], len(r["sockets"])) for r in b])


class SharedSocket(unittest.TestCase):
    def test_every_holder_is_listed(self):
        s, port = listener()
        r, w = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(r)
            os.write(w, b"x")
            time.sleep(30)
            os._exit(0)
        os.close(w)
        os.read(r, 1)
        os.close(r)
        try:
            cp, rows = run_json("who", "--json", port, check=0)
            self.assertEqual(sorted(x["pid"] for x in rows), sorted([PID, child]))
            cp = run("ls", "--port", port, "--pid", child, "--json", check=0)
            self.assertIn(f'"pid":{child}', cp.stdout)  # the holder asked about
        finally:
            os.kill(child, 9)
            os.waitpid(child, 0)
            s.close()


class KernelHeld(unittest.TestCase):
    def test_time_wait_is_held_by_no_process(self):
        s, port = listener()
        c = socket.create_connection(("127.0.0.1", port))
        a, _ = s.accept()
        a.close()       # the server side closes first: its end goes to TIME-WAIT
        time.sleep(0.1)
        c.close()
        s.close()
        time.sleep(0.1)
        cp, rows = run_json("who", "--json", port, check=0)
        kernel = [r for r in rows if r["holder"] == "kernel"]
        self.assertEqual(len(kernel), 1, rows)
        self.assertIsNone(kernel[0]["pid"])
        self.assertEqual(kernel[0]["sockets"][0]["state"], "TIME-WAIT")
        cp = run("who", port, check=0)
        self.assertIn("no process", cp.stdout)
        self.assertIn("TIME-WAIT", cp.stdout)


class Free(unittest.TestCase):
    def test_free_port_exits_1(self):
        port = free_port()
        cp = run("who", f"{port}/tcp")
        if cp.returncode == 0:
            self.skipTest("someone took the port meanwhile")
        self.assertEqual(cp.returncode, 1)
        self.assertEqual(cp.stdout, "")
        self.assertEqual(len(cp.stderr.splitlines()), 1)
        self.assertIn(str(port), cp.stderr)
        cp = run("who", "-q", f"{port}/tcp")
        self.assertEqual(cp.stdout + cp.stderr, "")

    def test_service_names_resolve(self):
        cp = run("who", "ssh")
        self.assertIn(cp.returncode, (0, 1))


class BadInput(unittest.TestCase):
    def bad(self, *args):
        cp = run("who", *args)
        self.assertEqual(cp.returncode, 2, (args, cp.stdout, cp.stderr))
        self.assertEqual(len(cp.stderr.splitlines()), 1, cp.stderr)
        self.assertTrue(cp.stderr.startswith("portkit: who: "), cp.stderr)
        self.assertEqual(cp.stdout, "")
        return cp.stderr

    def test_out_of_range(self):
        self.assertIn("70000", self.bad("70000"))
        self.bad("0")
        self.bad("99999999999999999999")

    def test_malformed(self):
        self.bad()
        self.bad("80", "443")
        self.bad("80/sctp")
        self.bad("80/bogus")
        self.bad("/tcp")
        self.bad("no-such-service-xyz")
        self.bad("-5")
        self.bad("--nope", "80")


if __name__ == "__main__":
    pktest.main()
