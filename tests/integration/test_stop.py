#!/usr/bin/python3
"""Stopping: SIGTERM ends the recorder with exit 0 after a last tick; so do --duration and SIGHUP.

With a long interval (3s), three connections made after the start (TCP, a
connected UDP pair, a UDP client talking to an unconnected socket) carry
known traffic and stay open; SIGTERM follows at once, without waiting for a
tick. The recorder must exit 0, and its last tick must show every end of
them, open, with the exact bytes: nothing done before the signal is lost.
Then a recorder with -d 1s must stop by itself with exit 0 after ticking, and
a recorder writing a store must take SIGHUP (a closed terminal) as SIGTERM:
exit 0, the recording marked as a clean stop with its end, every block kept.
"""
import os
import signal
import sqlite3
import subprocess
import time

import ttharness as h

PAIRS = {"tcp": "54321:12345", "udp": "2345:1234", "udpu": "1111:2222"}


def main(t):
    me = os.getpid()
    rec = t.recorder(interval="3s")
    rec.start()
    gens = {}
    for proto, before in PAIRS.items():
        gens[proto] = t.gen("pair", ["--proto", proto, "--before", before, "--after", "0:0"],
                            "tts%s%d" % (proto, me))
    p1 = {proto: g.expect("phase1") for proto, g in gens.items()}
    rows = rec.stop(sig=signal.SIGTERM)
    for g in gens.values():
        g.say("go")
        g.finish()

    last_ts = max(r["ts"] for r in rows)
    last = [r for r in rows if r["ts"] == last_ts]
    for proto, p in p1.items():
        wire = "tcp" if proto == "tcp" else "udp"
        for end in ("client", "server"):
            t.check_conn(last, "%s %s in the last tick" % (proto, end), wire, p[end],
                         p[end + "_sent"], p[end + "_recv"], pid=p["pid"], closed=False,
                         partial=False, udp_peer=proto == "udpu" and end == "server")

    rec2 = t.recorder(extra=["-d", "1s"])
    rec2.start()
    rc = rec2.wait_exit(15)
    t.eq("tcptop-record -d 1s: exit status (None: still running after 15s)", rc, 0)
    ticks = rec2.ticks()
    t.ge("tcptop-record -d 1s -i 200ms: ticks printed", len(ticks), 2)
    if len(ticks) >= 2:
        t.ge("tcptop-record -d 1s: seconds between its first and last tick",
             round(ticks[-1] - ticks[0], 3), 0.6)
    t.eq("tcptop-record -d 1s: stderr", rec2.stderr_text(), "")

    store = t.tmpdir("hup")
    p = subprocess.Popen([t.args.recorder, "-o", store, "-q", "-i", "200ms", "--flush",
                          "400ms"], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t.cleanup(lambda: p.poll() is None and p.kill())
    time.sleep(2.5)
    p.send_signal(signal.SIGHUP)
    try:
        rc = p.wait(15)
    except subprocess.TimeoutExpired:
        rc = None
    t.eq("tcptop-record -o STORE: exit status after SIGHUP", rc, 0)
    db = sqlite3.connect("file:%s/index.db?mode=ro" % store, uri=True)
    try:
        rows = db.execute("SELECT end_ns IS NOT NULL, clean_stop, (SELECT count(*) FROM "
                          "blocks) FROM recordings").fetchall()
    finally:
        db.close()
    t.check(len(rows) == 1 and rows[0][0] == 1 and rows[0][1] == 1 and rows[0][2] >= 2,
            "after SIGHUP: one recording, ended, clean, its blocks stored: %r" % rows)


if __name__ == "__main__":
    h.run("stop", main)
