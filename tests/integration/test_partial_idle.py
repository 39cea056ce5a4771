#!/usr/bin/python3
"""An idle connection that predates the recorder still gets its owner.

A TCP pair carries traffic, then the recorder starts and the pair stays silent:
no send or receive ever names its process to the kernel hooks. The start-up
socket walk enters both ends as partial with their socket inodes, and the
collector finds the owner in /proc/PID/fd. Both rows must carry the
generator's pid and name, zero bytes (nothing moved after the start), and the
partial flag.
"""
import os

import ttharness as h


def main(t):
    me = os.getpid()
    name = "ttidle%d" % (me % 100000)
    g = t.gen("pair", ["--proto", "tcp", "--before", "5000:500", "--after", "0:0", "--hold",
                       1500], name)
    p1 = g.expect("phase1")
    rec = t.recorder(interval="250ms")
    rec.start()
    tuples = [tuple(p1[e][k] for k in ("laddr", "lport", "raddr", "rport"))
              for e in ("client", "server")]
    rec.wait_ticks(3)
    rows = rec.snapshot()
    g.say("go")
    g.finish()
    rec.stop()
    for tup, end in zip(tuples, ("client", "server")):
        mine = h.conn_rows(rows, "tcp", *tup)
        if not t.check(mine, "%s end %s has rows" % (end, tup)):
            continue
        last = mine[-1]
        t.eq("%s: pid from /proc" % end, last["pid"], p1["pid"])
        t.eq("%s: comm from /proc" % end, last["comm"], name)
        t.eq("%s: partial" % end, last["partial"], True)
        t.eq("%s: bytes after the start" % end, last["bytes_in"] + last["bytes_out"], 0)


if __name__ == "__main__":
    h.run("partial_idle", main)
