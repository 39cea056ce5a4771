#!/usr/bin/python3
"""A store of the first format (tests/data/store-v1: index schema 1, segment
format 1.0, a keyframe in every block) reads with this build as it is.

The store is copied to a temporary directory first (never opened in place).
top, top --group-by process,remote-port, events and timeline (--format json)
give exactly the answers its own build gave (expected/); verify passes; reading
leaves the index at schema 1 (a reader never migrates); reindex builds a
current index from its segments that marks every block a keyframe block, and
top answers the same from it.
"""
import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")
QUERIES = (("top", ["top"]), ("top_process_rport", ["top", "--group-by", "process,remote-port"]),
           ("events", ["events"]), ("timeline", ["timeline"]))

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: %s" % what)


def run(ana, *args):
    p = subprocess.run([ana] + list(args), capture_output=True, text=True, timeout=60)
    check(not any(m in p.stderr for m in SANITIZER_MARKS), "%s: sanitizer report: %s" %
          (args[0], p.stderr))
    return p


def user_version(store):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(store, "index.db"), uri=True)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--data", required=True, help="tests/data/store-v1")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ttv1-")
    try:
        store = os.path.join(tmp, "store")
        shutil.copytree(a.data, store)
        for name, args in QUERIES:
            p = run(a.analyzer, *(args + ["--format", "json", store]))
            with open(os.path.join(a.data, "expected", name + ".json")) as f:
                want = f.read()
            check(p.returncode == 0, "%s: exit %d: %s" % (name, p.returncode, p.stderr.strip()))
            check(p.stdout == want, "%s: answers differ from the v1 build's:\n%s\nvs\n%s" %
                  (name, p.stdout, want))
        p = run(a.analyzer, "verify", store)
        check(p.returncode == 0 and "0 problems" in p.stdout, "verify: %s %s" % (p.stdout,
                                                                                p.stderr))
        check(user_version(store) == 1, "a reader left the index at schema 1")

        top = run(a.analyzer, "top", "--format", "json", store).stdout
        p = run(a.analyzer, "reindex", store)
        check(p.returncode == 0, "reindex: exit %d: %s" % (p.returncode, p.stderr.strip()))
        check(user_version(store) > 1, "reindex writes a current index")
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(store, "index.db"), uri=True)
        n, kf = db.execute("SELECT count(*), sum(keyframe) FROM blocks").fetchone()
        db.close()
        check(n > 0 and kf == n, "reindex: every 1.0 block is a keyframe block (%s of %s)" %
              (kf, n))
        check(run(a.analyzer, "top", "--format", "json", store).stdout == top,
              "top after reindex")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%s: store_v1_read (%d failures)" % ("FAIL" if failures else "PASS", len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
