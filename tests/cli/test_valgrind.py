"""The release binary runs valgrind-clean (no leaks, no invalid accesses).
Each verb adds the commands that exercise it to COMMANDS."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402

RELEASE_BIN = os.environ.get("PK_RELEASE_BIN", "")
HISTORY_DB = os.path.join(tempfile.gettempdir(), f"pk-valgrind-history-{os.getpid()}.db")

COMMANDS = [
    (["info", "80", "53/udp", "ssh", "31337"], None),
    (["info", "--json", "6000-6003/tcp"], None),
    (["info", "--search", "kerberos"], None),
    (["info", "-"], "22\n70000\n443/tcp\nhttp\n"),
    (["info", "70000"], None),
    (["ls", "-a"], None),
    (["ls", "--json", "--proc", "-a"], None),
    (["ls", "--state", "bogus"], None),
    (["who", "22"], None),
    (["who", "--json", "ssh"], None),
    (["free", "-n", "3", "--both", "--unassigned"], None),
    (["--registry", os.path.join(pktest.SOURCE_DIR, "data", "iana-service-names-port-numbers.csv"),
      "info", "443/tcp"], None),
    (["scan", "-p", "1-3000", "127.0.0.1", "--all-states", "--json"], None),
    (["scan", "-p", "1-200", "localhost", "-oX", "/dev/null", "-oG", "/dev/null", "-oL", "/dev/null"], None),
    (["scan", "-sU", "-p", "9,19", "127.0.0.1", "--max-retries", "1"], None),
    (["scan", "-p", "0-70000", "127.0.0.1"], None),
    (["scan", "-iL", "-", "-p", "80"], "127.0.0.1 # loopback\n10.0.0.0/33\n"),
    (["audit"], None),
    (["audit", "--json", "--ruleset", os.path.join(pktest.SOURCE_DIR, "fuzz", "corpus", "firewall", "ufw.json")], None),
    (["audit", "--expect", "22/tcp", "--ruleset",
      os.path.join(pktest.SOURCE_DIR, "fuzz", "corpus", "firewall", "handwritten.json")], None),
    (["audit", "--expect", "22/bogus"], None),
    (["why", "22"], None),
    (["why", "--json", "--bind", "53/udp"], None),
    (["scan", "-p", "1-100", "127.0.0.1", "--save", "--label", "vg", "--db", HISTORY_DB], None),
    (["scan", "-p", "1-100", "127.0.0.1", "--save", "--db", HISTORY_DB], None),
    (["ls", "--save", "--db", HISTORY_DB], None),
    (["history", "--db", HISTORY_DB], None),
    (["history", "show", "--json", "vg", "--db", HISTORY_DB], None),
    (["history", "import", "--db", HISTORY_DB,
      os.path.join(pktest.SOURCE_DIR, "fuzz", "corpus", "nmapxml", "scripts-udp-v6.xml")], None),
    (["diff", "--json", "vg", "last~1", "--db", HISTORY_DB], None),
    (["diff", os.path.join(pktest.SOURCE_DIR, "fuzz", "corpus", "nmapxml", "nmap-sv.xml"),
      os.path.join(pktest.SOURCE_DIR, "fuzz", "corpus", "nmapxml", "nmap-connect.xml")], None),
    (["report", "vg..last~1", "-o", "/dev/null", "--db", HISTORY_DB], None),
    (["scan", "-p", "1-100", "127.0.0.1", "-oH", "/dev/null"], None),
    (["history", "rm", "vg", "--db", HISTORY_DB], None),
    (["watch", "--count", "x"], None),
]


@unittest.skipUnless(shutil.which("valgrind"), "needs valgrind")
@unittest.skipUnless(RELEASE_BIN and os.path.exists(RELEASE_BIN), "needs the release build (make test sets PK_RELEASE_BIN)")
class Valgrind(unittest.TestCase):
    def test_commands_are_clean(self):
        for args, stdin in COMMANDS:
            with self.subTest(args=args):
                cp = subprocess.run(
                    ["valgrind", "-q", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                     "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                     RELEASE_BIN, *args], input=stdin, capture_output=True, text=True, timeout=300,
                    env=dict(os.environ, NO_COLOR="1"))
                self.assertNotEqual(cp.returncode, 99, cp.stderr[-3000:])
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(HISTORY_DB + suffix):
                os.unlink(HISTORY_DB + suffix)


if __name__ == "__main__":
    pktest.main()
