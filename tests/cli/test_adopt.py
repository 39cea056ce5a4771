#!/usr/bin/python3
"""Blocks a recorder wrote but never indexed are adopted by a reader that can write
the store; one that cannot says how many its answer lacks.

A copy of tests/data/store-v1 is made to look as a SIGKILL between a frame's
write and its index transaction leaves a store: the last two blocks rows
deleted, the segment unsealed, the recording open (no end, unclean), while
the segment file keeps every frame. Then:

  - as the store's owner, `top --format json` adopts the two blocks (one
    line on stderr naming them), the index names every frame again, and the
    answer is the untouched copy's, row for row; a second `top` adopts
    nothing and says nothing;
  - as root only (setpriv to nobody), on another such copy whose files all
    may read and only root may write: `top` warns that 2 blocks are not in its answer and to run reindex,
    answers from what is indexed, and leaves the index as it was.

Runs as any user (the second part is skipped, with a line, unless root).
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402
from ttharness import check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "store-v1")

def crashed_copy(tmp, name):
    """store-v1 as a crash before the last two blocks' index transactions leaves it."""
    store = os.path.join(tmp, name)
    shutil.copytree(DATA, store)
    db = sqlite3.connect(os.path.join(store, "index.db"))
    db.execute("DELETE FROM blocks WHERE id IN (SELECT id FROM blocks ORDER BY id DESC LIMIT 2)")
    db.execute("UPDATE segments SET sealed = 0, blocks = (SELECT count(*) FROM blocks b WHERE "
               "b.segment_id = segments.id), bytes = (SELECT max(offset + length) FROM blocks b "
               "WHERE b.segment_id = segments.id), t_end_ns = (SELECT max(t_end_ns) FROM blocks "
               "b WHERE b.segment_id = segments.id)")
    db.execute("UPDATE recordings SET end_ns = NULL, clean_stop = 0")
    db.commit()
    db.close()
    return store


def blocks(store):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(store, "index.db"), uri=True)
    try:
        return db.execute("SELECT count(*) FROM blocks").fetchone()[0]
    finally:
        db.close()


def top(ana, store, pre=()):
    return subprocess.run(list(pre) + [ana, "top", "-n", "100", "--format", "json", store],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def rows(out):
    """top's rows without rate_in and rate_out: those are the window's bytes over its
    length, and the whole recording of a crashed copy ends at its last block, not at
    the end the clean stop wrote."""
    res = []
    for line in out.splitlines():
        r = json.loads(line)
        r.pop("rate_in", None)
        r.pop("rate_out", None)
        res.append(r)
    return res


def options(ap):
    ap.add_argument("--analyzer", required=True)


def main(t):
    a = t.args
    tmp = t.tmpdir("adopt")
    whole = os.path.join(tmp, "whole")
    shutil.copytree(DATA, whole)
    want = top(a.analyzer, whole)
    check(want.returncode == 0 and want.stdout, "top of the untouched copy: %r" % (want,))

    store = crashed_copy(tmp, "owner")
    check(blocks(store) == 3, "the crashed copy indexes 3 blocks, not %d" % blocks(store))
    p = top(a.analyzer, store)
    check(p.returncode == 0, "owner: top exit %d: %s" % (p.returncode, p.stderr))
    check("2 blocks" in p.stderr and "adopted" in p.stderr and
          len(p.stderr.splitlines()) == 1,
          "owner: one line saying 2 blocks were adopted: %r" % p.stderr)
    check(blocks(store) == 5, "owner: 5 blocks indexed after the adoption, not %d" %
          blocks(store))
    check(rows(p.stdout) == rows(want.stdout), "owner: top after the adoption differs "
          "from the untouched copy's:\n%s\n--- want:\n%s" % (p.stdout, want.stdout))
    again = top(a.analyzer, store)
    check(again.returncode == 0 and again.stderr == "" and again.stdout == p.stdout,
          "owner, again: nothing to adopt, the same answer: %r" % (again,))

    if os.geteuid() != 0:
        print("SKIPPED (part): a reader who cannot write the store needs root to switch "
              "to nobody", flush=True)
    else:
        store = crashed_copy(tmp, "nobody")
        # a directory nobody may create files in (SQLite's -shm for a reader), files
        # nobody may read but not write: LOCK and index.db stay root's
        os.chmod(tmp, 0o755)
        os.chmod(store, 0o777)
        for f in os.listdir(store):
            os.chmod(os.path.join(store, f), 0o644)
        p = top(a.analyzer, store, ["setpriv", "--reuid=65534", "--regid=65534",
                                    "--clear-groups"])
        check(p.returncode == 0 and p.stdout, "nobody: top exit %d: %s" %
              (p.returncode, p.stderr))
        check("2 blocks not indexed" in p.stderr and "reindex" in p.stderr,
              "nobody: a warning that 2 blocks are missing and to run reindex: %r" %
              p.stderr)
        check(blocks(store) == 3, "nobody: the index left as it was (3 blocks), not %d" %
              blocks(store))
        check(rows(p.stdout) != rows(want.stdout), "nobody: the answer lacks the 2 blocks")
        check(not [f for f in os.listdir(store) if f.startswith("index.db.rebuild")],
              "nobody: no rebuild left behind: %s" % os.listdir(store))


if __name__ == "__main__":
    h.run("adopt", main, options, root=False)
