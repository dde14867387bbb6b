"""No call cycle between the library's files (tools/check_cycles.py reads
the objects' symbol tables), and the CLI uses only the public API."""
import glob
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402

BUILD = os.environ.get("PK_BINARY_DIR", "")


class Layers(unittest.TestCase):
    @unittest.skipUnless(BUILD and os.path.isdir(os.path.join(BUILD, "CMakeFiles", "portkit_core.dir")),
                         "needs a build directory (PK_BINARY_DIR)")
    def test_no_call_cycle_between_library_files(self):
        cp = subprocess.run([sys.executable, os.path.join(pktest.SOURCE_DIR, "tools", "check_cycles.py"), BUILD],
                            capture_output=True, text=True)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertRegex(cp.stdout, r"\d+ files, \d+ dependencies, 0 cycles")

    def test_cli_includes_only_public_headers(self):
        for path in glob.glob(os.path.join(pktest.SOURCE_DIR, "src", "*.[ch]")):
            with open(path, encoding="utf-8") as f:
                for inc in re.findall(r'#include "([^"]+)"', f.read()):
                    self.assertTrue(inc.startswith("portkit/") or "/" not in inc,
                                    f"{os.path.basename(path)} includes library internals: {inc}")


if __name__ == "__main__":
    pktest.main()
