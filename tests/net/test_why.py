"""portkit why on every cause, each created for real in a namespace of our
own (sysctls are changed there only), and audit's policy mode and ls's
EXPOSED flag against a ruleset loaded in that namespace."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402

TAG, INDEX = "why", 70  # 71-74: the legacy iptables cases

RULESET = """
table inet pkwhy {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iif lo accept
    tcp dport { 22, 8080 } counter accept
  }
}
"""

# Held in the namespace until stdin closes.
HOLDER = r"""
import socket, sys, time
held = []
def tcp(fam, addr, port, v6only=None):
    s = socket.socket(fam, socket.SOCK_STREAM)
    if v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    s.bind((addr, port)); s.listen(8); held.append(s); return s
tcp(socket.AF_INET, "0.0.0.0", 22)
tcp(socket.AF_INET, "0.0.0.0", 8080)
tcp(socket.AF_INET, "0.0.0.0", 7000)
tcp(socket.AF_INET, "127.0.0.1", 9000)
tcp(socket.AF_INET, "0.0.0.0", 6001)          # dual-stack [::] conflicts with it
# TIME-WAIT on 6002 and 6003: the server side closes first, then the
# listener goes; the one on 6002 had SO_REUSEADDR, as most servers do
for port, reuse in ((6002, 1), (6003, 0)):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, reuse)
    srv.bind(("127.0.0.1", port)); srv.listen(8)
    c = socket.create_connection(("127.0.0.1", port)); a, _ = srv.accept()
    a.close(); time.sleep(0.2); c.close(); srv.close()
print("READY", flush=True)
sys.stdin.readline()
"""


@pktest.need_root
class Why(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ns = pktest.Netns(TAG, INDEX).__enter__()
        try:
            with tempfile.NamedTemporaryFile("w", suffix=".nft", delete=False) as f:
                f.write(RULESET)
            cls.ns.exec(f"nft -f {f.name}")
            os.unlink(f.name)
            cls.ns.exec("sysctl -qw net.ipv4.ip_unprivileged_port_start=1024")
            cls.ns.exec("sysctl -qw net.ipv4.ip_local_reserved_ports=45000")
            cls.ns.exec("sysctl -qw 'net.ipv4.ip_local_port_range=40000 50000'")
            cls.holder = cls.ns.hold(HOLDER)
        except BaseException:
            cls.ns.close()
            raise

    @classmethod
    def tearDownClass(cls):
        pktest.release(cls.holder)
        cls.ns.__exit__(None, None, None)

    def pk(self, *args, user=None):
        argv = ["ip", "netns", "exec", self.ns.name]
        if user:
            argv += ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "--inh-caps=-all"]
        return subprocess.run(argv + [pktest.PORTKIT, *map(str, args)], capture_output=True, text=True,
                              timeout=60, env=dict(os.environ, NO_COLOR="1"))

    def why(self, *args, user=None):
        cp = self.pk("why", "--json", *args, user=user)
        self.assertIn(cp.returncode, (0, 1), cp.stderr)
        out = json.loads(cp.stdout)
        return cp.returncode, out, {r["cause"]: r["text"] for r in out["reasons"]}

    # ---- why a port cannot be bound -------------------------------------------

    def test_held_by_a_process(self):
        rc, out, causes = self.why("8080", "--bind")
        self.assertEqual(rc, 1)
        self.assertFalse(out["usable"])
        self.assertIn("held", causes)
        self.assertRegex(causes["held"], r"0\.0\.0\.0:8080 is held by pid \d+ \(python3")

    def test_time_wait(self):
        rc, out, causes = self.why("6002")
        self.assertEqual(out["question"], "bind")
        self.assertEqual(rc, 1)
        self.assertIn("time-wait", causes)
        self.assertIn("SO_REUSEADDR binds anyway", causes["time-wait"])
        # SO_REUSEADDR needs both sides: the old server did not set it
        rc, out, causes = self.why("6003")
        self.assertEqual(rc, 1)
        self.assertIn("SO_REUSEADDR does not help here", causes["time-wait"])

    def test_privileged_without_capability(self):
        rc, out, causes = self.why("80", user=65534)
        self.assertEqual(rc, 1)
        self.assertIn("privileged", causes)
        self.assertIn("EACCES", causes["privileged"])
        rc, out, causes = self.why("80")      # root has the capability
        self.assertEqual(rc, 0)
        self.assertIn("this one has it", causes["privileged"])

    def test_reserved_and_ephemeral(self):
        rc, _, causes = self.why("45000")
        self.assertEqual(rc, 0)
        self.assertIn("reserved", causes)
        rc, _, causes = self.why("41000")
        self.assertEqual(rc, 0)
        self.assertIn("ephemeral", causes)
        self.assertIn("40000-50000", causes["ephemeral"])
        _, _, causes = self.why("30000")
        self.assertNotIn("ephemeral", causes)

    def test_dual_stack_conflict(self):
        rc, _, causes = self.why("6001", "--bind")
        self.assertEqual(rc, 1)
        self.assertIn("dual-stack", causes)
        self.assertIn("IPv6-only socket", causes["dual-stack"])

    def test_root_sysctls_untouched(self):
        # everything above changed the test namespace only
        with open("/proc/sys/net/ipv4/ip_local_reserved_ports") as f:
            self.assertNotIn("45000", f.read())

    # ---- why a port is not reachable ------------------------------------------

    def test_reachability(self):
        rc, out, causes = self.why("22")
        self.assertEqual((rc, out["question"]), (0, "reach"))
        self.assertIn("reachable", causes)
        rc, _, causes = self.why("7000")
        self.assertEqual(rc, 1)
        self.assertIn("inet pkwhy/input policy drop", causes["blocked"])
        rc, _, causes = self.why("9000")
        self.assertEqual(rc, 1)
        self.assertIn("loopback-only", causes)
        rc, _, causes = self.why("7777", "--reach")
        self.assertEqual(rc, 1)
        self.assertIn("nothing-listens", causes)

    def test_text_output(self):
        cp = self.pk("why", "7000")
        self.assertEqual(cp.returncode, 1)
        self.assertTrue(cp.stdout.startswith("7000/tcp: not reachable from outside\n"), cp.stdout)
        self.assertEqual(self.pk("why", "0").returncode, 2)
        self.assertEqual(self.pk("why", "22/icmp").returncode, 2)
        self.assertEqual(self.pk("why").returncode, 2)

    # ---- audit policy mode, ls ------------------------------------------------------

    def test_policy_mode(self):
        cp = self.pk("audit", "--expect", "22/tcp")
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn(":8080", cp.stdout)
        self.assertNotIn(":22 ", cp.stdout)
        self.assertNotIn(":7000", cp.stdout)            # blocked: no violation
        cp = self.pk("audit", "--expect", "22/tcp,8080/tcp")
        self.assertEqual((cp.returncode, cp.stdout), (0, ""), cp.stderr)
        cp = self.pk("audit", "--expect", "1-9999/tcp", "-j")
        self.assertEqual((cp.returncode, cp.stdout), (0, ""))
        with tempfile.NamedTemporaryFile("w", suffix=".policy") as f:
            f.write(f"# allowed\n22/tcp\n8080/tcp iface {self.ns.veth_ns}\n")
            f.flush()
            self.assertEqual(self.pk("audit", "--policy", f.name).returncode, 0)
        with tempfile.NamedTemporaryFile("w", suffix=".policy") as f:
            f.write("22/tcp\n8080/tcp iface nosuch0\n")
            f.flush()
            self.assertEqual(self.pk("audit", "--policy", f.name).returncode, 1)
        with tempfile.NamedTemporaryFile("w", suffix=".policy") as f:
            f.write("22\n8080/tcp from 10.0.0.0/8\n")
            f.flush()
            self.assertEqual(self.pk("audit", "--policy", f.name, "--from", self.ns.host_ip).returncode, 0)
            self.assertEqual(self.pk("audit", "--policy", f.name, "--from", "192.0.2.1").returncode, 1)
            self.assertEqual(self.pk("audit", "--policy", f.name).returncode, 1)

    def test_policy_bad_input(self):
        for args in (["--expect", "70000/tcp"], ["--expect", "22/icmp"], ["--expect", "x"],
                     ["--policy", "/nonexistent/policy"], ["--from", "300.1.1.1"], ["--from", "10.0.0.0/33"]):
            cp = self.pk("audit", *args)
            self.assertEqual(cp.returncode, 2, args)
            self.assertEqual(len(cp.stderr.splitlines()), 1, cp.stderr)
        with tempfile.NamedTemporaryFile("w", suffix=".policy") as f:
            f.write("22/tcp bogus word\n")
            f.flush()
            cp = self.pk("audit", "--policy", f.name)
            self.assertEqual(cp.returncode, 2)
            self.assertIn("line 1", cp.stderr)

    def test_without_root(self):
        cp = self.pk("audit", "--expect", "22/tcp", user=65534)
        self.assertEqual(cp.returncode, 3)
        self.assertIn("needs root", cp.stderr)
        cp = self.pk("audit", "-j", user=65534)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(len(cp.stderr.splitlines()), 1)
        verdicts = {(r["address"], r["port"]): r["verdict"] for r in map(json.loads, cp.stdout.splitlines())}
        self.assertEqual(verdicts[("0.0.0.0", 22)], "unknown")
        self.assertEqual(verdicts[("127.0.0.1", 9000)], "blocked")
        # a saved ruleset needs no root
        saved = self.ns.exec("nft -j list ruleset").stdout
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(saved)
        try:
            os.chmod(f.name, 0o644)
            cp = self.pk("audit", "--ruleset", f.name, "--expect", "22/tcp", user=65534)
            self.assertEqual(cp.returncode, 1, cp.stderr)
            self.assertIn(":8080", cp.stdout)
        finally:
            os.unlink(f.name)
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            f.write("{not json")
            f.flush()
            self.assertEqual(self.pk("audit", "--ruleset", f.name).returncode, 2)

    def test_ls_exposed_follows_the_firewall(self):
        cp = self.pk("ls", "-t", "--json")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        flags = {(s["local_addr"], s["local_port"]): s["flags"] for s in map(json.loads, cp.stdout.splitlines())}
        self.assertIn("EXPOSED", flags[("0.0.0.0", 22)])
        self.assertNotIn("EXPOSED", flags[("0.0.0.0", 7000)])     # dropped by policy
        self.assertNotIn("EXPOSED", flags[("127.0.0.1", 9000)])
        cp = self.pk("ls", "-t", "--json", user=65534)             # no ruleset: bind addresses
        flags = {(s["local_addr"], s["local_port"]): s["flags"] for s in map(json.loads, cp.stdout.splitlines())}
        self.assertIn("EXPOSED", flags[("0.0.0.0", 7000)])


@pktest.need_root
@unittest.skipUnless(shutil.which("iptables-legacy"), "needs iptables-legacy")
class LegacyIptables(unittest.TestCase):
    DUAL_STACK = ("import socket,sys\nh=[]\nfor p in sys.argv[1:]:\n"
                  "  s=socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n"
                  "  s.bind(('::', int(p))); s.listen(); h.append(s)\n"
                  "print('READY', flush=True); sys.stdin.read()")

    def audit_rows(self, ns, ports, code=DUAL_STACK):
        """audit -j in ns with a TCP listener for each port (by default on [::], dual stack)."""
        holder = ns.hold(code, *ports)
        try:
            cp = subprocess.run(["ip", "netns", "exec", ns.name, pktest.PORTKIT, "audit", "-j"],
                                capture_output=True, text=True, timeout=60)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            return cp, [json.loads(l) for l in cp.stdout.splitlines()]
        finally:
            pktest.release(holder)

    def test_empty_legacy_tables_change_nothing(self):
        with pktest.Netns("whyle0", INDEX + 2) as ns:
            # listing creates the tables (policies accept, no rules), as
            # tools that merely look at iptables-legacy do
            ns.exec("iptables-legacy -L -n")
            ns.exec("ip6tables-legacy -L -n")
            ns.exec("nft add table inet f")
            ns.exec("nft 'add chain inet f in { type filter hook input priority 0; policy drop; }'")
            ns.exec("nft add rule inet f in tcp dport 22 accept")
            cp, rows = self.audit_rows(ns, [22, 23])
            self.assertNotIn("legacy", cp.stderr)
            got = {(r["family"], r["port"]): r["verdict"] for r in rows}
            self.assertEqual(got[("ipv4", 22)], "reachable", rows)
            self.assertEqual(got[("ipv6", 23)], "blocked", rows)

    def one_family_unknown(self, tag, index, commands, unknown):
        """After commands, only the `unknown` family's verdicts are unknown."""
        known = "ipv6" if unknown == "ipv4" else "ipv4"
        with pktest.Netns(tag, index) as ns:
            for c in commands:
                ns.exec(c)
            cp, rows = self.audit_rows(ns, [22])
            self.assertIn("legacy iptables rules are loaded", cp.stderr)
            self.assertIn(f"{'IPv4' if unknown == 'ipv4' else 'IPv6'} verdicts are unknown", cp.stderr)
            self.assertEqual({r["family"]: r["verdict"] for r in rows}, {unknown: "unknown", known: "reachable"},
                             rows)

    def test_legacy_ipv4_rules_leave_ipv6_verdicts_known(self):
        self.one_family_unknown("whyle4", INDEX + 3, ["iptables-legacy -A INPUT -p tcp --dport 22 -j DROP",
                                                      "ip6tables-legacy -L -n"], "ipv4")

    def test_legacy_drop_policy_counts_as_rules(self):
        self.one_family_unknown("whyle6", INDEX + 4, ["ip6tables-legacy -P INPUT DROP"], "ipv6")

    def test_legacy_rules_make_verdicts_unknown(self):
        with pktest.Netns("whyleg", INDEX + 1) as ns:
            ns.exec("iptables-legacy -A INPUT -p tcp --dport 22 -j DROP")
            cp, rows = self.audit_rows(ns, [22], code="import socket,sys; s=socket.socket(); "
                                       "s.bind(('0.0.0.0', 22)); s.listen(); print('READY', flush=True); "
                                       "sys.stdin.read()")
            self.assertIn("legacy iptables rules are loaded", cp.stderr)
            self.assertTrue(rows)
            self.assertTrue(all(r["verdict"] == "unknown" for r in rows), rows)


if __name__ == "__main__":
    pktest.main()
