#!/usr/bin/python3
"""SIGKILL during retention and vacuum: the store verifies and answers after every kill.

The store starts as a copy of tests/data/store-v1 (an index made before
incremental vacuum, auto_vacuum NONE), so the first runs convert it
(VACUUM) as they open it. Then many recorder runs, each SIGKILLed after a
random delay, with --segment-size 16K --retain-size 64K: a size smaller than
the index, so every segment is removed as soon as it is sealed (a few times a
second) with its rows, followed by an incremental vacuum and a WAL
truncation: most kills land in or near a retention pass. Traffic: ttgen.py
store-churn (a steady stream of connections opening and closing).

After every kill: `tcptop-analyze verify` passes (a file whose rows a pass
had deleted when it died is a warning, never a problem), every blocks row
lies inside its file, `info` and `top` answer. A last run stopped with SIGINT
exits 0; then every segment file the index does not name is one that a run
made and died before naming (its recording's newest), never one older than
what the index keeps (the next run's first pass removes those), the index is
in auto_vacuum INCREMENTAL, and verify passes.

The seed is printed; TT_RETKILL_SEED=N repeats a run's delays.
"""
import os
import random
import re
import shutil
import time

import ttharness as h
import ttstore as ts

KILLS = 24
DEFAULT_SEED = 20250611
HERE = os.path.dirname(os.path.abspath(__file__))
V1 = os.path.join(HERE, "..", "data", "store-v1")
RETAIN = ["--segment-size", "16K", "--retain-size", "64K"]


def answers(t, store, what):
    p = t.analyze("info", store)
    t.check(p.returncode == 0, "%s: info exited %d: %s" % (what, p.returncode, p.stderr.strip()))
    p = t.analyze("top", "-n", "5", store)
    t.check(p.returncode == 0, "%s: top exited %d: %s" % (what, p.returncode, p.stderr.strip()))
    t.check(not h.sanitizer_report(p.stderr), "%s: top: sanitizer report" % what)


def unknown_files(store):
    named = {s["file"]: s for s in ts.query(store, "SELECT file, recording_id, seq FROM segments")}
    out = []
    for f in ts.segment_files(store):
        m = re.match(r"r(\d{6})-s(\d{6})\.tts$", f)
        if m and f not in named:
            out.append((f, int(m.group(1)), int(m.group(2))))
    return out


def main(t):
    seed = int(os.environ.get("TT_RETKILL_SEED", DEFAULT_SEED))
    print("store_retention_kill: seed %d (TT_RETKILL_SEED=%d repeats it), %d kills" %
          (seed, seed, KILLS), flush=True)
    rng = random.Random(seed)
    top = t.tmpdir("retkill")
    store = os.path.join(top, "store")
    os.mkdir(store, 0o700)
    for f in ("index.db", "r000001-s000000.tts"):
        shutil.copyfile(os.path.join(V1, f), os.path.join(store, f))
    av = ts.query(store, "PRAGMA auto_vacuum")[0]["auto_vacuum"]
    t.eq("the copy of store-v1: auto_vacuum before any run (0: none)", av, 0)

    gen = t.gen("store-churn", ["--conns", 100, "--active", 30, "--reopen", 20],

                "ttchurn", ready=True)
    stats = {"starting": 0, "attached": 0, "unknown": 0}
    for i in range(KILLS):
        # one in six while it starts (opening, converting, the first pass)
        delay = rng.uniform(0.0, 0.3) if rng.random() < 0.17 else rng.uniform(0.4, 2.5)
        r = t.recorder(store=store, extra=RETAIN)
        r.start(wait=False)
        time.sleep(delay)
        attached = r.attached.is_set()
        rc = r.sigkill()
        what = "run %d (killed after %.2fs, %s)" % (i, delay, "attached" if attached else
                                                     "starting")
        stats["attached" if attached else "starting"] += 1
        if not t.check(rc == -9, "%s: exit %r before the kill; stderr: %s" %
                       (what, rc, r.stderr_text().strip())):
            continue
        r.check_stderr_clean(what)
        noise = [l for l in r.stderr_text().splitlines()
                 if not l.startswith("tcptop-record: warning:")]
        t.eq("%s: stderr lines other than warnings" % what, noise, [])
        ts.verify(t, store, "verify after " + what)
        ts.check_index_vs_disk(t, store, what, files_known=False)
        answers(t, store, what)
        stats["unknown"] += len(unknown_files(store))
        if not gen.alive():
            raise h.Failed("the generator died")

    final = t.recorder(store=store, extra=RETAIN)
    final.start()
    time.sleep(1.5)
    rc = final.halt()
    gen.stop()
    t.eq("final run: exit status after SIGINT", rc, 0)
    final.check_stderr_clean("final run")
    noise = [l for l in final.stderr_text().splitlines()
             if not l.startswith("tcptop-record: warning:")]
    t.eq("final run: stderr lines other than warnings", noise, [])
    ts.verify(t, store, "verify after the final run")
    ts.check_index_vs_disk(t, store, "after the final run", files_known=False)
    answers(t, store, "after the final run")
    t.eq("auto_vacuum after the runs (2: incremental)",
         ts.query(store, "PRAGMA auto_vacuum")[0]["auto_vacuum"], 2)
    segs = ts.query(store, "SELECT recording_id, min(seq) AS first FROM segments "
                           "GROUP BY recording_id")
    first = {s["recording_id"]: s["first"] for s in segs}
    oldest_rec = min(first) if first else 0
    left = unknown_files(store)
    stale = [f for f, rec, seq in left
             if (rec in first and seq < first[rec]) or (rec not in first and rec < oldest_rec)]
    t.eq("segment files older than what the index keeps, after the final run", stale, [])
    print("store_retention_kill: %d kills while starting, %d while recording; files the index "
          "did not name seen after kills: %d; left after the final run: %d (%s)" %
          (stats["starting"], stats["attached"], stats["unknown"], len(left),
           ", ".join(f for f, _, _ in left) or "none"), flush=True)


if __name__ == "__main__":
    h.run("store_retention_kill", main)
