"""Shared helpers for portkit's CLI and network tests (run by ctest).

Tests are plain unittest modules; `main()` runs them and exits 77 (ctest's
"skipped") when every test was skipped, e.g. a network test without root.
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

SOURCE_DIR = os.environ.get("PK_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
PORTKIT = os.environ.get("PORTKIT") or os.path.join(SOURCE_DIR, "build", "portkit")


def scan_args(args):
    """As root, `portkit scan` would send raw packets (SYN scan, ICMP pings)
    from the machine's own namespace, which tests never do: scans run from
    here get --unprivileged. Raw scans run in a scanner namespace of their
    own (tests/lib/scannet.py)."""
    args = [str(a) for a in args]
    if args[:1] == ["scan"] and is_root() and "--privileged" not in args and "--help" not in args:
        args.insert(1, "--unprivileged")
    return args


def run(*args, input=None, timeout=60, env=None, check=None):
    """Runs portkit with args; returns CompletedProcess with text output."""
    args = scan_args(args)
    e = dict(os.environ)
    e.pop("PORTKIT_REGISTRY", None)
    e["NO_COLOR"] = "1"
    if env:
        e.update(env)
    cp = subprocess.run([PORTKIT, *map(str, args)], input=input, capture_output=True,
                        text=True, timeout=timeout, env=e)
    if check is not None and cp.returncode != check:
        raise AssertionError(f"portkit {' '.join(map(str, args))}: exit {cp.returncode}, "
                             f"expected {check}\nstdout: {cp.stdout[-2000:]}\nstderr: {cp.stderr[-2000:]}")
    return cp


def run_on_tty(*args, env=None, cols=None):
    """Runs portkit on a pseudo-terminal (what a person sees) until it exits;
    returns its output as text, CRs removed. env: variables to set (None as a
    value removes one); cols: the terminal's width."""
    import fcntl
    import pty
    import struct
    import termios
    pid, fd = pty.fork()
    if pid == 0:
        for k, v in (env or {}).items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        os.execv(PORTKIT, [PORTKIT, *map(str, args)])
    if cols:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    return out.decode(errors="replace").replace("\r", "")


def run_json(*args, **kw):
    """Runs portkit with --json-style output and parses JSON Lines."""
    cp = run(*args, **kw)
    return cp, [json.loads(line) for line in cp.stdout.splitlines() if line.strip()]


def is_root():
    return os.geteuid() == 0


def need_root(test):
    return unittest.skipUnless(is_root(), "needs root (network namespaces, raw sockets)")(test)


def need_tool(name):
    return unittest.skipUnless(shutil.which(name), f"needs {name}")


def release(holder):
    """Ends a Netns.hold() process."""
    holder.stdin.close()
    holder.wait(timeout=10)
    holder.stdout.close()


def stop_procs(procs, grace=None):
    """Ends processes a test started: killed at once (grace None), or asked
    with SIGTERM and killed after grace seconds; reaped, pipes closed."""
    for p in procs:
        if p.poll() is None:
            if grace is None:
                p.kill()
            else:
                p.terminate()
                try:
                    p.wait(grace)
                except subprocess.TimeoutExpired:
                    p.kill()
        p.wait()
        for f in (p.stdout, p.stderr, p.stdin):
            if f:
                f.close()


def sh(cmd, check=True, **kw):
    """Runs a shell command (setup/teardown of namespaces, servers)."""
    return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True, **kw)


# PK_NETNS_SLOT (0-9) lets several checkouts run their network tests at once:
# each slot gets its own namespace names, veth names and address block.
SLOT = int(os.environ.get("PK_NETNS_SLOT", "0") or 0)
assert 0 <= SLOT <= 9, "PK_NETNS_SLOT must be 0-9"
NET4 = f"10.{241 + SLOT}"          # test hosts live in NET4.INDEX.0/24
NET6 = f"fd00:{241 + SLOT:x}"      # and NET6:INDEX::/64


class Netns:
    """A test host: a network namespace joined to the root namespace by a
    veth pair. Addresses live only on these two interfaces and vanish with
    them. Use a distinct `tag` per test file so parallel tests never collide.

        with Netns("scan1", 41) as ns:      # NET4.41.1 (root side) / .2 (ns side)
            ns.exec("nginx -c ...")
    """

    def __init__(self, tag, index, v6=True, parent=None, link=True):
        """parent: another Netns that holds the near end of the veth instead
        of the root namespace (client → forwarder → target chains);
        link=False: a bare namespace with only lo (a forwarder host)."""
        assert 0 < index < 255
        self.parent = parent
        self.link = link
        self.name = f"pk{SLOT or ''}-{tag}"
        self.veth_host = f"pk{SLOT or ''}h{index}"
        self.veth_ns = f"pk{SLOT or ''}n{index}"
        self.net = f"{NET4}.{index}"
        self.host_ip = f"{self.net}.1"
        self.ip = f"{self.net}.2"
        self.host_ip6 = f"{NET6}:{index:x}::1"
        self.ip6 = f"{NET6}:{index:x}::2"
        self.v6 = v6

    def _near(self, cmd, check=True):
        """A command where the near end of the veth lives."""
        if self.parent:
            return self.parent.exec(cmd, check=check)
        return sh(cmd, check=check)

    def __enter__(self):
        self.close()
        sh(f"ip netns add {self.name}")
        self.exec("ip link set lo up")
        if not self.link:
            return self
        sh(f"ip link add {self.veth_host} type veth peer name {self.veth_ns}")
        sh(f"ip link set {self.veth_ns} netns {self.name}")
        if self.parent:
            sh(f"ip link set {self.veth_host} netns {self.parent.name}")
        self._near(f"ip addr add {self.host_ip}/24 dev {self.veth_host}")
        self._near(f"ip link set {self.veth_host} up")
        self.exec(f"ip addr add {self.ip}/24 dev {self.veth_ns}")
        self.exec(f"ip link set {self.veth_ns} up")
        if self.v6:
            self._near(f"ip -6 addr add {self.host_ip6}/64 dev {self.veth_host} nodad")
            self.exec(f"ip -6 addr add {self.ip6}/64 dev {self.veth_ns} nodad")
        return self

    def exec(self, cmd, check=True, **kw):
        return sh(f"ip netns exec {self.name} {cmd}", check=check, **kw)

    def popen(self, argv, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.name, *argv], **kw)

    def hold(self, code, *args):
        """Python code run inside that binds its sockets, prints READY and
        lives until its stdin closes (release()): the process."""
        p = self.popen([sys.executable, "-c", code, *map(str, args)], stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        if line.strip() != "READY":
            release(p)
            raise AssertionError(f"holder in {self.name} did not start: {line!r}")
        return p

    def close(self):
        if self.link:
            self._near(f"ip link del {self.veth_host}", check=False)
        sh(f"ip netns del {self.name}", check=False)

    def __exit__(self, *exc):
        self.close()


def main():
    """unittest.main() that exits 77 when nothing ran but skips."""
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    if not r.wasSuccessful():
        sys.exit(1)
    if r.testsRun > 0 and len(r.skipped) == r.testsRun:
        sys.exit(77)
    sys.exit(0)
