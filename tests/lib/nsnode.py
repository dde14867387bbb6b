"""A test host's half of a transfer, run inside a network namespace with
`ip netns exec NS python3 nsnode.py MODE ...` (a process cannot move its
threads between namespaces, so each side is its own process).

  serve-tcp ADDR PORT      for each connection: read to EOF, answer with the
                           SHA-256 of what came, a newline, then a payload
                           of the size and seed the client's first 12 bytes
                           name; prints "ready" once listening
  serve-udp ADDR PORT      echo every datagram back to its sender
  send-tcp HOST PORT SIZE [SOURCE] [RATE]
                           send SIZE random bytes (at RATE bytes/s, when
                           given) and shut down writing; print one JSON line:
                           {"ok": true, "up": N, "down": N, "up_match": bool,
                           "down_match": bool} or {"ok": false, "error": ...}
  send-udp HOST PORT COUNT SIZE
                           send COUNT datagrams of SIZE random bytes one at
                           a time, each waiting for its echo; print JSON with
                           how many came back byte-exact

Every wait is bounded (socket timeouts); nothing here talks to anything
but the addresses given, which the tests put on their own namespaces.
"""
import hashlib
import json
import os
import socket
import sys
import threading
import time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def payload(seed, size):
    out = bytearray()
    block = hashlib.sha256(seed).digest()
    while len(out) < size:
        out += block
        block = hashlib.sha256(block).digest()
    return bytes(out[:size])


def serve_tcp(addr, port):
    ls = socket.socket(family(addr), socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(512)
    print("ready", flush=True)

    def one(c):
        c.settimeout(120)
        h = hashlib.sha256()
        head = b""
        try:
            while True:
                b = c.recv(1 << 20)
                if not b:
                    break
                if len(head) < 12:
                    head += b[:12 - len(head)]
                h.update(b)
            size = int.from_bytes(head[:4], "big") if len(head) >= 4 else 0
            c.sendall(h.hexdigest().encode() + b"\n" + payload(head[4:12], size))
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def serve_udp(addr, port):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, port))
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(65536)
        s.sendto(data, peer)


def send_tcp(host, port, size, source=None, rate=None):
    down_size = size // 2 + 1
    data = down_size.to_bytes(4, "big") + os.urandom(max(size, 12) - 4)
    try:
        s = socket.socket(family(host), socket.SOCK_STREAM)
        s.settimeout(5)
        if source:
            s.bind((source, 0))
        s.connect((host, port))
        s.settimeout(120)
    except OSError as e:
        print(json.dumps({"ok": False, "error": str(e)}), flush=True)
        return

    def send():
        if not rate:
            s.sendall(data)
        else:
            step = max(1, rate // 20)
            for i in range(0, len(data), step):
                s.sendall(data[i:i + step])
                time.sleep(step / rate)
        s.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=send)
    t.start()
    got = bytearray()
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            got += b
    except OSError as e:
        print(json.dumps({"ok": False, "error": str(e)}), flush=True)
        return
    t.join()
    s.close()
    line, _, rest = bytes(got).partition(b"\n")
    print(json.dumps({
        "ok": True, "up": len(data), "down": len(got),
        "up_match": line.decode(errors="replace") == hashlib.sha256(data).hexdigest(),
        "down_match": hashlib.sha256(rest).digest() ==
        hashlib.sha256(payload(data[4:12], down_size)).digest(),
    }), flush=True)


def send_udp(host, port, count, size):
    s = socket.socket(family(host), socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((host, port))
    exact = 0
    up = 0
    for _ in range(count):
        d = os.urandom(size)
        s.send(d)
        up += len(d)
        try:
            if s.recv(65536) == d:
                exact += 1
        except OSError:
            pass
    s.close()
    print(json.dumps({"ok": exact == count, "sent": count, "exact": exact, "bytes": up}),
          flush=True)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "serve-tcp":
        serve_tcp(args[0], int(args[1]))
    elif mode == "serve-udp":
        serve_udp(args[0], int(args[1]))
    elif mode == "send-tcp":
        send_tcp(args[0], int(args[1]), int(args[2]), args[3] if len(args) > 3 and args[3] else None,
                 int(args[4]) if len(args) > 4 else None)
    elif mode == "send-udp":
        send_udp(args[0], int(args[1]), int(args[2]), int(args[3]))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
