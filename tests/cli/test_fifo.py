#!/usr/bin/python3
"""A FIFO where a store keeps a file never hangs a reader: one line, then an answer or an exit.

A copy of tests/data/store-v1 gets a FIFO instead of index.db, then instead of
its segment (nobody ever writes into the FIFO: a blocking open or read would
hang forever). Each command must end within its timeout:
  - index.db a FIFO: info, top, events, timeline, sql and verify exit 1 with
    a line saying "not a regular file"; reindex rebuilds the index from the
    segments in its place, which then answers top;
  - the segment a FIFO: top and events answer (exit 0) with a warning naming
    it; verify exits 1 listing it as a problem; reindex exits non-zero
    leaving it out.
Runs as any user (issue 14, item 10).
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402
from ttharness import check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "store-v1")
SEGMENT = "r000001-s000000.tts"

def run(ana, args):
    try:
        return subprocess.run([ana] + args, capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None


def store_with_fifo(tmp, name):
    store = os.path.join(tmp, name.replace(".", "_"))
    shutil.copytree(DATA, store)
    os.unlink(os.path.join(store, name))
    os.mkfifo(os.path.join(store, name))
    return store


def options(ap):
    ap.add_argument("--analyzer", required=True)


def main(t):
    a = t.args
    tmp = t.tmpdir("fifo")
    store = store_with_fifo(tmp, "index.db")
    for cmd in (["info"], ["top"], ["events"], ["timeline"],
                ["sql", "SELECT count(*) FROM recordings"], ["verify"]):
        args = cmd[:1] + [store] + cmd[1:] if cmd[0] == "sql" else cmd + [store]
        p = run(a.analyzer, args)
        check(p is not None, "index.db a FIFO: %s hung (30 s)" % cmd[0])
        if p is None:
            continue
        check(p.returncode != 0, "index.db a FIFO: %s exit %d" % (cmd[0], p.returncode))
        check("regular file" in p.stderr or "not a" in p.stderr,
              "index.db a FIFO: %s says why: %r" % (cmd[0], p.stderr))

    # reindex rebuilds the index from the segments and puts it in the FIFO's place
    p = run(a.analyzer, ["reindex", store])
    check(p is not None and p.returncode == 0,
          "index.db a FIFO: reindex rebuilds it: %r" % ((p and (p.returncode, p.stderr)),))
    check(os.path.isfile(os.path.join(store, "index.db")), "index.db is a file again")
    p = run(a.analyzer, ["top", "--format", "json", store])
    check(p is not None and p.returncode == 0 and p.stdout.count("\n") == 9,
          "the rebuilt index answers top (9 rows): %r" % ((p and (p.returncode, p.stderr)),))

    store = store_with_fifo(tmp, SEGMENT)
    for cmd in (["top"], ["events"]):
        p = run(a.analyzer, cmd + [store])
        check(p is not None, "segment a FIFO: %s hung (30 s)" % cmd[0])
        if p is None:
            continue
        check(p.returncode == 0 and "not a regular file" in p.stderr,
              "segment a FIFO: %s answers with a warning: exit %d, %r" %
              (cmd[0], p.returncode, p.stderr))
    p = run(a.analyzer, ["verify", store])
    check(p is not None and p.returncode == 1 and "not a regular file" in p.stdout,
          "segment a FIFO: verify lists it: %r" % ((p and (p.returncode, p.stdout)),))
    p = run(a.analyzer, ["reindex", store])
    check(p is not None and p.returncode != 0 and "not a regular file" in p.stderr,
          "segment a FIFO: reindex leaves it out: %r" % ((p and (p.returncode, p.stderr)),))


if __name__ == "__main__":
    h.run("fifo", main, options, root=False)
