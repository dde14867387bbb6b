"""make install's tree works: binary, man page, completion, and a program
built against the installed library through pkg-config gets real answers."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import pktest  # noqa: E402

RELEASE_BIN = os.environ.get("PK_RELEASE_BIN", "")

EMBED = r"""
#include <portkit/registry.h>
#include <portkit/query.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    const struct pk_registry *reg = pk_registry_builtin();
    struct pk_query q;
    struct pk_err err;
    if (pk_query_parse("70000", 5, &q, &err) != PK_EINVAL) return 1;
    printf("%s %s\n", pk_registry_name(reg, 22, PK_TCP), pk_registry_name(reg, 53, PK_UDP));
    return 0;
}
"""


@unittest.skipUnless(RELEASE_BIN and os.path.exists(RELEASE_BIN), "needs the release build (make test sets PK_RELEASE_BIN)")
class Install(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="pk-install-")
        self.addCleanup(shutil.rmtree, self.root)
        build_dir = os.path.dirname(RELEASE_BIN)
        pktest.sh(f"DESTDIR={self.root} cmake --install {build_dir} --prefix /usr")
        self.prefix = os.path.join(self.root, "usr")

    def find(self, name):
        for d, _, files in os.walk(self.root):
            if name in files:
                return os.path.join(d, name)
        self.fail(f"{name} not installed")

    def test_installed_files(self):
        binary = os.path.join(self.prefix, "bin", "portkit")
        out = subprocess.run([binary, "info", "22/tcp"], capture_output=True, text=True, check=True).stdout
        self.assertIn("ssh", out)
        man = self.find("portkit.1")
        if shutil.which("man"):
            text = pktest.sh(f"MANWIDTH=80 man -l {man}").stdout
            self.assertIn("portkit", text)
            self.assertIn("EXIT STATUS", text)
        completion = self.find("portkit")  # bash-completion/completions/portkit
        pktest.sh(f"bash -n {completion}")
        for header in ("registry.h", "error.h", "json.h", "loop.h"):
            self.find(header)

    def test_embedding_through_pkg_config(self):
        pc = os.path.dirname(self.find("portkit.pc"))
        src = os.path.join(self.root, "embed.c")
        exe = os.path.join(self.root, "embed")
        with open(src, "w") as f:
            f.write(EMBED)
        env = dict(os.environ, PKG_CONFIG_PATH=pc)
        flags = pktest.sh("pkg-config --cflags --libs --static portkit", env=env).stdout.split()
        subprocess.run(["cc", "-std=c17", "-o", exe, src, *flags], check=True, env=env)
        libdir = os.path.dirname(pc)  # the shared library sits beside pkgconfig/
        out = subprocess.run([exe], capture_output=True, text=True, check=True,
                             env=dict(os.environ, LD_LIBRARY_PATH=libdir)).stdout
        self.assertEqual(out.strip(), "ssh domain")


if __name__ == "__main__":
    pktest.main()
