"""Two-namespace test bed for portkit audit: a host with listeners and a
firewall, and an outside client joined to it by two links (A and B), so
per-interface and per-source rules can be told apart. The outside probes
every listener for real: TCP connect, UDP request/response; each socket
answers with its own name, so a probe knows which socket it reached.

Addresses come from the slot's block (pktest.NET4/NET6 and 10.(200+K).x);
namespaces, links and everything loaded in them vanish in close().
"""
import json
import os
import re
import socket
import subprocess
import sys
import time

import pktest

SLOT = pktest.SLOT

# Runs in the host namespace: binds everything listed in argv[1] (JSON of
# [proto, family, addr, port, v6only]), answers each TCP accept and UDP
# datagram with "proto:addr:port", prints READY, runs until stdin closes.
HOLDER = r"""
import json, select, socket, sys
socks = {}
for proto, fam, addr, port, v6only in json.loads(sys.argv[1]):
    f = socket.AF_INET if fam == 4 else socket.AF_INET6
    s = socket.socket(f, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if f == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
    s.bind((addr, port))
    if proto == "tcp":
        s.listen(64)
    socks[s.fileno()] = (s, proto, "%s:%s:%d" % (proto, addr, port))
print("READY", flush=True)
poll = select.poll()
poll.register(sys.stdin.fileno(), select.POLLIN)
for fd in socks:
    poll.register(fd, select.POLLIN)
while True:
    for fd, ev in poll.poll():
        if fd == sys.stdin.fileno():
            sys.exit(0)
        s, proto, name = socks[fd]
        if proto == "tcp":
            c, _ = s.accept()
            try:
                c.sendall(name.encode() + b"\n")
            except OSError:
                pass
            c.close()
        else:
            data, peer = s.recvfrom(512)
            s.sendto(name.encode(), peer)
"""


def sh(cmd, check=True):
    return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True, timeout=60)


class Link:
    def __init__(self, index, host_name, out_name):
        self.index = index
        self.host_if, self.out_if = host_name, out_name
        self.net = f"{pktest.NET4}.{index}"
        self.out4, self.host4 = f"{self.net}.1", f"{self.net}.2"
        self.out6, self.host6 = f"{pktest.NET6}:{index:x}::1", f"{pktest.NET6}:{index:x}::2"


class Bed:
    """host (H) and outside (O) namespaces; links A and B between them; a
    local "container" address on a docker0 link inside H."""

    def __init__(self, tag, index):
        s = SLOT or ""
        self.host = f"pk{s}-{tag}h"
        self.out = f"pk{s}-{tag}o"
        self.a = Link(index, f"pk{s}{tag}a", f"pk{s}{tag}oa")
        self.b = Link(index + 1, f"pk{s}{tag}b", f"pk{s}{tag}ob")
        self.container = f"10.{200 + SLOT}.{index}.2"
        self.holder = None

    def __enter__(self):
        self.close()
        try:
            sh(f"ip netns add {self.host}")
            sh(f"ip netns add {self.out}")
            for ln in (self.a, self.b):
                sh(f"ip link add {ln.host_if} netns {self.host} type veth peer name {ln.out_if} netns {self.out}")
                self.hexec(f"ip addr add {ln.host4}/24 dev {ln.host_if}")
                self.hexec(f"ip -6 addr add {ln.host6}/64 dev {ln.host_if} nodad")
                self.hexec(f"ip link set {ln.host_if} up")
                self.oexec(f"ip addr add {ln.out4}/24 dev {ln.out_if}")
                self.oexec(f"ip -6 addr add {ln.out6}/64 dev {ln.out_if} nodad")
                self.oexec(f"ip link set {ln.out_if} up")
            self.hexec("ip link set lo up")
            self.oexec("ip link set lo up")
            # Rulesets that drop ICMPv6 would also stop neighbour discovery,
            # which no audit of listeners is about: the neighbours are fixed.
            for ln in (self.a, self.b):
                hmac = self.hexec(f"cat /sys/class/net/{ln.host_if}/address").stdout.strip()
                omac = self.oexec(f"cat /sys/class/net/{ln.out_if}/address").stdout.strip()
                for addr in (self.a.host6, self.b.host6):
                    self.oexec(f"ip -6 neigh replace {addr} lladdr {hmac} dev {ln.out_if} nud permanent")
                self.hexec(f"ip -6 neigh replace {ln.out6} lladdr {omac} dev {ln.host_if} nud permanent")
            # every host address is reachable over either link: a probe bound
            # to one link's device takes that link (see probe)
            a, b = self.a, self.b
            for dst, near, far in ((a.host4, a, b), (b.host4, b, a), (self.container, a, b)):
                self.oexec(f"ip route add {dst}/32 via {near.host4} dev {near.out_if} metric 10")
                self.oexec(f"ip route add {dst}/32 via {far.host4} dev {far.out_if} metric 100")
            for dst, near, far in ((a.host6, a, b), (b.host6, b, a)):
                self.oexec(f"ip -6 route add {dst}/128 via {near.host6} dev {near.out_if} onlink metric 10")
                self.oexec(f"ip -6 route add {dst}/128 via {far.host6} dev {far.out_if} onlink metric 100")
            # a bridge-like docker0 with a local "container" address
            self.hexec("ip link add docker0 type veth peer name dockerc")
            self.hexec(f"ip addr add 10.{200 + SLOT}.{self.a.index}.1/24 dev docker0")
            self.hexec(f"ip addr add {self.container}/32 dev dockerc")
            self.hexec("ip link set docker0 up")
            self.hexec("ip link set dockerc up")
        except BaseException:
            self.close()
            raise
        return self

    def hexec(self, cmd, check=True):
        return sh(f"ip netns exec {self.host} {cmd}", check)

    def oexec(self, cmd, check=True):
        return sh(f"ip netns exec {self.out} {cmd}", check)

    def start_holder(self, sockets):
        self.holder = subprocess.Popen(["ip", "netns", "exec", self.host, sys.executable, "-c", HOLDER,
                                        json.dumps(sockets)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       text=True)
        line = self.holder.stdout.readline()
        assert line.strip() == "READY", line

    def stop_holder(self):
        if self.holder:
            self.holder.stdin.close()
            self.holder.wait(timeout=10)
            self.holder.stdout.close()
            self.holder = None

    def close(self):
        self.stop_holder()
        sh(f"ip netns del {self.host}", check=False)
        sh(f"ip netns del {self.out}", check=False)

    def __exit__(self, *exc):
        self.close()

    # ---- probing from outside -------------------------------------------------

    def probe(self, proto, addr, port, link, src, timeout=0.4):
        """Name of the socket a new connection reaches, or None. The probe
        leaves through link's device from src."""
        fam = "6" if ":" in addr else "4"
        code = (
            "import socket,sys\n"
            f"f=socket.AF_INET{'6' if fam == '6' else ''}\n"
            f"s=socket.socket(f, socket.SOCK_{'STREAM' if proto == 'tcp' else 'DGRAM'})\n"
            f"s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, {link.out_if!r}.encode())\n"
            f"s.bind(({src!r}, 0))\n"
            f"s.settimeout({timeout})\n"
            "try:\n"
            f"  s.connect(({addr!r},{port}))\n"
            + ("  print(s.recv(200).decode().strip())\n" if proto == "tcp" else
               "  s.send(b'hi'); print(s.recv(200).decode().strip())\n")
            + "except OSError:\n  print('-')\n")
        cp = self.oexec(f"{sys.executable} -c {sh_quote(code)}")
        out = cp.stdout.strip()
        return None if out in ("", "-") else out

    # ---- the ruleset -----------------------------------------------------------

    def counters(self):
        """(family, table, handle) -> packets of every rule with a counter."""
        cp = self.hexec("nft -j list ruleset")
        out = {}
        for item in json.loads(cp.stdout)["nftables"]:
            r = item.get("rule")
            if not r:
                continue
            for e in r["expr"]:
                if "counter" in e and isinstance(e["counter"], dict):
                    out[(r["family"], r["table"], r["handle"])] = e["counter"]["packets"]
        return out

    def audit(self, *args):
        cp = subprocess.run(["ip", "netns", "exec", self.host, pktest.PORTKIT, "audit", "--json", *args],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ, NO_COLOR="1"))
        return cp, [json.loads(l) for l in cp.stdout.splitlines() if l.strip()]


RULE_RE = re.compile(r"^(ip|ip6|inet|netdev) (\S+)/(\S+) handle (\d+)")


def rule_key(rule_text):
    m = RULE_RE.match(rule_text or "")
    return (m.group(1), m.group(2), int(m.group(4))) if m else None


def sh_quote(s):
    return "'" + s.replace("'", "'\"'\"'") + "'"
