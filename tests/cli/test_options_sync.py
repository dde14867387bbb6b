"""Options, --help, the man page and bash completion say the same thing
(curl's test1139 is the model): an option the code accepts must be in all
three, and an option any of them names must be accepted by the code.

Sources, for every verb in main's table: the long options in its
src/cmd_VERB.c option table and the letters of its getopt string;
`portkit VERB --help`; its part of doc/sections/*.md (from the heading
naming "portkit VERB"); its list in doc/portkit.bash-completion. Options
portkit refuses on purpose (nmap's -A, -O, ...) must be documented in the
help and man page but are not offered for completion."""
import glob
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402
from pktest import run  # noqa: E402

SRC = pktest.SOURCE_DIR


def verbs():
    """Every verb in main's table (src/cli.h CLI_VERBS), so a new verb is
    checked from the day it lands."""
    with open(os.path.join(SRC, "src", "cli.h"), encoding="utf-8") as f:
        return re.findall(r"^\s*X\((\w+),", f.read(), re.M)


VERBS = verbs()

# Refused on purpose: one line saying what to use instead; in help and man, not completion.
REFUSED = {"scan": {"-A", "-O", "--script", "-sC", "-d", "--packet-trace"}}

# Letters in a getopt string that start nmap-style two-letter options, and what they make.
NMAP_PREFIX = {"scan": {"s": ["-sS", "-sT", "-sU", "-sV", "-sn"], "o": ["-oN", "-oX", "-oG", "-oJ", "-oL", "-oH", "-oA"],
                        "i": ["-iL"], "P": ["-Pn", "-PS", "-PA", "-PU", "-PE", "-PP", "-PR"],
                        "T": ["-T%d" % i for i in range(6)]}}

# Words that look like options in prose but name another tool's flag or an example value.
PROSE = {
    "ls": {"-o"},                                 # ps -o comm
    "who": {"-i"},                                # lsof -i
    "free": {"--port"},                           # ./server --port "$port"
    "scan": {"--array", "--job-name", "-c", "-le"},  # the Slurm example: #SBATCH lines, sh -c, [ $? -le 1 ]
    "forward": {"-f"},                            # nft -c -f
    "audit": {"--kernel"},                        # forward --kernel's redirects
    "history": {"--save", "-oX"},                 # scan's and ls's options that make runs
    "diff": {"-sV"},                              # scan -sV finds what diff compares
    "watch": {"-c", "-p"},                        # sh -c CMD; the repeated scan's own -p
}

# Accepted by every verb (main takes --color itself); documented once, in the
# global help and the man page's GLOBAL OPTIONS.
GLOBAL = {"--color", "--no-color", "--registry", "--help", "-h"}

TOKEN = re.compile(r"(?<![\w.=-])(--[a-z][a-z0-9-]*|-[A-Za-z][A-Za-z0-9]?|-[46])(?![\w-])")


def tokens(text):
    return set(TOKEN.findall(text))


def from_source(verb):
    with open(os.path.join(SRC, "src", f"cmd_{verb}.c"), encoding="utf-8") as f:
        code = f.read()
    longs = {"--" + n for n in re.findall(r'\{"([a-z][a-z0-9-]*)",\s*(?:no|required|optional)_argument', code)}
    m = re.search(r'getopt_long\([^,]+,\s*[^,]+,\s*"([^"]*)"', code)
    shorts = set()
    letters = re.sub(r"[:+]", "", m.group(1)) if m else ""
    for ch in letters:
        shorts.update(NMAP_PREFIX.get(verb, {}).get(ch, ["-" + ch]))
    return longs | shorts


def from_help(verb):
    return tokens(without_other_verbs(run(verb, "--help", check=0).stdout, verb))


def man_section(verb):
    """The verb's part of doc/sections/*.md: from the heading naming
    "portkit VERB" to the next heading of the same or a higher level. When
    several headings name it (a chapter "HISTORY (portkit history, diff,
    ...)" above "## portkit history"), the deepest one is the verb's own."""
    best = None
    for path in sorted(glob.glob(os.path.join(SRC, "doc", "sections", "*.md"))):
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for i, line in enumerate(lines):
            m = re.match(r"^(#+)\s.*\bportkit %s\b" % re.escape(verb), line)
            if not m:
                continue
            level, end = len(m.group(1)), len(lines)
            for k in range(i + 1, len(lines)):
                h = re.match(r"^(#+)\s", lines[k])
                if h and len(h.group(1)) <= level:
                    end = k
                    break
            if best is None or level > best[0]:
                best = (level, "\n".join(lines[i:end]))
    return best[1] if best else None


def without_other_verbs(text, verb):
    """Drops "portkit OTHERVERB ..." up to the end of its code span or line:
    audit's page may say `portkit forward --kernel`."""
    def cut(m):
        return m.group(0) if m.group(1) == verb or m.group(1) not in VERBS else ""
    return re.sub(r"\bportkit (\w+)[^`\n]*", cut, text)


def from_man(verb):
    text = man_section(verb)
    assert text is not None, f"no man page section has a heading naming 'portkit {verb}'"
    text = re.sub(r"[*`]", " ", without_other_verbs(text, verb))  # **-a**, `--port`
    return tokens(text)


def from_completion(verb):
    with open(os.path.join(SRC, "doc", "portkit.bash-completion"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"\n\s*%s\) opts=\"([^\"]*)\"" % re.escape(verb), text)
    return {w.rstrip("=") for w in m.group(1).split()} if m else set()


class Sync(unittest.TestCase):
    maxDiff = None

    def test_code_help_man_and_completion_agree(self):
        for verb in VERBS:
            with self.subTest(verb=verb):
                code = (from_source(verb) | REFUSED.get(verb, set())) - GLOBAL
                help_ = from_help(verb) - PROSE.get(verb, set()) - GLOBAL
                man = from_man(verb) - PROSE.get(verb, set()) - GLOBAL
                comp = from_completion(verb) - GLOBAL
                refused = REFUSED.get(verb, set())
                problems = {
                    "in the code, not in --help": code - help_,
                    "in the code, not in the man page": code - man,
                    "in the code, not in completion": code - comp - refused,
                    "in --help, not in the code": help_ - code,
                    "in the man page, not in the code": man - code,
                    "in completion, not in the code": comp - code,
                    "refused, yet offered for completion": comp & refused,
                }
                problems = {k: sorted(v) for k, v in problems.items() if v}
                self.assertEqual(problems, {}, verb)

    def test_everything_named_is_accepted(self):
        """The code check above reads tables; this asks the binary itself."""
        # what follows the option keeps anything from running: port 0 is
        # refused before a scan starts, -n only checks a forward
        tail = {"scan": ["-p", "0", "127.0.0.1"], "forward": ["-n"],
                # no history database to read or write, no watch left running
                "history": ["--db", "/nonexistent/portkit-test.db"], "diff": ["--db", "/nonexistent/portkit-test.db"],
                "report": ["--db", "/nonexistent/portkit-test.db"], "watch": ["--every", "0"]}
        with tempfile.TemporaryDirectory() as cwd:
            for verb in VERBS:
                for opt in sorted(from_completion(verb) | REFUSED.get(verb, set())):
                    with self.subTest(verb=verb, opt=opt):
                        try:
                            cp = subprocess.run([pktest.PORTKIT, verb, opt, "1", *tail.get(verb, [])],
                                                capture_output=True, text=True, timeout=3, cwd=cwd,
                                                stdin=subprocess.DEVNULL)
                        except subprocess.TimeoutExpired:
                            continue  # it started working: the option was taken
                        self.assertNotIn("unknown option", cp.stderr)
                        self.assertGreaterEqual(cp.returncode, 0)

    def test_global_options(self):
        help_ = tokens(run("--help").stdout)
        roff = ""
        for part in ("head.roff", "tail.roff"):
            with open(os.path.join(SRC, "doc", "man", part), encoding="utf-8") as f:
                roff += f.read()
        man = tokens(re.sub(r"\\f[BIRP]", " ", roff.replace("\\-", "-")))
        comp = from_completion("\"\"")
        for opt in ("--registry", "--color", "--no-color", "--help", "--version"):
            self.assertIn(opt, help_, opt)
            self.assertIn(opt, man, opt)
            self.assertIn(opt, comp, opt)


if __name__ == "__main__":
    pktest.main()
