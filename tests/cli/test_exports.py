"""The shared library's ABI is exactly what include/portkit/ declares
PK_EXPORT: nothing internal leaks out (-fvisibility=hidden), nothing
declared is missing, and the umbrella header compiles as C and C++."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402

RELEASE_BIN = os.environ.get("PK_RELEASE_BIN", "")
INCLUDE = os.path.join(pktest.SOURCE_DIR, "include")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def declared():
    """Names after PK_EXPORT: a function's name before its '(' or an extern
    object's name before its ';'."""
    names = {}
    for path in glob.glob(os.path.join(INCLUDE, "portkit", "*.h")):
        code = strip_comments(read(path))
        for m in re.finditer(r"\bPK_EXPORT\b([^;]*);", code):
            stmt = m.group(1)
            if stmt.strip().startswith("extern") and "(" not in stmt:
                name = re.findall(r"[A-Za-z_]\w*", stmt)[-1]
            else:
                name = re.search(r"([A-Za-z_]\w*)\s*\(", stmt).group(1)
            names[name] = os.path.basename(path)
    return names


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True,
                         check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.split()[1] in "TDRBV"}


@unittest.skipUnless(RELEASE_BIN and os.path.exists(RELEASE_BIN), "needs the release build (make test sets PK_RELEASE_BIN)")
class Exports(unittest.TestCase):
    def test_exported_set_equals_declared_set(self):
        lib = os.path.join(os.path.dirname(RELEASE_BIN), "libportkit.so")
        have, want = exported(lib), declared()
        self.assertGreater(len(want), 100)
        self.assertEqual(sorted(have - set(want)), [], "exported but not declared PK_EXPORT in include/portkit/")
        self.assertEqual(sorted(set(want) - have), [], "declared PK_EXPORT but not exported (not defined?)")

    def test_public_prefix(self):
        for name, header in declared().items():
            self.assertTrue(name.startswith("pk_"), f"{header}: public symbol {name} lacks the pk_ prefix")

    def test_umbrella_header_compiles_as_c_and_cpp(self):
        tmp = tempfile.mkdtemp(prefix="pk-umbrella-")
        self.addCleanup(shutil.rmtree, tmp)
        headers = sorted(os.path.basename(p) for p in glob.glob(os.path.join(INCLUDE, "portkit", "*.h")))
        umbrella = read(os.path.join(INCLUDE, "portkit", "portkit.h"))
        for h in headers:
            if h != "portkit.h":
                self.assertIn(f'"portkit/{h}"', umbrella, f"portkit.h does not include {h}")
        src = os.path.join(tmp, "u.c")
        with open(src, "w") as f:
            f.write("#include <portkit/portkit.h>\nint main(void) { return pk_registry_builtin() ? 0 : 1; }\n")
        pktest.sh(f"cc -std=c17 -D_GNU_SOURCE -Wall -Werror -fsyntax-only -I{INCLUDE} {src}")
        if shutil.which("g++"):
            pktest.sh(f"g++ -x c++ -std=c++17 -D_GNU_SOURCE -fsyntax-only -I{INCLUDE} {src}")


if __name__ == "__main__":
    pktest.main()
