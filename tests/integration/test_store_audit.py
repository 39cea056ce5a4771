#!/usr/bin/python3
"""The rollups audit (lib/store/audit.h) on every kind of connection: no false alarm.

A reader that answers from the rollups recomputes one of their periods from
the blocks and warns when the two disagree; verify recomputes every period.
Both must hold on real traffic of every kind the recorder follows, or the
audit would cry wolf. One recording (-i 100ms --flush 500ms --bucket 1s
--segment-duration 3s: many whole periods, several segments and keyframes)
while these run on loopback, each spanning several periods:
  TCP churn (connections opened and closed every second), a refused connect,
  a connection ended by a reset, a socket handed to a forked child (its owner
  changes inside a period), an unconnected UDP server with three peers, a UDP
  socket connected late (the iperf3 -u pattern: a peer row, then a connected
  one), a UDP socket that connects, reconnects and disconnects.
Then:
- verify: no problem, and every whole period recomputed (at least 6);
- top (rollups) over the whole recording and over 8 random windows, by
  connection and by process: exit 0, no warning, equal to --no-rollups;
- the same store with resets, closed, retrans or packets_in set to 0 in every
  rollups row (each in a copy, those with a value in a whole period, at
  least two): values in range that still add up hour by hour, which only the
  blocks can refute: top over a window whose first period had some warns (it
  audits the first period it reads from the rollups), and verify reports it.
"""
import os
import random
import re
import shutil
import sqlite3
import tempfile
import time

import ttharness as h
import ttstore as ts

NS = 1000000000


def top(t, store, win, group, rollups):
    args = ["top", "-n", "100000", "--format", "json", "--group-by", group]
    if not rollups:
        args.append("--no-rollups")
    p = t.analyze(*(args + win + [store]))
    t.check(p.returncode == 0 and not p.stderr.strip(),
            "top %s %s%s: exit %d: %s" % (group, win, "" if rollups else " --no-rollups",
                                          p.returncode, p.stderr.strip()))
    return p.stdout


def traffic(t, me):
    """Every kind of connection, over about 8 s; what ran, for the record."""
    gens = []
    churn = t.gen("store-churn", ["--conns", 12, "--active", 4, "--reopen", 3], "ttach%d" % me,
                  ready=True)
    srv = t.gen("udp-server", ["--bind", "127.0.0.1"] * 2, "ttaus%d" % me)
    ports = srv.expect("ready")["ports"]
    for i in range(3):
        g = t.gen("udp-client", ["--host", "127.0.0.1", "--port", ports[0], "--bind",
                                 "127.0.0.1", "--flow", "%d:300:60:u" % (20 + 10 * i),
                                 "--hold", 2500], "ttauc%d-%d" % (i, me))
        g.expect("ready")
        gens.append(g)
    gens.append(t.gen("udp-late-connect", ["--count", 300, "--gap", 1500, "--hold", 1500],
                      "ttaul%d" % me))
    gens.append(t.gen("udp-steps", ["--gap", 900, "--step", "connect:%d" % ports[0],
                                    "--step", "send:5:300:40", "--step",
                                    "connect:%d" % ports[1], "--step", "send:7:500:60",
                                    "--step", "disconnect", "--step",
                                    "sendto:%d:3:200:30" % ports[0]], "ttaup%d" % me))
    gens.append(t.gen("tcp-refused", ["--port", h.free_port()], "ttaur%d" % me))
    gens.append(t.gen("tcp-edge", ["--case", "abort-client"], "ttaue%d" % me))
    hold = t.gen("hold", ["--how", "fork", "--name2", "ttauf%d" % me], "ttauh%d" % me)
    hold.expect("before")
    time.sleep(1.5)
    hold.say("go")
    hold.expect("moved")
    time.sleep(1.2)
    hold.say("go")
    gens.append(hold)
    for g in gens:
        g.finish(30)
    srv.close_stdin()
    srv.finish()
    time.sleep(1)
    churn.stop()


def main(t):
    me = os.getpid()
    store = tempfile.mkdtemp(prefix="ttaudit-")
    if not os.environ.get("TT_KEEP"):
        t.cleanup(lambda: shutil.rmtree(store, ignore_errors=True))
    rec = t.recorder(store=store, interval="100ms", flush="500ms",
                     extra=["--bucket", "1s", "--segment-duration", "3s"])
    rec.start()
    traffic(t, me)
    rec.halt()

    out = ts.verify(t, store, "recorded with --bucket 1s")
    r = ts.query(store, "SELECT start_ns, end_ns FROM recordings")[0]
    t0, t1 = r["start_ns"], r["end_ns"]
    # every whole 1 s period but the first and the last two (the last one is
    # closed by no tick) has all its ticks in the blocks
    m = re.search(r"(\d+) rollup periods recomputed", out)
    t.check(m and int(m.group(1)) >= (t1 - t0) // NS - 3,
            "verify recomputed every whole rollup period of %.1f s: %r" % ((t1 - t0) / NS, out))
    kinds = ts.query(store, "SELECT proto, flags & 2 AS peer, count(*) AS n FROM conns "
                            "GROUP BY proto, peer")
    t.check(len(kinds) >= 3, "TCP, connected UDP and UDP peer rows recorded: %r" % kinds)

    rng = random.Random(me)
    windows = [[]]
    for _ in range(8):
        frm = rng.randrange(t0, t1 - NS)
        windows.append(["--from", "@%.9f" % (frm / NS), "--to",
                        "@%.9f" % ((frm + rng.randrange(NS, 6 * NS)) / NS)])
    for win in windows:
        for g in ("conn", "process"):
            got, want = top(t, store, win, g, True), top(t, store, win, g, False)
            t.check(got == want, "window %s by %s: rollups differ from the ticks" % (win, g))

    # whole periods that top reads from the rollups and verify recomputes: after
    # the partial first one (replayed from the blocks) and closed by a later tick
    lo, hi = -(-t0 // NS), t1 // NS - 2
    tested = 0
    for col in ("resets", "closed", "retrans", "packets_in"):
        bad = os.path.join(tempfile.mkdtemp(prefix="ttaudit-bad-"), "s")
        t.cleanup(lambda d=os.path.dirname(bad): shutil.rmtree(d, ignore_errors=True))
        shutil.copytree(store, bad)
        db = sqlite3.connect(os.path.join(bad, "index.db"))
        first = db.execute("SELECT min(t) FROM rollups WHERE res = 1 AND %s != 0 AND t "
                           "BETWEEN ? AND ?" % col, (lo, hi)).fetchone()[0]
        db.execute("UPDATE rollups SET %s = 0" % col)
        db.commit()
        db.close()
        if first is None:
            continue  # none in a whole period: the lie changes no answer
        tested += 1
        # top audits the first whole period of its window: one that had some
        p = t.analyze("top", "--format", "json", "--from", "@%d" % first, "--to",
                      "@%.9f" % (t1 / NS), bad)
        t.check(p.returncode == 0 and "disagree with the blocks" in p.stderr,
                "top on rollups with %s 0 warns: exit %d, %r" % (col, p.returncode, p.stderr))
        p = t.analyze("verify", bad)
        t.check(p.returncode == 1 and re.search(r"PROBLEM rollups: \d+ periods disagree",
                                                p.stdout),
                "verify reports %s 0: exit %d, %r" % (col, p.returncode, p.stdout[-2000:]))
    t.check(tested >= 2, "columns with values in whole periods, zeroed and caught: %d" % tested)


if __name__ == "__main__":
    h.run("store_audit", main)
