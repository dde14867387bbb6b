"""portkit scan -sV against real daemons in a namespace (nginx over HTTP
and HTTPS, OpenSSH, Redis, Exim, a silent listener): each open port gets
its service named from what the daemon said, in the text, JSON and XML
outputs; banners are sanitised; a silent port is still reported open."""
import json
import os
import tempfile
import unittest
import xml.etree.ElementTree as ET

import pktest
import scantest
import servers

TAG, INDEX = "sc-sv", 45


@pktest.need_root
class ScanServices(scantest.ServedHosts):
    @classmethod
    def serve(cls):
        ns = cls.host(TAG, INDEX)
        for srv in (servers.Nginx(ns, port=80, tls_port=443), servers.Sshd(ns, port=22),
                    servers.Redis(ns, port=6379), servers.Exim(ns, port=25),
                    servers.Listener(ns, tcp=[7777]),
                    servers.Listener(ns, tcp=[7778], banner=b"\x1b[31mhi\x07 there\r\n")):
            cls.servers.append(srv.start())

    def test_services_named(self):
        with tempfile.TemporaryDirectory() as d:
            xml = os.path.join(d, "sv.xml")
            cp, res = scantest.scan("-sV", "-p", "22,25,80,443,6379,7777,7778,9", self.ns.ip, "-oX", xml,
                                    "--service-timeout", "3s", check=0)
            rec = {k[2]: v[2] for k, v in res.items()}
            self.assertEqual(rec[22]["service"], "ssh")
            self.assertIn("OpenSSH", rec[22]["version"])
            self.assertEqual(rec[25]["service"], "smtp")
            self.assertIn("Exim", rec[25]["version"])
            self.assertEqual(rec[80]["service"], "http")
            self.assertIn("nginx", rec[80]["version"])
            # Inside TLS: nginx's HTTP, and the certificate as nmap's ssl-cert.
            self.assertEqual(rec[443]["service"], "http")
            self.assertIn("nginx", rec[443]["version"])
            self.assertIn("TLSv1.3", rec[443]["version"])
            self.assertIn("Subject: ", rec[443]["ssl_cert"])
            self.assertIn("self-signed", rec[443]["ssl_cert"])
            self.assertEqual(rec[6379]["service"], "redis")
            self.assertEqual(rec[7777]["state"], "open")  # says nothing: open all the same
            self.assertEqual(rec[9]["state"], "closed")
            banner = rec[7778]["banner"] or ""
            self.assertIn("hi", banner)
            self.assertNotIn("\x1b", banner)
            self.assertNotIn("\x07", banner)
            ok, msg = scantest.xmllint_valid(xml)
            self.assertTrue(ok, msg)
            svc = {int(p.get("portid")): p.find("service") for p in ET.parse(xml).getroot().iter("port")}
            self.assertEqual(svc[22].get("method"), "probed")
            self.assertEqual(svc[22].get("product"), "OpenSSH")
            self.assertEqual(svc[80].get("product"), "nginx")
            self.assertEqual(svc[443].get("tunnel"), "ssl")
            port443 = [p for p in ET.parse(xml).getroot().iter("port") if p.get("portid") == "443"][0]
            script = port443.find("script")
            self.assertEqual(script.get("id"), "ssl-cert")
            self.assertIn("Public Key type: ", script.get("output"))

    def test_text_output(self):
        cp = pktest.run("scan", "-sV", "-p", "22,80", self.ns.ip, "--no-progress", timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertRegex(cp.stdout, r"22/tcp +open +ssh +OpenSSH")
        self.assertRegex(cp.stdout, r"80/tcp +open +http +nginx")


if __name__ == "__main__":
    pktest.main()
