"""portkit forward --kernel over time: max-conns held by live connections,
reloads under load, the table gone after SIGTERM/SIGINT and after a killed
forwarder (next start, --cleanup). Same three-namespace topology as
test_forward_kernel.py; nothing outside the test's namespaces is touched."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from fwtest import wait_until  # noqa: E402
# Its own namespace names and addresses ("ko", 34-36): ctest may run this
# file beside test_forward_kernel.py.
from test_forward_kernel import LPORT, NSNODE, Topology, target_rule  # noqa: E402


@pktest.need_root
@pktest.need_tool("nft")
class KernelForwardOps(unittest.TestCase):
    def test_max_conns_via_ct_count(self):
        with Topology("ko", 34) as t:
            t.serve("serve-tcp")
            l4, t4 = target_rule(t)
            with t.forwarder("--kernel", "--enable-forwarding", "--max-conns", "2", l4, t4) as fw:
                self.assertIn("ct count over 2", t.ruleset())
                # Two slow transfers (8 s) hold both places; a third is dropped
                # for the whole of its 5 s connect timeout.
                slow = [t.cli.popen(["python3", NSNODE, "send-tcp", t.cli.host_ip, str(LPORT),
                                     "800000", "", "100000"], stdout=subprocess.PIPE, text=True)
                        for _ in range(2)]
                time.sleep(1)
                third = t.client("send-tcp", t.cli.host_ip, LPORT, 4096)
                self.assertFalse(third["ok"], third)
                fw.signal(signal.SIGUSR1)
                st = fw.wait_event(lambda e: e.get("event") == "kernel-stats",
                                   what="kernel counters")[0]["message"]
                self.assertGreaterEqual(int(dict(kv.split("=") for kv in st.split())
                                            ["limited_packets"]), 1, st)
                for p in slow:
                    out, _ = p.communicate(timeout=60)
                    self.assertTrue(json.loads(out)["ok"], out)
                wait_until(lambda: t.client("send-tcp", t.cli.host_ip, LPORT, 4096)["ok"],
                           timeout=20, step=0.5, what="a place after the slow ones ended")
                self.assertEqual(fw.stop(), 0)

    def test_reload_under_load_keeps_connections_and_replaces_the_table(self):
        with Topology("ko", 34) as t:
            t.serve("serve-tcp")
            l4, t4 = target_rule(t)
            conf = os.path.join(tempfile.mkdtemp(prefix="pk-kfwd-"), "fw.conf")
            with open(conf, "w") as f:
                f.write(f"{l4} {t4} tcp kernel\n")
            with t.forwarder("-c", conf, "--enable-forwarding") as fw:
                table = t.ruleset()
                # Eight transfers of 2 s each, reloads while they run.
                load = [t.cli.popen(["python3", NSNODE, "send-tcp", t.cli.host_ip, str(LPORT),
                                     "1000000", "", "500000"], stdout=subprocess.PIPE, text=True)
                        for _ in range(8)]
                time.sleep(0.5)
                with open(conf, "w") as f:
                    f.write(f"{l4} {t4} tcp kernel\n"
                            f"{t.cli.host_ip}:{LPORT + 1} {t4} tcp kernel\n")
                for _ in range(3):
                    fw.signal(signal.SIGHUP)
                    time.sleep(0.3)
                for p in load:
                    out, _ = p.communicate(timeout=60)
                    r = json.loads(out)
                    self.assertTrue(r["ok"] and r["up_match"] and r["down_match"], r)
                self.assertNotEqual(t.ruleset(), table)
                self.assertIn(f"tcp dport {LPORT + 1}", t.ruleset())
                self.assertEqual(len(fw.find(lambda e: e.get("event") == "reload" and
                                             e["message"].startswith("ok"))), 3)
                r = t.client("send-tcp", t.cli.host_ip, LPORT + 1, 10000)
                self.assertTrue(r["ok"] and r["up_match"], r)
                self.assertEqual(fw.stop(), 0)

    def test_sigterm_removes_every_rule_and_restores_sysctls(self):
        with Topology("ko", 34) as t:
            t.serve("serve-tcp")
            before = t.ruleset()
            sysctls = [t.sysctl(n) for n in ("net.ipv4.ip_forward", "net.netfilter.nf_conntrack_acct")]
            l4, t4 = target_rule(t)
            for sig in (signal.SIGTERM, signal.SIGINT):
                with t.forwarder("--kernel", "--enable-forwarding", "-a", t.cli.ip, l4, t4) as fw:
                    self.assertNotEqual(t.ruleset(), before)
                    self.assertTrue(t.client("send-tcp", t.cli.host_ip, LPORT, 1000)["ok"])
                    fw.signal(sig)
                    self.assertEqual(fw.stop(), 0)
                self.assertEqual(t.ruleset(), before)
                self.assertEqual([t.sysctl(n) for n in ("net.ipv4.ip_forward",
                                                        "net.netfilter.nf_conntrack_acct")], sysctls)

    def test_killed_forwarder_cleaned_up_by_next_start_and_by_cleanup(self):
        with Topology("ko", 34) as t:
            before = t.ruleset()
            l4, t4 = target_rule(t)
            for how in ("next-start", "cleanup"):
                with t.forwarder("--kernel", "--enable-forwarding", l4, t4) as fw:
                    fw.proc.kill()
                    fw.proc.wait()
                self.assertIn("portkit_fwd_", t.ruleset())
                self.assertEqual(t.sysctl("net.ipv4.ip_forward"), "1")
                if how == "cleanup":
                    cp = t.portkit("forward", "--kernel", "--cleanup")
                    self.assertEqual(cp.returncode, 0, cp.stderr)
                    self.assertIn("no longer runs", cp.stderr)
                else:
                    with t.forwarder("--kernel", "--enable-forwarding", l4, t4) as fw:
                        warn = fw.wait_event(lambda e: "no longer runs" in e.get("reason", ""),
                                             what="stale table removed")
                        self.assertIn(f"portkit_fwd_{fw.proc.pid}", t.ruleset())
                        self.assertTrue(warn)
                        self.assertEqual(fw.stop(), 0)
                self.assertEqual(t.ruleset(), before)
                self.assertEqual(t.sysctl("net.ipv4.ip_forward"), "0")
            cp = t.portkit("forward", "--kernel", "--cleanup")
            self.assertEqual(cp.returncode, 0)
            self.assertIn("no tables", cp.stderr)


if __name__ == "__main__":
    pktest.main()
