"""portkit info and the curated knowledge: ranges, the ports people meet
today, the seeds' languages (search and --lang), sources and the display
fixes. Real binary, compiled-in registry."""
import os
import pty
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from pktest import run, run_json  # noqa: E402

NMAP_SERVICES = "/usr/share/nmap/nmap-services"
EN = {"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}


def info(*args, env=None, check=0):
    return run("info", *args, env={**EN, **(env or {})}, check=check)


def info_json(*args):
    cp, rows = run_json("info", "--json", *args, env=EN, check=0)
    return rows


def on_tty(*args, cols=80, lines=40):
    """Runs portkit with stdout on a pseudo-terminal; returns its output."""
    master, slave = pty.openpty()
    env = dict(os.environ, NO_COLOR="1", COLUMNS=str(cols), LINES=str(lines), **EN)
    env.pop("PORTKIT_REGISTRY", None)
    p = subprocess.Popen([pktest.PORTKIT, *args], stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    p.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def top_ports():
    """nmap's top 1000 TCP and top 200 UDP (its frequency file when nmap is
    installed, else portkit's own data/top-ports.txt)."""
    if os.path.exists(NMAP_SERVICES):
        rows = []
        with open(NMAP_SERVICES) as f:
            for line in f:
                fields = line.split("\t")
                if line.startswith("#") or len(fields) < 3:
                    continue
                port, proto = fields[1].split("/")
                rows.append((-float(fields[2]), int(port), proto))
        rows.sort()
        tcp = [(p, t) for _, p, t in rows if t == "tcp"][:1000]
        udp = [(p, t) for _, p, t in rows if t == "udp"][:200]
        return tcp + udp
    seen = {"tcp": [], "udp": []}
    with open(os.path.join(pktest.SOURCE_DIR, "data", "top-ports.txt")) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line:
                port, proto = line.split("/")
                seen[proto].append((int(port), proto))
    return seen["tcp"][:1000] + seen["udp"][:200]


class Ranges(unittest.TestCase):
    def test_x11_display_number_from_the_port(self):
        out = info("6005/tcp").stdout
        self.assertIn("6000-6063/tcp x11", out)
        self.assertIn("display :5", out)
        row = info_json("6005/tcp")[0]
        self.assertEqual(row["range_note"]["first"], 6000)
        self.assertEqual(row["range_note"]["last"], 6063)
        self.assertIn("DISPLAY=host:5", " ".join(row["range_note"]["notes"]))

    def test_directplay_bittorrent_nodeport(self):
        self.assertIn("DirectPlay", info("2350/udp").stdout)
        self.assertIn("6881-6889/tcp bittorrent", info("6884/tcp").stdout)
        self.assertIn("NodePort", info("31000/tcp").stdout)
        self.assertIn("7070", info("7000/udp").stdout)  # RealAudio's UDP range

    def test_a_remark_naming_one_port_stays_on_that_port(self):
        rows = {r["port"]: r for r in info_json("6002-6004/tcp")}
        self.assertEqual(rows[6003]["unauthorized_use"], "Known Unauthorized Use on port 6003")
        self.assertIsNone(rows[6002]["unauthorized_use"])
        self.assertIsNone(rows[6004]["unauthorized_use"])

    def test_wide_range_on_a_terminal_lists_one_line_per_port(self):
        out = on_tty("info", "2300-2400")
        self.assertIn("101 ports, one line each", out)
        self.assertIn("2300-2400/tcp directplay", out)
        self.assertLess(len(out.splitlines()), 300)
        self.assertIn("other ports in 40000-40100", on_tty("info", "40000-40100/tcp"))
        full = on_tty("info", "--all", "2300-2310")
        self.assertNotIn("one line each", full)
        self.assertGreater(len(info("2300-2400").stdout.splitlines()), 900)  # a pipe gets everything


class PortsPeopleMeet(unittest.TestCase):
    def test_gaps_named_in_the_issue(self):
        expect = {
            "990/tcp": "Implicit FTPS", "989/tcp": "FTPS", "1026/udp": "Messenger",
            "1027/udp": "Messenger", "1028/tcp": "dynamic RPC", "49154/tcp": "dynamic RPC",
            "2967/tcp": "CVE-2006-2630", "17185/udp": "VxWorks", "9999/tcp": "Lantronix",
            "1900/tcp": "UPnP", "8265/tcp": "CVE-2023-48022", "1337/tcp": "elite",
        }
        for query, word in expect.items():
            with self.subTest(query=query):
                self.assertIn(word, info(query).stdout)

    def test_udp_80_is_not_http(self):
        out = info("80/udp").stdout
        self.assertIn("HTTP does not use UDP 80", out)
        self.assertIn("UDP 443", out)

    def test_every_top_port_carries_a_note(self):
        pairs = top_ports()
        self.assertEqual(len(pairs), 1200)
        queries = "".join(f"{p}/{t}\n" for p, t in pairs)
        cp, rows = run_json("info", "-", "--json", input=queries, env=EN, check=0, timeout=120)
        bare = [(r["port"], r["proto"]) for r in rows if not r["notes"] and not r["range_note"]]
        self.assertEqual(bare, [])
        self.assertEqual(len(rows), 1200)

    def test_every_note_has_a_source(self):
        row = info_json("22/tcp")[0]
        self.assertIn("RFC 4251", row["source"])
        self.assertIn("source", info("22/tcp").stdout)


class Languages(unittest.TestCase):
    def test_search_in_chinese_and_vietnamese(self):
        cases = {"冰河": "7626/tcp", "远程桌面": "3389/tcp", "Võ lâm": "5622/tcp", "vo lam": "5622/tcp",
                 "VÕ LÂM": "5622/tcp", "máy để bàn": "3389/tcp", "Giscier": "7626/tcp",
                 "广外女生": "6267/tcp", "蓝色火焰": "19191/tcp", "腾讯QQ": "4000/udp",
                 "Đế Chế": "2300/tcp", "ＱＱ": "8000/udp"}
        for word, port in cases.items():
            with self.subTest(word=word):
                out = info("--search", word).stdout
                self.assertIn(port, out)

    def test_search_shows_the_matching_snippet(self):
        out = info("--search", "Glacier").stdout
        line = next(l for l in out.splitlines() if l.startswith("7626/tcp"))
        self.assertIn("Glacier", line)
        self.assertIn("[RISK]", line)

    def test_names_in_other_scripts_answer_queries(self):
        self.assertIn("3389/tcp", info("远程桌面").stdout)
        self.assertIn("5622/tcp", info("Võ Lâm Truyền Kỳ").stdout)

    def test_lang_picks_notes_and_labels(self):
        vi = info("--lang", "vi", "3389/tcp").stdout
        self.assertIn("ghi chú", vi)
        self.assertIn("Máy để bàn từ xa", vi)
        self.assertIn("máy này", vi)
        zh = info("--lang", "zh", "7626/tcp").stdout
        self.assertIn("冰河", zh)
        self.assertIn("说明", zh)
        self.assertIn("风险", zh)
        en = info("--lang", "en", "7626/tcp").stdout
        self.assertIn("notes", en)
        self.assertNotIn("说明", en)

    def test_locale_chooses_when_no_flag(self):
        out = info("3389/tcp", env={"LC_ALL": "", "LANG": "zh_CN.UTF-8"}).stdout
        self.assertIn("远程桌面", out)
        out = info("3389/tcp", env={"LC_ALL": "vi_VN.UTF-8"}).stdout
        self.assertIn("ghi chú", out)

    def test_untranslated_notes_fall_back_to_english(self):
        out = info("--lang", "zh", "27017/tcp").stdout
        self.assertIn("说明", out)       # the label is Chinese
        self.assertIn("MongoDB", out)    # the note is English

    def test_bad_lang_is_a_usage_error(self):
        cp = info("--lang", "fr", "80", check=2)
        self.assertEqual(len(cp.stderr.strip().splitlines()), 1)
        self.assertIn("--lang", cp.stderr)


class DisplayFixes(unittest.TestCase):
    def test_dns_sd_keys_are_labelled(self):
        out = info("80/tcp").stdout
        self.assertIn("dns-sd", out)
        self.assertIn("not credentials", out)
        self.assertNotIn("iana-note Defined TXT keys", out)

    def test_reserved_ports_tell_one_truth(self):
        for port in (0, 1024):
            with self.subTest(port=port):
                out = info(f"{port}/tcp").stdout
                self.assertNotIn("de-facto", out.splitlines()[0])
                self.assertIn("reserved by IANA", out.splitlines()[0])
                row = info_json(f"{port}/tcp")[0]
                self.assertTrue(row["official"])
                self.assertEqual(row["note_kind"], "official")

    def test_dynamic_range_is_not_called_ephemeral(self):
        for port in (49152, 65535):
            with self.subTest(port=port):
                out = info(f"{port}/tcp").stdout
                self.assertNotIn("ephemeral", out.splitlines()[0])
                self.assertIn("dynamic/private", out)
                self.assertRegex(out, r"this host's ephemeral range \d+-\d+")

    def test_risks_show_on_their_transport_only(self):
        rows = {r["proto"]: r for r in info_json("3389")}
        self.assertTrue(any("BlueKeep" in r for r in rows["tcp"]["risk"]))
        self.assertEqual(rows["udp"]["risk"], [])
        rows = {r["proto"]: r for r in info_json("31337")}
        self.assertTrue(any("Back Orifice" in r for r in rows["udp"]["risk"]))
        self.assertFalse(any("Back Orifice" in r for r in rows["tcp"]["risk"]))

    def test_kerberos_finds_its_ports(self):
        out = info("kerberos").stdout
        for port in ("88/tcp", "464/tcp", "749/tcp", "750/udp"):
            self.assertIn(port, out)

    @unittest.skipUnless(os.path.exists(NMAP_SERVICES), "needs nmap's frequency data")
    def test_http_alt_ranks_8080_first_and_frequency_wording(self):
        first = info("http-alt").stdout.splitlines()[0]
        self.assertTrue(first.startswith("8080/tcp"), first)
        self.assertIn("nmap saw it open on", info("22/tcp").stdout)
        self.assertIn("no data", info("0/tcp").stdout)
        self.assertIsNone(info_json("0/tcp")[0]["frequency"])

    def test_notes_wrap_to_the_terminal(self):
        out = on_tty("info", "--lang", "zh", "3389/tcp", cols=50)
        widths = [sum(2 if ord(ch) >= 0x1100 else 1 for ch in line) for line in out.splitlines()]
        self.assertLessEqual(max(widths), 50, out)
        self.assertIn("远程桌面", out.replace("\n", "").replace(" ", ""))
        piped = info("3389/tcp", env={"COLUMNS": "50"}).stdout
        self.assertTrue(any(len(line) > 60 for line in piped.splitlines()))  # a pipe is not wrapped


class NotesLint(unittest.TestCase):
    LINT = os.path.join(pktest.SOURCE_DIR, "tools", "notes_lint.py")

    def test_the_notes_pass_and_meet_the_counts(self):
        cp = subprocess.run([sys.executable, self.LINT], capture_output=True, text=True, timeout=120)
        self.assertEqual(cp.returncode, 0, cp.stderr[-3000:])
        m = re.search(r"pairs: (\d+); range blocks: (\d+); blocks with sources: (\d+) of (\d+)", cp.stdout)
        self.assertGreaterEqual(int(m.group(1)), 1000)
        self.assertGreaterEqual(int(m.group(2)), 10)
        self.assertEqual(m.group(3), m.group(4))
        for lang in ("vi", "zh"):
            n = int(re.search(lang + r": \d+ translated blocks covering (\d+) ports", cp.stdout).group(1))
            self.assertGreaterEqual(n, 200)

    def test_the_lint_catches_what_it_promises(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, "vi"))
            with open(os.path.join(d, "a.txt"), "w") as f:
                f.write("@ 22/tcp official\nname: sshd\nnote: x\n\n@ 7/tcp official\nname: echo\nnote: e\nsrc: RFC 862\n")
            with open(os.path.join(d, "vi", "a.txt"), "w") as f:
                f.write("lang: vi\n@ 23/tcp\nnote: không có khối tiếng Anh\n")
            csv_path = os.path.join(pktest.SOURCE_DIR, "data", "iana-service-names-port-numbers.csv")
            cp = subprocess.run([sys.executable, self.LINT, d, csv_path], capture_output=True, text=True)
        self.assertEqual(cp.returncode, 1)
        self.assertIn("needs exactly one src", cp.stderr)
        self.assertIn("vi note for 23/tcp has no English block", cp.stderr)
        self.assertIn("official block named 'sshd'", cp.stderr)


if __name__ == "__main__":
    pktest.main()
