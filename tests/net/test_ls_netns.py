"""portkit ls and who inside a network namespace of our own, where no other
program opens sockets: counts must equal ss's exactly, and the /proc/net
fallback must agree with netlink socket for socket."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402

TAG, INDEX = "ls", 10

# Runs inside the namespace: listeners on every kind of address, UDP
# sockets, established connections (both ends here), then waits for stdin.
HOLDER = r"""
import socket, sys
held = []
def listen(fam, addr, port=0, v6only=False):
    s = socket.socket(fam, socket.SOCK_STREAM)
    if v6only:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port)); s.listen(64); held.append(s); return s.getsockname()[1]
ports = [listen(socket.AF_INET, "0.0.0.0") for _ in range(5)]
ports += [listen(socket.AF_INET, "127.0.0.1") for _ in range(5)]
ports += [listen(socket.AF_INET, sys.argv[2] + ".%d.2" % int(sys.argv[1])) for _ in range(3)]
ports += [listen(socket.AF_INET6, "::", v6only=True) for _ in range(3)]
ports += [listen(socket.AF_INET6, "::1") for _ in range(3)]
ports.append(listen(socket.AF_INET, "127.0.0.1", 22))   # privileged, well-known
for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
    u = socket.socket(fam, socket.SOCK_DGRAM); u.bind((addr, 0)); held.append(u)
srv = held[5]
for _ in range(20):
    c = socket.create_connection(("127.0.0.1", srv.getsockname()[1])); a, _ = srv.accept()
    held += [c, a]
print("READY", flush=True)
sys.stdin.readline()
"""


@pktest.need_root
class InNamespace(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ns = pktest.Netns(TAG, INDEX).__enter__()
        try:
            cls.holder = cls.ns.hold(HOLDER, INDEX, pktest.NET4)
        except BaseException:
            cls.ns.close()  # tearDownClass does not run when setUpClass fails
            raise

    @classmethod
    def tearDownClass(cls):
        pktest.release(cls.holder)
        cls.ns.__exit__(None, None, None)

    def inside(self, *argv, env=None):
        e = dict(os.environ, NO_COLOR="1")
        e.update(env or {})
        return subprocess.run(["ip", "netns", "exec", self.ns.name, *map(str, argv)],
                              capture_output=True, text=True, timeout=60, env=e)

    def pk_json(self, *args, env=None):
        cp = self.inside(pktest.PORTKIT, *args, "--json", env=env)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return [json.loads(l) for l in cp.stdout.splitlines()]

    def ss_count(self, *flags):
        cp = self.inside("ss", "-H", *flags)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return len(cp.stdout.splitlines())

    @pktest.need_tool("ss")
    def test_counts_equal_ss(self):
        self.assertEqual(len(self.pk_json("ls", "-t", "-l")), self.ss_count("-tln"))
        self.assertEqual(len(self.pk_json("ls", "-t", "-l")), 20)
        self.assertEqual(len(self.pk_json("ls", "-u")), self.ss_count("-uln"))
        self.assertEqual(len(self.pk_json("ls", "-t", "-a", "--state", "established")),
                         self.ss_count("-tn", "state", "established"))
        self.assertEqual(len(self.pk_json("ls", "-t", "--state", "established")), 40)

    def key(self, r):
        return tuple(str(r[k]) for k in ("proto", "family", "local_addr", "local_port", "remote_addr",
                                         "remote_port", "state", "inode", "pid", "process", "user",
                                         "service", "range", "flags"))

    def test_proc_fallback_agrees_with_netlink(self):
        nl = self.pk_json("ls", "-a", env={"PORTKIT_SOCKETS": "netlink"})
        pr = self.pk_json("ls", "-a", "--proc")
        self.assertEqual(len(nl), 20 + 3 + 40)
        self.assertEqual(sorted(map(self.key, nl)), sorted(map(self.key, pr)))

    def test_every_socket_has_the_holder_pid(self):
        rows = self.pk_json("ls", "-a")
        self.assertTrue(all(r["pid"] == self.holder.pid for r in rows), rows[:2])

    def test_flags_by_address(self):
        rows = self.pk_json("ls", "-t")
        by_addr = {}
        for r in rows:
            by_addr.setdefault(r["local_addr"], []).append(r)
        for r in by_addr["0.0.0.0"] + by_addr["::"] + by_addr[f"{pktest.NET4}.{INDEX}.2"]:
            self.assertIn("EXPOSED", r["flags"])
        for r in by_addr["127.0.0.1"] + by_addr["::1"]:
            self.assertNotIn("EXPOSED", r["flags"])
        ssh = [r for r in rows if r["local_port"] == 22]
        self.assertEqual(len(ssh), 1)
        self.assertEqual(ssh[0]["service"], "ssh")
        self.assertIn("PRIVILEGED", ssh[0]["flags"])

    def test_who_inside(self):
        cp = self.inside(pktest.PORTKIT, "who", "--json", "22/tcp")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        r = json.loads(cp.stdout.splitlines()[0])
        self.assertEqual(r["pid"], self.holder.pid)
        cp = self.inside(pktest.PORTKIT, "who", "23/tcp")
        self.assertEqual(cp.returncode, 1)


if __name__ == "__main__":
    pktest.main()
