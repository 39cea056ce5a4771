#!/usr/bin/python3
"""Rollups of a real recording answer top as a replay of every tick does.

Two recordings go into one store (-i 100ms --flush 500ms --bucket 2s
--segment-duration 4s: rollup periods, segments and keyframes all short)
while a generator keeps connections open on loopback, moves data on a few,
and closes and reopens some every second; a third of the second recording's
connections are partial (open before it started).
- for random windows (edges inside periods, across segments and across the two
  recordings, a window inside one period, the whole store) and several
  groupings, `top --format json` reading rollups equals `top --no-rollups`,
  row for row and field for field, and --stats shows which path answered;
- the rollups' bytes of a recording add up to its connections' totals;
- verify recomputes every whole rollup period from the blocks (lib/audit.h)
  and finds them equal, and no top warns: the audit raises no false alarm on
  real traffic; with packets_out set to 0 in every rollups row (in range, and
  the minor rows still add up to the hours), top warns that the rollups
  disagree with the blocks and verify reports it.
"""
import os
import random
import re
import shutil
import sqlite3
import tempfile
import time

import ttharness as h
import ttstore as ts

NS = 1000000000
GROUPS = ("conn", "process", "remote-port", "local-port", "pid,remote-host")


def top(t, store, win, group, rollups):
    args = ["top", "-n", "100000", "--format", "json", "--stats", "--group-by", group]
    if not rollups:
        args.append("--no-rollups")
    p = t.analyze(*(args + win + [store]))
    t.check(p.returncode == 0, "top %s %s: exit %d: %s" % (group, win, p.returncode,
                                                           p.stderr.strip()))
    t.check(not h.sanitizer_report(p.stderr), "sanitizer report: %s" % p.stderr)
    t.check("warning" not in p.stderr, "top %s %s warned: %s" % (group, win, p.stderr.strip()))
    pieces = 0
    for line in p.stderr.splitlines():
        if line.startswith("stats:") and "rollup pieces" in line:
            pieces = int(line.rsplit("rollup pieces", 1)[1].strip())
    return p.stdout, pieces


def main(t):
    store = tempfile.mkdtemp(prefix="ttroll-")
    if not os.environ.get("TT_KEEP"):
        t.cleanup(lambda: shutil.rmtree(store, ignore_errors=True))
    gen = t.gen("store-churn", ["--conns", 40, "--active", 5, "--reopen", 3], "ttchurn", ready=True)
    for _ in range(2):
        rec = t.recorder(store=store, interval="100ms", flush="500ms",
                               extra=["--bucket", "2s", "--segment-duration", "4s"])
        rec.start()
        time.sleep(9)
        rec.halt()
        time.sleep(1)
    gen.stop()
    out = ts.verify(t, store, "recorded with --bucket 2s")
    m = re.search(r"(\d+) rollup periods recomputed", out)
    # two recordings of 9 s in 2 s periods: at least 3 whole periods each
    t.check(m and int(m.group(1)) >= 6, "verify recomputed the rollup periods: %r" % out)

    recs = ts.query(store, "SELECT id, rollup_ns, start_ns, end_ns FROM recordings ORDER BY id")
    t.eq("recordings", len(recs), 2)
    t.check(all(r["rollup_ns"] == 2 * NS for r in recs), "rollup_ns: %r" % recs)
    for r in recs:
        sums = ts.query(store, "SELECT coalesce(sum(bytes_in), 0) AS b FROM rollups WHERE "
                        "res = 2 AND conn IN (SELECT id FROM conns WHERE recording_id = ?)",
                        (r["id"],))[0]["b"]
        tot = ts.query(store, "SELECT coalesce(sum(bytes_in), 0) AS b FROM conns WHERE "
                       "recording_id = ?", (r["id"],))[0]["b"]
        t.eq("recording %d: rollup bytes_in add up to the connections' totals" % r["id"],
             sums, tot)
        t.check(tot > 0, "recording %d moved data" % r["id"])

    t0, t1 = recs[0]["start_ns"], recs[-1]["end_ns"]
    rng = random.Random(os.getpid())
    windows = [[], ["--from", "@%.9f" % ((t0 + 3 * NS) / NS), "--to",
                    "@%.9f" % ((t0 + 3 * NS + NS // 2) / NS)]]
    for _ in range(6):
        frm = rng.randrange(t0 - NS, t1)
        to = frm + rng.randrange(NS // 3, 15 * NS)
        windows.append(["--from", "@%.9f" % (frm / NS), "--to", "@%.9f" % (to / NS)])
    used = 0
    for i, win in enumerate(windows):
        for g in GROUPS if i < 2 else rng.sample(GROUPS, 2):
            want, p0 = top(t, store, win, g, False)
            got, p1 = top(t, store, win, g, True)
            t.eq("--no-rollups reads no piece (%s %s)" % (g, win), p0, 0)
            used += p1 > 0
            a, b = got.splitlines(), want.splitlines()
            diff = next(("%s\nvs\n%s" % (x, y) for x, y in zip(a, b) if x != y),
                        "%d rows vs %d" % (len(a), len(b)))
            t.check(got == want, "window %s by %s: rollups differ from the ticks:\n%s" %
                    (win, g, diff))
    t.check(used >= len(GROUPS), "rollups answered %d queries" % used)

    # an index that lies consistently: every rollups row's packets_out set to 0
    bad = os.path.join(tempfile.mkdtemp(prefix="ttroll-bad-"), "s")
    t.cleanup(lambda: shutil.rmtree(os.path.dirname(bad), ignore_errors=True))
    shutil.copytree(store, bad)
    db = sqlite3.connect(os.path.join(bad, "index.db"))
    db.execute("UPDATE rollups SET packets_out = 0")
    db.commit()
    db.close()
    p = t.analyze("top", "--format", "json", bad)
    t.check(p.returncode == 0 and "disagree with the blocks" in p.stderr,
            "top on rollups with packets_out 0 warns: exit %d, %r" % (p.returncode, p.stderr))
    p = t.analyze("verify", bad)
    t.check(p.returncode == 1 and re.search(r"PROBLEM rollups: \d+ periods disagree", p.stdout),
            "verify reports the rollups: exit %d, %r" % (p.returncode, p.stdout[-2000:]))


if __name__ == "__main__":
    h.run("store_rollups", main)
