#!/usr/bin/python3
"""One recorder per store, a lock the kernel releases; and a store only its owner reads.

1. Lock: while a recorder writes a store, a second one on the same store
   exits at once (non-zero) with one line naming the store and the first
   recorder's pid, and writes nothing (no recording, no segment); the first
   keeps recording. After the first is SIGKILLed a new recorder takes the
   store (the kernel dropped the flock with the process), records, stops
   cleanly, and the store verifies with both recordings.
2. Privacy: a recorder started with umask 000 creates the store directory
   0700 and every file in it (index.db and its -wal/-shm, LOCK, segments)
   0600: the store holds process names and addresses.
"""
import os
import stat
import time

import ttharness as h
import ttstore as ts


def lock(t, top):
    store = os.path.join(top, "locked")
    first = t.recorder(store=store)
    first.start()
    time.sleep(0.5)  # a few blocks in the index
    before = ts.query(store, "SELECT (SELECT count(*) FROM recordings) AS r, "
                             "(SELECT count(*) FROM segments) AS s")[0]
    files_before = sorted(ts.segment_files(store))

    second = t.recorder(store=store, canary=False)
    second.start(wait=False)
    rc = second.wait_exit(10)
    took = time.monotonic() - second.t_spawn
    err = second.stderr_text()
    t.check(rc is not None and rc not in (0, 77) and rc > 0,
            "second recorder on the same store: exit status %r (want a runtime error); "
            "stderr %r" % (rc, err))
    t.le("second recorder: seconds until it gave up", round(took, 2), 5.0)
    lines = err.splitlines()
    t.check(len(lines) == 1 and store in lines[0] and str(first.proc.pid) in lines[0],
            "second recorder: stderr should be one line naming %s and pid %d, got %r" %
            (store, first.proc.pid, err))
    second.check_stderr_clean("second recorder")
    t.check(first.alive(), "the first recorder died when the second one tried: exit %r, %s" %
            (first.proc.poll(), first.stderr_text()))
    lines_then = first.nlines
    time.sleep(0.5)
    t.check(first.alive() and first.nlines > lines_then,
            "the first recorder goes on recording (JSON lines %d, then %d)" %
            (lines_then, first.nlines))
    after = ts.query(store, "SELECT (SELECT count(*) FROM recordings) AS r, "
                            "(SELECT count(*) FROM segments) AS s")[0]
    t.eq("recordings and segments after the refused recorder", after, before)
    t.eq("segment files after the refused recorder", sorted(ts.segment_files(store)),
         files_before)

    first.sigkill()
    third = t.recorder(store=store)
    third.start()  # Failed if it cannot take the store
    time.sleep(0.6)
    t.eq("recorder after the first was SIGKILLed: exit status after SIGINT", third.halt(), 0)
    third.check_stderr_clean("recorder after the kill")
    noise = [l for l in third.stderr_text().splitlines()
             if not l.startswith("tcptop-record: warning:")]
    t.eq("recorder after the kill: stderr lines other than warnings", noise, [])
    recs = ts.query(store, "SELECT id, clean_stop FROM recordings ORDER BY id")
    t.eq("recordings (the killed one unclean, the last one clean)",
         [r["clean_stop"] for r in recs], [0, 1])
    ts.verify(t, store, "store after the lock test")
    ts.check_index_vs_disk(t, store, "store after the lock test")
    with open(os.path.join(store, "LOCK")) as f:
        t.eq("LOCK names the last recorder", f.read().strip(), str(third.proc.pid))


def privacy(t, top):
    store = os.path.join(top, "private")
    rec = t.recorder(store=store, umask=0)
    rec.start()
    time.sleep(0.6)
    modes = {}
    for f in sorted(os.listdir(store)):
        modes[f] = stat.S_IMODE(os.stat(os.path.join(store, f)).st_mode)
    t.eq("umask 000: store directory mode", oct(stat.S_IMODE(os.stat(store).st_mode)), "0o700")
    for name in ("index.db", "LOCK"):
        t.check(name in modes, "umask 000: %s missing from the store: %s" % (name, sorted(modes)))
    t.check(any(f.endswith(".tts") for f in modes), "umask 000: no segment file: %s" %
            sorted(modes))
    t.check("index.db-wal" in modes, "umask 000: no index.db-wal while recording: %s" %
            sorted(modes))
    t.eq("umask 000: files not 0600", {f: oct(m) for f, m in modes.items() if m != 0o600}, {})
    t.eq("umask 000: exit status after SIGINT", rec.halt(), 0)
    for f in sorted(os.listdir(store)):
        m = stat.S_IMODE(os.stat(os.path.join(store, f)).st_mode)
        t.check(m == 0o600, "umask 000: %s is %s after the stop" % (f, oct(m)))


def main(t):
    top = t.tmpdir("lock")
    lock(t, top)
    privacy(t, top)


if __name__ == "__main__":
    h.run("store_lock", main)
