#!/usr/bin/python3
"""UDP flows idle for --udp-idle are closed with reason "idle", and come back fresh.

Recorder with --udp-idle 600ms. A client with a connected socket and an
unconnected one talks to an unconnected server socket, then stays silent with
its sockets open. Every flow (the two client sockets, the server's two peer
rows) must be closed once with close_reason "idle", the exact bytes of that
first phase, and a life from its first to its last datagram: the idle time
that ended it is not part of it (the closing tick comes at least that long
after close_ts). Then the client talks
again on the same sockets: each flow shows up again as a new, open row that
counts only the second phase, to the byte.
"""
import os

import ttharness as h

IDLE_MS = 600
FLOWS = ("3:100:200", "2:50:61:u")
AGE_SLACK_MS = 10  # ms rounding of ts and age_ms, and two readings of the clock offset


def main(t):
    me = os.getpid()
    rec = t.recorder(extra=["--udp-idle", "%dms" % IDLE_MS])
    rec.start()
    srv = t.gen("udp-server", ["--bind", "127.0.0.1"], "ttisrv%d" % me)
    port = srv.expect("ready")["ports"][0]
    args = ["--host", "127.0.0.1", "--port", port, "--bind", "127.0.0.1", "--phases", 2]
    for f in FLOWS:
        args += ["--flow", f]
    cli = t.gen("udp-client", args, "tticli%d" % me)
    p1 = cli.expect("phase1")["flows"]

    def ends(flows):
        """(label, tuple) of both ends of every flow."""
        out = []
        for i, f in enumerate(flows, 1):
            out.append(("client flow %d" % i, f))
            out.append(("server peer %d" % i, {"laddr": f["raddr"], "lport": f["rport"],
                                               "raddr": f["laddr"], "rport": f["lport"]}))
        return out

    def all_idle(rows):
        return all(any(r["closed"] for r in conn_rows(rows, tp)) for _, tp in ends(p1))

    def conn_rows(rows, tp):
        return h.conn_rows(rows, "udp", tp["laddr"], tp["lport"], tp["raddr"], tp["rport"])

    t.require(rec.wait_for(all_idle, timeout=10),
              "not every flow was closed as idle within 10s of going silent")
    n_before = len(rec.snapshot())
    cli.say("go")
    p2 = cli.finish()["flows"]
    srv.close_stdin()
    peers = srv.finish()["peers"]
    rows = rec.stop()

    # what the server counted is both phases together: the sum must match the client
    for i, (a, b) in enumerate(zip(p1, p2), 1):
        pr = [p for p in peers if p["rport"] == a["lport"]]
        t.require(len(pr) == 1, "server peer for client flow %d: %r" % (i, pr))
        t.eq("client flow %d: bytes the server got, both phases (generator)" % i,
             pr[0]["recv"], a["sent"] + b["sent"])

    first, second = rows[:n_before], rows[n_before:]
    for (label, tp), a, b in zip(ends(p1), [f for f in p1 for _ in (0, 1)],
                                 [f for f in p2 for _ in (0, 1)]):
        client = label.startswith("client")
        sent1, recv1 = (a["sent"], a["recv"]) if client else (a["recv"], a["sent"])
        sent2, recv2 = (b["sent"], b["recv"]) if client else (b["recv"], b["sent"])
        rs = conn_rows(rows, tp)
        closed = [r for r in rs if r["closed"]]
        # age counts from the flow's first datagram, not from the tick that first saw it
        for r in rs:
            if r["closed"]:
                continue  # a closed row's age is its lifetime, checked below
            t_ans = a["t_answered"] if not closed or r["ts"] <= closed[0]["ts"] else b["t_answered"]
            t.ge("%s: age_ms at ts %.3f (%s)" % (label, r["ts"], "closed" if r["closed"] else "open"),
                 r["age_ms"], int((r["ts"] - t_ans) * 1000) - AGE_SLACK_MS)
        t.eq("%s: closed rows" % label, len(closed), 1)
        if closed:
            c = closed[0]
            t.eq("%s: close_reason" % label, c.get("close_reason"), "idle")
            t.eq("%s: bytes out/in when closed idle" % label, (c["bytes_out"], c["bytes_in"]),
                 (sent1, recv1))
            slack = AGE_SLACK_MS / 1000.0
            t.ge("%s: close_ts, not before the first answer" % label, c["close_ts"],
                 a["t_answered"] - slack)
            t.le("%s: close_ts, not after the last datagram" % label, c["close_ts"],
                 a["t_done"] + slack)
            t.le("%s: lifetime_ms vs close_ts - open_ts" % label,
                 abs(c["lifetime_ms"] - (c["close_ts"] - c["open_ts"]) * 1000), AGE_SLACK_MS)
            t.eq("%s: age_ms of the closed row (its lifetime)" % label, c["age_ms"],
                 c["lifetime_ms"])
            t.ge("%s: the idle close came after --udp-idle of silence" % label, c["ts"],
                 c["close_ts"] + IDLE_MS / 1000.0 - slack)
            after = [r for r in rs if r["ts"] > c["ts"]]
            t.check(all(r["ts"] > c["ts"] for r in conn_rows(second, tp)),
                    "%s: second-phase rows before the idle close" % label)
            t.check(after, "%s: no row after it talked again" % label)
            if after:
                last = after[-1]
                t.eq("%s: second-phase row closed" % label, last["closed"], False)
                t.eq("%s: second-phase bytes out/in (counted afresh)" % label,
                     (last["bytes_out"], last["bytes_in"]), (sent2, recv2))
                t.eq("%s: second-phase row udp_peer" % label, last["udp_peer"], c["udp_peer"])


if __name__ == "__main__":
    h.run("udp_idle", main)
