"""One address vocabulary (issue 8 items 1 and 3, issue 9): IPv4-mapped
addresses are the IPv4 addresses they carry and obey the IPv4 rules in scan
targets, exclusions and forward; inet_aton's short forms (127.1, 0x7f.1,
010.0.0.1) are refused everywhere with the dotted quad they would mean and
never reach the resolver. Also forward's messages for habits from socat and
for a TARGET without its port."""
import os
import pty
import select
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from pktest import run  # noqa: E402


def one_line_error(test, cp, mention, code=2):
    test.assertEqual(cp.returncode, code, cp.stderr)
    lines = cp.stderr.splitlines()
    test.assertEqual(len(lines), 1, cp.stderr)
    test.assertIn(mention, lines[0])
    test.assertEqual(cp.stdout, "")


class MappedMulticast(unittest.TestCase):
    @pktest.need_root
    @pktest.need_tool("unshare")
    def test_mapped_multicast_and_broadcast_targets_are_refused(self):
        # These used to send real datagrams to 224.0.0.1. The scans run in a
        # network namespace of their own (only a down loopback), so that a
        # regression cannot put a datagram on a real link.
        for target in ("::ffff:224.0.0.1", "[::ffff:239.255.255.250]", "::ffff:224.0.0.0/100",
                       "::ffff:255.255.255.255"):
            cp = subprocess.run(["unshare", "--net", pktest.PORTKIT, "scan", "-sU", "-p", "1900",
                                 target], capture_output=True, text=True, timeout=20)
            one_line_error(self, cp, "broadcast" if target.endswith("255.255.255.255")
                           else "only unicast")

    def test_mapped_target_is_the_ipv4_host(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            cp = run("scan", "-p", str(port), "::ffff:127.0.0.1", "--json", timeout=30, check=0)
            self.assertIn('"host":"127.0.0.1"', cp.stdout.replace(" ", ""))
            cp = run("scan", "-p", str(port), "127.0.0.1", "--exclude", "::ffff:127.0.0.1",
                     timeout=30)
            self.assertNotEqual(cp.returncode, 0)
            self.assertIn("no hosts left", cp.stderr)


class AtonForms(unittest.TestCase):
    FORMS = {"127.1": "127.0.0.1", "0x7f.1": "127.0.0.1", "0x7f.0.0.1": "127.0.0.1",
             "010.0.0.1": "8.0.0.1", "2130706433": "127.0.0.1"}

    def test_scan_refuses_them_without_resolving(self):
        for form, meant in self.FORMS.items():
            cp = run("scan", "-p", "9", form, timeout=20)
            one_line_error(self, cp, meant)
            cp = run("scan", "-p", "9", "127.0.0.1", "--exclude", form, timeout=20)
            one_line_error(self, cp, meant)

    def test_forward_refuses_them_in_addresses_and_lists(self):
        for form, meant in self.FORMS.items():
            one_line_error(self, run("forward", "-n", ":18080", f"{form}:80"), meant)
            one_line_error(self, run("forward", "-n", f"{form}:18080", "127.0.0.1:80"), meant)
            one_line_error(self, run("forward", "-n", ":18080", "127.0.0.1:80", "--allow", form),
                           meant)


class ForwardMessages(unittest.TestCase):
    def test_target_without_port(self):
        one_line_error(self, run("forward", ":18080", "127.0.0.1"),
                       "'127.0.0.1': the target lacks :PORT (write 127.0.0.1:PORT)")
        one_line_error(self, run("forward", ":18080", "localhost"), "a TARGET is HOST:PORT")

    def test_socat_syntax_shows_the_portkit_form(self):
        one_line_error(self, run("forward", "TCP-LISTEN:18081,fork", "TCP:127.0.0.1:80"),
                       "write: portkit forward :18081 127.0.0.1:80")
        one_line_error(self, run("forward", "UDP4-LISTEN:5353", "UDP:127.0.0.1:53"),
                       "write: portkit forward --udp :5353 127.0.0.1:53")
        one_line_error(self, run("forward", ":18081", "TCP6:[::1]:80"), "socat address syntax")

    def test_port_in_use_names_the_holder(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            cp = run("forward", f"127.0.0.1:{port}", "127.0.0.1:9", timeout=20)
        finally:
            s.close()
        one_line_error(self, cp, "in use", code=3)
        if pktest.is_root():
            self.assertIn(f"held by python", cp.stderr)
            self.assertIn(f"pid {os.getpid()}", cp.stderr)
            self.assertIn(f"portkit who {port}", cp.stderr)

    @pktest.need_root
    @pktest.need_tool("setpriv")
    def test_privileged_port_names_the_sysctl(self):
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            start = int(f.read())
        if start == 0:
            raise unittest.SkipTest("every port is unprivileged here")
        cp = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                             pktest.PORTKIT, "forward", f"127.0.0.1:{start - 1}", "127.0.0.1:9"],
                            capture_output=True, text=True, timeout=20)
        one_line_error(self, cp, "ip_unprivileged_port_start", code=3)

    def test_loopback_exposure_warned_on_a_terminal_only(self):
        port = pktest_free_port()
        msg = "reachable from the network"
        # through a pipe: no warning
        p = subprocess.Popen([pktest.PORTKIT, "forward", f":{port}", "127.0.0.1:9"],
                             stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        p.terminate()
        self.assertNotIn(msg, p.communicate(timeout=10)[1])
        # on a terminal: one warning that says how to keep it local
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(pktest.PORTKIT, [pktest.PORTKIT, "forward", f":{port}", "127.0.0.1:9"])
        out = b""
        end = time.monotonic() + 5
        listen = f"listen on 127.0.0.1:{port}".encode()
        while (msg.encode() not in out or listen not in out) and time.monotonic() < end:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        os.kill(pid, 15)
        os.waitpid(pid, 0)
        os.close(fd)
        text = out.decode(errors="replace")
        self.assertEqual(text.count(msg), 1, text)
        self.assertIn(f"listen on 127.0.0.1:{port}", text)

    @pktest.need_root
    def test_root_warns_about_a_config_others_can_write(self):
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            conf = os.path.join(d, "fw.conf")
            with open(conf, "w") as f:
                f.write(f"127.0.0.1:{pktest_free_port()} 127.0.0.1:9\n")
            os.chmod(conf, 0o666)
            p = subprocess.Popen([pktest.PORTKIT, "forward", "-c", conf],
                                 stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)
            p.terminate()
            err = p.communicate(timeout=10)[1]
            self.assertEqual(err.count("may be changed by other users"), 1, err)
            os.chmod(conf, 0o644)
            p = subprocess.Popen([pktest.PORTKIT, "forward", "-c", conf],
                                 stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)
            p.terminate()
            self.assertNotIn("other users", p.communicate(timeout=10)[1])


class LogFile(unittest.TestCase):
    @pktest.need_root
    def test_log_is_not_written_through_a_planted_symlink(self):
        # a sticky world-writable directory, a link owned by another user
        # pointing at a root-owned file: the kernel's protected_symlinks
        # rule refuses it, and so does portkit whatever the sysctl says
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o1777)
            victim = os.path.join(d, "victim")
            with open(victim, "w") as f:
                f.write("precious\n")
            link = os.path.join(d, "fw.log")
            os.symlink(victim, link)
            os.lchown(link, 65534, 65534)
            cp = run("forward", ":18080", "127.0.0.1:80", "--log", link, timeout=20)
            one_line_error(self, cp, "protected_symlinks")
            with open(victim) as f:
                self.assertEqual(f.read(), "precious\n")


def pktest_free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    pktest.main()
