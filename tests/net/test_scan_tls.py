#!/usr/bin/env python3
"""-sV inside TLS against real daemons in a test namespace: HTTP inside
nginx's HTTPS on 443 and 8443, IMAP and POP3 inside Dovecot's IMAPS/POP3S,
STARTTLS on IMAP 143 and POP3 110, the certificate as nmap's ssl-cert in
text, JSON and XML, all within --service-timeout."""
import os
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import pktest
import scantest
import servers


@pktest.need_root
class ScanTls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ns = pktest.Netns("sctls", 44).__enter__()
        cls.servers = []
        try:
            cls.servers.append(servers.Nginx(cls.ns, port=80, tls_port=443).start())
            cls.servers.append(servers.Nginx(cls.ns, port=8080, tls_port=8443).start())
            cls.servers.append(servers.Dovecot(cls.ns, port=143, pop3_port=110, tls=True).start())
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in getattr(cls, "servers", []):
            s.stop()
        cls.ns.close()

    def test_inside_tls(self):
        with tempfile.TemporaryDirectory() as d:
            xml = os.path.join(d, "tls.xml")
            t0 = time.monotonic()
            cp, res = scantest.scan("-sV", "-p", "110,143,443,993,995,8443", self.ns.ip, "-oX", xml,
                                    "--service-timeout", "4s", check=0)
            took = time.monotonic() - t0
            rec = {k[2]: v[2] for k, v in res.items()}
            for port in (443, 8443):
                self.assertEqual(rec[port]["service"], "http", rec[port])
                self.assertIn("nginx", rec[port]["version"])
            self.assertEqual(rec[993]["service"], "imap", rec[993])
            self.assertEqual(rec[995]["service"], "pop3", rec[995])
            for port in (110, 143, 443, 993, 995, 8443):
                cert = rec[port].get("ssl_cert") or ""
                self.assertIn("Subject: commonName=", cert, port)
                self.assertIn("self-signed", cert, port)
                self.assertIn("Public Key type: ec", cert, port)
                self.assertIn("Public Key bits: 256", cert, port)
                self.assertRegex(cert, r"Days left: [01]\b", port)  # a one-day certificate
                self.assertIn("TLSv1", rec[port]["version"], port)
            self.assertIn("mail.portkit.test", rec[143]["ssl_cert"])
            self.assertIn("Dovecot", rec[143]["version"])
            self.assertLess(took, 4 * 6 + 5)  # bounded: every port within its service timeout
            ok, msg = scantest.xmllint_valid(xml)
            self.assertTrue(ok, msg)
            scripts = {int(p.get("portid")): p.find("script") for p in ET.parse(xml).getroot().iter("port")}
            self.assertEqual(scripts[443].get("id"), "ssl-cert")
            self.assertIn("Not valid after:", scripts[443].get("output"))

    def test_text_output(self):
        cp = pktest.run("scan", "-sV", "-p", "443", self.ns.ip, "--no-progress", timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertRegex(cp.stdout, r"443/tcp +open +http +nginx")
        self.assertIn("| ssl-cert: Subject: commonName=portkit.test", cp.stdout)
        self.assertRegex(cp.stdout, r"\|_Days left: \d+.*self-signed")


if __name__ == "__main__":
    pktest.main()
