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
- the rollups' bytes of a recording add up to its connections' totals.
"""
import os
import random
import shutil
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
    ts.verify(t, store, "recorded with --bucket 2s")

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


if __name__ == "__main__":
    h.run("store_rollups", main)
