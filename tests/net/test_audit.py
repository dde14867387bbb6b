"""portkit audit against ground truth: five real rulesets loaded in a host
namespace (hand-written nftables with sets and jumps, ufw's own rules,
Docker-style iptables-nft DNAT chains built with the iptables command, a
default-drop policy with ct state, per-interface and per-source rules); an
outside namespace connects to every listener. For each listener and family
the verdict must equal what the outside saw, no verdict may be unknown,
and the rule named must be the one whose counter moved for that probe."""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import fwnet  # noqa: E402
import fwtest  # noqa: E402
import pktest  # noqa: E402

TAG, INDEX = "aud", 60


def listeners(bed):
    a = bed.a
    return [
        # proto, family, address, port, v6only
        ["tcp", 4, "0.0.0.0", 22, 0], ["tcp", 4, "0.0.0.0", 8080, 0], ["tcp", 4, "0.0.0.0", 9000, 0],
        ["tcp", 4, "0.0.0.0", 7000, 0], ["tcp", 4, "127.0.0.1", 6379, 0], ["tcp", 4, a.host4, 8443, 0],
        ["tcp", 4, bed.container, 80, 0],
        ["tcp", 6, "::", 22, 1], ["tcp", 6, "::", 8080, 1], ["tcp", 6, "::", 9000, 1], ["tcp", 6, "::", 7000, 1],
        ["tcp", 6, "::1", 6380, 1], ["tcp", 6, a.host6, 8443, 1], ["tcp", 6, "::", 9443, 0],
        ["udp", 4, "0.0.0.0", 10053, 0], ["udp", 4, "0.0.0.0", 10054, 0], ["udp", 4, "127.0.0.1", 10055, 0],
        ["udp", 6, "::", 10053, 1], ["udp", 6, "::", 10054, 1],
    ]


def handwritten(bed):
    a, b = bed.a, bed.b
    return f"""
table inet pkfilter {{
  set web {{ type inet_service; elements = {{ 8080, 8443 }} }}
  set admins4 {{ type ipv4_addr; flags interval; elements = {{ {a.net}.0/28, 192.0.2.0/24 }} }}
  set admins6 {{ type ipv6_addr; flags interval; elements = {{ {a.out6}/128 }} }}
  set pairs {{ type ipv4_addr . inet_service; elements = {{ {b.out4} . 7000 }} }}
  map udpv {{ type inet_service : verdict; elements = {{ 10053 : accept, 10054 : drop }} }}
  chain input {{
    type filter hook input priority filter; policy drop;
    ct state established,related counter accept
    iif lo counter accept
    tcp dport 22 counter jump admin
    tcp dport @web counter accept
    ip saddr . tcp dport @pairs counter accept
    meta l4proto udp counter udp dport vmap @udpv
    tcp dport {{ 9000, 9443 }} counter goto services
    counter reject
  }}
  chain admin {{
    ip saddr @admins4 counter accept
    ip6 saddr @admins6 counter accept
    counter drop
  }}
  chain services {{
    iifname "{b.host_if}" counter drop
    counter accept
  }}
}}
table ip pkextra {{
  chain in4 {{
    type filter hook input priority 10; policy accept;
    tcp dport 8443 counter drop
  }}
}}
"""


def default_drop(bed):
    return """
table inet pkdd {
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related counter accept
    ct state invalid counter drop
    iifname "lo" counter accept
    tcp dport 22 counter accept
    udp dport 10053 counter accept
  }
}
"""


def per_iface_source(bed):
    a, b = bed.a, bed.b
    return f"""
table ip pkif4 {{
  chain input {{
    type filter hook input priority 0; policy drop;
    iifname "{a.host_if}" tcp dport 8080 counter accept
    ip saddr {b.out4} tcp dport 9000 counter accept
    iifname "{b.host_if}" udp dport 10054 counter accept
    ip saddr {a.net}.0/24 udp dport 10053 counter accept
    counter drop
  }}
}}
table ip6 pkif6 {{
  chain input {{
    type filter hook input priority 0; policy accept;
    iifname != "{a.host_if}" tcp dport 8080 counter drop
    ip6 saddr != {a.out6} tcp dport 9000 counter drop
    iifname "{b.host_if}" counter reject
  }}
}}
"""


def load_nft(bed, text):
    with tempfile.NamedTemporaryFile("w", suffix=".nft", delete=False) as f:
        f.write(text)
    try:
        bed.hexec(f"nft -f {f.name}")
    finally:
        os.unlink(f.name)


def load_ufw(bed):
    """ufw run for real inside the host namespace, its /etc/ufw a private
    copy bind-mounted in a mount namespace of its own (the machine's files
    and sysctls stay untouched)."""
    tmp = tempfile.mkdtemp(prefix="pk-ufw-")
    try:
        shutil.copytree("/etc/ufw", os.path.join(tmp, "etc-ufw"))
        with open("/etc/default/ufw") as src, open(os.path.join(tmp, "default-ufw"), "w") as dst:
            for line in src:
                dst.write("IPT_SYSCTL=/dev/null\n" if line.startswith("IPT_SYSCTL=") else line)
        cmds = [f"mount --bind {tmp}/etc-ufw /etc/ufw", f"mount --bind {tmp}/default-ufw /etc/default/ufw",
                "ufw --force enable", "ufw allow 22/tcp", "ufw deny 8080/tcp",
                f"ufw allow from {bed.a.net}.0/24 to any port 9000 proto tcp", "ufw allow 10053/udp",
                "ufw allow 8443/tcp", "ufw reject 7000/tcp"]
        bed.hexec("sh -c " + fwnet.sh_quote(" && ".join(cmds)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_docker(bed):
    """Port publishing as Docker builds it with iptables (nft backend):
    nat PREROUTING → DOCKER for local destinations, DNAT per published port,
    the FORWARD chains, and a host INPUT policy of its own."""
    c = bed.container
    ipt = "iptables"
    cmds = [
        f"{ipt} -t nat -N DOCKER",
        f"{ipt} -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        f"{ipt} -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
        f"{ipt} -t nat -A DOCKER -i docker0 -j RETURN",
        f"{ipt} -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 8888 -j DNAT --to-destination {c}:80",
        f"{ipt} -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 16379 -j DNAT --to-destination 127.0.0.1:6379",
        f"{ipt} -N DOCKER", f"{ipt} -N DOCKER-USER", f"{ipt} -N DOCKER-ISOLATION-STAGE-1",
        f"{ipt} -A FORWARD -j DOCKER-USER", f"{ipt} -A FORWARD -j DOCKER-ISOLATION-STAGE-1",
        f"{ipt} -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        f"{ipt} -A FORWARD -o docker0 -j DOCKER", f"{ipt} -A DOCKER-USER -j RETURN",
        f"{ipt} -A DOCKER-ISOLATION-STAGE-1 -j RETURN",
        f"{ipt} -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        f"{ipt} -A INPUT -i lo -j ACCEPT",
        f"{ipt} -A INPUT -p tcp --dport 22 -j ACCEPT",
        f"{ipt} -A INPUT -p tcp -m multiport --dports 80,6379 -j ACCEPT",
        f"{ipt} -A INPUT -p udp --dport 10053 -j ACCEPT",
        f"{ipt} -A INPUT -p tcp --dport 7000 -j REJECT --reject-with tcp-reset",
        f"{ipt} -P INPUT DROP",
        "ip6tables -A INPUT -p tcp --dport 9000 -j ACCEPT",
        "ip6tables -A INPUT -p tcp --syn -j DROP",
    ]
    for cmd in cmds:
        bed.hexec(cmd)
    # DNAT to 127.0.0.1 needs this, as Docker sets it for such ports
    bed.hexec(f"sysctl -qw net.ipv4.conf.{bed.a.host_if}.route_localnet=1")


@pktest.need_root
@unittest.skipUnless(shutil.which("nft") and shutil.which("iptables"), "needs nft and iptables")
class GroundTruth(unittest.TestCase):
    def setUp(self):
        self.bed = fwnet.Bed(TAG, INDEX).__enter__()
        self.addCleanup(self.bed.close)
        self.bed.start_holder(listeners(self.bed))

    def target(self, f, link):
        """Where an outside client sends to reach the finding's socket."""
        if f["via"]:
            host, _, port = f["via"].rpartition(":")
            return host.strip("[]"), int(port)
        addr = f["address"]
        if addr in ("0.0.0.0", "::") or addr.startswith("127.") or addr == "::1":
            addr = link.host4 if f["family"] == "ipv4" else link.host6
        return addr, f["port"]

    def same_as_libnftables(self, args, found):
        """The live audit reads the kernel over netlink (libnftnl); the same
        ruleset saved by nft -j and read through the JSON reader must give
        the same verdict and deciding rule for every row."""
        saved = self.bed.hexec("nft -j list ruleset").stdout
        if '"xt":' in saved:
            # iptables-nft's matches: the live audit reads their arguments
            # from nft's text, which a saved JSON file does not carry
            return
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            f.write(saved)
            f.flush()
            cp, other = self.bed.audit(*args, "--ruleset", f.name)
        self.assertEqual(cp.returncode, 0, cp.stderr)

        def key(f):
            return (f["proto"], f["family"], f["address"], f["port"], f["via"], f["verdict"],
                    f["rule"])
        self.assertEqual([key(f) for f in found], [key(f) for f in other])

    def check(self, name, min_counted=1):
        bed = self.bed
        compared = counted = 0
        for link in (bed.a, bed.b):
            for src in (link.out4, link.out6):
                cp, found = bed.audit("--iface", link.host_if, "--from", src)
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.same_as_libnftables(("--iface", link.host_if, "--from", src), found)
                self.assertTrue(found, f"{name}: no findings")
                for f in found:
                    with self.subTest(ruleset=name, iface=link.host_if, src=src, sock=f"{f['proto']} {f['address']}:{f['port']}",
                                      family=f["family"], via=f["via"]):
                        self.assertNotEqual(f["verdict"], "unknown", f["rule"])
                        if f["address"] in ("127.0.0.1", "::1") and not f["via"] and f["verdict"] == "reachable":
                            # route_localnet=1 (Docker's DNAT to 127.0.0.1) lets a neighbour
                            # send to 127.0.0.1 directly (CVE-2020-8558); a client socket
                            # cannot address another host's loopback, so no probe here
                            flag = bed.hexec(f"sysctl -n net.ipv4.conf.{link.host_if}.route_localnet").stdout
                            self.assertEqual(flag.strip(), "1", f"reachable loopback without route_localnet: {f}")
                            continue
                        addr, port = self.target(f, link)
                        before = bed.counters()
                        got = bed.probe(f["proto"], addr, port, link, src)
                        want = f"{f['proto']}:{f['address']}:{f['port']}"
                        if got is None and f["verdict"] == "reachable":
                            # a loaded machine may be slow to answer: ask again, patiently
                            got = bed.probe(f["proto"], addr, port, link, src, timeout=3)
                        after = bed.counters()
                        reached = got == want
                        self.assertEqual(f["verdict"] == "reachable", reached,
                                         f"audit says {f['verdict']} ({f['rule']}); probe of {addr}:{port} got {got!r}")
                        compared += 1
                        key = fwnet.rule_key(f["rule"])
                        if key and key in after:
                            self.assertGreater(after[key] - before.get(key, 0), 0,
                                               f"the counter of {f['rule']} did not move")
                            counted += 1
        self.assertGreater(compared, 20)
        self.assertGreaterEqual(counted, min_counted, f"{name}: no deciding rule had a counter")

    def test_handwritten_sets_and_jumps(self):
        load_nft(self.bed, handwritten(self.bed))
        self.check("handwritten", min_counted=10)

    def test_default_drop_ct_state(self):
        load_nft(self.bed, default_drop(self.bed))
        self.check("default-drop", min_counted=4)

    def test_per_interface_and_source(self):
        load_nft(self.bed, per_iface_source(self.bed))
        self.check("per-iface-source", min_counted=10)

    @pktest.need_tool("ufw")
    def test_ufw(self):
        load_ufw(self.bed)
        self.check("ufw", min_counted=6)

    def test_docker_style_dnat(self):
        load_docker(self.bed)
        cp, found = self.bed.audit("--iface", self.bed.a.host_if, "--from", self.bed.a.out4)
        vias = {(f["address"], f["port"]): f for f in found if f["via"]}
        # the published ports appear as virtual listeners of the real sockets
        self.assertIn((self.bed.container, 80), vias, found)
        self.assertTrue(vias[(self.bed.container, 80)]["via"].endswith(":8888"))
        self.assertIn(("127.0.0.1", 6379), vias)
        self.assertEqual(vias[("127.0.0.1", 6379)]["verdict"], "reachable")
        self.check("docker", min_counted=4)


def kitchen_sink(bed):
    """Every construct the kernel reader compiles, in the forms nft gives
    the kernel: interval, concatenated and interface-index sets, verdict
    maps, masks, prefixes, port ranges (two compares), fib, limits, marks,
    DNAT and redirect."""
    a = bed.a
    return f"""
table inet sink {{
  set nets {{ type ipv4_addr; flags interval; elements = {{ 10.0.0.0/8, 192.168.1.0/24, 255.0.0.0/8 }} }}
  set ports {{ type inet_service; flags interval; elements = {{ 1-1023, 60000-65535 }} }}
  set pairs {{ type ipv4_addr . inet_service; elements = {{ {a.out4} . 8080 }} }}
  set cpairs {{ type ipv4_addr . inet_service; flags interval; elements = {{ 10.0.0.0/8 . 7000-7001 }} }}
  map vm {{ type inet_service : verdict; elements = {{ 10053 : accept, 10054 : jump sub }} }}
  set ifs {{ type iface_index; elements = {{ "lo" }} }}
  set marks {{ type mark; elements = {{ 1, 0x100 }} }}
  set v6nets {{ type ipv6_addr; flags interval; elements = {{ fd00::/8 }} }}
  chain sub {{ udp dport 10054 counter drop; return; }}
  chain input {{ type filter hook input priority 0; policy drop;
    ct state established,related accept
    ct state invalid drop
    iif @ifs accept
    meta mark @marks accept
    meta mark & 0xff == 3 accept
    iifname "nosuch*" tcp dport 22 accept
    fib saddr . iif oif missing drop
    ip saddr @nets tcp dport @ports accept
    ip saddr . tcp dport @pairs accept
    ip saddr . tcp dport @cpairs accept
    udp dport vmap @vm
    tcp dport 9000-9001 ip6 saddr @v6nets accept
    tcp dport != 9443 tcp flags & (syn|ack) == syn ip6 saddr fe80::/10 accept
    fib daddr type local tcp dport 7000 accept
    ip saddr 10.0.0.0/12 drop
    tcp dport 8443 ct mark set 0x5 meta mark set 0x7 accept
  }}
}}
table ip sinknat {{
  chain pre {{ type nat hook prerouting priority -100;
    tcp dport 18080 dnat to {a.host4}:8080
    tcp dport 18081 redirect to :22
  }}
}}
"""


@pktest.need_root
class Readers(unittest.TestCase):
    """The kernel reader (netlink) and the JSON reader agree on a ruleset
    that uses every construct, for several sources."""

    def test_kitchen_sink_same_verdicts_and_rules(self):
        bed = fwnet.Bed(TAG, INDEX).__enter__()
        self.addCleanup(bed.close)
        bed.start_holder(listeners(bed))
        load_nft(bed, kitchen_sink(bed))
        saved = bed.hexec("nft -j list ruleset").stdout
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            f.write(saved)
            f.flush()
            for args in ((), ("--from", bed.a.out4), ("--from", "10.1.2.3"), ("--from", "192.168.1.9"),
                         ("--from", bed.a.out6), ("--from", "fe80::1"), ("--iface", "lo")):
                with self.subTest(args=args):
                    cp, live = bed.audit(*args)
                    self.assertEqual(cp.returncode, 0, cp.stderr)
                    cp, offline = bed.audit(*args, "--ruleset", f.name)
                    self.assertEqual(cp.returncode, 0, cp.stderr)
                    self.assertTrue(live)
                    self.assertEqual([(x["proto"], x["family"], x["address"], x["port"], x["from"], x["via"],
                                       x["verdict"], fwnet.rule_key(x["rule"])) for x in live],
                                     [(x["proto"], x["family"], x["address"], x["port"], x["from"], x["via"],
                                       x["verdict"], fwnet.rule_key(x["rule"])) for x in offline])


@pktest.need_root
class ForwardKernel(unittest.TestCase):
    """The NAT tables `portkit forward --kernel` installs make virtual
    listeners of their target sockets, true for real clients."""

    def test_redirect_shows_as_virtual_listener(self):
        bed = fwnet.Bed(TAG, INDEX).__enter__()
        self.addCleanup(bed.close)
        bed.start_holder(listeners(bed))
        # A first nft transaction may wait on the kernel loading NAT modules
        # while other tests do the same; the log says what happened if not.
        with fwtest.Forwarder("--kernel", ":18080", "127.0.0.1:9000", wait_listen=0,
                              prefix=("ip", "netns", "exec", bed.host)) as fw:
            fw.wait_event(lambda e: e["event"] == "kernel", timeout=60, what="the kernel table")
            cp, found = bed.audit("--iface", bed.a.host_if, "--from", bed.a.out4)
            vias = [f for f in found if f["via"] and f["via"].endswith(":18080")]
            self.assertEqual(len(vias), 1, found)
            v = vias[0]
            self.assertEqual((v["address"], v["port"], v["verdict"]), ("0.0.0.0", 9000, "reachable"))
            self.assertIn("redirect to :9000", v["rule"])
            self.assertEqual(bed.probe("tcp", bed.a.host4, 18080, bed.a, bed.a.out4), "tcp:0.0.0.0:9000")


if __name__ == "__main__":
    pktest.main()
