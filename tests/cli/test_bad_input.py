"""Bad input, as a careless user or an attacker types it, across every verb.

For each invocation: exit status 2, exactly one line on stderr that names
the offending input (quoted safely: no control byte, valid UTF-8), nothing
on stdout, no signal, and memory bounded (an address-space limit, or
ASan's RSS limit for the sanitiser build). A subset runs under valgrind when
the release build is there (make test)."""
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402

MEM_LIMIT = 512 << 20
RELEASE_BIN = os.environ.get("PK_RELEASE_BIN", "")


def is_asan(path):
    with open(path, "rb") as f:
        return b"AddressSanitizer" in f.read()


ASAN = is_asan(pktest.PORTKIT)
TMP = tempfile.mkdtemp(prefix="pk-badinput-")


def tmpfile(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


# Input files, made once.
F_NUL = tmpfile("nul.txt", b"127.0.0.1\x00junk\n")
F_BIN = tmpfile("bin.dat", bytes(range(256)) * 64)
F_BADTARGET = tmpfile("targets.txt", "127.0.0.1\n10.0.0.0/33\n")
F_ESCTARGET = tmpfile("esc.txt", "127.0.0.1\n\x1b]0;pwned\x07\n")
F_LONGTOKEN = tmpfile("long.txt", "1" * 5000 + "\n")
F_CSV_EMPTY = tmpfile("empty.csv", "")
F_CSV_GARBAGE = tmpfile("garbage.csv", "this,is\nnot,\"an iana\nregistry")
F_CSV_HEADER = tmpfile("header.csv", "Service Name,Port Number\nx,notaport\n")
F_CSV_BIN = tmpfile("bin.csv", bytes(range(256)) * 16)
F_FWD_GARBAGE = tmpfile("fwd.conf", "this is not a rule\n")
F_FWD_BIN = tmpfile("fwdbin.conf", bytes(range(256)) * 4)
F_FWD_BADPORT = tmpfile("fwdport.conf", "0.0.0.0 70000 127.0.0.1 80\n")
BIG = os.path.join(TMP, "big.txt")  # 80 MiB of valid addresses: over the 64 MiB cap
with open(BIG, "wb") as f:
    line = b"127.0.0.1\n" * 1024 * 1024
    for _ in range(8):
        f.write(line)
KEEP = tmpfile("keep.xml", "keep me\n")

E = "\x1b[2J"           # a terminal escape inside an argument
NL = "a\nb"             # a newline inside an argument
BADUTF = b"\xff\xfe\xc3("  # not UTF-8


def case(*args, needle=None, stdin=None, timeout=30):
    return (args, needle, stdin, timeout)


def sanitized(s):
    if isinstance(s, bytes):
        s = s.decode("utf-8", "replace").replace("\ufffd", "?")
    return "".join(c if 0x20 <= ord(c) != 0x7F else "?" for c in s)


CASES = []

# ---- global options and verbs ----
CASES += [
    case("--bogus", "info", "80", needle="--bogus"),
    case("-x", "info", "80", needle="-x"),
    case("frobnicate", needle="frobnicate"),
    case("sc" + E + "an", needle="sc?[2Jan"),
    case(b"\xff\xfeverb", needle="??verb"),
    case("--color=sometimes", "info", "80", needle="sometimes"),
    case("info", "80", "--color=purple", needle="purple"),
    case("help", "nosuchverb", needle="nosuchverb"),
    case("--registry", "/nonexistent/iana.csv", "info", "80", needle="/nonexistent/iana.csv"),
    case("--registry", TMP, "info", "80", needle="directory"),
    case("--registry", "/dev/zero", "info", "80", needle="/dev/zero"),
    case("--registry", F_CSV_EMPTY, "info", "80", needle="empty.csv"),
    case("--registry", F_CSV_GARBAGE, "info", "80", needle="garbage.csv"),
    case("--registry", F_CSV_HEADER, "info", "80", needle="header.csv"),
    case("--registry", F_CSV_BIN, "info", "80", needle="bin.csv"),
    case("info", "--registry", "/dev/zero", "80", needle="/dev/zero"),
    case("ls", "--registry", TMP, needle="directory"),
    case("who", "--registry", "/nonexistent/x.csv", "22", needle="/nonexistent/x.csv"),
    case("scan", "--registry", F_CSV_GARBAGE, "-p", "9", "127.0.0.1", needle="garbage.csv"),
]

# ---- info ----
BAD_QUERIES = ["70000", "65536", "99999999999999999999", "80-70", "1-70000", "80/xyz", "80/",
               "/tcp", "1-2-3", "80//tcp", "80/tcp/udp", "6000-6010/icmp", "80 443",
               "-", "--", "80-", "-80-", "", " ", "ssh/xyz", "a" * 300,
               "x" + E + "y", NL, "\x07", "é/xyz"]  # UTF-8 names are queries (远程桌面); a bad transport is not
for q in BAD_QUERIES:
    if q in ("-", "--"):
        continue
    CASES.append(case("info", q, needle=sanitized(q)[:30] or None))
CASES.append(case("info", BADUTF, needle="??"))
CASES.append(case("info", "-80", needle="-80"))
CASES.append(case("info", "22", "-6553", needle="-6553"))
CASES.append(case("info", "--search", "", needle="--search"))
CASES.append(case("info", "--search", "x", "80", needle="not both"))
CASES.append(case("info", needle="what port"))
CASES.append(case("info", "--bogus", needle="--bogus"))
CASES.append(case("info", "-q", needle="-q"))
CASES.append(case("info", "--json=yes", "80", needle="--json"))
CASES.append(case("info", "--search", needle="--search"))
for line in ["70000", "x" + E + "y", "\x1b]0;title\x07", "1-2-3", "a" * 5000]:
    CASES.append(case("info", "-", stdin=(line + "\n").encode(), needle="stdin line 1"))
CASES.append(case("info", "-", stdin=b"\xff\xfe\n", needle="stdin line 1"))
CASES.append(case("info", "-", stdin=b"80\x00\n", needle="NUL"))
CASES.append(case("info", "-", stdin=open("/dev/zero", "rb").read(1 << 20), needle="NUL"))
CASES.append(case("info", "-", stdin=bytes(range(256)), needle="stdin line 1"))

# ---- ls ----
for p in ["0", "70000", "-1", "65536", "no-such-service-xyz", "5-2", "1-70000", "80,,", "",
          ",", "x" + E, NL, "a" * 200]:
    for opt in ("--port", "--sport", "--dport"):
        needle = sanitized(p)[:30] if p and p not in (",",) else opt
        if p == "80,,":
            needle = None
        CASES.append(case("ls", opt, p, needle=needle))
for pid in ["0", "-1", "abc", "99999999999", "1.5", "", " 1", "+1", "0x10"]:
    CASES.append(case("ls", "--pid", pid, needle="--pid"))
for st in ["bogus", "listen,bogus", "", ",", "LISTEN;", "x" + E]:
    CASES.append(case("ls", "--state", st, needle={"listen,bogus": "bogus", ",": "--state"}.get(
        st, sanitized(st)[:20] or "--state")))
CASES += [
    case("ls", "--process", "", needle="--process"),
    case("ls", "extra", needle="extra"),
    case("ls", "--bogus", needle="--bogus"),
    case("ls", "-z", needle="-z"),
    case("ls", "--port", needle="--port"),
    case("ls", "--no-process", "--pid", "1", needle="--no-process"),
    case("ls", "-s", needle="-s"),
    case("ls", "--json=1", needle="--json"),
]

# ---- who ----
for p in ["0", "70000", "-1", "no-such-service-xyz", "80/icmp", "80/", "/tcp", "xyz:80",
          "1.2.3.4:80", "a" * 200, "x" + E, NL, ":", ":0", "tcp:", "80/tcp/udp", "sctp:80"]:
    CASES.append(case("who", p, needle={":0": "'0'"}.get(p, sanitized(p)[:30])))
CASES.append(case("who", BADUTF, needle="??"))
CASES += [
    case("who", needle="which port"),
    case("who", "22", "80", needle="80"),
    case("who", "--bogus", "22", needle="--bogus"),
    case("who", "-k", "22", needle="--yes"),
    case("who", "--yes", "22", needle="-k"),
    case("who", "-x", "22", needle="-x"),
]

# ---- free ----
for r in ["0-70000", "5-2", "abc", "", "-", "1-", "-5", "70000", "1-2-3", "x" + E, "99999999999-1"]:
    CASES.append(case("free", "--range", r, needle="--range" if not sanitized(r) else None))
for n in ["0", "-1", "70000", "abc", "", "1.5", " 3", "+3", "99999999999999999999999"]:
    CASES.append(case("free", "--count", n, needle="--count"))
CASES += [
    case("free", "8080", needle="8080"),
    case("free", "--bogus", needle="--bogus"),
    case("free", "-r", needle="-r"),
    case("free", "-z", needle="-z"),
]

# ---- scan ----
T = "127.0.0.1"
for p in ["0", "0-70000", "70000", "9-3", "http,nosuchservicename", "22,,23", "S:80", "", ",",
          "1-2-3", "x" + E, "T:", "U:0", "a" * 300, "80/tcp", "http*[", NL]:
    CASES.append(case("scan", "-p", p, T, needle=None))
for t in ["10.0.0.0/33", "10.0.0.256", "224.0.0.1", "255.255.255.255", "ff02::1", "10.0.0.0/8",
          "1.2.3.4.5", "[::1", "x" + E, "a" * 300, "-", "999.1.1.1",
          "10.0.0.1-0", "fe80::1%nosuchif0"]:
    CASES.append(case("scan", "-p", "9", t, needle=None, timeout=60))
CASES.append(case("scan", "-p", "9", BADUTF, needle=None))
NUMERIC = ["--top-ports", "--max-inflight", "--max-host-inflight", "--max-retries", "--seed"]
for opt in NUMERIC:
    for v in ["-1", "abc", "", "1.5", "99999999999999999999999", "0x10"]:
        CASES.append(case("scan", opt, v, "-p", "9", T, needle=opt))
for opt in ["--min-rtt-timeout", "--max-rtt-timeout", "--initial-rtt-timeout",
            "--service-timeout", "--scan-delay", "--host-timeout"]:
    for v in ["5parsecs", "-1s", "", "2d", "99999999h", "1.2.3s"]:
        CASES.append(case("scan", opt, v, "-p", "9", T, needle=opt))
for opt in ["--rate", "--max-rate", "--min-rate"]:
    for v in ["0", "-5", "abc", "", "1e99"]:
        CASES.append(case("scan", opt, v, "-p", "9", T, needle=opt))
# --host-timeout is the library's unsigned milliseconds: at most 1000 h
CASES.append(case("scan", "--host-timeout", "1001h", "-p", "9", T, needle="--host-timeout"))
# (-sS and the -P pings are valid now: only malformed ones are refused)
for opt in ["--reasonx", "-A", "-O", "--script", "--script=vuln", "-sC", "-d",
            "--packet-trace", "-x", "--bogus", "-sX", "-PX", "-PS0", "-PSx", "-T6", "-Tx", "-iX", "-oZ"]:
    CASES.append(case("scan", opt, "-p", "9", T, needle=opt.split("=")[0][:9]))
CASES += [
    case("scan", "-o", "x.txt", "-p", "9", T, needle="format letter"),
    case("scan", "-oX", "/nonexistent/d/x.xml", "-p", "9", T, needle="/nonexistent/d/x.xml"),
    case("scan", "-oX", TMP, "-p", "9", T, needle="directory"),
    case("scan", "-oX", KEEP, "-oJ", KEEP, "-p", "9", T, needle="both write"),
    case("scan", "-iL", F_BADTARGET, "-oL", F_BADTARGET, "-p", "9", needle="input"),
    case("scan", "-iL", "/nonexistent/list", "-p", "9", needle="/nonexistent/list"),
    case("scan", "-iL", TMP, "-p", "9", needle="directory"),
    case("scan", "-iL", "/dev/zero", "-p", "9", needle="/dev/zero", timeout=60),
    case("scan", "-iL", "/dev/urandom", "-p", "9", needle="/dev/urandom", timeout=60),
    case("scan", "-iL", BIG, "-p", "9", needle="64 MiB", timeout=60),
    case("scan", "-iL", F_NUL, "-p", "9", needle="NUL"),
    case("scan", "-iL", F_BIN, "-p", "9", needle="NUL"),
    case("scan", "-iL", F_BADTARGET, "-p", "9", needle="/33"),
    case("scan", "-iL", F_ESCTARGET, "-p", "9", needle=None),
    case("scan", "-iL", F_LONGTOKEN, "-p", "9", needle="too long"),
    case("scan", "-iL", "-", "-p", "9", stdin=b"10.0.0.0/33\n", needle="/33"),
    case("scan", "-iL", "-", "-p", "9", stdin=b"\x00" * 100000, needle="NUL"),
    case("scan", "--excludefile", "/dev/zero", "-p", "9", T, needle="/dev/zero", timeout=60),
    case("scan", "--excludefile", F_NUL, "-p", "9", T, needle="NUL"),
    case("scan", "--excludefile", "/nonexistent/ex", "-p", "9", T, needle="/nonexistent/ex"),
    case("scan", "--exclude", "", "-p", "9", T, needle="--exclude"),
    case("scan", "--exclude", "10.0.0.0/33", "-p", "9", T, needle="/33"),
    case("scan", "-p", "9", T, "--exclude", T, needle="no hosts left"),
    case("scan", "-p", "9", needle="what should be scanned"),
    case("scan", "--min-rtt-timeout", "500ms", "--max-rtt-timeout", "100ms", "-p", "9", T,
         needle="--min-rtt-timeout"),
    case("scan", "--min-rate", "10", "--max-rate", "5", "-p", "9", T, needle="--min-rate"),
    case("scan", "--open", "--all-states", "-p", "9", T, needle="--open"),
    case("scan", "-p", "80", "--top-ports", "10", T, needle="not both"),
    case("scan", "--shard", "0/3", "-p", "9", T, needle="0/3"),
    case("scan", "--shard", "x" + E, "-p", "9", T, needle="x?[2J"),
    case("scan", "-s", "-p", "9", T, needle="-s"),
    case("scan", "-p", needle="-p"),
    case("scan", "-oA", "", "-p", "9", T, needle="-oA"),
]

# ---- forward (bad input only: a valid forward would run) ----
CASES += [
    case("forward", needle=None),
    case("forward", ":18080", needle=None),
    case("forward", ":70000", "127.0.0.1:80", needle="70000"),
    case("forward", ":8080", "127.0.0.1:0", needle=None),
    case("forward", "x" + E + ":1", "127.0.0.1:80", needle=None),
    case("forward", ":8080", "127.0.0.1:80", "--max-conns", "-3", needle="--max-conns"),
    case("forward", ":8080", "127.0.0.1:80", "--idle-timeout", "soon", needle="--idle-timeout"),
    case("forward", ":8080", "127.0.0.1:80", "--copy", "magic", needle="magic"),
    case("forward", ":8080", "127.0.0.1:80", "--allow", "10.0.0.0/33", needle="/33"),
    case("forward", ":8080", "127.0.0.1:80", "--bogus", needle="--bogus"),
    case("forward", "-c", "/dev/zero", needle="/dev/zero", timeout=60),
    case("forward", "-c", TMP, needle=None),
    case("forward", "-c", "/nonexistent/fwd.conf", needle="/nonexistent/fwd.conf"),
    case("forward", "-c", F_FWD_GARBAGE, needle=None),
    case("forward", "-c", F_FWD_BIN, needle=None),
    case("forward", "-c", F_FWD_BADPORT, needle="70000"),
    case("forward", "-c", F_FWD_GARBAGE, ":8080", "127.0.0.1:80", needle="not both"),
]


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_capped(binary, args, stdin, timeout):
    env = dict(os.environ, NO_COLOR="1")
    env.pop("PORTKIT_REGISTRY", None)
    if ASAN and binary == pktest.PORTKIT:
        # ASan reserves terabytes of address space; it caps RSS itself
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":hard_rss_limit_mb=%d" % (MEM_LIMIT >> 20)
        pre = None
    else:
        pre = limit_memory
    if binary == pktest.PORTKIT and list(args[:1]) == ["scan"]:
        args = ["scan", "--unprivileged", *args[1:]]  # never raw packets from this namespace
    argv = [binary] + [a if isinstance(a, bytes) else a.encode() for a in args]
    return subprocess.run(argv, input=stdin if stdin is not None else b"", capture_output=True,
                          timeout=timeout, env=env, preexec_fn=pre, cwd=TMP)


class BadInput(unittest.TestCase):
    def check(self, binary, args, needle, stdin, timeout):
        cp = run_capped(binary, args, stdin, timeout)
        shown = [a if isinstance(a, str) else repr(a) for a in args]
        self.assertGreaterEqual(cp.returncode, 0, f"{shown}: killed by signal {-cp.returncode}")
        self.assertEqual(cp.returncode, 2, f"{shown}: exit {cp.returncode}: {cp.stderr[-500:]!r}")
        self.assertEqual(cp.stdout, b"", f"{shown}: stdout {cp.stdout[:200]!r}")
        err = cp.stderr.decode("utf-8")  # raises on invalid UTF-8
        self.assertTrue(err.endswith("\n"), f"{shown}: {err!r}")
        lines = err.split("\n")[:-1]
        self.assertEqual(len(lines), 1, f"{shown}: {err!r}")
        self.assertTrue(lines[0].startswith("portkit: "), f"{shown}: {err!r}")
        self.assertFalse(any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in lines[0]),
                         f"{shown}: control bytes in {err!r}")
        if needle:
            self.assertIn(needle, lines[0], f"{shown}")
        return lines[0]

    def test_every_verb(self):
        self.assertGreaterEqual(len(CASES), 250)
        verbs = {next((a for a in args if a in ("info", "ls", "who", "free", "scan", "forward")), None)
                 for args, *_ in CASES}
        self.assertLessEqual({"info", "ls", "who", "free", "scan", "forward"}, verbs)
        for args, needle, stdin, timeout in CASES:
            with self.subTest(args=[a if isinstance(a, str) else repr(a) for a in args][:6]):
                self.check(pktest.PORTKIT, args, needle, stdin, timeout)

    def test_bare_portkit_is_short_usage(self):
        cp = run_capped(pktest.PORTKIT, [], None, 10)
        self.assertEqual(cp.returncode, 2)
        self.assertEqual(cp.stdout, b"")
        self.assertLessEqual(len(cp.stderr.decode().splitlines()), 5, cp.stderr)
        self.assertIn(b"Usage: portkit", cp.stderr)
        long = run_capped(pktest.PORTKIT, ["--help"], None, 10)
        self.assertEqual(long.returncode, 0)
        self.assertGreater(len(long.stdout.decode().splitlines()), 15)


@unittest.skipUnless(shutil.which("valgrind"), "needs valgrind")
@unittest.skipUnless(RELEASE_BIN and os.path.exists(RELEASE_BIN), "needs the release build (make test sets PK_RELEASE_BIN)")
class UnderValgrind(unittest.TestCase):
    """Every 12th case, clean under valgrind: no leak, no invalid access."""

    def test_subset(self):
        for args, needle, stdin, timeout in CASES[::12]:
            if any(a in ("/dev/zero", "/dev/urandom", BIG) for a in args):
                continue  # valgrind makes the 64 MiB read slow; the cap is tested above
            with self.subTest(args=[a if isinstance(a, str) else repr(a) for a in args][:6]):
                argv = [a if isinstance(a, bytes) else a.encode() for a in args]
                cp = subprocess.run(
                    ["valgrind", "-q", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                     "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                     RELEASE_BIN.encode(), *argv], input=stdin or b"", capture_output=True,
                    timeout=300, env=dict(os.environ, NO_COLOR="1"), cwd=TMP)
                self.assertEqual(cp.returncode, 2, cp.stderr[-3000:])


def tearDownModule():
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    pktest.main()
