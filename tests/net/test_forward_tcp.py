"""portkit forward, TCP: real sockets through the real binary on loopback.
Byte-exact transfers both ways, half-close, refusals, timeouts, limits,
allow/deny, 1,000 concurrent connections, draining on SIGTERM."""
import concurrent.futures
import hashlib
import os
import selectors
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from fwtest import (EchoServer, Forwarder, ThreadedServer, connect, pattern,  # noqa: E402
                    recv_all, turned_away, wait_until)


def digest_then_payload(c):
    """Server: hash everything up to the client's FIN, then answer with the
    hash and a payload derived from the client's first 16 bytes."""
    h = hashlib.sha256()
    first = b""
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        if len(first) < 16:
            first += b[:16 - len(first)]
        h.update(b)
    size = int.from_bytes(first[:4], "big") % (3 << 20) + (1 << 20)
    c.sendall(h.hexdigest().encode() + b"\n" + pattern(first, size))


class Transfer(unittest.TestCase):
    def test_large_random_payloads_both_ways_many_clients(self):
        clients, size = 24, 6 << 20
        with ThreadedServer(digest_then_payload) as srv, \
                Forwarder("127.0.0.1:0", f"127.0.0.1:{srv.port}") as fw:
            port = fw.port()

            def one(i):
                data = os.urandom(size - i * 4096)
                s = connect(port, timeout=60)
                # Send and receive at once so neither side's buffers stall.
                t = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
                t.start()
                got = recv_all(s)
                t.join()
                s.close()
                line, rest = got.split(b"\n", 1)
                want = pattern(data[:16], int.from_bytes(data[:4], "big") % (3 << 20) + (1 << 20))
                return (line.decode() == hashlib.sha256(data).hexdigest(),
                        hashlib.sha256(rest).digest() == hashlib.sha256(want).digest(),
                        len(data), len(got))

            with concurrent.futures.ThreadPoolExecutor(clients) as ex:
                results = list(ex.map(one, range(clients)))
            for up_ok, down_ok, _, _ in results:
                self.assertTrue(up_ok, "client→target bytes differ")
                self.assertTrue(down_ok, "target→client bytes differ")
            ends = fw.wait_event(lambda e: e["event"] == "conn", count=clients, what="conn ends")
            self.assertEqual(sorted(e["up"] for e in ends), sorted(r[2] for r in results))
            self.assertEqual(sorted(e["down"] for e in ends), sorted(r[3] for r in results))
            self.assertEqual({e["end"] for e in ends}, {"closed"})
            srv.wait_finished(clients)       # a handler's error may come after the log
            self.assertEqual(srv.errors, [])
            self.assertEqual(fw.stop(), 0)

    def test_read_write_path_is_byte_exact_too(self):
        with ThreadedServer(digest_then_payload) as srv, \
                Forwarder("127.0.0.1:0", f"127.0.0.1:{srv.port}", "--copy", "read") as fw:
            data = os.urandom(5 << 20)
            s = connect(fw.port(), timeout=60)
            t = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
            t.start()
            got = recv_all(s)
            t.join()
            line, rest = got.split(b"\n", 1)
            self.assertEqual(line.decode(), hashlib.sha256(data).hexdigest())
            want = pattern(data[:16], int.from_bytes(data[:4], "big") % (3 << 20) + (1 << 20))
            self.assertEqual(rest, want)


class HalfClose(unittest.TestCase):
    def test_client_fin_reaches_target_and_replies_still_flow(self):
        seen = {}

        def handler(c):
            got = recv_all(c)                # returns only on the forwarded FIN
            seen["up"] = got
            time.sleep(0.2)                  # the other direction is still open
            c.sendall(b"late reply " * 1000)
            c.shutdown(socket.SHUT_WR)
            seen["tail"] = c.recv(10)        # the client sends nothing more

        with ThreadedServer(handler) as srv, \
                Forwarder("127.0.0.1:0", f"127.0.0.1:{srv.port}") as fw:
            s = connect(fw.port())
            s.sendall(b"request")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_all(s), b"late reply " * 1000)
            s.close()
            ev = fw.wait_event(lambda e: e["event"] == "conn", what="conn end")[0]
            # The forwarder can log the end before the handler's thread
            # gets to record the last recv.
            srv.wait_finished()
            self.assertEqual(srv.errors, [])
            self.assertEqual(seen["up"], b"request")
            self.assertEqual(seen["tail"], b"")
            self.assertEqual((ev["up"], ev["down"], ev["end"]), (7, 11000, "closed"))

    def test_target_fin_reaches_client_who_keeps_sending(self):
        got = {}

        def handler(c):
            c.sendall(b"banner\n")
            c.shutdown(socket.SHUT_WR)       # the server is done talking
            got["data"] = recv_all(c)        # but still listens

        with ThreadedServer(handler) as srv, \
                Forwarder("127.0.0.1:0", f"127.0.0.1:{srv.port}") as fw:
            s = connect(fw.port())
            self.assertEqual(recv_all(s), b"banner\n")    # FIN arrived
            payload = os.urandom(3 << 20)
            s.sendall(payload)                             # the other way still open
            s.shutdown(socket.SHUT_WR)
            ev = fw.wait_event(lambda e: e["event"] == "conn", what="conn end")[0]
            s.close()
            wait_until(lambda: "data" in got, 10, what="the server to see the FIN")
            self.assertEqual(got["data"], payload)
            self.assertEqual((ev["up"], ev["down"], ev["end"]), (len(payload), 7, "closed"))


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int([l for l in f if l.startswith("VmRSS:")][0].split()[1])


class Backpressure(unittest.TestCase):
    def check_slow_target(self, *opts):
        gate = threading.Event()
        got = {}

        def slow(c):
            gate.wait(30)                    # reads nothing until told
            got["hash"] = hashlib.sha256(recv_all(c)).hexdigest()

        with ThreadedServer(slow) as srv, \
                Forwarder("127.0.0.1:0", f"127.0.0.1:{srv.port}", *opts) as fw:
            s = connect(fw.port())
            s.setblocking(False)
            block = os.urandom(1 << 20)
            h = hashlib.sha256()
            sent, stalled_at = 0, None
            rss0 = vm_rss_kib(fw.proc.pid)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    n = s.send(block)
                    h.update(block[:n])
                    sent += n
                    stalled_at = None
                except BlockingIOError:
                    if stalled_at is None:
                        stalled_at = time.monotonic()
                    elif time.monotonic() - stalled_at > 0.5:
                        break                # the whole path is full: good
                    time.sleep(0.01)
            self.assertIsNotNone(stalled_at, "the forwarder kept taking data")
            # Bounded by socket buffers and one pipe, not by the forwarder.
            self.assertLess(sent, 48 << 20)
            self.assertLess(vm_rss_kib(fw.proc.pid) - rss0, 4096)
            gate.set()
            s.setblocking(True)
            s.shutdown(socket.SHUT_WR)
            wait_until(lambda: "hash" in got, 20, what="the slow target to read it all")
            self.assertEqual(got["hash"], h.hexdigest())
            s.close()

    def test_slow_target_stops_the_reads_spliced(self):
        self.check_slow_target()

    def test_slow_target_stops_the_reads_copied(self):
        self.check_slow_target("--copy", "read")


class TargetTrouble(unittest.TestCase):
    def test_refusing_target_closes_the_client_at_once(self):
        # A bound socket that does not listen answers SYN with RST.
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        port = blocker.getsockname()[1]
        with Forwarder("127.0.0.1:0", f"127.0.0.1:{port}") as fw:
            for _ in range(3):
                took = turned_away(fw.port())
                self.assertIsNotNone(took)
                self.assertLess(took, 1.0)
            ends = fw.wait_event(lambda e: e["event"] == "conn", count=3, what="conn ends")
            self.assertEqual({e["end"] for e in ends}, {"refused"})
        blocker.close()

    def test_silent_target_hits_connect_timeout(self):
        # A listener whose accept queue is full drops new SYNs: connecting
        # to it hangs like connecting to a host that is down.
        full = socket.socket()
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        fillers = []
        for _ in range(4):
            f = socket.socket()
            f.setblocking(False)
            try:
                f.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(f)
        time.sleep(0.2)
        with Forwarder("127.0.0.1:0", f"127.0.0.1:{port}", "--connect-timeout", "400ms") as fw:
            took = turned_away(fw.port())
            self.assertIsNotNone(took)
            self.assertGreater(took, 0.3)
            self.assertLess(took, 2.5)
            ev = fw.wait_event(lambda e: e["event"] == "conn", what="conn end")[0]
            self.assertEqual(ev["end"], "connect-timeout")
        for f in fillers:
            f.close()
        full.close()

    def test_target_reset_is_passed_on_as_reset(self):
        def handler(c):
            c.recv(10)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()

        with ThreadedServer(handler) as srv, \
                Forwarder("127.0.0.1:0", f"127.0.0.1:{srv.port}") as fw:
            s = connect(fw.port())
            s.sendall(b"x")
            with self.assertRaises(ConnectionResetError):
                while s.recv(100):
                    pass
            ev = fw.wait_event(lambda e: e["event"] == "conn", what="conn end")[0]
            self.assertEqual(ev["end"], "target-reset")


class Limits(unittest.TestCase):
    def test_idle_timeout_ends_quiet_connections_only(self):
        with EchoServer() as echo, \
                Forwarder("127.0.0.1:0", f"127.0.0.1:{echo.port}", "--idle-timeout", "400ms") as fw:
            quiet = connect(fw.port())
            busy = connect(fw.port())
            t0 = time.monotonic()
            while time.monotonic() - t0 < 1.2:  # three idle periods, traffic every 100 ms
                busy.sendall(b"ping")
                self.assertEqual(busy.recv(10), b"ping")
                time.sleep(0.1)
            self.assertEqual(quiet.recv(10), b"")   # closed by the forwarder
            ev = fw.wait_event(lambda e: e["event"] == "conn", what="idle end")[0]
            self.assertEqual(ev["end"], "idle-timeout")
            self.assertGreater(ev["duration"], 0.35)
            self.assertLess(ev["duration"], 1.0)
            busy.sendall(b"still here")
            self.assertEqual(busy.recv(20), b"still here")
            busy.close()
            quiet.close()

    def test_max_conns_turns_the_next_client_away(self):
        with EchoServer() as echo, \
                Forwarder("127.0.0.1:0", f"127.0.0.1:{echo.port}", "--max-conns", "2") as fw:
            a, b = connect(fw.port()), connect(fw.port())
            for s in (a, b):
                s.sendall(b"hi")
                self.assertEqual(s.recv(10), b"hi")
            self.assertIsNotNone(turned_away(fw.port()))
            lim = fw.wait_event(lambda e: e["event"] == "limit", what="limit line")[0]
            self.assertIn("max-conns 2", lim["reason"])
            a.close()
            fw.wait_event(lambda e: e["event"] == "conn", what="a ends")
            d = connect(fw.port())                 # a slot is free again
            d.sendall(b"again")
            self.assertEqual(d.recv(10), b"again")
            for s in (b, d):
                s.close()


class AccessControl(unittest.TestCase):
    def refused(self, port, source):
        return turned_away(port, source=source) is not None

    def test_deny_and_allow_by_source_address(self):
        with EchoServer() as echo, \
                Forwarder("127.0.0.1:0", f"127.0.0.1:{echo.port}",
                          "--allow", "127.0.0.0/24", "--deny", "127.0.0.2") as fw:
            port = fw.port()
            self.assertTrue(self.refused(port, "127.0.0.2"))   # denied outright
            self.assertTrue(self.refused(port, "127.0.1.1"))   # not on the allow list
            ok = connect(port, source="127.0.0.3")
            ok.sendall(b"hello")
            self.assertEqual(ok.recv(10), b"hello")
            ok.close()
            denies = fw.wait_event(lambda e: e["event"] == "deny", count=2, what="deny lines")
            self.assertEqual({d["client"].rsplit(":", 1)[0] for d in denies},
                             {"127.0.0.2", "127.0.1.1"})
            self.assertEqual(echo.accepted, 1)   # denied clients never reached the target

    def test_per_rule_lists_from_a_config_file(self):
        with EchoServer() as echo, tempfile.TemporaryDirectory() as d:
            from fwtest import free_port
            p1, p2 = free_port(), free_port()
            conf = os.path.join(d, "fw.conf")
            with open(conf, "w") as f:
                f.write(f"deny 127.0.0.9\n"
                        f"127.0.0.1:{p1} 127.0.0.1:{echo.port}\n"
                        f"allow 127.0.0.5      # rule 1 only\n"
                        f"127.0.0.1 {p2} 127.0.0.1 {echo.port}\n")
            with Forwarder("-c", conf, wait_listen=2) as fw:
                self.assertTrue(self.refused(p1, "127.0.0.6"))
                self.assertTrue(self.refused(p1, "127.0.0.9"))
                self.assertTrue(self.refused(p2, "127.0.0.9"))   # the global deny
                for port, src in ((p1, "127.0.0.5"), (p2, "127.0.0.6")):
                    s = connect(port, source=src)
                    s.sendall(b"x")
                    self.assertEqual(s.recv(5), b"x")
                    s.close()
                denies = fw.wait_event(lambda e: e["event"] == "deny", count=3, what="denies")
                self.assertEqual([d.get("rule_line") for d in denies], [2, 2, 4])


class Scale(unittest.TestCase):
    def test_thousand_concurrent_connections(self):
        n = 1000
        with EchoServer() as echo, \
                Forwarder("127.0.0.1:0", f"127.0.0.1:{echo.port}", "-q") as fw:
            port = fw.port()
            sel = selectors.DefaultSelector()
            socks = []
            for i in range(n):
                s = socket.socket()
                s.setblocking(False)
                try:
                    s.connect(("127.0.0.1", port))
                except BlockingIOError:
                    pass
                socks.append(s)
                sel.register(s, selectors.EVENT_WRITE, i)
            msgs = {i: f"{i:06d}-".encode() * 100 for i in range(n)}
            got = {i: b"" for i in range(n)}
            sent = set()
            deadline = time.monotonic() + 60
            while len([i for i in range(n) if len(got[i]) == len(msgs[i])]) < n:
                self.assertLess(time.monotonic(), deadline, "echoes did not all come back")
                for key, ev in sel.select(1):
                    i, s = key.data, key.fileobj
                    if ev & selectors.EVENT_WRITE and i not in sent:
                        s.send(msgs[i])     # 700 bytes: fits any send buffer
                        sent.add(i)
                        sel.modify(s, selectors.EVENT_READ, i)
                    elif ev & selectors.EVENT_READ:
                        got[i] += s.recv(4096)
            for i in range(n):
                self.assertEqual(got[i], msgs[i])
            st = fw.stats()                  # all 1,000 are open at once
            self.assertEqual(st["tcp_conns"], n)
            self.assertEqual(echo.open, n)
            self.assertLessEqual(st["pipes_busy"], 2)  # idle connections hold no pipe
            for s in socks:
                sel.unregister(s)
                s.close()
            sel.close()
            wait_until(lambda: fw.stats()["tcp_conns"] == 0, 30, 0.2, "all connections closed")
            self.assertEqual(fw.stop(), 0)


class Drain(unittest.TestCase):
    def test_sigterm_stops_accepting_and_lets_connections_finish(self):
        with EchoServer() as echo, \
                Forwarder("127.0.0.1:0", f"127.0.0.1:{echo.port}", "--drain", "10s") as fw:
            port = fw.port()
            s = connect(port)
            s.sendall(b"before")
            self.assertEqual(s.recv(10), b"before")
            fw.signal(signal.SIGTERM)
            fw.wait_event(lambda e: e["event"] == "unlisten", what="listener closed")
            with self.assertRaises(ConnectionRefusedError):
                connect(port)
            s.sendall(b"during")              # the established one still works
            self.assertEqual(s.recv(10), b"during")
            self.assertIsNone(fw.proc.poll())
            s.close()
            self.assertEqual(fw.proc.wait(10), 0)
            self.assertEqual(fw.ends()[0]["end"], "closed")

    def test_drain_deadline_closes_what_is_left(self):
        with EchoServer() as echo, \
                Forwarder("127.0.0.1:0", f"127.0.0.1:{echo.port}", "--drain", "300ms") as fw:
            s = connect(fw.port())
            s.sendall(b"x")
            self.assertEqual(s.recv(10), b"x")
            t0 = time.monotonic()
            fw.signal(signal.SIGTERM)
            self.assertEqual(fw.proc.wait(10), 0)
            self.assertLess(time.monotonic() - t0, 3)
            fw.reader.join(5)
            self.assertEqual(fw.ends()[0]["end"], "shutdown")
            s.close()


if __name__ == "__main__":
    pktest.main()
