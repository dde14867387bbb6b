"""portkit forward -c FILE and SIGHUP: reloading under load drops no
established connection; new rules apply to new connections; removed
listeners close; a broken file is logged with its line and changes nothing."""
import os
import random
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from fwtest import EchoServer, Forwarder, UdpEcho, connect, free_port, wait_until  # noqa: E402


class Streamer(threading.Thread):
    """A client that keeps one connection busy: random-sized messages, each
    echo checked byte for byte, until told to stop."""

    def __init__(self, port, seed):
        super().__init__(daemon=True)
        self.port, self.rng = port, random.Random(seed)
        self.stop_flag = threading.Event()
        self.rounds, self.bytes, self.error = 0, 0, None
        self.sock = connect(port, timeout=10)

    def run(self):
        try:
            while not self.stop_flag.is_set():
                msg = self.rng.randbytes(self.rng.randrange(1, 48 << 10))
                self.sock.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    b = self.sock.recv(len(msg) - len(got))
                    if not b:
                        raise AssertionError("connection closed mid-stream")
                    got += b
                if got != msg:
                    raise AssertionError("echo differs")
                self.rounds += 1
                self.bytes += len(msg)
            self.sock.shutdown(socket.SHUT_WR)
            if self.sock.recv(10) != b"":
                raise AssertionError("data after the end")
        except Exception as e:
            self.error = repr(e)
        finally:
            self.sock.close()


def works(port, payload=b"ping"):
    try:
        with connect(port, timeout=5) as s:
            s.sendall(payload)
            return s.recv(100) == payload
    except OSError:
        return False


def refused(port):
    try:
        connect(port, timeout=5).close()
        return False
    except ConnectionRefusedError:
        return True


class Reload(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.conf = os.path.join(self.dir.name, "fw.conf")

    def tearDown(self):
        self.dir.cleanup()

    def write(self, text):
        # Replace atomically, as an editor or config manager would.
        tmp = self.conf + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.conf)

    def reload(self, fw, expect="ok"):
        n = len(fw.find(lambda e: e["event"] == "reload"))
        fw.signal(signal.SIGHUP)
        ev = fw.wait_event(lambda e: e["event"] == "reload", count=n + 1, what="reload line")[-1]
        self.assertTrue(ev["message"].startswith(expect), ev["message"])
        return ev["message"]

    def test_reload_under_load_drops_no_connection(self):
        with EchoServer() as e1, EchoServer() as e2:
            pa, pb, pc = free_port(), free_port(), free_port()
            self.write(f"127.0.0.1:{pa} 127.0.0.1:{e1.port}\n"
                       f"127.0.0.1:{pc} 127.0.0.1:{e1.port}\n")
            with Forwarder("-c", self.conf, wait_listen=2) as fw:
                streams = [Streamer(pa, i) for i in range(40)]
                for s in streams:
                    s.start()
                wait_until(lambda: all(s.rounds > 2 for s in streams), 20, what="traffic")
                self.assertEqual(e1.open, 40)

                # A now points at e2 with new options, B is new, C is gone.
                v2 = (f"127.0.0.1:{pa} 127.0.0.1:{e2.port} max-conns=1000 idle-timeout=1h\n"
                      f"127.0.0.1 {pb} 127.0.0.1 {e1.port}\n")
                self.write(v2)
                self.reload(fw)
                self.assertTrue(refused(pc))
                self.assertTrue(works(pb))
                before = e2.accepted
                self.assertTrue(works(pa))                 # new connections: new target
                self.assertEqual(e2.accepted, before + 1)

                # A broken file: logged with file:line, nothing changes.
                self.write(v2 + "127.0.0.1:99999 127.0.0.1:1\n")
                msg = self.reload(fw, "failed")
                self.assertIn(f"{self.conf}:3:", msg)
                self.assertIn("99999", msg)
                self.assertTrue(works(pa) and works(pb))

                # More reloads while the streams run.
                for i in range(6):
                    self.write(v2 if i % 2 else v2.replace("max-conns=1000", "max-conns=900"))
                    self.reload(fw)
                    time.sleep(0.1)
                rounds = [s.rounds for s in streams]
                wait_until(lambda: all(s.rounds > r + 2 for s, r in zip(streams, rounds)), 20,
                           what="traffic after the reloads")
                for s in streams:
                    s.stop_flag.set()
                for s in streams:
                    s.join(20)
                errors = [s.error for s in streams if s.error]
                self.assertEqual(errors, [])
                ends = fw.wait_event(lambda e: e["event"] == "conn", count=40, what="40 ends")
                self.assertEqual({e["end"] for e in ends[:40]}, {"closed"})
                # The old connections stayed on the old target all along.
                self.assertEqual(e1.accepted, 40 + 2)    # the streams + two works(pb)
                self.assertEqual(fw.stop(), 0)

    def test_listener_that_cannot_open_keeps_the_old_config(self):
        with EchoServer() as e1:
            pa = free_port()
            busy = socket.socket()
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            self.write(f"127.0.0.1:{pa} 127.0.0.1:{e1.port}\n")
            with Forwarder("-c", self.conf) as fw:
                self.write(f"127.0.0.1:{pa} 127.0.0.1:{e1.port}\n"
                           f"# the next port is taken\n"
                           f"127.0.0.1:{busy.getsockname()[1]} 127.0.0.1:{e1.port}\n")
                msg = self.reload(fw, "failed")
                self.assertIn("line 3", msg)
                self.assertIn("in use", msg)
                self.assertTrue(works(pa))
                self.assertEqual(len(fw.listeners()), 1)
            busy.close()

    def test_removed_udp_listener_ends_its_sessions(self):
        echo = UdpEcho()
        pu, pt = free_port(socket.SOCK_DGRAM), free_port()
        with EchoServer() as e1:
            self.write(f"127.0.0.1:{pu} 127.0.0.1:{echo.port} udp\n"
                       f"127.0.0.1:{pt} 127.0.0.1:{e1.port}\n")
            with Forwarder("-c", self.conf, wait_listen=2) as fw:
                c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                c.settimeout(2)
                c.sendto(b"dgram", ("127.0.0.1", pu))
                self.assertEqual(c.recv(100), b"dgram")
                self.write(f"127.0.0.1:{pt} 127.0.0.1:{e1.port}\n")
                self.reload(fw)
                ev = fw.wait_event(lambda e: e["event"] == "conn", what="udp session end")[0]
                self.assertEqual((ev["proto"], ev["end"]), ("udp", "reload"))
                un = fw.find(lambda e: e["event"] == "unlisten")
                self.assertEqual([u["proto"] for u in un], ["udp"])
                c.close()
        echo.close()

    def test_sighup_without_config_file_keeps_running(self):
        with EchoServer() as e1, Forwarder("127.0.0.1:0", f"127.0.0.1:{e1.port}") as fw:
            self.reload(fw, "no config file")
            self.assertTrue(works(fw.port()))


if __name__ == "__main__":
    pktest.main()
