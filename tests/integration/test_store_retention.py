#!/usr/bin/python3
"""Retention while recording: by total size and by age.

Traffic: ttstore.py churn, hundreds of loopback connections held open, a few
dozen moving random amounts every 10 ms and some closed and reopened every
second, so every 200 ms block holds some tens of KiB.

1. Size: a short recording without limits, then one with --segment-size 64K
   --retain-size 256K for 8 s. While it runs, the segment files on disk
   (sampled every 50 ms) never exceed the limit plus one segment of slack
   (--segment-size plus the largest block: a segment rolls only once a block
   has taken it past the size). The slack is needed because retention runs
   only after a block is written and deletes whole sealed segments, never the
   one being written: between two passes the store holds the limit plus the
   block just flushed, and the last block, flushed at the stop, is followed
   by no pass. At the end: the same bound, the oldest segments gone (the remaining ones are
   the newest, contiguous), the first recording gone with its last segment,
   no index rows for removed files and no file the index does not know, no
   summaries of removed time, and verify passes.
2. Age: --segment-duration 1s --retain-age 3s for 8 s: at the end no sealed
   segment ended more than 3 s (plus a block and a tick) before the stop,
   the oldest are gone, the index matches the files, verify passes.
"""
import os
import shutil
import tempfile
import threading
import time

import ttharness as h
import ttstore as ts

RUN_S = 8.0


def sampler(store, stop, out, seen, blocks):
    """Segment bytes on disk every 50 ms; the largest size of each file; the largest
    block the index has named."""
    while not stop.is_set():
        total = 0
        for f in ts.segment_files(store):
            try:
                n = os.path.getsize(os.path.join(store, f))
            except FileNotFoundError:
                continue
            total += n
            seen[f] = max(seen.get(f, 0), n)
        out.append(total)
        try:
            m = ts.query(store, "SELECT max(length) AS m FROM blocks")[0]["m"] or 0
            blocks.append(m)
        except Exception:  # the index is being created
            pass
        time.sleep(0.05)


def common_checks(t, store, what, rec_id):
    """Index and files agree; the remaining segments are the newest, contiguous;
    no summaries of removed time. Returns the segments rows of rec_id."""
    segs = ts.check_index_vs_disk(t, store, what)
    mine = [s for s in segs if s["recording_id"] == rec_id]
    seqs = sorted(s["seq"] for s in mine)
    if t.check(seqs, "%s: no segment of recording %d left" % (what, rec_id)):
        t.eq("%s: remaining segments are the newest, without gaps" % what, seqs,
             list(range(seqs[0], seqs[-1] + 1)))
        t.ge("%s: segments removed from the start (first remaining seq)" % what, seqs[0], 2)
        for s in range(seqs[0]):
            name = "r%06d-s%06d.tts" % (rec_id, s)
            t.check(not os.path.exists(os.path.join(store, name)),
                    "%s: old segment %s still on disk" % (what, name))
    for r in ts.query(store, "SELECT id, bucket_ns FROM recordings"):
        cut = ts.query(store, "SELECT min(coalesce(t_start_ns, created_ns)) AS t FROM segments "
                              "WHERE recording_id = ?", (r["id"],))[0]["t"]
        if cut is None:
            continue
        n = ts.query(store, "SELECT count(*) AS n FROM connections WHERE recording_id = ? AND "
                            "last_seen_ns < ?", (r["id"], cut))[0]["n"]
        t.eq("%s: recording %d: connections last seen before its oldest segment" %
             (what, r["id"]), n, 0)
        n = ts.query(store, "SELECT count(*) AS n FROM buckets b JOIN connections c ON "
                            "c.id = b.connection_id WHERE c.recording_id = ? AND "
                            "b.t_start_ns + ? <= ?", (r["id"], r["bucket_ns"], cut))[0]["n"]
        t.eq("%s: recording %d: buckets that end before its oldest segment" % (what, r["id"]),
             n, 0)
    ts.verify(t, store, what)
    return mine


def by_size(t, top):
    what = "--segment-size 64K --retain-size 256K"
    limit, seg_size = 256 * 1024, 64 * 1024
    store = os.path.join(top, "size")
    gen = ts.GenProc(t, "churn", ["--conns", 300, "--active", 100, "--reopen", 15])

    first = ts.StoreRecorder(t, store)
    first.start()
    time.sleep(1.0)
    t.eq("size: first recording (no limits): exit status", first.stop(), 0)

    # a keyframe in every block, as before sparse keyframes: enough bytes to roll
    # and remove several segments within RUN_S on a busy machine too
    rec = ts.StoreRecorder(t, store, extra=["--segment-size", "64K", "--retain-size", "256K",
                                            "--keyframe", "200ms"])
    rec.start()
    samples, seen, blocks, stop = [], {}, [0], threading.Event()
    th = threading.Thread(target=sampler, args=(store, stop, samples, seen, blocks), daemon=True)
    th.start()
    time.sleep(RUN_S)
    stop.set()
    th.join()
    rc = rec.stop()
    gen.finish()
    t.eq("%s: exit status" % what, rc, 0)
    t.eq("%s: stderr" % what, rec.stderr_text(), "")

    recs = ts.query(store, "SELECT id FROM recordings ORDER BY id")
    t.eq("%s: recordings left (the first one went with its last segment)" % what,
         [r["id"] for r in recs], [2])
    t.eq("%s: connections of the removed recording" % what,
         ts.query(store, "SELECT count(*) AS n FROM connections WHERE recording_id = 1")[0]["n"],
         0)
    mine = common_checks(t, store, what, 2)
    block = max(blocks + [ts.query(store, "SELECT max(length) AS m FROM blocks")[0]["m"] or 0])
    # one segment at its largest: it rolls once past --segment-size, a block later
    one_seg = seg_size + block
    big = {f: n for f, n in seen.items() if n > one_seg and f.startswith("r000002-")}
    t.eq("%s: segments larger than --segment-size plus a block (%d)" % (what, block), big, {})
    end = ts.disk_bytes(store)
    peak = max(samples) if samples else 0
    t.le("%s: segment bytes on disk at the end" % what, end, limit + one_seg)
    t.le("%s: segment bytes on disk at the peak (sampled %d times)" % (what, len(samples)), peak,
         limit + one_seg)
    created = max(s["seq"] for s in mine) + 1 if mine else 0
    t.ge("%s: segments the recording made" % what, created, 6)
    print("retention by size: %d segments made, %d left; on disk at the end %d, peak %d "
          "(limit %d, +%d over it); largest block %d, largest segment %d" %
          (created, len(mine), end, peak, limit, max(0, peak - limit), block,
           max([n for f, n in seen.items() if f.startswith("r000002-")] or [0])), flush=True)


def by_age(t, top):
    what = "--segment-duration 1s --retain-age 3s"
    store = os.path.join(top, "age")
    gen = ts.GenProc(t, "churn", ["--conns", 100, "--active", 10, "--reopen", 5])
    rec = ts.StoreRecorder(t, store, extra=["--segment-duration", "1s", "--retain-age", "3s"])
    rec.start()
    time.sleep(RUN_S)
    wall_stop = time.time()
    rc = rec.stop()
    gen.finish()
    t.eq("%s: exit status" % what, rc, 0)
    t.eq("%s: stderr" % what, rec.stderr_text(), "")
    mine = common_checks(t, store, what, 1)
    # the last pass ran after the last block before the stop: a block (200 ms)
    # and a tick (100 ms) earlier at most; a second of margin for a slow machine
    oldest_ok = wall_stop - 3.0 - 1.0
    old = ["%s ended %.2fs before the stop" % (s["file"], wall_stop - s["t_end_ns"] / 1e9)
           for s in mine if s["sealed"] and s["t_end_ns"] is not None and
           s["t_end_ns"] / 1e9 < oldest_ok]
    t.eq("%s: sealed segments older than 3s (+1s) at the stop" % what, old, [])
    span = [(s["t_start_ns"] or 0) / 1e9 for s in mine]
    if span:
        t.le("%s: seconds of data left before the stop" % what, round(wall_stop - min(span), 2),
             3.0 + 1.5 + 1.0)
    created = max(s["seq"] for s in mine) + 1 if mine else 0
    t.ge("%s: segments the recording made" % what, created, 5)
    print("retention by age: %d segments made, %d left, oldest data %.2fs before the stop" %
          (created, len(mine), wall_stop - min(span) if span else 0), flush=True)


def main(t):
    top = tempfile.mkdtemp(prefix="ttretain-")
    t.cleanup(lambda: shutil.rmtree(top, ignore_errors=True))
    by_size(t, top)
    by_age(t, top)


if __name__ == "__main__":
    h.run("store_retention", main)
