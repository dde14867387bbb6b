"""The HTML report in a real browser. A namespace test host serves a
hostile banner (script and img markup pointing at a canary HTTP server);
portkit scans it twice with -sV, saves both runs and writes the diff
report (and the second scan writes its own page with -oH). Headless Chromium, run in a network namespace of its own that has
only loopback (where the canary listens), loads the file: the rendered DOM
must hold the rows and counts, the banner as text and no injected element;
the page's own script must have run; the canary must see no request; and a
screenshot is kept for a person to look at (PK_BINARY_DIR/test-artifacts/).

Skipped, saying why, only when chromium is not installed (scripts/deps.sh
test installs Debian's chromium package)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import pktest
import scantest
import servers
from pktest import run

TAG, INDEX = "hist-rep", 62
CANARY_PORT = 8099
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = ("220 <script>fetch('http://127.0.0.1:%d/js')</script>"
           "<img src=http://127.0.0.1:%d/img onerror=\"document.title='pwned'\"> & \"quoted\"\r\n"
           % (CANARY_PORT, CANARY_PORT))

CANARY = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print("GET", self.path, flush=True)
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""

ARTIFACTS = os.path.join(os.environ.get("PK_BINARY_DIR") or tempfile.gettempdir(), "test-artifacts")


@pktest.need_root
@unittest.skipUnless(CHROMIUM, "chromium is not installed: `scripts/deps.sh test` installs Debian's "
                               "chromium package; without it the report is not checked in a browser")
class ReportInBrowser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.env = {"PORTKIT_DB": os.path.join(cls.tmp.name, "h.db")}
        cls.ns = pktest.Netns(TAG, INDEX).__enter__()
        # the browser's namespace: loopback only, nothing else reachable
        cls.bns = f"pk{pktest.SLOT or ''}-hist-browser"
        pktest.sh(f"ip netns del {cls.bns}", check=False)
        pktest.sh(f"ip netns add {cls.bns}")
        pktest.sh(f"ip netns exec {cls.bns} ip link set lo up")

    @classmethod
    def tearDownClass(cls):
        pktest.sh(f"ip netns del {cls.bns}", check=False)
        cls.ns.close()
        cls.tmp.cleanup()

    def chromium(self, *args):
        profile = tempfile.mkdtemp(dir=self.tmp.name)
        cmd = ["ip", "netns", "exec", self.bns, CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def test_report_renders_safely(self):
        ns = self.ns
        hostile_port, plain, later = scantest.random_ports(3, avoid={31337})
        risky = 31337  # Back Orifice's port: the curated notes flag it
        spec = f"{hostile_port},{plain},{later},{risky}"
        lst = [servers.Listener(ns, tcp=[hostile_port], banner=HOSTILE).start(),
               servers.Listener(ns, tcp=[plain, risky]).start()]
        try:
            run("scan", "-sV", "-p", spec, ns.ip, "--save", "--label", "before", env=self.env, check=0)
            lst.append(servers.Listener(ns, tcp=[later]).start())
            scan_html = os.path.join(self.tmp.name, "scan.html")
            run("scan", "-sV", "-p", spec, ns.ip, "--save", "-oH", scan_html, env=self.env, check=0)
        finally:
            for s in lst:
                s.stop()
        html_path = os.path.join(self.tmp.name, "report.html")
        run("report", "before..last", "-o", html_path, "--title", "History <test>", env=self.env, check=0)
        with open(html_path) as f:
            html = f.read()
        # nothing in the file could fetch: no URL but the hostile text, escaped
        self.assertNotIn("<img", html)
        self.assertEqual(html.count("<script>"), 1)
        self.assertIsNone(re.search(r"<[^>]*\s(src|href|action)\s*=", html))
        self.assertIn("Content-Security-Policy", html)

        canary = subprocess.Popen(["ip", "netns", "exec", self.bns, "python3", "-c", CANARY, str(CANARY_PORT)],
                                  stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)
            dom_cp = self.chromium("--virtual-time-budget=3000", "--dump-dom", f"file://{html_path}")
            os.makedirs(ARTIFACTS, exist_ok=True)
            shot = os.path.join(ARTIFACTS, "history-report.png")
            if os.path.exists(shot):
                os.unlink(shot)
            shot_cp = self.chromium("--window-size=1280,1000", f"--screenshot={shot}", f"file://{html_path}")
        finally:
            canary.terminate()
            fetched, _ = canary.communicate(timeout=10)
        dom = dom_cp.stdout
        self.assertIn("</html>", dom, dom_cp.stderr[-2000:])
        self.assertEqual(fetched, "", "the page made the browser fetch something")

        # the rows: the four ports of run 2, the opened one highlighted, the
        # risky one with its note
        body = re.search(r'<table class="sortable" id="ports">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
        rows = re.findall(r"<tr[^>]*>", body)
        self.assertEqual(len(rows), 4, body)
        self.assertIn('class="c-opened"', body)
        risky_row = re.search(r'<td class="n">%d</td>.*?</tr>' % risky, body, re.S).group(0)
        self.assertIn('<span class="risk">', risky_row)
        self.assertEqual(re.search(r'id="n-risky">(\d+)<', dom).group(1), "1")
        self.assertEqual(re.search(r'id="n-open">(\d+)<', dom).group(1), "4")
        self.assertEqual(re.search(r'id="n-hosts">(\d+)<', dom).group(1), "1")
        self.assertEqual(re.search(r'id="n-changes">(\d+)<', dom).group(1), "1")
        changes = re.search(r'id="changes-table">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
        self.assertEqual(re.findall(r"<td>(opened)</td>", changes), ["opened"])
        self.assertIn(f'<td class="n">{later}</td>', changes)
        # the page's script ran (it fills the row count) under the CSP
        self.assertEqual(re.search(r'<span id="shown">(\d+)</span>', dom).group(1), "4")
        # the banner is text: no element came from it, the title is intact
        self.assertNotIn("<img", dom)
        self.assertEqual(dom.count("<script"), 1)
        self.assertIn("&lt;script&gt;fetch(", dom)
        self.assertIn("<title>History &lt;test&gt;</title>", dom)
        self.assertNotIn("pwned", dom.split("</title>")[0])

        # the same page written by the scan itself (-oH), without the history
        scan_dom = self.chromium("--virtual-time-budget=3000", "--dump-dom", f"file://{scan_html}").stdout
        body = re.search(r'<table class="sortable" id="ports">.*?<tbody>(.*?)</tbody>', scan_dom, re.S).group(1)
        self.assertEqual(len(re.findall(r"<tr[^>]*>", body)), 4, body)
        self.assertEqual(re.search(r'id="n-open">(\d+)<', scan_dom).group(1), "4")
        self.assertEqual(re.search(r'<span id="shown">(\d+)</span>', scan_dom).group(1), "4")
        self.assertNotIn("<img", scan_dom)
        self.assertEqual(scan_dom.count("<script"), 1)
        self.assertIn("&lt;script&gt;fetch(", scan_dom)

        self.assertEqual(shot_cp.returncode, 0, shot_cp.stderr[-2000:])
        with open(shot, "rb") as f:
            png = f.read()
        self.assertTrue(png.startswith(b"\x89PNG"), "a PNG screenshot")
        self.assertGreater(len(png), 10000)
        print(f"screenshot: {shot}", file=sys.stderr)


if __name__ == "__main__":
    pktest.main()
