#!/usr/bin/python3
"""Blocks written and fsynced before a SIGKILL but not indexed are adopted.

A recorder (-i 100ms --flush 200ms) records a burst generator started once it
is attached (ttgen.py store-burst: every connection's burst sizes and send times
known), and is SIGKILLed the moment its segment file grows: between a frame's
write and its index transaction, so the segment holds a frame the index does
not name. The test reads the segment files itself (docs/FORMAT.md: file
header, then frames of header + payload) and compares their frames with the
blocks rows; it tries again with a fresh store until a kill left a frame
unindexed. Then, on two copies of that store:

- a reader (`tcptop-analyze top`, as root: it can write the store) adopts the
  frames before it answers, and says so on stderr;
- the next recorder start adopts them (a warning), before it records;

and in both every frame of every segment is a blocks row, verify passes, every
server-side connection row holds a total its client had really sent before
the kill (all of it for a connection closed half a second before), and `top
--group-by local-port` gives the generator's port the sum of those rows. The
bytes the index held before and after are printed: the frame the kill left
out carries the last ticks' traffic.
"""
import json
import os
import shutil
import struct
import time

import ttharness as h
import ttstore as ts

ATTEMPTS = 12
SEED = 20261203
FRAME_MAGIC = 0x425454F7


def frame_offsets(path):
    """Offsets of the complete frames of a segment file (a torn tail is not one)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 16:
        return []
    off = struct.unpack_from("<H", data, 12)[0]  # the file header's length
    out = []
    while off + 48 <= len(data):
        magic, hlen = struct.unpack_from("<IH", data, off)
        plen = struct.unpack_from("<I", data, off + 8)[0]
        if magic != FRAME_MAGIC or off + hlen + plen > len(data):
            break
        out.append(off)
        off += hlen + plen
    return out


def unindexed(store):
    """(frames in the segment files, of them not named by a blocks row)."""
    rows = ts.query(store, "SELECT s.file, b.offset FROM blocks b JOIN segments s ON "
                           "s.id = b.segment_id")
    named = {(r["file"], r["offset"]) for r in rows}
    frames = [(f, o) for f in ts.segment_files(store)
              for o in frame_offsets(os.path.join(store, f))]
    return len(frames), [x for x in frames if x not in named]


def newest_segment(store):
    files = [f for f in ts.segment_files(store)]
    return os.path.join(store, sorted(files)[-1]) if files else None


def kill_at_a_write(t, store, gen_args):
    """One recording of a generator's traffic (started once the recorder is
    attached), SIGKILLed as its segment grows. Returns (the generator, CLOCK_MONOTONIC
    of the attach and of the kill, frames, unindexed frames)."""
    r = t.recorder(store=store, interval="100ms", flush="200ms")
    r.start()
    t_attached = time.monotonic()
    gen = t.gen("store-burst", gen_args, "ttburst", ready=True)
    time.sleep(1.5)
    seg = newest_segment(store)
    size = os.path.getsize(seg)
    deadline = time.monotonic() + 5
    while os.path.getsize(seg) == size and time.monotonic() < deadline:
        pass  # a tight loop: the kill must land before the index transaction
    t_kill = time.monotonic()
    rc = r.sigkill()
    t.eq("the recorder died of the SIGKILL", rc, -9)
    r.check_stderr_clean("the killed recorder")
    n, missing = unindexed(store)
    return gen, t_attached, t_kill, n, missing


def server_rows(store, port):
    """conns rows of the generator's server ends: client port -> bytes_in."""
    return {r["rport"]: r["bytes_in"] for r in
            ts.query(store, "SELECT rport, bytes_in FROM conns WHERE lport = ?1", (port,))}


def top_bytes(t, store, port, what):
    """top's bytes_in of the generator's server port, and top's stderr."""
    p = t.analyze("top", "-n", "1000", "--group-by", "local-port", "--format", "json",
                   store)
    t.eq("%s: top exit status (stderr %r)" % (what, p.stderr), p.returncode, 0)
    t.check(not h.sanitizer_report(p.stderr), "%s: sanitizer report:\n%s" % (what, p.stderr))
    for line in p.stdout.splitlines():
        row = json.loads(line)
        if row.get("lport") == port:
            return row["bytes_in"], p.stderr
    return 0, p.stderr


def check_bytes(t, store, what, res, t_attached, t_kill):
    """Every server row holds a total its client really sent before the kill, all of
    it for a connection closed well before; top adds them up exactly. top runs
    first: a reader adopts what is not indexed before it answers."""
    port = res["port"]
    got, err = top_bytes(t, store, port, what)
    rows = server_rows(store, port)
    ports = [c.get("lport") for c in res["conns"]]
    early = 0
    bad = []
    for c in res["conns"]:
        if ("lport" not in c or ports.count(c["lport"]) > 1 or c["t_connect"] > t_kill or
                c["t_connect"] < t_attached):
            continue
        totals = [0]
        for n, ts_ in zip(c["sizes"], c["t_send"]):
            if ts_ < t_kill:
                totals.append(totals[-1] + n)
        held = rows.get(c["lport"], 0)
        if held not in totals:
            bad.append(":%d holds %d, not a total it had before the kill %s" %
                       (c["lport"], held, totals))
        if c["t_close"] < t_kill - 0.5 and c["sent"] == sum(c["sizes"]):
            early += 1
            if held != c["sent"]:
                bad.append(":%d closed %.2fs before the kill with %d sent, holds %d" %
                           (c["lport"], t_kill - c["t_close"], c["sent"], held))
    t.check(not bad, "%s: server rows against the generator:\n%s" % (what, "\n".join(bad)))
    t.ge("%s: connections closed well before the kill, checked exactly" % what, early, 3)
    t.eq("%s: top bytes_in of the generator's port = the sum of its rows" % what, got,
         sum(rows.values()))
    return got, err


def main(t):
    top = t.tmpdir("adopt")
    crashed = None
    for i in range(ATTEMPTS):
        store = os.path.join(top, "try%d" % i)
        gen, t_attached, t_kill, n, missing = kill_at_a_write(
            t, store, ["--seed", SEED + i, "--lanes", 3, "--pause-min", 5, "--pause-max", 30])
        res = gen.stop()
        t.eq("generator errors", res["errors"], [])
        print("store_adopt: attempt %d: %d frames, %d not indexed" % (i, n, len(missing)),
              flush=True)
        if missing:
            crashed = (store, res, t_attached, t_kill, missing)
            break
    if not crashed:
        raise h.Failed("no SIGKILL in %d left a frame unindexed" % ATTEMPTS)
    store, res, t_attached, t_kill, missing = crashed
    before = sum(server_rows(store, res["port"]).values())

    # a reader that can write the store adopts them
    reader = os.path.join(top, "reader")
    shutil.copytree(store, reader)
    got, err = check_bytes(t, reader, "reader", res, t_attached, t_kill)
    t.check("%d blocks" % len(missing) in err and "adopted" in err,
            "reader: no word of the %d adopted blocks on stderr: %r" % (len(missing), err))
    t.eq("reader: frames not indexed after its adoption", unindexed(reader)[1], [])
    t.ge("reader: bytes after the adoption, against before", got, before)
    ts.verify(t, reader, "verify after the reader's adoption")
    got2, err2 = top_bytes(t, reader, res["port"], "reader again")
    t.eq("reader again: nothing left to adopt (stderr)", err2, "")
    t.eq("reader again: the same bytes", got2, got)
    print("store_adopt: %d frames adopted; the generator's server bytes in the index: %d "
          "before, %d after" % (len(missing), before, got), flush=True)

    # the next recorder start adopts them before it records
    rec = os.path.join(top, "recorder")
    shutil.copytree(store, rec)
    r = t.recorder(store=rec, interval="100ms", flush="200ms")
    r.start()
    rc = r.halt()
    t.eq("next recorder: exit status", rc, 0)
    r.check_stderr_clean("next recorder")
    t.check("%d blocks" % len(missing) in r.stderr_text() and "adopted" in r.stderr_text(),
            "next recorder: no warning about the %d adopted blocks: %r" %
            (len(missing), r.stderr_text()))
    t.eq("next recorder: frames not indexed", unindexed(rec)[1], [])
    ts.verify(t, rec, "verify after the recorder's adoption")
    got3, _ = check_bytes(t, rec, "after the next recorder", res, t_attached, t_kill)
    t.eq("after the next recorder: the same bytes as the reader's adoption", got3, got)
    t.eq("after the next recorder: the killed recording stays unclean",
         [x["clean_stop"] for x in ts.query(rec, "SELECT clean_stop FROM recordings ORDER BY id")],
         [0, 1])


if __name__ == "__main__":
    h.run("store_adopt", main)
