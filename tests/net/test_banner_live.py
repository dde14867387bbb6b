"""Service identification against real daemons: the probes of
include/portkit/banner.h and include/portkit/udp_probes.h go to real
servers (tests/lib/servers.py) in a test namespace and on loopback, through
tests/tools/pk_svcprobe (which runs the library's contract with plain
sockets), and what comes back must name the service, the product and the
version each daemon reports about itself."""
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
import servers  # noqa: E402

TOOLS = os.environ.get("PK_TEST_TOOLS") or os.path.join(pktest.SOURCE_DIR, "build-test", "tests", "tools")
SVCPROBE = os.path.join(TOOLS, "pk_svcprobe")


def svcprobe(addr, port, *args, timeout=60):
    cp = subprocess.run([SVCPROBE, *args, addr, str(port)], capture_output=True, text=True,
                        timeout=timeout)
    if cp.returncode not in (0, 1):
        raise AssertionError(f"pk_svcprobe {args} {addr} {port}: exit {cp.returncode}: {cp.stderr}")
    return cp.returncode, json.loads(cp.stdout)


def own_version(argv, pattern):
    """The version a daemon reports about itself (e.g. `nginx -v`)."""
    cp = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    m = re.search(pattern, cp.stdout + cp.stderr)
    assert m, f"{argv}: no version in {cp.stdout + cp.stderr!r}"
    return m.group(1)


@unittest.skipUnless(os.path.exists(SVCPROBE), "needs tests/tools/pk_svcprobe (built by make test)")
class BannerLive(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.ns = None
        cls.started = []
        if not pktest.is_root():
            return
        cls.ns = pktest.Netns("bnlive", 51).__enter__()
        ns = cls.ns
        cls.srv = {
            "nginx": servers.Nginx(ns, tls_port=443),
            "nginx12": servers.Nginx(ns, port=8080, tls_port=8443, tls_protocols="TLSv1.2"),
            "dnsmasq": servers.Dnsmasq(ns, tftp=True),
            "sshd": servers.Sshd(ns),
            "redis": servers.Redis(ns),
            "redis_auth": servers.Redis(ns, port=6380, password="portkit"),
            "memcached": servers.Memcached(ns),
            "exim": servers.Exim(ns),
            "vsftpd": servers.Vsftpd(ns),
            "dovecot": servers.Dovecot(ns),
            "chrony": servers.Chrony(ns),
            "snmpd": servers.Snmpd(ns),
            "tftpd": servers.Tftpd(ns, port=6969),
            "mariadb": servers.MariaDB(ns),
            "postgres": servers.Postgres(ns),
            "plain": servers.Listener(ns, tcp=[7001, 7002], banner="hello from a custom daemon\r\n"),
            "silent": servers.Listener(ns, tcp=[7003]),
            # On loopback MariaDB lets us in: the real v10 handshake.
            "mariadb_lo": servers.MariaDB(None),
        }
        try:
            for s in cls.srv.values():
                s.start()
                cls.started.append(s)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in reversed(cls.started):
            s.stop()
        cls.started = []
        if cls.ns:
            cls.ns.__exit__(None, None, None)
            cls.ns = None

    def setUp(self):
        if self.ns is None:
            self.skipTest("needs root (network namespaces)")

    def probe(self, port, *args, addr=None):
        rc, j = svcprobe(addr or self.ns.ip, port, *args)
        return j

    def assert_id(self, j, service, product=None, version=None, status="match"):
        msg = json.dumps(j)
        self.assertEqual(j["status"], status, msg)
        self.assertEqual(j["service"], service, msg)
        if product is not None:
            self.assertEqual(j["product"], product, msg)
        if version is not None:
            self.assertEqual(j["version"], version, msg)

    # ---- TCP ---------------------------------------------------------------

    def test_ssh(self):
        ver = own_version(["/usr/sbin/sshd", "-V"], r"OpenSSH_(\S+?),")
        for addr in (self.ns.ip, self.ns.ip6):
            j = self.probe(22, addr=addr)
            self.assert_id(j, "ssh", "OpenSSH")
            self.assertTrue(j["version"].startswith(ver), j)
            self.assertRegex(j["line"], r"^ssh OpenSSH \S+ Debian-")

    def test_http_and_tls(self):
        ver = own_version(["nginx", "-v"], r"nginx/(\S+)")
        self.assert_id(self.probe(80), "http", "nginx", ver)
        self.assertEqual(self.probe(80)["line"], f"http nginx {ver}")
        j = self.probe(443, "-H", "portkit.test", addr=self.ns.ip6)
        self.assert_id(j, "tls", "TLS", "1.3")
        self.assertRegex(j["extra"], r"^cipher TLS_")
        self.assert_id(self.probe(8443), "tls", "TLS", "1.2")
        # a plain-HTTP port answering our ClientHello still says what it is
        self.assert_id(self.probe(8080, "-p", "tls"), "http", "nginx", ver)

    def test_dns_over_tcp(self):
        ver = own_version(["dnsmasq", "--version"], r"version (\S+)")
        self.assert_id(self.probe(53), "domain", "dnsmasq", ver)

    def test_redis(self):
        ver = own_version(["redis-server", "--version"], r"v=(\S+)")
        self.assert_id(self.probe(6379), "redis", "Redis", ver)
        j = self.probe(6380, "-p", "redis")
        self.assert_id(j, "redis", "Redis", "")
        self.assertEqual(j["extra"], "authentication required")

    def test_memcached(self):
        ver = own_version(["memcached", "-V"], r"memcached (\S+)")
        self.assert_id(self.probe(11211), "memcached", "memcached", ver)

    def test_mail_and_ftp(self):
        ver = own_version(["exim4", "-bV"], r"Exim version (\S+)")
        self.assert_id(self.probe(25), "smtp", "Exim", ver)
        self.assert_id(self.probe(21), "ftp", "vsftpd")
        self.assert_id(self.probe(143), "imap", "Dovecot imapd")
        self.assert_id(self.probe(110), "pop3", "Dovecot pop3d")

    def test_databases(self):
        ver = own_version(["mariadbd", "--version"], r"Ver (\d+\.\d+\.\d+)-MariaDB")
        s = self.srv["mariadb_lo"]
        self.assert_id(self.probe(s.port, "-p", "null", addr=s.addr), "mysql", "MariaDB", ver)
        j = self.probe(3306)  # from outside localhost: MariaDB's refusal packet
        self.assert_id(j, "mysql", "MariaDB")
        self.assertRegex(j["extra"], r"^error 1130: Host .* is not allowed")
        j = self.probe(5432)
        self.assert_id(j, "postgresql", "PostgreSQL")
        self.assertEqual(j["extra"], "no TLS")

    def test_unknown_service_falls_back(self):
        # 7001 has no probe plan of its own and the registry names it: the
        # greeting is kept as the banner, the registry's name as service.
        j = self.probe(7001)
        self.assertEqual(j["status"], "unknown", j)
        self.assertEqual(j["service"], "afs3-callback")
        self.assertEqual(j["banner"], "hello from a custom daemon")
        # A port that accepts and never speaks: nothing identified.
        rc, j = svcprobe(self.ns.ip, 7003, "-s", "0.1")
        self.assertEqual((rc, j["status"], j["banner"]), (1, "none", ""), j)

    # ---- UDP ---------------------------------------------------------------

    def test_udp(self):
        dnsmasq = own_version(["dnsmasq", "--version"], r"version (\S+)")
        memcached = own_version(["memcached", "-V"], r"memcached (\S+)")
        for addr in (self.ns.ip, self.ns.ip6):
            self.assert_id(self.probe(53, "-u", addr=addr), "domain", "dnsmasq", dnsmasq)
        self.assert_id(self.probe(123, "-u"), "ntp", "", "v4")
        j = self.probe(161, "-u")
        self.assert_id(j, "snmp", "", "v2c")
        self.assertEqual(j["extra"], servers.Snmpd.SYSDESCR)
        self.assert_id(self.probe(11211, "-u"), "memcached", "memcached", memcached)
        # TFTP answers from a new port; dnsmasq's and tftpd-hpa's wording differ
        j = self.probe(69, "-u")
        self.assert_id(j, "tftp")
        self.assertRegex(j["extra"], r"^error 1: .*not found")
        for nonce in ("1", "77"):
            self.assertEqual(self.probe(53, "-u", "-n", nonce)["status"], "match")

    def test_udp_tftpd_hpa(self):
        # tftpd-hpa on 6969 answers the TFTP payload from a port of its own
        j = self.probe(6969, "-u", "-m", "tftp")
        self.assert_id(j, "tftp")
        self.assertEqual(j["extra"], "error 1: File not found")
        # without a payload for that port, an empty datagram gets nothing back
        rc, j = svcprobe(self.ns.ip, 6969, "-u", "-s", "0.3")
        self.assertEqual((rc, j["status"]), (1, "none"))

    def test_udp_closed_port(self):
        rc, j = svcprobe(self.ns.ip, 9, "-u", "-s", "0.3")
        self.assertEqual((rc, j["status"]), (1, "none"))


if __name__ == "__main__":
    pktest.main()
