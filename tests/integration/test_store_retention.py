#!/usr/bin/python3
"""Retention while recording: by the size of the whole directory and by age.

Traffic: ttgen.py store-churn, hundreds of loopback connections held open, a few
dozen moving random amounts every 10 ms and some closed and reopened every
second, so every 200 ms block holds some tens of KiB and the index gains rows
of closed connections all the time.

The size of the directory is what tcptop-record counts (docs/SCHEMA.md,
Retention): every regular file in it (segments, index.db, -wal, -shm, LOCK),
each the larger of its size and its allocated space. It is sampled every
100 ms (about every other flush) while the recorder runs.

1. Size: a short recording without limits, which also measures what the
   index and its WAL take on this host (every socket of the host is an index
   row rewritten with every block: other tests and services count), then one
   with --segment-size 64K and --retain-size at 5/4 of that plus 512 KiB, for
   12 s. The promise: from its second block on, the directory never goes
   above the size (the recorder keeps a headroom below it, measured on the
   blocks so far: the first block, a new row for every socket of the host,
   is where it learns it), and it said no warning (the size holds the index
   and a few segments). At the end: the oldest segments gone
   (the remaining ones are the newest, contiguous), the first recording gone
   with its last segment, no index rows for removed files and no file the
   index does not know, no summaries of removed time, the index in
   auto_vacuum INCREMENTAL without many free pages, and verify passes.
2. A size too small for the index itself (--retain-size 128K): exactly one
   warning line saying so, the recorder records on (exit 0 at SIGINT), every
   older segment is removed as soon as it is sealed, verify passes.
3. Age: --segment-duration 1s --retain-age 3s for 8 s: at the end no sealed
   segment ended more than 3 s (plus a block and a tick) before the stop,
   the oldest are gone, the index matches the files, no summaries of removed
   time, and the connections the generator held open all along still have
   their rows (open, from the first tick), verify passes.
"""
import os
import stat
import threading
import time

import ttharness as h
import ttstore as ts

RUN_S = 8.0


def dir_bytes(store):
    """The directory as the recorder counts it: every regular file, the larger of
    its size and its allocated space."""
    total = 0
    try:
        names = os.listdir(store)
    except FileNotFoundError:
        return 0
    for f in names:
        try:
            st = os.lstat(os.path.join(store, f))
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode):
            total += max(st.st_size, st.st_blocks * 512)
    return total


def sampler(store, stop, out, times=None):
    """The directory's size every 100 ms (and when, in seconds from the start)."""
    t0 = time.monotonic()
    while not stop.is_set():
        out.append(dir_bytes(store))
        if times is not None:
            times.append(time.monotonic() - t0)
        time.sleep(0.1)


def common_checks(t, store, what, rec_id):
    """Index and files agree; the remaining segments are the newest, contiguous;
    no summaries of removed time. Returns the segments rows of rec_id."""
    segs = ts.check_index_vs_disk(t, store, what)
    mine = [s for s in segs if s["recording_id"] == rec_id]
    seqs = sorted(s["seq"] for s in mine)
    if t.check(seqs, "%s: no segment of recording %d left" % (what, rec_id)):
        t.eq("%s: remaining segments are the newest, without gaps" % what, seqs,
             list(range(seqs[0], seqs[-1] + 1)))
        t.ge("%s: segments removed from the start (first remaining seq)" % what, seqs[0], 1)
        for s in range(seqs[0]):
            name = "r%06d-s%06d.tts" % (rec_id, s)
            t.check(not os.path.exists(os.path.join(store, name)),
                    "%s: old segment %s still on disk" % (what, name))
    for r in ts.query(store, "SELECT id, bucket_ns FROM recordings"):
        cut = ts.query(store, "SELECT min(coalesce(t_start_ns, created_ns)) AS t FROM segments "
                              "WHERE recording_id = ?", (r["id"],))[0]["t"]
        if cut is None:
            continue
        # an open connection stays, however long idle: every segment restates it
        n = ts.query(store, "SELECT count(*) AS n FROM connections WHERE recording_id = ? AND "
                            "close_ns IS NOT NULL AND max(close_ns, last_seen_ns) < ?",
                     (r["id"], cut))[0]["n"]
        t.eq("%s: recording %d: connections closed before its oldest segment" %
             (what, r["id"]), n, 0)
        n = ts.query(store, "SELECT count(*) AS n FROM buckets b JOIN connections c ON "
                            "c.id = b.connection_id WHERE c.recording_id = ? AND "
                            "b.t_start_ns + ? <= ?", (r["id"], r["bucket_ns"], cut))[0]["n"]
        t.eq("%s: recording %d: buckets that end before its oldest segment" % (what, r["id"]),
             n, 0)
    ts.verify(t, store, what)
    return mine


def space_given_back(t, store, what):
    db = ts.ro_index(store)
    try:
        av = db.execute("PRAGMA auto_vacuum").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        pages = db.execute("PRAGMA page_count").fetchone()[0]
    finally:
        db.close()
    t.eq("%s: index.db auto_vacuum (2: incremental)" % what, av, 2)
    # what retention freed went back; a block's rewrites free and take a few
    t.le("%s: free pages left in index.db (of %d)" % (what, pages), free, pages // 2)


def index_peak(store, stop, out):
    """The most index.db and its WAL and shared memory held together, every 5 ms."""
    while not stop.is_set():
        n = 0
        for f in ("index.db", "index.db-wal", "index.db-shm"):
            try:
                st = os.lstat(os.path.join(store, f))
                n += max(st.st_size, st.st_blocks * 512)
            except FileNotFoundError:
                pass
        out[0] = max(out[0], n)
        time.sleep(0.005)


def by_size(t, top):
    store = os.path.join(top, "size")
    gen = t.gen("store-churn", ["--conns", 300, "--active", 100, "--reopen", 15],
                "ttchurn", ready=True)

    # the index's size depends on every socket of the host (other tests, services):
    # measure it, then give the second recording room for it, its WAL, and a few
    # segments, so that retention has to remove some
    first = t.recorder(store=store)
    first.start()
    ipeak, stop = [0], threading.Event()
    th = threading.Thread(target=index_peak, args=(store, stop, ipeak), daemon=True)
    th.start()
    time.sleep(2.0)
    stop.set()
    th.join()
    t.eq("size: first recording (no limits): exit status", first.halt(), 0)
    limit = (ipeak[0] * 5 // 4 + 512 * 1024 + 65535) // 65536 * 65536
    what = "--segment-size 64K --retain-size %dK" % (limit // 1024)

    # a keyframe in every block, as before sparse keyframes: enough bytes to roll
    # and remove several segments within the run on a busy machine too
    rec = t.recorder(store=store, extra=["--segment-size", "64K", "--retain-size",
                                            "%dK" % (limit // 1024), "--keyframe", "200ms"])
    rec.start()
    samples, times, stop = [], [], threading.Event()
    th = threading.Thread(target=sampler, args=(store, stop, samples, times), daemon=True)
    th.start()
    time.sleep(RUN_S + 4)
    stop.set()
    th.join()
    rc = rec.halt()
    gen.stop()
    t.eq("%s: exit status" % what, rc, 0)
    t.eq("%s: stderr (no warning: the size holds the index and a segment)" % what,
         rec.stderr_text(), "")

    recs = ts.query(store, "SELECT id FROM recordings ORDER BY id")
    t.eq("%s: recordings left (the first one went with its last segment)" % what,
         [r["id"] for r in recs], [2])
    t.eq("%s: connections of the removed recording" % what,
         ts.query(store, "SELECT count(*) AS n FROM connections WHERE recording_id = 1")[0]["n"],
         0)
    mine = common_checks(t, store, what, 2)
    space_given_back(t, store, what)
    end = dir_bytes(store)
    peak = max(samples) if samples else 0
    t.ge("%s: samples of the directory" % what, len(samples), 50)
    # the headroom is learned from the first block (a row for every connection
    # of the host, and its WAL): from the second on, the directory stays under
    late = [y for x, y in zip(times, samples) if x >= 1.0]
    t.ge("%s: samples of the directory after the first second" % what, len(late), 40)
    t.le("%s: the directory at its largest sample after the first second (of %d)" %
         (what, len(late)), max(late or [0]), limit)
    t.le("%s: the directory at the end" % what, end, limit)
    created = max(s["seq"] for s in mine) + 1 if mine else 0
    t.ge("%s: segments the recording made" % what, created, 6)
    index = sum(os.path.getsize(os.path.join(store, f)) for f in os.listdir(store)
                if f.startswith("index.db"))
    print("retention by size: index and WAL up to %d without limits (%d sockets on the host); "
          "%d segments made, %d left; directory at the end %d (index %d), largest of %d "
          "samples %d after the first second, %d in it (the first block), limit %d (%.1f%%, "
          "%.1f%% of it)" %
          (ipeak[0], ts.host_sockets(), created, len(mine), end, index, len(samples),
           max(late or [0]), peak, limit, 100.0 * max(late or [0]) / limit, 100.0 * peak / limit),
          flush=True)


def too_small(t, top):
    what = "--segment-size 64K --retain-size 128K"
    store = os.path.join(top, "small")
    gen = t.gen("store-churn", ["--conns", 300, "--active", 100, "--reopen", 15],
                "ttchurn", ready=True)
    rec = t.recorder(store=store, extra=["--segment-size", "64K", "--retain-size", "128K"])
    rec.start()
    samples, stop = [], threading.Event()
    th = threading.Thread(target=sampler, args=(store, stop, samples), daemon=True)
    th.start()
    time.sleep(RUN_S)
    stop.set()
    th.join()
    alive = rec.alive()
    rc = rec.halt()
    gen.stop()
    t.check(alive, "%s: the recorder stopped by itself" % what)
    t.eq("%s: exit status" % what, rc, 0)
    rec.check_stderr_clean(what)
    lines = rec.stderr_text().splitlines()
    t.check(len(lines) == 1 and "too small" in lines[0] and "warning" in lines[0],
            "%s: stderr should be one warning that the size is too small, got %r" %
            (what, lines))
    segs = ts.check_index_vs_disk(t, store, what)
    seqs = sorted(s["seq"] for s in segs)
    # the stop seals the current segment after the last pass: it and at most
    # the one sealed just before are left
    t.le("%s: segments left" % what, len(seqs), 2)
    t.ge("%s: segments made" % what, seqs[-1] + 1 if seqs else 0, 4)
    space_given_back(t, store, what)
    ts.verify(t, store, what)
    print("size too small: %d segments made, %d left; directory at the end %d, largest of %d "
          "samples %d: %s" % (seqs[-1] + 1 if seqs else 0, len(seqs), dir_bytes(store),
                              len(samples), max(samples or [0]), lines[0] if lines else ""),
          flush=True)


def by_age(t, top):
    what = "--segment-duration 1s --retain-age 3s"
    store = os.path.join(top, "age")
    gen = t.gen("store-churn", ["--conns", 100, "--active", 10, "--reopen", 5],
                "ttchurn", ready=True)
    rec = t.recorder(store=store, extra=["--segment-duration", "1s", "--retain-age", "3s"])
    rec.start()
    time.sleep(RUN_S)
    wall_stop = time.time()
    rc = rec.halt()
    gen.stop()
    t.eq("%s: exit status" % what, rc, 0)
    t.eq("%s: stderr" % what, rec.stderr_text(), "")
    mine = common_checks(t, store, what, 1)
    space_given_back(t, store, what)
    # the generator's pairs held open all along, both ends: open rows from the start
    held = ts.query(store, "SELECT count(*) AS n FROM connections WHERE recording_id = 1 AND "
                           "close_ns IS NULL AND partial = 1")[0]["n"]
    t.ge("%s: rows of connections open since before the start (100 pairs, 5 reopened a "
         "second)" % what, held, 100)
    # the last pass ran after the last block before the stop: a block (200 ms)
    # and a tick (100 ms) earlier at most; a second of margin for a slow machine
    oldest_ok = wall_stop - 3.0 - 1.0
    old = ["%s ended %.2fs before the stop" % (s["file"], wall_stop - s["t_end_ns"] / 1e9)
           for s in mine if s["sealed"] and s["t_end_ns"] is not None and
           s["t_end_ns"] / 1e9 < oldest_ok]
    t.eq("%s: sealed segments older than 3s (+1s) at the stop" % what, old, [])
    # a segment rolled just before the stop may hold no block (t_start_ns NULL)
    span = [s["t_start_ns"] / 1e9 for s in mine if s["t_start_ns"] is not None]
    if span:
        t.le("%s: seconds of data left before the stop" % what, round(wall_stop - min(span), 2),
             3.0 + 1.5 + 1.0)
    created = max(s["seq"] for s in mine) + 1 if mine else 0
    t.ge("%s: segments the recording made" % what, created, 5)
    print("retention by age: %d segments made, %d left, oldest data %.2fs before the stop" %
          (created, len(mine), wall_stop - min(span) if span else 0), flush=True)


def main(t):
    top = t.tmpdir("retain")
    by_size(t, top)
    too_small(t, top)
    by_age(t, top)


if __name__ == "__main__":
    h.run("store_retention", main)
