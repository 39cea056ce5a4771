#!/usr/bin/python3
"""A full disk: the recorder stops with one clear line and leaves a store that verifies;
with retention, it goes on recording past the point where the disk would be full.

The store lives on a small tmpfs (2 MiB, plus 1 KiB for every socket already
on the host: each is an index row rewritten with every block, and a busy
machine would otherwise fill the disk with the index alone). Traffic:
ttgen.py store-churn (800 loopback sockets, 40 of the connections moving data every
10 ms, 20 closed and reopened every second).

1. No retention: the recorder runs until the tmpfs is full. It must exit 1
   (not a signal, not a sanitizer report) with exactly one line on stderr that
   says "no space left"; `verify` passes on what is left and `info` reads it.
2. --retain-size at 3/4 of the tmpfs, --segment-size 64K, on a fresh tmpfs
   of the same size, same traffic: the recorder must still be running once
   it has written 256 KiB more segment data than the first run had on disk
   when it died (retention, which counts the index and its WAL too, kept the
   directory under the size); then SIGINT: exit 0, nothing on stderr but
   warnings (a host with many sockets can make the index too large for the
   size: one warning says so), verify, info.
3. --retain-size 1G, larger than the disk: the disk fills anyway. A write that
   meets a full disk makes retention remove the oldest sealed segment and try
   again, so the recorder goes on or stops with the one "no space" line;
   either way verify passes and the index matches the files.
"""
import os
import threading
import time

import ttharness as h
import ttstore as ts

GEN = ["--conns", 400, "--active", 40, "--reopen", 20]


def watch_segments(store, stop, seen):
    """Largest size seen of every segment file: a lower bound of what was written."""
    while not stop.is_set():
        try:
            names = os.listdir(store)
        except FileNotFoundError:
            names = []
        for f in names:
            if f.endswith(".tts"):
                try:
                    seen[f] = max(seen.get(f, 0), os.path.getsize(os.path.join(store, f)))
                except FileNotFoundError:
                    pass
        time.sleep(0.05)


def fill(t, size_k):
    mnt = ts.tmpfs(t, size_k, "full")
    store = os.path.join(mnt, "store")
    gen = t.gen("store-churn", GEN, "ttchurn", ready=True)
    rec = t.recorder(store=store)
    rec.start()
    t0 = time.monotonic()
    rc = rec.wait_exit(60)
    took = time.monotonic() - t0
    gen.stop()
    if rc is None:
        rec.kill()
        raise h.Failed("no retention: the recorder still ran 60s after the start on a %d KiB "
                       "tmpfs" % size_k)
    err = rec.stderr_text()
    st = os.statvfs(mnt)
    free_k = st.f_bavail * st.f_frsize // 1024
    t.eq("full disk: exit status", rc, 1)
    rec.check_stderr_clean("full disk")
    lines = err.splitlines()
    t.check(len(lines) == 1 and "no space left" in lines[0].lower(),
            "full disk: stderr should be one line saying 'no space left', got %r" % err)
    # what is left is less than the write that failed: a block's frame or its
    # index transaction, which a busy host (thousands of connections) makes large
    t.le("full disk: KiB left free on the tmpfs when it stopped", free_k, size_k // 2)
    ts.verify(t, store, "full disk: verify")
    ts.check_index_vs_disk(t, store, "full disk", files_known=False)
    p = t.analyze("info", store)
    t.check(p.returncode == 0 and "recordings" in p.stdout,
            "full disk: info exited %d: %s" % (p.returncode, p.stderr.strip()))
    segs = ts.disk_bytes(store)
    print("full disk: the recorder stopped after %.1fs on a %d KiB tmpfs, %d KiB of segments, "
          "%d KiB free: %s" % (took, size_k, segs // 1024, free_k, err.strip()), flush=True)
    return took, segs


def retained(t, size_k, died_after, full_segs):
    RETAIN = ["--retain-size", "%dK" % (size_k * 3 // 4), "--segment-size", "64K"]
    mnt = ts.tmpfs(t, size_k, "ret")
    store = os.path.join(mnt, "store")
    gen = t.gen("store-churn", GEN, "ttchurn", ready=True)
    rec = t.recorder(store=store, extra=RETAIN)
    rec.start()
    t0 = time.monotonic()
    seen, stop = {}, threading.Event()
    th = threading.Thread(target=watch_segments, args=(store, stop, seen), daemon=True)
    th.start()
    # past what the first run had written when the disk was full
    want_bytes = full_segs + 256 * 1024
    deadline = t0 + died_after + 30.0
    while rec.alive() and time.monotonic() < deadline:
        if sum(seen.values()) > want_bytes:
            break
        time.sleep(0.1)
    ran = time.monotonic() - t0
    written = sum(seen.values())
    alive = rec.alive()
    stop.set()
    th.join()
    t.check(alive, "with %s: the recorder died after %.1fs (exit %r): %s" %
            (" ".join(RETAIN), ran, rec.proc.poll(), rec.stderr_text().strip()))
    t.check(written > want_bytes, "with %s: %d segment bytes written in %.1fs, want more than "
            "%d (the full disk run had %d)" % (" ".join(RETAIN), written, ran, want_bytes,
                                              full_segs))
    rc = rec.halt()
    gen.stop()
    t.eq("with retention: exit status after SIGINT", rc, 0)
    rec.check_stderr_clean("with retention")
    noise = [l for l in rec.stderr_text().splitlines()
             if not l.startswith("tcptop-record: warning:")]
    t.eq("with retention: stderr lines other than warnings", noise, [])
    ts.verify(t, store, "with retention: verify")
    ts.check_index_vs_disk(t, store, "with retention")
    p = t.analyze("info", store)
    t.eq("with retention: info exit status", p.returncode, 0)
    print("with retention: still recording after %.1fs, %d KiB of segments written through a "
          "%d KiB tmpfs, %d segments made, %d KiB of them left" %
          (ran, written // 1024, size_k, len(seen), ts.disk_bytes(store) // 1024), flush=True)


def beyond(t, size_k, died_after):
    what = "--retain-size 1G on a %d KiB tmpfs" % size_k
    mnt = ts.tmpfs(t, size_k, "big")
    store = os.path.join(mnt, "store")
    gen = t.gen("store-churn", GEN, "ttchurn", ready=True)
    rec = t.recorder(store=store, extra=["--retain-size", "1G", "--segment-size", "64K"])
    rec.start()
    rc = rec.wait_exit(died_after + 15)
    ended = rc is not None
    if not ended:
        rc = rec.halt()
    gen.stop()
    rec.check_stderr_clean(what)
    lines = [l for l in rec.stderr_text().splitlines()
             if not l.startswith("tcptop-record: warning:")]
    if ended:
        t.eq("%s: exit status when it stopped by itself" % what, rc, 1)
        t.check(len(lines) == 1 and "no space left" in lines[0].lower(),
                "%s: stderr should be one line saying 'no space left', got %r" % (what, lines))
    else:
        t.eq("%s: exit status after SIGINT" % what, rc, 0)
        t.eq("%s: stderr lines other than warnings" % what, lines, [])
    ts.verify(t, store, what + ": verify")
    ts.check_index_vs_disk(t, store, what, files_known=False)
    p = t.analyze("info", store)
    t.eq("%s: info exit status" % what, p.returncode, 0)
    print("%s: %s; %d KiB of segments left" %
          (what, "stopped by itself: %s" % lines if ended else "still recording after %.0fs" %
           (died_after + 15), ts.disk_bytes(store) // 1024), flush=True)


def main(t):
    foreign = ts.host_sockets()
    size_k = 2048 + foreign
    size_k += -size_k % 256
    print("store_diskfull: tmpfs of %d KiB (%d sockets already on the host)" % (size_k, foreign),
          flush=True)
    died_after, full_segs = fill(t, size_k)
    retained(t, size_k, died_after, full_segs)
    beyond(t, size_k, died_after)


if __name__ == "__main__":
    h.run("store_diskfull", main)
