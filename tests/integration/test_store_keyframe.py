#!/usr/bin/python3
"""Sparse keyframes: a store recorded with --keyframe answers like a full replay.

A recorder (-i 100ms --flush 500ms --keyframe 2s --segment-duration 5s) records
churn traffic (connections held open, a few moving data, some closed and
reopened every second) and a steady trickle of new connections.
- the index marks keyframe blocks where they are due: the first block of every
  segment, and at most --keyframe apart; the others are delta blocks; verify
  passes;
- for random windows (starting anywhere between keyframes), top, top grouped
  by process and remote port, events and timeline answer exactly as the same
  store answers when its index says that only the recording's first block is
  a keyframe block, which makes every query warm up from the recording's
  start: a full replay, cut to the window by the same code;
- extract of a window that starts between keyframes makes a store whose first
  block is a keyframe block, that verifies and answers top for the window;
- reindex restores blocks.keyframe as the recorder wrote it;
- a --keyframe that is not a multiple of --flush is a usage error (exit 2).
"""
import os
import random
import shutil
import sqlite3
import subprocess
import tempfile
import time

import ttharness as h
import ttstore as ts

NS = 1000000000


def answers(t, store, frm, to):
    """The query commands' JSON answers for [frm, to] (Unix ns)."""
    win = ["--from", "@%.9f" % (frm / NS), "--to", "@%.9f" % (to / NS)]
    out = {}
    for name, args in (("top", ["top", "-n", "100000"]),
                       ("top_group", ["top", "-n", "100000", "--group-by", "process,remote-port"]),
                       ("events", ["events"]),
                       ("timeline", ["timeline"])):
        p = t.analyze(*(args + win + ["--format", "json", store]))
        t.check(p.returncode == 0, "%s %s: exit %d: %s" % (name, win, p.returncode,
                                                           p.stderr.strip()))
        t.check(not h.sanitizer_report(p.stderr), "%s: sanitizer report: %s" % (name, p.stderr))
        out[name] = p.stdout
    return out


def main(t):
    store = tempfile.mkdtemp(prefix="ttkf-")
    twin = store + "-twin"
    t.cleanup(lambda: shutil.rmtree(store, ignore_errors=True))
    t.cleanup(lambda: shutil.rmtree(twin, ignore_errors=True))

    p = subprocess.run([t.args.recorder, "-o", store, "--flush", "2s", "--keyframe", "3s"],
                       capture_output=True, text=True, timeout=30)
    t.eq("--keyframe 3s with --flush 2s: exit (stderr %r)" % p.stderr, p.returncode, 2)
    t.check("multiple of --flush" in p.stderr, "says why: %r" % p.stderr)

    gen = t.gen("store-churn", ["--conns", 60, "--active", 6, "--reopen", 4],

                "ttchurn", ready=True)
    rec = t.recorder(store=store, interval="100ms", flush="500ms",
                           extra=["--keyframe", "2s", "--segment-duration", "5s"])
    rec.start()
    time.sleep(14)
    rec.halt()
    gen.stop()
    ts.verify(t, store, "recorded with --keyframe 2s")

    blocks = ts.query(store, "SELECT s.recording_id AS rec, s.seq, b.offset, b.keyframe, "
                      "b.t_start_ns, b.t_end_ns FROM blocks b JOIN segments s ON "
                      "s.id = b.segment_id ORDER BY s.recording_id, s.seq, b.offset")
    t.check(len(blocks) >= 20, "blocks recorded: %d" % len(blocks))
    kf = [b for b in blocks if b["keyframe"]]
    t.check(0 < len(kf) < len(blocks), "keyframe blocks %d of %d" % (len(kf), len(blocks)))
    firsts = {}
    for b in blocks:
        firsts.setdefault((b["rec"], b["seq"]), b)
    t.check(all(b["keyframe"] for b in firsts.values()),
            "every segment's first block is a keyframe block: %r" %
            [(k, b["keyframe"]) for k, b in firsts.items()])
    gaps = [b["t_start_ns"] - a["t_start_ns"] for a, b in zip(kf, kf[1:])]
    t.check(max(gaps) <= 2.6 * NS, "keyframe blocks at most --keyframe apart: %r" % gaps)

    # the twin: the same files, an index that knows only the first keyframe
    shutil.copytree(store, twin)
    db = sqlite3.connect(os.path.join(twin, "index.db"))
    db.execute("UPDATE blocks SET keyframe = 0 WHERE id NOT IN (SELECT min(b.id) FROM blocks b "
               "JOIN segments s ON s.id = b.segment_id GROUP BY s.recording_id)")
    db.commit()
    db.close()

    t0 = blocks[0]["t_start_ns"]
    t1 = blocks[-1]["t_end_ns"]
    rng = random.Random(os.getpid())
    for i in range(8):
        frm = rng.randrange(t0, t1)
        to = min(t1, frm + rng.randrange(NS // 2, 6 * NS))
        a = answers(t, store, frm, to)
        b = answers(t, twin, frm, to)
        for k in a:
            t.check(a[k] == b[k], "window %d (%s .. %s) %s: sparse keyframes differ from a full "
                    "replay:\n%s\nvs\n%s" % (i, frm, to, k, a[k][:2000], b[k][:2000]))
        t.check(a["top"].strip() != "" or i, "top answers something")

    # extract a window that starts between keyframes: the copy opens with one
    frm = rng.randrange(t0, t1)
    to = min(t1, frm + 3 * NS)
    small = os.path.join(twin, "small")
    p = t.analyze("extract", "--from", "@%.9f" % (frm / NS), "--to", "@%.9f" % (to / NS),
                   "-o", small, store)
    t.eq("extract exit (stderr %r)" % p.stderr, p.returncode, 0)
    first = ts.query(small, "SELECT keyframe FROM blocks ORDER BY id LIMIT 1")
    t.eq("the extract's first block is a keyframe block", first, [{"keyframe": 1}])
    ts.verify(t, small, "extracted")
    t.eq("the extract answers its window as the store does",
         answers(t, small, frm, to)["top"], answers(t, store, frm, to)["top"])

    p = t.analyze("top", "--stats", "--from", "@%.9f" % ((t0 + t1) / 2 / NS), store)
    t.check("warm-up blocks" in p.stderr, "--stats counts warm-up blocks: %r" % p.stderr)

    before = [(b["seq"], b["offset"], b["keyframe"]) for b in blocks]
    os.unlink(os.path.join(store, "index.db"))
    p = t.analyze("reindex", store, timeout=120)
    t.eq("reindex exit (stderr %r)" % p.stderr, p.returncode, 0)
    after = [(b["seq"], b["offset"], b["keyframe"]) for b in ts.query(
        store, "SELECT s.seq, b.offset, b.keyframe FROM blocks b JOIN segments s ON "
        "s.id = b.segment_id ORDER BY s.recording_id, s.seq, b.offset")]
    t.eq("blocks.keyframe after reindex", after, before)
    ts.verify(t, store, "reindexed")


if __name__ == "__main__":
    h.run("store_keyframe", main)
