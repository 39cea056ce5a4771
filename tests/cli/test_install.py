#!/usr/bin/python3
"""`cmake --install` lays out the tree a packager expects, and the tools build without cmocka.

1. `cmake --install BUILD --prefix TMP` into an empty directory: every file a
   package needs is there (binaries executable, man pages, completion, the
   unit, the example config, docs), and nothing of the tests.
2. A fresh configure with -DBUILD_TESTING=OFF, with a pkg-config that says
   cmocka does not exist: it succeeds and generates no test target.

Usage: test_install.py --build BUILD_DIR --source SOURCE_DIR
"""
import os
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402

# path under the prefix -> executable?
EXPECTED = {
    "sbin/tcptop-record": True,
    "bin/tcptop-analyze": True,
    "share/doc/tcptop/README.md": False,
    "share/doc/tcptop/architecture.md": False,
    "share/doc/tcptop/FORMAT.md": False,
    "share/doc/tcptop/SCHEMA.md": False,
    "lib/systemd/system/tcptop-record.service": False,
    "lib/sysusers.d/tcptop.conf": False,
    "etc/default/tcptop": False,
    "share/man/man8/tcptop-record.8": False,
    "share/man/man1/tcptop-analyze.1": False,
    "share/man/man5/tcptop-store.5": False,
    "share/bash-completion/completions/tcptop-record": False,
    "share/bash-completion/completions/tcptop-analyze": False,
    "share/zsh/vendor-completions/_tcptop": False,
}
# nothing of the tests or benchmarks may be installed
FORBIDDEN = ("test_", "bench", "cmocka", "synth_store", "ttgen")


def options(ap):
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)


def main(t):
    a = t.args
    tmp = t.tmpdir("install")
    prefix = os.path.join(tmp, "prefix")
    p = subprocess.run(["cmake", "--install", a.build, "--prefix", prefix],
                       capture_output=True, text=True)
    t.require(p.returncode == 0, "cmake --install: %s" % p.stderr)
    got = set()
    for root, _, files in os.walk(prefix):
        for f in files:
            got.add(os.path.relpath(os.path.join(root, f), prefix))
    for path, exe in sorted(EXPECTED.items()):
        if not t.check(path in got, "missing: %s" % path):
            continue
        mode = os.stat(os.path.join(prefix, path)).st_mode
        t.check(exe == bool(mode & stat.S_IXUSR), "%s: mode %o, want %s" % (
            path, mode & 0o7777, "executable" if exe else "not executable"))
    for path in sorted(got):
        t.check(not any(w in os.path.basename(path) for w in FORBIDDEN),
                "test file installed: %s" % path)
    print("installed (%d files):\n  %s" % (len(got), "\n  ".join(sorted(got))))

    # without cmocka: pkg-config answers "not found" for it, the rest as usual
    fake = os.path.join(tmp, "pkg-config")
    with open(fake, "w") as f:
        f.write('#!/bin/sh\nfor a in "$@"; do case "$a" in *cmocka*) exit 1;; esac; done\n'
                'exec /usr/bin/pkg-config "$@"\n')
    os.chmod(fake, 0o755)
    bdir = os.path.join(tmp, "notests")
    p = subprocess.run(["cmake", "-S", a.source, "-B", bdir, "-DBUILD_TESTING=OFF",
                        "-DPKG_CONFIG_EXECUTABLE=" + fake], capture_output=True, text=True)
    if t.check(p.returncode == 0,
               "configure with BUILD_TESTING=OFF and no cmocka failed:\n" + p.stderr):
        p = subprocess.run(["cmake", "--build", bdir, "--target", "help"],
                           capture_output=True, text=True)
        targets = p.stdout
        t.check("tcptop-record" in targets and "tcptop-analyze" in targets,
                "BUILD_TESTING=OFF: the tools are not targets:\n" + targets)
        for target in ("test_aggregator", "bench_floor", "floor_skel"):
            t.check(target not in targets, "BUILD_TESTING=OFF still has target %s" % target)


if __name__ == "__main__":
    h.run("install", main, options, root=False)
