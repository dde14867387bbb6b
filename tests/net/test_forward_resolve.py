"""portkit forward (the relay) with a host-name target that moves: a real
DNS server (dnsmasq) in a namespace of the test's own answers for the
name, the test moves the name to another address, and the relay must
follow, when the TTL runs out and when a connect fails. The namespace's
resolv.conf and hosts come from /etc/netns/NAME (ip netns exec mounts
them), made here and removed after."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from fwtest import Forwarder, wait_until  # noqa: E402

NAME = "moving.portkit.test"
PORT, LPORT = 9100, 8100

# Answers each connection with its tag and closes: which address a
# connection reached is then plain.
TAGGER = """
import socket, sys, threading
def serve(addr, tag):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, %d)); s.listen(64)
    while True:
        c, _ = s.accept(); c.sendall(tag.encode()); c.close()
for a in sys.argv[1:]:
    threading.Thread(target=serve, args=(a, a), daemon=True).start()
print("ready", flush=True)
threading.Event().wait(300)
""" % PORT


class Setup:
    def __init__(self, ttl):
        self.ttl = ttl

    def __enter__(self):
        self.ns = pktest.Netns("kres", 33, link=False).__enter__()
        self.etc = f"/etc/netns/{self.ns.name}"
        os.makedirs(self.etc, exist_ok=True)
        with open(f"{self.etc}/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.1\noptions attempts:1 timeout:1\n")
        with open(f"{self.etc}/hosts", "w") as f:
            f.write("127.0.0.1 localhost\n")
        self.tmp = tempfile.mkdtemp(prefix="pk-kres-")
        self.names = os.path.join(self.tmp, "names")
        self.move_to("127.0.0.1")
        self.procs = []
        self.dns = self.ns.popen(
            ["dnsmasq", "-k", "--no-resolv", "--no-hosts", "--port=53", "--listen-address=127.0.0.1",
             "--bind-interfaces", f"--addn-hosts={self.names}", f"--local-ttl={self.ttl}",
             f"--pid-file={self.tmp}/dnsmasq.pid", "--user=root", "--log-facility=-"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(self.dns)
        wait_until(lambda: self.ns.exec(f"getent hosts {NAME}", check=False).returncode == 0,
                   timeout=10, what="dnsmasq answering")
        return self

    def move_to(self, addr):
        # In place: dnsmasq rereads the file on SIGHUP.
        with open(self.names, "w") as f:
            f.write(f"{addr} {NAME}\n")
        if getattr(self, "dns", None):
            self.dns.send_signal(signal.SIGHUP)

    def servers(self, *addrs):
        p = self.ns.popen(["python3", "-c", TAGGER, *addrs], stdout=subprocess.PIPE, text=True)
        self.procs.append(p)
        assert p.stdout.readline().strip() == "ready"
        return p

    def fetch(self):
        """Which server a connection through the relay reached ('' if none)."""
        code = ("import socket\ntry:\n s=socket.create_connection(('127.0.0.1',%d),5)\n"
                " print(s.recv(100).decode())\nexcept OSError: print('')" % LPORT)
        return self.ns.exec(f"python3 -c \"{code}\"", check=False).stdout.strip()

    def forwarder(self, *extra):
        return Forwarder(*extra, f"127.0.0.1:{LPORT}", f"{NAME}:{PORT}",
                         prefix=("ip", "netns", "exec", self.ns.name))

    def __exit__(self, *exc):
        pktest.stop_procs(self.procs)
        self.ns.close()
        shutil.rmtree(self.etc, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


@pktest.need_root
@pktest.need_tool("dnsmasq")
class Reresolve(unittest.TestCase):
    def test_follows_the_name_when_its_ttl_runs_out(self):
        with Setup(ttl=2) as s:
            s.servers("127.0.0.1", "127.0.0.2")
            with s.forwarder() as fw:
                self.assertEqual(s.fetch(), "127.0.0.1")
                s.move_to("127.0.0.2")
                # Both servers still answer: only the TTL can move the relay.
                wait_until(lambda: s.fetch() == "127.0.0.2", timeout=20, step=0.5,
                           what="the relay to follow the name")
                moved = fw.find(lambda e: "is now 127.0.0.2" in e.get("reason", ""))
                self.assertEqual(len(moved), 1, fw.raw)
                self.assertEqual(fw.stop(), 0)

    def test_a_refused_connect_looks_the_name_up_again(self):
        with Setup(ttl=3600) as s:
            old = s.servers("127.0.0.1")
            s.servers("127.0.0.2")
            with s.forwarder() as fw:
                self.assertEqual(s.fetch(), "127.0.0.1")
                s.move_to("127.0.0.2")
                old.kill()
                old.wait()
                time.sleep(1.2)  # past the once-a-second guard after the start-up lookup
                # The first client after the move meets a refusal (the TTL is
                # an hour); the relay looks again and the next one gets through.
                self.assertEqual(s.fetch(), "")
                wait_until(lambda: s.fetch() == "127.0.0.2", timeout=10, step=0.3,
                           what="the relay to follow the name after a refusal")
                self.assertTrue(fw.find(lambda e: e.get("end") == "refused"))
                self.assertEqual(fw.stop(), 0)

    @pktest.need_tool("nft")
    def test_kernel_leaves_a_host_name_target_to_the_relay_and_says_so(self):
        with Setup(ttl=2) as s:
            s.servers("127.0.0.1", "127.0.0.2")
            with s.forwarder("--kernel") as fw:
                warn = fw.find(lambda e: "forwarded by the relay" in e.get("reason", ""))
                self.assertEqual(len(warn), 1, fw.raw)
                self.assertIn("host name", warn[0]["reason"])
                self.assertEqual(s.ns.exec("nft list tables").stdout, "")
                self.assertEqual(s.fetch(), "127.0.0.1")
                s.move_to("127.0.0.2")
                wait_until(lambda: s.fetch() == "127.0.0.2", timeout=20, step=0.5,
                           what="the relay to follow the name")
                self.assertEqual(fw.stop(), 0)


if __name__ == "__main__":
    pktest.main()
