#!/usr/bin/env python3
"""Plain TCP/UDP listeners for tests, run as one process (often inside a
network namespace via `ip netns exec`). servers.Listener starts it.

TCP: accepts, sends --banner (if any) and keeps the connection until the
peer closes it or --hold seconds pass. UDP: answers each datagram with
--udp-reply (if given) or echoes it back with --udp-echo, else stays silent
(a silent UDP port is what a scanner calls open|filtered).

This is not an emulation of any protocol: it is a bare socket that a test
uses as "something listens here". Bounded: it exits after --lifetime seconds.
"""
import argparse
import selectors
import signal
import socket
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--addr", action="append", required=True, help="address to bind (repeatable)")
    p.add_argument("--tcp", type=int, action="append", default=[])
    p.add_argument("--udp", type=int, action="append", default=[])
    p.add_argument("--banner", default=None, help="bytes sent on accept (Python escapes allowed)")
    p.add_argument("--udp-reply", default=None, help="datagram sent back to every datagram")
    p.add_argument("--udp-echo", action="store_true")
    p.add_argument("--hold", type=float, default=30.0)
    p.add_argument("--lifetime", type=float, default=3600.0)
    return p.parse_args(argv)


def unescape(s):
    return None if s is None else s.encode("latin-1").decode("unicode_escape").encode("latin-1")


def bind(family_addr, port, kind):
    fam = socket.AF_INET6 if ":" in family_addr else socket.AF_INET
    s = socket.socket(fam, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((family_addr, port))
    if kind == socket.SOCK_STREAM:
        s.listen(1024)
    s.setblocking(False)
    return s


def main(argv):
    a = parse_args(argv)
    banner = unescape(a.banner)
    udp_reply = unescape(a.udp_reply)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sel = selectors.DefaultSelector()
    for addr in a.addr:
        for port in a.tcp:
            sel.register(bind(addr, port, socket.SOCK_STREAM), selectors.EVENT_READ, "listen")
        for port in a.udp:
            sel.register(bind(addr, port, socket.SOCK_DGRAM), selectors.EVENT_READ, "udp")
    conns = {}
    end = time.monotonic() + a.lifetime
    while time.monotonic() < end:
        now = time.monotonic()
        for c, deadline in list(conns.items()):
            if now > deadline:
                sel.unregister(c)
                c.close()
                del conns[c]
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            if key.data == "listen":
                try:
                    c, _ = s.accept()
                except OSError:
                    continue
                c.setblocking(False)
                if banner:
                    try:
                        c.send(banner)
                    except OSError:
                        pass
                sel.register(c, selectors.EVENT_READ, "conn")
                conns[c] = now + a.hold
            elif key.data == "conn":
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    s.close()
                    conns.pop(s, None)
            else:
                try:
                    data, peer = s.recvfrom(65536)
                except OSError:
                    continue
                out = udp_reply if udp_reply is not None else (data if a.udp_echo else None)
                if out is not None:
                    try:
                        s.sendto(out, peer)
                    except OSError:
                        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
