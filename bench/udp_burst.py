#!/usr/bin/env python3
"""UDP loss for bursts of datagrams, on loopback: sends BURSTS bursts of
about 4 MiB each (datagrams of SIZE bytes, back to back) to PORT and counts
how many reach a receiver listening on SINK_PORT (which it runs itself),
directly or through a forwarder between them.

    udp_burst.py SEND_PORT SINK_PORT SIZE [BURSTS]

Prints one line: "SIZE sent received loss%". The receiver's buffer is 8 MiB
(what a server tuned for bursts would ask), the same for every path, so the
difference is the forwarder's."""
import socket
import sys
import threading
import time

send_port, sink_port, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
bursts = int(sys.argv[4]) if len(sys.argv) > 4 else 5
per_burst = max(16, (4 << 20) // size)

sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for opt in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
    try:
        sink.setsockopt(socket.SOL_SOCKET, opt, 8 << 20)
        break
    except OSError:
        continue
sink.bind(("127.0.0.1", sink_port))
sink.settimeout(0.2)
got = 0
quiet_since = [time.monotonic()]


def receive():
    global got
    while True:
        try:
            sink.recv(65536)
            got += 1
            quiet_since[0] = time.monotonic()
        except socket.timeout:
            continue
        except OSError:
            return


threading.Thread(target=receive, daemon=True).start()
out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
out.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
payload = b"x" * size
# One datagram first, until it arrives: the forwarder's session is open and
# the path works before anything is measured.
for _ in range(100):
    out.sendto(payload[:16], ("127.0.0.1", send_port))
    time.sleep(0.02)
    if got:
        break
else:
    sys.exit(f"nothing reaches 127.0.0.1:{sink_port} through port {send_port}")
time.sleep(0.2)
got = 0
sent = 0
for _ in range(bursts):
    for _ in range(per_burst):
        try:
            out.sendto(payload, ("127.0.0.1", send_port))
            sent += 1
        except OSError:
            pass  # the sender's own buffer is full: counted as not sent
    time.sleep(0.3)  # the burst drains before the next
while time.monotonic() - quiet_since[0] < 0.5:
    time.sleep(0.1)
loss = 100.0 * (sent - got) / sent if sent else 0.0
print(f"{size} {sent} {got} {loss:.1f}")
