#!/usr/bin/env python3
"""-sV inside TLS against real daemons in a test namespace: HTTP inside
nginx's HTTPS on 443 and 8443, IMAP and POP3 inside Dovecot's IMAPS/POP3S,
STARTTLS on IMAP 143 and POP3 110 (Dovecot) and on SMTP 25 and 587 (Exim,
GnuTLS), SMTP inside Exim's SMTPS on 465, the certificate as nmap's ssl-cert in text, JSON and XML, all
within --service-timeout."""
import os
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import pktest
import scantest
import servers


@pktest.need_root
class ScanTls(scantest.ServedHosts):
    @classmethod
    def serve(cls):
        ns = cls.host("sctls", 44)
        cls.servers.append(servers.Nginx(ns, port=80, tls_port=443).start())
        cls.servers.append(servers.Nginx(ns, port=8080, tls_port=8443).start())
        cls.servers.append(servers.Dovecot(ns, port=143, pop3_port=110, tls=True).start())
        cls.servers.append(servers.Exim(ns, port=25, submission_port=587, smtps_port=465, tls=True).start())

    def test_inside_tls(self):
        with tempfile.TemporaryDirectory() as d:
            xml = os.path.join(d, "tls.xml")
            t0 = time.monotonic()
            cp, res = scantest.scan("-sV", "-p", "25,110,143,443,465,587,993,995,8443", self.ns.ip, "-oX", xml,
                                    "--service-timeout", "4s", check=0)
            took = time.monotonic() - t0
            rec = {k[2]: v[2] for k, v in res.items()}
            for port in (443, 8443):
                self.assertEqual(rec[port]["service"], "http", rec[port])
                self.assertIn("nginx", rec[port]["version"])
            self.assertEqual(rec[993]["service"], "imap", rec[993])
            self.assertEqual(rec[995]["service"], "pop3", rec[995])
            for port in (25, 465, 587):
                self.assertEqual(rec[port]["service"], "smtp", rec[port])
                self.assertIn("Exim", rec[port]["version"], rec[port])
                self.assertIn("smtp.portkit.test", rec[port]["ssl_cert"])
            for port in (25, 110, 143, 443, 465, 587, 993, 995, 8443):
                cert = rec[port].get("ssl_cert") or ""
                self.assertIn("Subject: commonName=", cert, port)
                self.assertIn("self-signed", cert, port)
                self.assertIn("Public Key type: ec", cert, port)
                self.assertIn("Public Key bits: 256", cert, port)
                self.assertRegex(cert, r"Days left: [01]\b", port)  # a one-day certificate
                self.assertIn("TLSv1", rec[port]["version"], port)
            self.assertIn("mail.portkit.test", rec[143]["ssl_cert"])
            self.assertIn("Dovecot", rec[143]["version"])
            self.assertLess(took, 4 * 9 + 5)  # bounded: every port within its service timeout
            ok, msg = scantest.xmllint_valid(xml)
            self.assertTrue(ok, msg)
            scripts = {int(p.get("portid")): p.find("script") for p in ET.parse(xml).getroot().iter("port")}
            for port in (25, 443, 587):
                self.assertEqual(scripts[port].get("id"), "ssl-cert", port)
                self.assertIn("Not valid after:", scripts[port].get("output"), port)
            self.assertIn("commonName=smtp.portkit.test", scripts[587].get("output"))
            services = {int(p.get("portid")): p.find("service") for p in ET.parse(xml).getroot().iter("port")}
            self.assertEqual(services[25].get("name"), "smtp")
            self.assertEqual(services[25].get("product"), "Exim")
            # nmap's tunnel="ssl": TLS from the first byte, not after STARTTLS
            self.assertEqual({p: services[p].get("tunnel") for p in (25, 110, 143, 443, 465, 587, 993, 995)},
                             {25: None, 110: None, 143: None, 443: "ssl", 465: "ssl", 587: None, 993: "ssl",
                              995: "ssl"})

    def test_text_output(self):
        cp = pktest.run("scan", "-sV", "-p", "443", self.ns.ip, "--no-progress", timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertRegex(cp.stdout, r"443/tcp +open +http +nginx")
        self.assertIn("| ssl-cert: Subject: commonName=portkit.test", cp.stdout)
        self.assertRegex(cp.stdout, r"\|_Days left: \d+.*self-signed")

    def test_smtp_starttls_text(self):
        """The certificate Exim shows after STARTTLS, under its port in text."""
        cp = pktest.run("scan", "-sV", "-p", "25,587", self.ns.ip, "--no-progress", timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertRegex(cp.stdout, r"25/tcp +open +smtp +Exim [\d.]+")
        self.assertRegex(cp.stdout, r"587/tcp +open +smtp +Exim [\d.]+")
        self.assertEqual(cp.stdout.count("| ssl-cert: Subject: commonName=smtp.portkit.test"), 2, cp.stdout)


if __name__ == "__main__":
    pktest.main()
