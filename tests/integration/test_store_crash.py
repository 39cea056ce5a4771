#!/usr/bin/python3
"""SIGKILL at random moments: the store stays intact and never holds a number
that was not true.

One store, many recorder runs (-i 100ms --flush 200ms), each SIGKILLed after a
random delay: some while it starts (opening the store, adopting the last run's
unsealed segment), most while it records. All the while a generator
(ttgen.py store-burst) opens loopback connections that each carry a few bursts,
every burst ONE send() of a seeded size and ONE recv(MSG_WAITALL) at the
other end, so a socket's total only ever takes the values of the burst
boundaries. After every kill, `tcptop-analyze verify` must pass (a torn tail
is a warning, not a problem). Then a last run is stopped with SIGINT: it
appends a clean recording, verify still passes, `info` lists every recording
and marks the killed ones unclean. Finally the index is read with sqlite3
(read-only): every blocks row lies inside its segment file, and for every
connection row of the generator, the bytes it holds (client: bytes_out,
server: bytes_in) are one of the generator's totals at a burst boundary
(partial connections: a difference of two), no more than what had been sent
before that recording's recorder died, and all of it once the row says closed.

The seed is printed; TT_CRASH_SEED=N repeats a run's delays and burst sizes.
"""
import os
import random
import time

import ttharness as h
import ttstore as ts

KILLS = 25
DEFAULT_SEED = 20241127


def prefix_sums(sizes):
    p = [0]
    for n in sizes:
        p.append(p[-1] + n)
    return p


def tear_tail(t, store, what):
    """What a power cut leaves (SIGKILL cannot: a pwrite() of a frame to the page
    cache completes): the first half of a frame after the last one. verify must
    call it a warning; the next run must adopt the segment with a warning.
    Returns the file if it is unsealed (the next run adopts it), else None."""
    last = ts.query(store, "SELECT s.file, s.sealed, b.offset, b.length FROM blocks b JOIN "
                           "segments s ON s.id = b.segment_id ORDER BY b.id DESC LIMIT 1")
    if not last:
        return None
    b = last[0]
    path = os.path.join(store, b["file"])
    with open(path, "rb") as f:
        f.seek(b["offset"])
        frame = f.read(b["length"])
    with open(path, "ab") as f:
        f.write(frame[:len(frame) // 2])
    out = ts.verify(t, store, "verify after tearing the tail of %s (%s)" % (b["file"], what))
    t.check("torn frame" in out and b["file"] in out,
            "verify after tearing the tail of %s: no torn-frame warning:\n%s" % (b["file"], out))
    return None if b["sealed"] else b["file"]


def main(t):
    seed = int(os.environ.get("TT_CRASH_SEED", DEFAULT_SEED))
    print("store_crash: seed %d (TT_CRASH_SEED=%d repeats it), %d kills" % (seed, seed, KILLS),
          flush=True)
    rng = random.Random(seed)
    top = t.tmpdir("crash")
    store = os.path.join(top, "store")

    gen = t.gen("store-burst", ["--seed", seed, "--lanes", 3], "ttburst", ready=True)
    port = gen.ready["port"]
    runs = []
    tear = set(rng.sample(range(KILLS - 1), 4))
    torn_file = None
    t0 = time.monotonic()
    for i in range(KILLS):
        # one in five while it starts up, the rest while it records
        delay = rng.uniform(0.0, 0.3) if rng.random() < 0.2 else rng.uniform(0.5, 2.5)
        r = t.recorder(store=store, interval="100ms", flush="200ms")
        r.start(wait=False)
        if torn_file:
            # the run after a torn tail adopts the segment and says so, once
            r.attached.wait(5)
            deadline = time.monotonic() + 2
            while torn_file not in r.stderr_text() and time.monotonic() < deadline:
                time.sleep(0.02)
            t.check(torn_file in r.stderr_text(), "run %d: no warning about the torn tail of %s;"
                    " stderr: %r" % (i, torn_file, r.stderr_text()))
            torn_file = None
        time.sleep(delay)
        attached = r.attached.is_set()
        rc = r.sigkill()
        what = "run %d (killed after %.2fs, %s)" % (i, delay, "attached" if attached else
                                                     "starting")
        runs.append({"i": i, "rec": r, "delay": delay, "attached": attached, "killed": True})
        if not t.check(rc == -9, "%s: exit %r before the kill; stderr: %s" %
                       (what, rc, r.stderr_text().strip())):
            continue
        r.check_stderr_clean(what)
        noise = [l for l in r.stderr_text().splitlines()
                 if not l.startswith("tcptop-record: warning:")]
        t.eq("%s: stderr lines other than warnings" % what, noise, [])
        if not attached:
            # killed before its first recording row was committed (under load, 0.2 s
            # can be before the store or its schema exists): nothing recorded, and a
            # reader says so in one line; the next run starts in the same directory
            p = t.analyze("verify", store)
            if p.returncode == 1 and p.stderr.count("\n") == 1 and (
                    "holds no recording yet" in p.stderr or "No such file" in p.stderr):
                continue
        ts.verify(t, store, "verify after " + what)
        if i in tear:
            torn_file = tear_tail(t, store, what)
        if not gen.alive():
            raise h.Failed("the generator died: %s" % "".join(gen.err).strip())
    t_kills = time.monotonic() - t0

    final = t.recorder(store=store, interval="100ms", flush="200ms")
    final.start()
    t_attached = time.monotonic()
    time.sleep(0.8)
    res = gen.stop()  # every generator connection closes while this run records
    time.sleep(0.6)  # a few ticks and blocks after the last close
    rc = final.halt()
    runs.append({"i": KILLS, "rec": final, "delay": None, "attached": True, "killed": False})
    t.eq("final run: exit status after SIGINT", rc, 0)
    final.check_stderr_clean("final run")
    noise = [l for l in final.stderr_text().splitlines()
             if not l.startswith("tcptop-record: warning:")]
    t.eq("final run: stderr lines other than warnings", noise, [])
    t.eq("generator errors", res["errors"], [])

    # (a), (b): the store after everything
    out = ts.verify(t, store, "verify after the final clean run")
    torn = out.count("torn frame")
    unindexed = out.count("not in the index yet")
    t.check(" 0 problems" in out, "verify summary: %r" % out.strip().splitlines()[-1:])
    segs = ts.check_index_vs_disk(t, store, "after all runs", files_known=False)
    t.ge("segments in the store", len(segs), 2)

    recs = ts.query(store, "SELECT id, start_ns, end_ns, clean_stop FROM recordings ORDER BY id")
    rec_run = {}
    for rec in recs:
        owners = [x for x in runs if x["rec"].wall_spawn * 1e9 <= rec["start_ns"] <=
                  x["rec"].wall_end * 1e9]
        if t.eq("recording %d: runs whose lifetime holds its start" % rec["id"], len(owners), 1):
            rec_run[rec["id"]] = owners[0]
            x = owners[0]
            x["rec_id"] = rec["id"]
            t.eq("recording %d (run %d): clean_stop" % (rec["id"], x["i"]), rec["clean_stop"],
                 0 if x["killed"] else 1)
            t.eq("recording %d (run %d): end_ns is NULL" % (rec["id"], x["i"]),
                 rec["end_ns"] is None, x["killed"])
    for x in runs:
        if x["attached"]:
            t.check("rec_id" in x, "run %d attached (ticks printed) but has no recording" % x["i"])
    t.check(runs[-1].get("rec_id") == recs[-1]["id"] if recs else False,
            "the final run's recording is the last one")

    info = ts.info_json(t, store, "info after all runs")
    if info is not None:
        t.eq("info: recording ids", [r["id"] for r in info.get("recordings", [])],
             [r["id"] for r in recs])
        t.eq("info: clean_stop per recording",
             [r["clean_stop"] for r in info.get("recordings", [])],
             [bool(r["clean_stop"]) for r in recs])
    p = t.analyze("info", store)
    t.eq("info (text): exit status", p.returncode, 0)
    t.eq("info (text): recordings marked UNCLEAN STOP", p.stdout.count("UNCLEAN STOP"),
         sum(1 for r in recs if not r["clean_stop"]))

    # (c): every total the index holds was true at some moment before the kill
    conns = {}
    seen_ports = {}
    for c in res["conns"]:
        if "lport" in c:
            seen_ports[c["lport"]] = seen_ports.get(c["lport"], 0) + 1
            conns[c["lport"]] = c
    dups = {p for p, n in seen_ports.items() if n > 1}
    rows = ts.query(store, "SELECT recording_id, laddr, lport, raddr, rport, bytes_in, "
                           "bytes_out, partial, close_reason FROM connections WHERE "
                           "proto = 'tcp' AND laddr = '127.0.0.1' AND raddr = '127.0.0.1' AND "
                           "(lport = ?1 OR rport = ?1)", (port,))
    bad = []
    stats = {"rows": 0, "partial": 0, "between": 0, "closed exact": 0, "zero": 0}
    final_rows = set()
    for row in rows:
        server = row["lport"] == port
        key = row["rport"] if server else row["lport"]
        val = row["bytes_in"] if server else row["bytes_out"]
        other = row["bytes_out"] if server else row["bytes_in"]
        side = "server" if server else "client"
        if key in dups:
            continue
        g = conns.get(key)
        x = rec_run.get(row["recording_id"])
        desc = "recording %d, %s end of 127.0.0.1:%d -> :%d" % (row["recording_id"], side, key,
                                                              port)
        if key == 0 and not server and val == 0 and other == 0:
            # a connect seen in SYN-SENT, before the kernel picked its port, and
            # the recorder killed before the walk that learns it: port 0, no byte
            stats["zero"] += 1
            continue
        if g is None or x is None:
            bad.append("%s: %s" % (desc, "no generator connection with that port" if g is None
                                   else "recording of no run"))
            continue
        stats["rows"] += 1
        if x is runs[-1]:
            final_rows.add((key, side))
        P = prefix_sums(g["sizes"])
        t_end = x["rec"].t_end
        jmax = sum(1 for ts_ in g["t_send"] if ts_ < t_end)
        if other != 0:
            bad.append("%s: the other direction holds %d bytes, the generator sent none" %
                       (desc, other))
        if row["partial"]:
            stats["partial"] += 1
            ok = any(P[j] - P[i] == val for j in range(jmax + 1) for i in range(j + 1))
        else:
            ok = val in P[:jmax + 1]
        if not ok:
            bad.append("%s%s: %d bytes, not a total the generator had before the recorder "
                       "died (boundaries %s, %d bursts sent before)" %
                       (desc, " (partial)" if row["partial"] else "", val, P, jmax))
            continue
        full = g["sent"] == P[-1]
        if row["close_reason"] is not None and not row["partial"] and full:
            if val != P[-1]:
                bad.append("%s: closed with %d bytes, the generator sent %d" % (desc, val, P[-1]))
            else:
                stats["closed exact"] += 1
        if 0 < val < P[-1]:
            stats["between"] += 1
        if val == 0:
            stats["zero"] += 1
    t.check(not bad, "connection rows whose bytes the generator never had (%d of %d):\n%s" %
            (len(bad), len(rows), h.indent("\n".join(bad), 30)))
    t.ge("generator connection rows checked", stats["rows"], 100)
    t.ge("rows caught between two bursts (a total the generator had only for a moment)",
         stats["between"], 5)

    # the clean run lost nothing: every connection it saw start and end is there, complete
    fr = runs[-1]["rec"]
    missing = []
    for g in res["conns"]:
        if ("lport" in g and g["lport"] not in dups and g["t_connect"] > t_attached and
                g["t_close"] < fr.t_end - 0.4 and g["sent"] == sum(g["sizes"])):
            for side in ("client", "server"):
                if (g["lport"], side) not in final_rows:
                    missing.append("%s end of :%d" % (side, g["lport"]))
    t.eq("connections of the clean run with no row", missing, [])

    print("store_crash: %d kills in %.1fs (%d while starting), %d recordings, %d segments; "
          "the final verify: %d torn tails, %d unindexed blocks; rows checked %d (partial %d, "
          "between bursts %d, zero %d, closed and exact %d)" %
          (KILLS, t_kills, sum(1 for x in runs if x["killed"] and not x["attached"]), len(recs),
           len(segs), torn, unindexed, stats["rows"], stats["partial"], stats["between"],
           stats["zero"], stats["closed exact"]), flush=True)


if __name__ == "__main__":
    h.run("store_crash", main)
