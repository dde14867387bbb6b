"""portkit info: real binary, real registry, real exit codes."""
import csv
import re
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from pktest import run, run_json  # noqa: E402

CSV = os.path.join(pktest.SOURCE_DIR, "data", "iana-service-names-port-numbers.csv")


class InfoAnswers(unittest.TestCase):
    def test_http_port_80(self):
        cp, rows = run_json("info", "80", "--json", check=0)
        by_proto = {r["proto"]: r for r in rows}
        self.assertEqual(set(by_proto), {"tcp", "udp", "sctp"})
        tcp = by_proto["tcp"]
        self.assertEqual(tcp["port"], 80)
        self.assertEqual(tcp["name"], "http")
        self.assertEqual(tcp["range"], "well-known")
        self.assertEqual(tcp["description"], "World Wide Web HTTP")
        self.assertIn("www", tcp["aliases"])
        self.assertIn("www-http", tcp["aliases"])
        self.assertTrue(tcp["official"])
        self.assertIsInstance(tcp["risk"], list)
        self.assertIn(8080, tcp["alt"])  # the curated note: where http moves to
        for key in ("notes", "ephemeral", "privileged"):
            self.assertIn(key, tcp)

    def test_human_output_has_the_essentials(self):
        cp = run("info", "80/tcp", check=0)
        self.assertIn("80/tcp", cp.stdout)
        self.assertIn("http", cp.stdout)
        self.assertIn("well-known", cp.stdout)
        self.assertNotIn("\033[", cp.stdout)  # NO_COLOR and a pipe: no escapes

    def test_dns_udp(self):
        cp, rows = run_json("info", "53/udp", "--json", check=0)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["name"], "domain")
        self.assertEqual(rows[0]["proto"], "udp")

    def test_service_name_ssh(self):
        cp, rows = run_json("info", "ssh", "--json", check=0)
        self.assertIn((22, "tcp"), {(r["port"], r["proto"]) for r in rows})
        self.assertTrue(all(r["port"] == 22 for r in rows))

    def test_back_orifice_31337(self):
        cp, rows = run_json("info", "31337", "--json", check=0)
        tcp = [r for r in rows if r["proto"] == "tcp"][0]
        udp = [r for r in rows if r["proto"] == "udp"][0]
        self.assertEqual(tcp["range"], "registered")
        # IANA assigns it to eldim; the curated notes remember Back Orifice,
        # which listened on UDP (its risk line stays on that transport).
        self.assertTrue(any("Back Orifice" in r for r in udp["risk"]))
        self.assertIn("Back Orifice", tcp["aliases"])

    def test_dynamic_unassigned_49152(self):
        cp, rows = run_json("info", "49152", "--json", check=0)
        self.assertEqual(len(rows), 2)
        for r in rows:
            self.assertEqual(r["range"], "dynamic")
            self.assertFalse(r["official"])
            self.assertFalse(r["privileged"])
        cp = run("info", "49152", check=0)
        self.assertIn("unassigned", cp.stdout)
        # a dynamic port nobody wrote about: no name at all, still exit 0
        cp, rows = run_json("info", "60123/tcp", "--json", check=0)
        self.assertIsNone(rows[0]["name"])
        self.assertEqual(rows[0]["description"], "Unassigned")

    def test_range_with_proto(self):
        cp, rows = run_json("info", "6000-6003/tcp", "--json", check=0)
        self.assertEqual([(r["port"], r["proto"], r["name"]) for r in rows],
                         [(p, "tcp", "x11") for p in range(6000, 6004)])

    def test_search_kerberos(self):
        cp, rows = run_json("info", "--search", "kerberos", "--json", check=0)
        ports = {(r["port"], r["proto"]) for r in rows}
        self.assertIn((88, "tcp"), ports)
        self.assertIn((88, "udp"), ports)
        self.assertIn((749, "tcp"), ports)  # kerberos-adm
        cp = run("info", "--search", "kerberos", check=0)
        self.assertIn("88/tcp", cp.stdout)

    def test_host_facts_follow_the_kernel(self):
        lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
        start = int(open("/proc/sys/net/ipv4/ip_unprivileged_port_start").read())
        cp, rows = run_json("info", f"{lo}/tcp", f"{lo - 1}/tcp", "--json", check=0)
        self.assertTrue(rows[0]["ephemeral"])
        self.assertFalse(rows[1]["ephemeral"])
        if start > 0:
            cp, rows = run_json("info", f"{start - 1}/tcp", f"{start}/tcp", "--json", check=0)
            self.assertTrue(rows[0]["privileged"])
            self.assertFalse(rows[1]["privileged"])


class InfoErrors(unittest.TestCase):
    def assert_bad(self, *args, mention):
        cp = run("info", *args)
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertEqual(cp.stdout, "")
        lines = cp.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, cp.stderr)
        self.assertIn(mention, lines[0])

    def test_invalid_queries_exit_2_with_one_line(self):
        self.assert_bad("70000", mention="70000")
        self.assert_bad("--", "-1", mention="-1")
        self.assert_bad("80/xyz", mention="xyz")
        self.assert_bad("6000-", mention="6000-")
        self.assert_bad("9-3", mention="9-3")
        # a bad query among good ones: nothing is printed
        self.assert_bad("80", "99999", mention="99999")

    def test_unknown_service_exits_1(self):
        cp = run("info", "no-such-service-xyz")
        self.assertEqual(cp.returncode, 1)
        self.assertIn("no-such-service-xyz", cp.stderr)

    def test_no_query_is_usage_error(self):
        cp = run("info")
        self.assertEqual(cp.returncode, 2)

    def test_bad_registry_file(self):
        cp = run("info", "--registry", "/nonexistent/x.csv", "80")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("/nonexistent/x.csv", cp.stderr)


def remark_applies(row, port):
    """A range row's remark that names one port of the range belongs to that
    port only (IANA's x11 6000-6063 row: "Known Unauthorized Use on port 6003")."""
    lo, _, hi = row["Port Number"].partition("-")
    m = re.search(r"port (\d+)", row["Unauthorized Use Reported"])
    if not hi or not m or not int(lo) <= int(m.group(1)) <= int(hi):
        return True
    return int(m.group(1)) == port


class Batch(unittest.TestCase):
    def test_stdin_batch_streams_and_reports_bad_lines(self):
        cp, rows = run_json("info", "-", "--json", input="22/tcp\n53/udp\n\n70000\n443/tcp\n")
        self.assertEqual(cp.returncode, 2)
        self.assertEqual([(r["port"], r["proto"]) for r in rows], [(22, "tcp"), (53, "udp"), (443, "tcp")])
        self.assertIn("line 4", cp.stderr)

    def test_every_iana_row_is_answered(self):
        """Walks IANA's CSV independently (python's csv module) and checks
        the compiled table answers every (port, transport) with IANA's
        names, descriptions and notes."""
        expected = {}
        with open(CSV, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                port, proto, name = row["Port Number"], row["Transport Protocol"], row["Service Name"]
                if not port or not proto or not name:
                    continue
                lo, _, hi = port.partition("-")
                for p in range(int(lo), int(hi or lo) + 1):
                    expected.setdefault((p, proto), []).append(row)
        queries = "".join(f"{p}/{t}\n" for p, t in expected)
        cp, rows = run_json("info", "-", "--json", input=queries, check=0, timeout=120)
        self.assertEqual(len(rows), len(expected))
        missing = []
        for r in rows:
            want = expected[(r["port"], r["proto"])]
            names = [w["Service Name"] for w in want]
            got = [r["name"]] + r["aliases"]
            if names[0] != r["name"] or not set(names) <= set(got):
                missing.append((r["port"], r["proto"], names, got))
                continue
            # the primary row's description, or the first row that has one
            desc = next((w["Description"] for w in want if w["Description"]), "")
            if r["description"] != desc:
                missing.append((r["port"], r["proto"], desc, r["description"]))
            unauth = next((w["Unauthorized Use Reported"] for w in want
                           if w["Unauthorized Use Reported"] and remark_applies(w, r["port"])), None)
            if r["unauthorized_use"] != unauth:
                missing.append((r["port"], r["proto"], unauth, r["unauthorized_use"]))
            anotes = next((w["Assignment Notes"] for w in want if w["Assignment Notes"]), None)
            if r["assignment_notes"] != anotes:
                missing.append((r["port"], r["proto"], anotes, r["assignment_notes"]))
        self.assertEqual(missing[:5], [])
        self.assertGreater(len(expected), 11000)

    def test_registry_file_overrides_builtin(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            f.write("Service Name,Port Number,Transport Protocol,Description\n")
            f.write("portkit-test,4242,tcp,\"A, quoted\nmulti-line description\"\n")
            path = f.name
        try:
            for args, env in ((["--registry", path], None), ([], {"PORTKIT_REGISTRY": path})):
                cp, rows = run_json("info", *args, "4242/tcp", "--json", env=env, check=0)
                self.assertEqual(rows[0]["name"], "portkit-test")
                self.assertEqual(rows[0]["description"], "A, quoted\nmulti-line description")
        finally:
            os.unlink(path)


class Cli(unittest.TestCase):
    def test_help_and_version(self):
        for args in (["--help"], ["help", "info"], ["info", "--help"]):
            cp = run(*args, check=0)
            self.assertIn("Usage: portkit", cp.stdout)
        cp = run("--version", check=0)
        self.assertRegex(cp.stdout, r"^portkit \d+\.\d+")

    def test_unknown_verb(self):
        cp = run("frobnicate")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("frobnicate", cp.stderr)

    def test_color_only_when_asked(self):
        cp = run("--color=always", "info", "80/tcp", env={"NO_COLOR": ""}, check=0)
        self.assertIn("\033[", cp.stdout)
        cp = run("info", "80/tcp", env={"NO_COLOR": ""}, check=0)  # a pipe
        self.assertNotIn("\033[", cp.stdout)


if __name__ == "__main__":
    pktest.main()
