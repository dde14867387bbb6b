"""Issue 8's forwarder defects, against a real forwarder on loopback:
IPv4-mapped allow/deny entries on IPv4 and dual-stack listeners, and a
crowd of idle clients under a small open-file limit."""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from fwtest import EchoServer, Forwarder, UdpEcho, connect, free_port, turned_away  # noqa: E402


def served(port, source, host="127.0.0.1"):
    """True when a client from source gets its bytes echoed back."""
    try:
        with connect(port, host=host, source=source, timeout=5) as s:
            s.sendall(b"ping")
            return s.recv(10) == b"ping"
    except OSError:
        return False


def has_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class MappedAcl(unittest.TestCase):
    """deny ::ffff:127.0.0.3 used to be accepted, printed back by -n, and
    never matched: 127.0.0.3 was admitted on every kind of listener."""

    def listeners(self):
        forms = [("127.0.0.1:{p}", "127.0.0.1"), (":{p}", "127.0.0.1")]
        if has_ipv6():
            forms.append(("[::]:{p}", "127.0.0.1"))
        return forms

    def test_mapped_deny_turns_the_ipv4_client_away(self):
        with EchoServer() as echo:
            for form, host in self.listeners():
                port = free_port()
                with Forwarder(form.format(p=port), f"127.0.0.1:{echo.port}",
                               "--deny", "::ffff:127.0.0.3") as fw:
                    self.assertIsNotNone(turned_away(port, host=host, source="127.0.0.3"), form)
                    self.assertTrue(served(port, "127.0.0.4", host=host), form)
                    deny = fw.wait_event(lambda e: e["event"] == "deny", what="deny line")[0]
                    self.assertEqual(deny["client"].rsplit(":", 1)[0], "127.0.0.3")

    def test_mapped_cidr_deny_and_mapped_allow(self):
        with EchoServer() as echo:
            port = free_port()
            with Forwarder(f":{port}", f"127.0.0.1:{echo.port}",
                           "--deny", "::ffff:127.0.0.0/120") as fw:
                self.assertIsNotNone(turned_away(port, source="127.0.0.9"))
                self.assertTrue(served(port, "127.0.1.9"))
                fw.stop()
            port = free_port()
            with Forwarder(f":{port}", f"127.0.0.1:{echo.port}",
                           "--allow", "::ffff:127.0.0.2"):
                self.assertTrue(served(port, "127.0.0.2"))  # used to be blocked
                self.assertIsNotNone(turned_away(port, source="127.0.0.5"))

    def test_deny_all_ipv6_on_a_dual_stack_listener_covers_ipv4_clients(self):
        if not has_ipv6():
            raise unittest.SkipTest("no IPv6 on loopback")
        with EchoServer() as echo:
            port = free_port()
            with Forwarder(f":{port}", f"127.0.0.1:{echo.port}", "--deny", "::/0"):
                self.assertIsNotNone(turned_away(port, source="127.0.0.1"))
                self.assertIsNotNone(turned_away(port, host="::1"))

    def test_check_prints_the_mapped_entry_as_ipv4(self):
        cp = pktest.run("forward", "-n", ":18080", "127.0.0.1:80", "--deny", "::ffff:127.0.0.3",
                        check=0)
        self.assertEqual(cp.stdout.splitlines()[0], "deny 127.0.0.3/32")


class IdleClientsUnderASmallFdLimit(unittest.TestCase):
    """ulimit -n 256 and 300 idle clients used to starve every newcomer: no
    connection cap, no idle timeout, new clients stuck in the listen queue
    behind the idle ones."""

    def test_idle_crowd_is_turned_away_and_newcomers_are_served(self):
        with EchoServer() as echo, \
                Forwarder("127.0.0.1:0", f"127.0.0.1:{echo.port}",
                          prefix=["prlimit", "--nofile=256:256", "--"]) as fw:
            port = fw.port()
            idle, reset = [], 0
            for _ in range(300):
                try:
                    idle.append(connect(port, timeout=5))
                except OSError:
                    reset += 1
            # the forwarder's answer arrives for each: served ones stay open,
            # the ones over the limit are reset at once
            time.sleep(0.5)
            alive = []
            for s in idle:
                s.setblocking(False)
                try:
                    if s.recv(1) == b"":
                        s.close()
                        reset += 1
                        continue
                except BlockingIOError:
                    alive.append(s)
                    continue
                except OSError:
                    s.close()
                    reset += 1
                    continue
            self.assertGreater(len(alive), 80)
            self.assertLess(len(alive), 128)   # two descriptors each, some kept in reserve
            self.assertGreater(reset, 150)
            limit = fw.wait_event(lambda e: e["event"] == "limit", what="limit line")
            self.assertIn("open-file limit", limit[0]["reason"])
            self.assertEqual(len(fw.find(lambda e: e["event"] == "limit")), 1)
            # some idle clients leave: a newcomer is served at once, not
            # queued behind 200 others
            for s in alive[:10]:
                s.close()
            time.sleep(0.3)
            t0 = time.monotonic()
            self.assertTrue(served(port, "127.0.0.1"))
            self.assertLess(time.monotonic() - t0, 3)
            for s in alive[10:]:
                s.close()

    def test_udp_sessions_are_capped_by_the_descriptor_budget(self):
        # one socket per UDP session: with 64 descriptors, about 47 sessions
        echo = UdpEcho()
        clients = []
        try:
            with Forwarder("--udp", "127.0.0.1:0", f"127.0.0.1:{echo.port}",
                           prefix=["prlimit", "--nofile=64:64", "--"]) as fw:
                port = fw.port()
                answered = 0
                for i in range(80):
                    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    c.settimeout(0.5)
                    clients.append(c)
                    c.sendto(b"q%d" % i, ("127.0.0.1", port))
                    try:
                        if c.recv(100) == b"q%d" % i:
                            answered += 1
                    except socket.timeout:
                        pass
                self.assertGreater(answered, 30)
                self.assertLess(answered, 64)
                limit = fw.wait_event(lambda e: e["event"] == "limit", what="limit line")
                self.assertIn("open-file limit", limit[0]["reason"])
                opened = fw.find(lambda e: e["event"] == "open" and e["proto"] == "udp")
                self.assertEqual(len(opened), answered)
        finally:
            echo.close()
            for c in clients:
                c.close()

    def test_idle_tcp_connections_time_out_by_default(self):
        cp = pktest.run("forward", "-n", ":18080", "127.0.0.1:80", check=0)
        self.assertIn("idle-timeout=600s", cp.stdout)


if __name__ == "__main__":
    pktest.main()
