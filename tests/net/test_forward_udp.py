"""portkit forward --udp: DNS queries through the forwarder to a real
dnsmasq on loopback; sessions per client, replies from the right address,
idle expiry, allow/deny."""
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from fwtest import Forwarder, free_port, wait_until  # noqa: E402

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def query(qid, name, qtype=1):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", qtype, 1)


def answer_a(reply):
    """(id, rcode, [IPv4 answers]) from a DNS reply; enough for A records."""
    qid, flags, qd, an = struct.unpack(">HHHH", reply[:8])
    i = 12
    for _ in range(qd):
        while reply[i]:
            i += reply[i] + 1
        i += 5
    out = []
    for _ in range(an):
        if reply[i] & 0xC0 == 0xC0:
            i += 2
        else:
            while reply[i]:
                i += reply[i] + 1
            i += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", reply[i:i + 10])
        i += 10
        if rtype == 1:
            out.append(socket.inet_ntoa(reply[i:i + rdlen]))
        i += rdlen
    return qid, flags & 0xF, out


class Dnsmasq:
    """Our own dnsmasq on 127.0.0.1 and a free port, answering example.test."""

    def __init__(self):
        errors = []
        for _ in range(3):   # the free port may be taken between probe and bind
            self.port = free_port(socket.SOCK_DGRAM)
            self.proc = subprocess.Popen(
                [DNSMASQ, "--no-daemon", f"--port={self.port}", "--listen-address=127.0.0.1",
                 "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                 "--pid-file=", "--log-facility=-", "--address=/example.test/192.0.2.7"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if self.answers():
                return
            self.proc.kill()
            self.proc.wait()
            errors.append(f"exit {self.proc.returncode}: {self.proc.stderr.read().strip()}")
            self.proc.stderr.close()
        raise AssertionError("dnsmasq did not start: " + "; ".join(errors))

    def answers(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            for _ in range(50):
                if self.proc.poll() is not None:
                    return False
                try:
                    s.sendto(query(1, "example.test"), ("127.0.0.1", self.port))
                    s.recv(512)
                    return True
                except OSError:
                    pass
        return False

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stderr.close()


@unittest.skipUnless(os.path.exists(DNSMASQ), "needs dnsmasq (dnsmasq-base)")
class DnsThroughForwarder(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = Dnsmasq()

    @classmethod
    def tearDownClass(cls):
        cls.dns.close()

    def ask(self, sock, addr, qid, name="example.test"):
        sock.sendto(query(qid, name), addr)
        for _ in range(3):   # UDP: a retry is what a resolver would do
            try:
                reply, src = sock.recvfrom(2048)
                return reply, src
            except socket.timeout:
                sock.sendto(query(qid, name), addr)
        raise AssertionError("no DNS answer through the forwarder")

    def test_queries_from_many_clients_get_their_own_answers(self):
        with Forwarder("--udp", "127.0.0.1:0", f"127.0.0.1:{self.dns.port}",
                       "--idle-timeout", "700ms") as fw:
            addr = ("127.0.0.1", fw.port())
            clients = []
            for i in range(20):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(2)
                clients.append(s)
            # Every client asks before any reads: the replies must still be
            # sorted back to the client that asked.
            for i, s in enumerate(clients):
                s.sendto(query(1000 + i, "example.test"), addr)
                s.sendto(query(2000 + i, f"host{i}.example.test"), addr)
            for i, s in enumerate(clients):
                got = {}
                for _ in range(2):
                    reply, src = s.recvfrom(2048)
                    self.assertEqual(src, addr)      # from the address it asked
                    qid, rcode, ips = answer_a(reply)
                    got[qid] = (rcode, ips)
                self.assertEqual(got, {1000 + i: (0, ["192.0.2.7"]),
                                       2000 + i: (0, ["192.0.2.7"])})
            # one session per client, ended by the idle timeout, counted exactly
            ends = fw.wait_event(lambda e: e["event"] == "conn", count=20, timeout=10,
                                 what="20 sessions to expire")
            self.assertEqual({e["end"] for e in ends}, {"idle-timeout"})
            self.assertEqual({(e["packets_up"], e["packets_down"]) for e in ends}, {(2, 2)})
            ports = {int(e["client"].rsplit(":", 1)[1]) for e in ends}
            self.assertEqual(ports, {s.getsockname()[1] for s in clients})
            for s in clients:
                s.close()

    def test_ipv6_clients_to_an_ipv4_server(self):
        with Forwarder("--udp", "[::1]:0", f"127.0.0.1:domain", wait_listen=1) as fw0:
            fw0.stop()   # only checks that :domain resolves for udp; dnsmasq is elsewhere
        with Forwarder("-u", "[::1]:0", f"127.0.0.1:{self.dns.port}") as fw:
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.settimeout(2)
            reply, src = self.ask(s, ("::1", fw.port()), 77)
            self.assertEqual(src[:2], ("::1", fw.port()))
            self.assertEqual(answer_a(reply), (77, 0, ["192.0.2.7"]))
            s.close()

    def test_wildcard_listener_replies_from_the_address_asked(self):
        # Bound to every address, the forwarder must answer a client that
        # wrote to 127.0.0.2 from 127.0.0.2 (a connected client socket
        # would drop anything else).
        with Forwarder("-u", ":0", f"127.0.0.1:{self.dns.port}") as fw:
            port = fw.port()
            for dst in ("127.0.0.2", "127.0.0.1", "127.0.0.3"):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(2)
                s.connect((dst, port))
                s.send(query(5, "example.test"))
                self.assertEqual(answer_a(s.recv(2048)), (5, 0, ["192.0.2.7"]))
                s.close()
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s6.settimeout(2)
            s6.connect(("::1", port))
            s6.send(query(6, "example.test"))
            self.assertEqual(answer_a(s6.recv(2048)), (6, 0, ["192.0.2.7"]))
            s6.close()

    def test_denied_client_gets_nothing_and_one_log_line(self):
        with Forwarder("-u", "127.0.0.1:0", f"127.0.0.1:{self.dns.port}",
                       "--deny", "127.0.0.4") as fw:
            addr = ("127.0.0.1", fw.port())
            bad = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            bad.bind(("127.0.0.4", 0))
            bad.settimeout(0.3)
            for i in range(5):
                bad.sendto(query(i, "example.test"), addr)
            with self.assertRaises(socket.timeout):
                bad.recv(2048)
            good = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            good.settimeout(2)
            self.assertEqual(answer_a(self.ask(good, addr, 9)[0]), (9, 0, ["192.0.2.7"]))
            time.sleep(0.2)
            denies = fw.find(lambda e: e["event"] == "deny")
            self.assertEqual(len(denies), 1)   # five datagrams, one line
            self.assertTrue(denies[0]["client"].startswith("127.0.0.4:"))
            self.assertEqual(fw.stats()["udp_sessions"], 1)
            bad.close()
            good.close()

    def test_max_sessions(self):
        with Forwarder("-u", "127.0.0.1:0", f"127.0.0.1:{self.dns.port}", "--max-conns", "2") as fw:
            addr = ("127.0.0.1", fw.port())
            socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
            for s in socks[:2]:
                s.settimeout(2)
                self.assertEqual(answer_a(self.ask(s, addr, 3)[0])[2], ["192.0.2.7"])
            socks[2].settimeout(0.3)
            for qid in (4, 5, 6):
                socks[2].sendto(query(qid, "example.test"), addr)
            with self.assertRaises(socket.timeout):
                socks[2].recv(2048)
            fw.wait_event(lambda e: e["event"] == "limit", what="limit line")
            self.assertEqual(len(fw.find(lambda e: e["event"] == "limit")), 1)  # not one a datagram
            self.assertEqual(fw.stats()["limited"], 3)
            for s in socks:
                s.close()

    def test_sessions_end_with_shutdown(self):
        with Forwarder("-u", "127.0.0.1:0", f"127.0.0.1:{self.dns.port}") as fw:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            self.ask(s, ("127.0.0.1", fw.port()), 1)
            wait_until(lambda: fw.stats()["udp_sessions"] == 1, 5, what="one session")
            self.assertEqual(fw.stop(), 0)
            ends = fw.ends()
            self.assertEqual([e["end"] for e in ends], ["shutdown"])
            self.assertEqual(ends[0]["packets_up"], 1)
            s.close()


if __name__ == "__main__":
    pktest.main()
