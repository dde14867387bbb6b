"""portkit forward's command line: bad input is one clear line and exit 2,
--check shows what would run, a port that cannot be had is exit 3."""
import os
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from pktest import run  # noqa: E402


class BadInput(unittest.TestCase):
    def bad(self, *args, mention):
        cp = run("forward", *args, timeout=20)
        self.assertEqual(cp.returncode, 2, cp.stderr)
        lines = cp.stderr.splitlines()
        self.assertEqual(len(lines), 1, cp.stderr)
        self.assertTrue(lines[0].startswith("portkit: forward: "), lines[0])
        self.assertIn(mention, lines[0])
        self.assertEqual(cp.stdout, "")

    def test_command_line_mistakes(self):
        self.bad(mention="expected LISTEN TARGET")
        self.bad(":8080", mention="expected LISTEN TARGET")
        self.bad(":8080", "127.0.0.1:80", "extra", mention="too many")
        self.bad(":70000", "127.0.0.1:80", mention="70000")
        self.bad(":8080", "127.0.0.1:0", mention="port 0")
        self.bad(":8080", "::1:80", mention="brackets")
        self.bad(":8080", "[::1]:80x", mention="no tcp service named '80x'")
        self.bad(":no-such-svc", "127.0.0.1:80", mention="no-such-svc")
        self.bad(":8080", "999.1.1.1:80", mention="not an IPv4 address")
        self.bad(":8080", "127.0.0.1:80", "--idle-timeout", "soon", mention="--idle-timeout")
        self.bad(":8080", "127.0.0.1:80", "--connect-timeout", "0", mention="more than 0")
        self.bad(":8080", "127.0.0.1:80", "--max-conns", "-3", mention="--max-conns")
        self.bad(":8080", "127.0.0.1:80", "--copy", "fast", mention="--copy")
        self.bad(":8080", "127.0.0.1:80", "--allow", "10.1.0.0/8", mention="host bits")
        self.bad(":8080", "127.0.0.1:80", "--deny", "nowhere", mention="--deny")
        self.bad(":8080", "127.0.0.1:80", "--bogus", mention="--bogus")
        self.bad(":8080", "127.0.0.1:80", "-c", "/nonexistent", mention="not both")
        self.bad("-c", "/nonexistent/fw.conf", mention="/nonexistent/fw.conf")

    def test_config_errors_name_file_and_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("# ok so far\n:8080 127.0.0.1:80\n\n:8081 127.0.0.1:80 speed=fast\n")
        try:
            self.bad("-c", f.name, mention=f"{f.name}:4: unknown option 'speed'")
        finally:
            os.unlink(f.name)
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("# nothing but comments\n")
        try:
            self.bad("-c", f.name, mention="no forwarding rules")
        finally:
            os.unlink(f.name)


class Check(unittest.TestCase):
    def test_check_prints_the_rules(self):
        cp = run("forward", ":http", "127.0.0.1:8080", "--check", "--allow", "127.0.0.0/8",
                 "--idle-timeout", "90s", check=0)
        lines = cp.stdout.splitlines()
        self.assertEqual(lines[0], "allow 127.0.0.0/8")
        self.assertEqual(lines[1].split()[:3], ["*:80", "127.0.0.1:8080", "tcp"])
        self.assertIn("idle-timeout=90s", lines[1])
        cp = run("forward", "-u", "[::]:5353", "127.0.0.1:domain", "-n", check=0)
        self.assertEqual(cp.stdout.split()[:3], ["[::]:5353", "127.0.0.1:53", "udp"])
        self.assertIn("idle-timeout=60s", cp.stdout)

    def test_check_output_is_a_config_that_parses_to_itself(self):
        example = os.path.join(pktest.SOURCE_DIR, "doc", "forward.conf.example")
        first = run("forward", "-c", example, "--check", check=0).stdout
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write(first)
        try:
            second = run("forward", "-c", f.name, "--check", check=0).stdout
        finally:
            os.unlink(f.name)
        self.assertEqual(first, second)
        self.assertIn("deny 127.0.0.66/32", first)

    def test_help(self):
        cp = run("forward", "--help", check=0)
        for word in ("LISTEN TARGET", "--udp", "--config", "--allow", "--deny", "--log-json",
                     "--idle-timeout", "--max-conns", "--drain", "HUP"):
            self.assertIn(word, cp.stdout)
        self.assertEqual(run("help", "forward", check=0).stdout, cp.stdout)


class CannotListen(unittest.TestCase):
    def test_port_in_use_is_exit_3(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        cp = run("forward", f"127.0.0.1:{port}", "127.0.0.1:9", timeout=20)
        s.close()
        self.assertEqual(cp.returncode, 3, cp.stderr)
        self.assertIn("in use", cp.stderr)
        self.assertEqual(len(cp.stderr.splitlines()), 1, cp.stderr)


if __name__ == "__main__":
    pktest.main()
