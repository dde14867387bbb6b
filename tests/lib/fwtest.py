"""Helpers for the `portkit forward` tests: the forwarder as a child process
whose JSON log is read as it comes, and small real servers to forward to.
Everything listens on loopback only; every wait is bounded."""
import hashlib
import json
import os
import selectors
import signal
import socket
import subprocess
import threading
import time

import pktest


def free_port(kind=socket.SOCK_STREAM, host="127.0.0.1"):
    """A port the kernel says is free right now (bind to 0, close)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=10.0, step=0.02, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Forwarder:
    """`portkit forward ARGS --log-json`, log lines parsed as they arrive.

        with Forwarder("127.0.0.1:0", f"127.0.0.1:{port}") as fw:
            port = fw.port()           # the bound port of the first listener
    """

    def __init__(self, *args, env=None, wait_listen=1, prefix=()):
        """prefix: a command to run the forwarder under (prlimit ...)."""
        self.args = [*prefix, pktest.PORTKIT, "forward", *map(str, args), "--log-json"]
        self.events = []
        self.raw = []
        self.cond = threading.Condition()
        e = dict(os.environ)
        e["NO_COLOR"] = "1"
        if env:
            e.update(env)
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=e)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if wait_listen:
            self.wait_event(lambda ev: ev["event"] == "listen", count=wait_listen,
                            what=f"{wait_listen} listener(s)")

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.raw.append(line)
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    self.events.append({"event": "text", "message": line.rstrip("\n")})
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def find(self, pred):
        with self.cond:
            return [e for e in self.events if pred(e)]

    def wait_event(self, pred, count=1, timeout=15.0, what="log event"):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [e for e in self.events if pred(e)]
                if len(got) >= count:
                    return got
                left = end - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    raise AssertionError(
                        f"waiting for {what} (x{count}), got {len(got)}; exit "
                        f"{self.proc.poll()}; log:\n" + "".join(self.raw[-40:]))
                self.cond.wait(min(left, 0.2))

    def ends(self, reason=None):
        return self.find(lambda e: e["event"] == "conn" and (reason is None or e["end"] == reason))

    def listeners(self):
        return self.find(lambda e: e["event"] == "listen")

    def port(self, index=0):
        addr = self.listeners()[index]["listen"]
        return int(addr.rsplit(":", 1)[1])

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stats(self):
        """SIGUSR1 → the counters the forwarder logs, as a dict of ints."""
        before = len(self.find(lambda e: e["event"] == "stats"))
        self.signal(signal.SIGUSR1)
        ev = self.wait_event(lambda e: e["event"] == "stats", count=before + 1, what="stats")[-1]
        return {k: int(v) for k, v in (kv.split("=") for kv in ev["message"].split())}

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("forwarder did not stop on SIGTERM")
        self.reader.join(5)
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.reader.join(5)
        self.proc.stderr.close()


class ThreadedServer:
    """A TCP server on loopback running handler(conn) in a thread per
    connection. Handlers must finish on their own (bounded reads). What a
    handler records is only safe to read after wait_finished(): the
    forwarder's log can report a connection over before the handler's
    thread has run its last lines."""

    def __init__(self, handler, host="127.0.0.1", backlog=512):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.errors = []
        self.accepted = 0
        self.finished = 0
        self.done = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._run, args=(c,), daemon=True).start()

    def _run(self, c):
        try:
            c.settimeout(30)
            self.handler(c)
        except Exception as e:  # reported by the test, not lost in a thread
            self.errors.append(repr(e))
        finally:
            c.close()
            with self.done:
                self.finished += 1
                self.done.notify_all()

    def wait_finished(self, count=1, timeout=15.0):
        """Waits until `count` handlers have returned (or raised)."""
        with self.done:
            if not self.done.wait_for(lambda: self.finished >= count, timeout):
                raise AssertionError(f"{self.finished} of {count} handler(s) finished "
                                     f"within {timeout} s; errors: {self.errors}")

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class EchoServer:
    """A selectors-based TCP echo server in one thread: thousands of
    connections without a thread each. Closes its side on the client's EOF."""

    def __init__(self, host="127.0.0.1"):
        self.sel = selectors.DefaultSelector()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(4096)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.sel.register(self.sock, selectors.EVENT_READ, None)
        self.open = 0
        self.accepted = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        pending = {}
        while not self.stopping:
            for key, ev in self.sel.select(0.1):
                if key.data is None:
                    try:
                        while True:
                            c, _ = self.sock.accept()
                            c.setblocking(False)
                            self.accepted += 1
                            self.open += 1
                            pending[c] = b""
                            self.sel.register(c, selectors.EVENT_READ, "c")
                    except BlockingIOError:
                        pass
                    continue
                c = key.fileobj
                if ev & selectors.EVENT_READ:
                    try:
                        data = c.recv(65536)
                    except (ConnectionError, OSError):
                        data = b""
                    if not data:
                        self.sel.unregister(c)
                        c.close()
                        pending.pop(c, None)
                        self.open -= 1
                        continue
                    pending[c] += data
                if pending.get(c):
                    try:
                        n = c.send(pending[c])
                        pending[c] = pending[c][n:]
                    except BlockingIOError:
                        pass
                    except OSError:
                        pending[c] = b""
                want = selectors.EVENT_READ | (selectors.EVENT_WRITE if pending[c] else 0)
                self.sel.modify(c, want, "c")
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()

    def close(self):
        self.stopping = True
        self.thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class UdpEcho:
    """A UDP echo server in one thread that remembers the source of each
    datagram; close() stops it."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sources = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            try:
                data, addr = self.sock.recvfrom(65536)
            except OSError:
                return
            self.sources.append(addr[0])
            self.sock.sendto(data, addr)

    def close(self):
        self.sock.close()
        self.thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def pattern(seed, size):
    """Deterministic pseudo-random bytes: both ends can build the same."""
    out = bytearray()
    block = hashlib.sha256(seed).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:size])


def recv_all(sock, limit=1 << 30):
    chunks = []
    n = 0
    while True:
        b = sock.recv(1 << 20)
        if not b:
            return b"".join(chunks)
        chunks.append(b)
        n += len(b)
        if n > limit:
            raise AssertionError("peer sent more than expected")


def connect(port, host="127.0.0.1", timeout=10, source=None):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    return s


def turned_away(port, host="127.0.0.1", source=None, timeout=5):
    """Connects and waits for the forwarder to close or reset the
    connection without a byte. Returns the seconds it took, or None if data
    came instead. The reset may even beat connect() back."""
    t0 = time.monotonic()
    try:
        with connect(port, host=host, timeout=timeout, source=source) as s:
            if s.recv(100) != b"":
                return None
    except ConnectionResetError:
        pass
    return time.monotonic() - t0
