#!/usr/bin/python3
"""Damaged copies of a small store answer exactly what the damage left (issue 13, item 6).

tests/data/damaged/ holds copies of tests/data/store-v1 with a torn tail, a
flipped bit in a frame header and in a payload, the segment missing, and an
index row pointing past the end of the file (make.py says how each was made and
which blocks it loses). For each, on a copy (never in place):

  - `verify` and `top --format json` print exactly expected/NAME.verify and
    expected/NAME.top (exit status, stdout, stderr);
  - the ground truth: top of the damaged copy is top of the intact store whose
    index no longer lists the lost blocks (what is left is answered whole, what
    is lost is missing whole), and a warning says so whenever an indexed block
    was lost.
"""
import os
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402
from ttharness import check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
sys.dont_write_bytecode = True  # nothing written into tests/data
sys.path.insert(0, os.path.join(DATA, "damaged"))
import make  # noqa: E402  (DAMAGE, answer)


def options(ap):
    ap.add_argument("--analyzer", required=True)


def main(t):
    args = t.args
    ana = os.path.abspath(args.analyzer)
    tmp = t.tmpdir("damaged")
    for name, lost in make.DAMAGE.items():
        shutil.copytree(os.path.join(DATA, "damaged", name), os.path.join(tmp, name))
        for cmd, a in (("verify", ["verify", name]),
                       ("top", ["top", "-n", "100", "--format", "json", name])):
            got = make.answer(ana, tmp, *a)
            with open(os.path.join(DATA, "damaged", "expected", "%s.%s" % (name, cmd))) as f:
                want = f.read()
            check(got == want, "%s: %s:\n%s\nwant:\n%s" % (name, cmd, got, want))
        # the truth: the intact store without the lost blocks' rows (and, as a
        # crash leaves it, without the recording's end for the torn tail)
        truth_dir = os.path.join(tmp, "truth-" + name)
        os.mkdir(truth_dir)
        for f in ("index.db", make.SEG):
            shutil.copy(os.path.join(DATA, "store-v1", f), truth_dir)
        db = sqlite3.connect(os.path.join(truth_dir, "index.db"))
        db.execute("DELETE FROM blocks WHERE id IN (%s)" % ",".join(map(str, lost or [0])))
        if name == "torn-tail":
            db.execute("UPDATE recordings SET end_ns = NULL, clean_stop = 0")
        db.commit()
        db.close()
        truth = make.answer(ana, tmp, "top", "-n", "100", "--format", "json", "truth-" + name)
        got = make.answer(ana, tmp, "top", "-n", "100", "--format", "json", name)
        rows = lambda s: s.split("--- stderr\n")[0]
        check(rows(got) == rows(truth), "%s: top is not the intact store's without blocks %s"
              % (name, lost))
        # the torn block was never indexed; a damaged file header loses nothing
        # but is damage all the same, and said
        warned = name != "torn-tail"
        check(("warning" in got.split("--- stderr\n")[1]) == warned,
              "%s: top %s a warning" % (name, "lacks" if warned else "has"))


if __name__ == "__main__":
    h.run("damaged", main, options, root=False)
