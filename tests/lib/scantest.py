"""Helpers for portkit's scan tests: running a scan and reading every port's
state, firewall rules inside a test namespace, and checking XML against
nmap's DTD and ndiff."""
import json
import os
import random
import shutil
import subprocess
import unittest

import pktest

NMAP_DTD = "/usr/share/nmap/nmap.dtd"


class ServedHosts(unittest.TestCase):
    """A test class whose hosts (namespaces, cls.nss; cls.ns the first)
    run real servers (cls.servers). Subclasses start both in serve(); a
    failure half-way stops whatever had started."""

    @classmethod
    def serve(cls):
        raise NotImplementedError

    @classmethod
    def host(cls, tag, index, **kw):
        ns = pktest.Netns(tag, index, **kw).__enter__()
        cls.nss.append(ns)
        if len(cls.nss) == 1:
            cls.ns = ns
        return ns

    @classmethod
    def setUpClass(cls):
        cls.nss, cls.servers = [], []
        try:
            cls.serve()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.stop()
        for ns in cls.nss:
            ns.close()


def scan(*args, timeout=120, check=None, env=None):
    """Runs `portkit scan ARGS --json --all-states`; returns (CompletedProcess,
    {(host, proto, port): (state, reason, record)})."""
    cp = pktest.run("scan", *args, "--json", "--all-states", "--no-progress", timeout=timeout, env=env)
    if check is not None and cp.returncode != check:
        raise AssertionError(f"portkit scan {' '.join(map(str, args))}: exit {cp.returncode}, expected "
                             f"{check}\nstderr: {cp.stderr[-2000:]}")
    res = {}
    for line in cp.stdout.splitlines():
        d = json.loads(line)
        if "status" in d:
            continue  # a host line from discovery (up with -sn, or down)
        key = (d["host"], d["proto"], d["port"])
        assert key not in res, f"{key} reported twice"
        res[key] = (d["state"], d["reason"], d)
    return cp, res


def states(results, host=None):
    """{(proto, port): state} of one host (or of the only host scanned)."""
    hosts = {k[0] for k in results}
    if host is None:
        assert len(hosts) <= 1, f"several hosts scanned: {sorted(hosts)}"
    return {k[1:]: v[0] for k, v in results.items() if host is None or k[0] == host}


def reasons(results):
    return {k[1:]: v[1] for k, v in results.items()}


def by_state(st):
    """{state: set of (proto, port)}."""
    out = {}
    for k, s in st.items():
        out.setdefault(s, set()).add(k)
    return out


def nft(ns, rules):
    """Loads an nftables ruleset (text) into the namespace only."""
    ns.exec("nft -f -", input=rules)


def nft_filter(ns, *statements, name="pkscan"):
    """One input-hook filter chain in the namespace holding statements."""
    body = "\n".join(f"    {s}" for s in statements)
    nft(ns, f"table inet {name} {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n"
            f"{body}\n  }}\n}}\n")


def nft_flush(ns, name="pkscan"):
    ns.exec(f"nft delete table inet {name}", check=False)


def random_ports(n, lo=1025, hi=65000, avoid=(), rng=None):
    rng = rng or random.Random()
    out = set()
    while len(out) < n:
        p = rng.randint(lo, hi)
        if p not in avoid:
            out.add(p)
    return sorted(out)


def xmllint_valid(path):
    """(ok, message) of validating path against nmap's DTD."""
    if not shutil.which("xmllint") or not os.path.exists(NMAP_DTD):
        return None, "xmllint or nmap.dtd missing"
    cp = subprocess.run(["xmllint", "--noout", "--dtdvalid", NMAP_DTD, path], capture_output=True,
                        text=True)
    return cp.returncode == 0, cp.stderr


def ndiff_port_states(a, b):
    """Runs ndiff on two XML files and returns the port lines it shows as
    removed and added, as {(port/proto, state)} sets. Service names may
    differ (nmap's table versus IANA's); states must not."""
    cp = subprocess.run(["ndiff", a, b], capture_output=True, text=True)
    if cp.returncode not in (0, 1):
        raise AssertionError(f"ndiff failed ({cp.returncode}): {cp.stderr[-2000:]}")
    minus, plus = set(), set()
    for line in cp.stdout.splitlines():
        f = line[1:].split()
        if line[:1] in "-+" and len(f) >= 2 and "/" in f[0] and f[0].split("/")[0].isdigit():
            (minus if line[0] == "-" else plus).add((f[0], f[1]))
    return cp, minus, plus
