"""tests/lib/servers.py starts real daemons that answer, listen only where
they should, and leave nothing behind when stopped. Proves the test servers
work on a fresh machine (CI) before other tests rely on them."""
import os
import socket
import ssl
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
import servers  # noqa: E402


def recv_until(sock, pred, timeout=5.0, limit=65536):
    sock.settimeout(0.2)
    data = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not pred(data) and len(data) < limit:
        try:
            d = sock.recv(65536)
        except socket.timeout:
            continue
        if not d:
            break
        data += d
    return data


def tcp_talk(addr, port, send=b"", pred=lambda d: d.endswith(b"\n"), timeout=5.0):
    with socket.create_connection((addr, port), timeout=timeout) as s:
        if send:
            s.sendall(send)
        return recv_until(s, pred, timeout)


def udp_talk(addr, port, payload, timeout=3.0, any_port=False):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        if any_port:
            s.sendto(payload, (addr, port))
        else:
            s.connect((addr, port))
            s.send(payload)
        data, _ = s.recvfrom(65536)
        return data


def dns_query(name, qtype=1, qid=0x4242):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", qtype, 1)


ALLOWED_LOOPBACK = {"127.0.0.1", "::1"}


class ServersTest(unittest.TestCase):

    def assert_contained(self, srv, ns):
        """Every socket the daemon listens on is on an address we allow."""
        socks = servers.listening_sockets(ns, srv.pids())
        self.assertTrue(socks, f"{srv}: no listening sockets found")
        allowed = ALLOWED_LOOPBACK if ns is None else {ns.ip, ns.ip6, "*", "0.0.0.0", "::",
                                                       "127.0.0.1", "::1"}
        for proto, addr, port in socks:
            self.assertIn(addr, allowed, f"{srv} listens on {proto} {addr}:{port}")
        if ns is not None:
            # Nothing of ours may appear in the root namespace.
            self.assertEqual(servers.listening_sockets(None, srv.pids()), [])

    def assert_gone(self, srv_pid_list):
        for pid in srv_pid_list:
            self.assertFalse(os.path.exists(f"/proc/{pid}"), f"pid {pid} still alive after stop()")

    def check_all(self, ns):
        """Starts every server in ns (or on loopback when ns is None), one at a
        time, and talks its protocol to it."""
        in_ns = ns is not None

        def run(srv, check):
            with srv:
                self.assert_contained(srv, ns)
                pids = srv.pids()
                check(srv)
                d = srv.dir
            self.assert_gone(pids)
            self.assertFalse(os.path.exists(d), f"{srv}: temp dir {d} left behind")

        def nginx(s):
            r = tcp_talk(s.addr, s.ports["http"], b"HEAD / HTTP/1.0\r\n\r\n", lambda d: b"\r\n\r\n" in d)
            self.assertRegex(r, rb"^HTTP/1\.1 200 OK\r\n")
            self.assertIn(b"Server: nginx/", r)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with socket.create_connection((s.addr, s.ports["https"]), timeout=5) as raw:
                with ctx.wrap_socket(raw) as t:
                    self.assertIn(t.version(), ("TLSv1.2", "TLSv1.3"))
                    t.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    self.assertIn(b"portkit test site", recv_until(t, lambda d: b"</html>" in d))
        run(servers.Nginx(ns, tls_port=443 if in_ns else None, tls=True), nginx)

        def dnsmasq(s):
            r = udp_talk(s.addr, s.port, dns_query("portkit.test"))
            self.assertEqual(r[:2], b"\x42\x42")
            self.assertTrue(r[2] & 0x80, "QR bit")
            self.assertTrue(r.endswith(bytes([192, 0, 2, 1])), r)
            q = dns_query("portkit.test", qid=0x1234)
            r = tcp_talk(s.addr, s.port, struct.pack(">H", len(q)) + q,
                         lambda d: len(d) >= 2 and len(d) >= 2 + struct.unpack(">H", d[:2])[0])
            self.assertEqual(r[2:4], b"\x12\x34")
            if s.tftp:
                r = udp_talk(s.addr, 69, b"\x00\x01hello.txt\x00octet\x00", any_port=True)
                self.assertEqual(r[:4], b"\x00\x03\x00\x01")
        run(servers.Dnsmasq(ns, tftp=in_ns), dnsmasq)

        def sshd(s):
            self.assertRegex(tcp_talk(s.addr, s.port), rb"^SSH-2\.0-OpenSSH_\S+ ")
        run(servers.Sshd(ns), sshd)

        def redis(s):
            self.assertEqual(tcp_talk(s.addr, s.port, b"PING\r\n"), b"+PONG\r\n")
        run(servers.Redis(ns), redis)

        def redis_auth(s):
            self.assertTrue(tcp_talk(s.addr, s.port, b"PING\r\n").startswith(b"-NOAUTH"))
        run(servers.Redis(ns, password="secret"), redis_auth)

        def memcached(s):
            self.assertRegex(tcp_talk(s.addr, s.port, b"version\r\n"), rb"^VERSION \d")
            r = udp_talk(s.addr, s.port, b"\x12\x34\x00\x00\x00\x01\x00\x00version\r\n")
            self.assertEqual(r[:2], b"\x12\x34")
            self.assertRegex(r[8:], rb"^VERSION \d")
        run(servers.Memcached(ns), memcached)

        def exim(s):
            self.assertRegex(tcp_talk(s.addr, s.port, timeout=10), rb"^220 .* ESMTP Exim \d")
        run(servers.Exim(ns), exim)

        def vsftpd(s):
            self.assertRegex(tcp_talk(s.addr, s.port), rb"^220 \(vsFTPd \d")
        run(servers.Vsftpd(ns), vsftpd)

        def dovecot(s):
            self.assertRegex(tcp_talk(s.addr, s.ports["imap"]), rb"^\* OK .*Dovecot")
            self.assertRegex(tcp_talk(s.addr, s.ports["pop3"]), rb"^\+OK Dovecot")
        run(servers.Dovecot(ns), dovecot)

        def chrony(s):
            req = bytes([0x23]) + bytes(39) + struct.pack(">Q", 0x0102030405060708)
            r = udp_talk(s.addr, s.port, req)
            self.assertEqual(r[0] & 7, 4, "server mode")
            self.assertEqual(r[24:32], req[40:48], "originate = our transmit timestamp")
        run(servers.Chrony(ns), chrony)

        def snmpd(s):
            cp = subprocess.run(["snmpget", "-v2c", "-c", "public", "-Ov", "-t", "2", "-r", "1",
                                 f"{s.addr}:{s.port}", "1.3.6.1.2.1.1.1.0"],
                                capture_output=True, text=True, timeout=20)
            self.assertIn(servers.Snmpd.SYSDESCR, cp.stdout, cp.stderr)
        run(servers.Snmpd(ns), snmpd)

        def tftpd(s):
            r = udp_talk(s.addr, s.port, b"\x00\x01hello.txt\x00octet\x00", any_port=True)
            self.assertEqual(r[:4], b"\x00\x03\x00\x01")
            r = udp_talk(s.addr, s.port, b"\x00\x01missing\x00octet\x00", any_port=True)
            self.assertEqual(r[:2], b"\x00\x05")
        # In a namespace port 69 is tftpd-hpa's; dnsmasq's TFTP was checked above.
        run(servers.Tftpd(ns, port=6969 if in_ns else None), tftpd)

        def mariadb(s):
            r = tcp_talk(s.addr, s.port, pred=lambda d: len(d) >= 4 and
                         len(d) >= 4 + int.from_bytes(d[:3], "little"))
            if in_ns:  # users exist for localhost only: the real refusal packet
                self.assertEqual(r[4], 0xFF, r)
                self.assertIn(b"is not allowed to connect to this MariaDB server", r)
            else:
                self.assertEqual(r[4], 10, r)
                self.assertIn(b"MariaDB", r)
        run(servers.MariaDB(ns), mariadb)

        def postgres(s):
            r = tcp_talk(s.addr, s.port, b"\x00\x00\x00\x08\x04\xd2\x16\x2f", pred=lambda d: len(d) >= 1)
            self.assertEqual(r, b"N")
        run(servers.Postgres(ns), postgres)

        def listener(s):
            self.assertEqual(tcp_talk(s.addr, s.ports["tcp"][1]), b"hello\r\n")
            self.assertEqual(udp_talk(s.addr, s.ports["udp"][0], b"ping"), b"ping")
        ports = [7001, 7002] if in_ns else [servers.free_port(), servers.free_port()]
        uport = 7003 if in_ns else servers.free_port(socket.SOCK_DGRAM)
        run(servers.Listener(ns, tcp=ports, udp=[uport], banner="hello\r\n", udp_echo=True), listener)

    @pktest.need_root
    def test_in_namespace(self):
        with pktest.Netns("bnsrv", 50) as ns:
            self.check_all(ns)

    @pktest.need_root
    def test_on_loopback(self):
        self.check_all(None)

    def test_failed_start_reports_log(self):
        # A port already taken: the daemon exits and start() says why.
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            with self.assertRaises(servers.ServerError) as cm:
                servers.Redis(None, port=port, timeout=5).start()
            self.assertIn("redis", str(cm.exception))


if __name__ == "__main__":
    pktest.main()
