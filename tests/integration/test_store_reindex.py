#!/usr/bin/python3
"""tcptop-analyze reindex rebuilds the index from the segments alone.

A store is recorded with real traffic (a generator that knows its bytes).
- reindex on the intact store gives the same connection rows (ids, open times,
  bytes, packets, close reasons) and the same top as the recorder's index;
- with index.db deleted, reindex still answers top with the generator's bytes;
- while a recorder holds the store, reindex refuses at once, changing nothing;
- after a SIGKILL, reindex adopts the blocks the index had not named yet, and
  verify passes; the killed recording keeps an unknown end (not 0, which hid
  it from every query) and top after the reindex lists every connection it
  listed before, with at least as many bytes.
"""
import json
import os
import signal
import sqlite3
import subprocess
import time

import ttharness as h

ROWS = ("SELECT conn_id, open_ns, laddr, lport, raddr, rport, bytes_in, bytes_out, packets_in, "
        "packets_out, close_reason FROM connections ORDER BY conn_id, open_ns")


def rows(store):
    db = sqlite3.connect("file:%s/index.db?mode=ro" % store, uri=True)
    try:
        return db.execute(ROWS).fetchall()
    finally:
        db.close()


def top(ana, store, strip_rates=False):
    p = subprocess.run([ana, "top", "-n", "10000", "--format", "json", store],
                       capture_output=True, text=True, timeout=60)
    out = []
    for line in p.stdout.splitlines():
        r = json.loads(line)
        if strip_rates:  # the window's length depends on the recording's times
            for k in ("rate_in", "rate_out"):
                r.pop(k, None)
        out.append(json.dumps(r, sort_keys=True))
    return p.returncode, sorted(out)


def top_bytes(ana, store):
    """bytes_in + bytes_out of every connection top lists over the whole store."""
    p = subprocess.run([ana, "top", "-n", "100000", "--format", "json", store],
                       capture_output=True, text=True, timeout=60)
    out = {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        k = (r["proto"], r["laddr"], r["lport"], r["raddr"], r["rport"], r["pid"])
        out[k] = out.get(k, 0) + r["bytes_in"] + r["bytes_out"]
    return out


def main(t):
    me = os.getpid() % 100000
    ana = t.analyzer()
    store = t.tmpdir("reidx")
    name = "ttri%d" % me

    rec = t.recorder(interval="250ms", extra=["-o", store, "--flush", "500ms"])
    rec.start()
    g = t.gen("pair", ["--proto", "tcp", "--before", "0:0", "--after", "123456:7890", "--hold",
                       300], name)
    g.expect("phase1")
    g.say("go")
    res = g.finish()
    tup = tuple(res["client"][k] for k in ("laddr", "lport", "raddr", "rport"))
    rec.wait_closed("tcp", [tup], timeout=10)
    rec.wait_ticks(2)
    rec.stop()

    before_rows = rows(store)
    rc, before_top = top(ana, store)
    t.eq("top before reindex", rc, 0)
    p = subprocess.run([ana, "reindex", store], capture_output=True, text=True, timeout=120)
    t.eq("reindex exit (stderr %r)" % p.stderr, p.returncode, 0)
    t.eq("connection rows after reindex", rows(store), before_rows)
    rc, after_top = top(ana, store)
    t.eq("top after reindex", after_top, before_top)

    os.unlink(os.path.join(store, "index.db"))
    p = subprocess.run([ana, "reindex", store], capture_output=True, text=True, timeout=120)
    t.eq("reindex without an index (stderr %r)" % p.stderr, p.returncode, 0)
    rc, lost_top = top(ana, store, strip_rates=True)
    t.eq("top with a rebuilt index, rates aside", lost_top,
         sorted(json.dumps({k: v for k, v in json.loads(x).items()
                            if k not in ("rate_in", "rate_out")}, sort_keys=True)
                for x in before_top))
    mine = [json.loads(x) for x in lost_top if json.loads(x).get("lport") == tup[1]]
    if t.check(len(mine) == 1, "the client's row after the rebuild"):
        t.eq("client bytes_out after the rebuild", mine[0]["bytes_out"], res["client_sent"])

    # a recorder holds the store: reindex must refuse and change nothing
    live = subprocess.Popen([t.args.recorder, "-o", store, "-q", "-i", "200ms", "--flush",
                             "200ms"], stderr=subprocess.PIPE)
    t.cleanup(lambda: live.poll() is None and live.kill())
    time.sleep(1.5)
    snap = os.path.getmtime(os.path.join(store, "index.db"))
    p = subprocess.run([ana, "reindex", store], capture_output=True, text=True, timeout=30)
    t.eq("reindex while recording: exit", p.returncode, 1)
    t.check("being recorded" in p.stderr and p.stderr.count("\n") == 1,
            "one line saying the store is being recorded: %r" % p.stderr)
    t.check(not os.path.exists(os.path.join(store, "index.db.rebuild")),
            "no rebuild file left behind")
    # then it dies hard: the blocks after its last index transaction are adopted
    time.sleep(1.0)
    live.send_signal(signal.SIGKILL)
    live.wait(10)
    blocks_before = sum(1 for _ in sqlite3.connect("file:%s/index.db?mode=ro" % store,
                                                   uri=True).execute("SELECT 1 FROM blocks"))
    top_before = top_bytes(ana, store)
    p = subprocess.run([ana, "reindex", store], capture_output=True, text=True, timeout=120)
    t.eq("reindex after SIGKILL (stderr %r)" % p.stderr, p.returncode, 0)
    # a repair never makes an answer smaller: the crashed recording stays visible
    ends = sqlite3.connect("file:%s/index.db?mode=ro" % store, uri=True).execute(
        "SELECT id, end_ns FROM recordings ORDER BY id").fetchall()
    t.check(ends and ends[-1][1] is None,
            "the killed recording's end stays unknown (NULL), not 0: %r" % ends)
    top_after = top_bytes(ana, store)
    t.check(len(top_before) > 0, "top answered before the reindex")
    for k, v in top_before.items():
        t.check(top_after.get(k, -1) >= v, "after reindex, %s moved %s bytes, before %d" %
                (k, top_after.get(k), v))
    blocks_after = sum(1 for _ in sqlite3.connect("file:%s/index.db?mode=ro" % store,
                                                  uri=True).execute("SELECT 1 FROM blocks"))
    t.check(blocks_after >= blocks_before, "reindex keeps every indexed block (%d -> %d)" %
            (blocks_before, blocks_after))
    p = subprocess.run([ana, "verify", store], capture_output=True, text=True, timeout=120)
    t.eq("verify after reindex (%s)" % p.stdout.strip()[-300:], p.returncode, 0)
    t.check("not in the index" not in p.stdout, "every intact block is indexed after reindex")


if __name__ == "__main__":
    h.run("store_reindex", main)
