#!/usr/bin/env python3
"""A host full of sockets for bench/ls.sh: LISTENERS listening TCP sockets
and CONNS established loopback connections (each one a client socket and an
accepted socket), spread over three processes because one process may hold
at most 20,000 files here.

Everything lives on loopback addresses of its own (127.77.0.0/16) and on
ports below the ephemeral range, so it neither takes ports other programs
pick by themselves nor sends a byte anywhere but loopback. Ports already
taken by someone else are skipped.

Prints "READY <sockets>" once everything is up, then holds the sockets until
stdin closes or it is told to stop (SIGTERM/SIGINT).

    python3 bench/sockload.py [LISTENERS] [CONNS]
"""
import os
import resource
import select
import signal
import socket
import sys

LISTEN_ADDR = "127.77.0.1"
SERVER_ADDR = "127.77.0.2"
CLIENT_ADDR = "127.77.1.1"
LISTEN_PORTS = range(20000, 32000)   # below 32768: outside the ephemeral range
CLIENT_PORTS = range(8000, 20000)


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def listeners(count, out):
    socks = []
    for port in LISTEN_PORTS:
        if len(socks) == count:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((LISTEN_ADDR, port))
            s.listen(8)
        except OSError:
            s.close()
            continue
        socks.append(s)
    out.write(f"{len(socks)}\n")
    out.flush()
    return socks


def server(lsock, count, out):
    conns = []
    lsock.settimeout(10)   # clients that could not connect never arrive
    while len(conns) < count:
        try:
            c, _ = lsock.accept()
        except socket.timeout:
            break
        conns.append(c)
    out.write(f"{len(conns) + 1}\n")
    out.flush()
    return conns


def clients(port, count, out):
    conns = []
    for cport in CLIENT_PORTS:
        if len(conns) == count:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((CLIENT_ADDR, cport))
            s.connect((SERVER_ADDR, port))
        except OSError:
            s.close()
            continue
        conns.append(s)
    out.write(f"{len(conns)}\n")
    out.flush()
    return conns


def child(fn, *args):
    """Runs fn in a child process that reports one number through a pipe and
    then holds its sockets until killed."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise_fd_limit()
        with os.fdopen(w, "w") as out:
            held = fn(*args, out)
        signal.pause()
        del held
        os._exit(0)
    os.close(w)
    return pid, os.fdopen(r)


def main():
    n_listen = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    n_conns = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    kids = []

    def stop(*_):
        for pid, _ in kids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid, _ in kids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    kids.append(child(listeners, n_listen))
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    for port in range(19990, 20000):
        try:
            lsock.bind((SERVER_ADDR, port))
            break
        except OSError:
            continue
    lsock.listen(4096)
    sport = lsock.getsockname()[1]
    kids.append(child(server, lsock, n_conns))
    lsock.close()   # the server child holds it now
    kids.append(child(clients, sport, n_conns))
    total = 0
    for _, pipe in kids:
        line = pipe.readline().strip()
        if not line:
            print("sockload: a worker died", file=sys.stderr)
            stop()
        total += int(line)
    print(f"READY {total} pids {' '.join(str(p) for p, _ in kids)}", flush=True)
    # hold until stdin closes or a signal arrives
    while True:
        r, _, _ = select.select([sys.stdin], [], [])
        if r and not sys.stdin.readline():
            stop()


if __name__ == "__main__":
    main()
