#!/usr/bin/python3
"""Connections that open and close while recording: their life across ticks.

Connection A lives ~1.5 s (several ticks) and sends its data in slices over
that time: its rows must show it open and growing, then exactly one closed
row with the exact totals, a lifetime at least as long as it was held open
(and no longer than the generator observed), and nothing after it although
the recorder kept ticking. Connection B ends with a reset (SO_LINGER 0): the
client sent a reset, the server received one, both rows say close_reason
"reset", and the server's carries ECONNRESET.
"""
import errno
import os

import ttharness as h

A_OUT, A_IN, A_HOLD = 250003, 40009, 1500
B_OUT, B_IN, B_HOLD = 5003, 3001, 200


def main(t):
    me = os.getpid()
    srv_name, cli_name = "ttcsrv%d" % me, "ttccli%d" % me
    rec = t.recorder()
    rec.start()
    srv = t.gen("tcp-server", ["--bind", "127.0.0.1", "--conns", 2], srv_name)
    port = srv.expect("ready")["port"]
    ga = t.gen("tcp-client", ["--host", "127.0.0.1", "--port", port, "--slices", 6,
                              "--conn", "%d:%d:%d" % (A_OUT, A_IN, A_HOLD)], cli_name)
    gb = t.gen("tcp-client", ["--host", "127.0.0.1", "--port", port, "--rst",
                              "--conn", "%d:%d:%d" % (B_OUT, B_IN, B_HOLD)], cli_name)
    ra, rb = ga.finish(), gb.finish()
    sres = srv.finish()
    a, b = ra["conns"][0], rb["conns"][0]
    for c in (a, b):
        t.require(c["ok"], "generator connection failed: %r" % c)
    sv = {s["rport"]: s for s in sres["conns"]}
    sa, sb = sv.get(a["lport"]), sv.get(b["lport"])
    t.require(sa and sb and sa["ok"] and sb["ok"], "generator server side: %r" % sres)
    t.require(sb.get("reset"), "the server did not see B's reset: %r" % sb)
    tuples = [(c["laddr"], c["lport"], c["raddr"], c["rport"]) for c in (a, b, sa, sb)]
    t.require(rec.wait_closed("tcp", tuples, timeout=10), "no closed row for every end within 10s")
    # keep recording: a closed connection must not come back in later ticks
    rec.wait_ticks(2, timeout=5)
    rows = rec.stop()

    # A: open across ticks, then closed exactly once
    for label, g, pid in (("A client", a, ra["pid"]), ("A server", sa, sres["pid"])):
        r = t.check_conn(rows, label, "tcp", g, g["sent"], g["recv"], pid=pid, closed=True,
                         tid=g["tid"], partial=False)
        if not r:
            continue
        rs = h.conn_rows(rows, "tcp", g["laddr"], g["lport"], g["raddr"], g["rport"])
        live = [x for x in rs if not x["closed"]]
        t.ge("%s: ticks in which it was seen open" % label, len(live), 3)
        if label == "A client":
            t.check(any(0 < x["bytes_out"] < A_OUT for x in live),
                    "%s: no open row caught it mid-transfer: bytes_out %r" %
                    (label, [x["bytes_out"] for x in live]))
        t.eq("%s: states while open" % label, [x["state"] for x in live if x["state"] == "CLOSE"],
             [])
        t.eq("%s: state of the closed row" % label, r["state"], "CLOSE")
        ages = [x["age_ms"] for x in live]
        t.eq("%s: age_ms never decreases" % label, ages, sorted(ages))
        t.eq("%s: close_reason" % label, r.get("close_reason"), "normal")
        t.eq("%s: error" % label, r.get("error"), 0)
        t.ge("%s: lifetime_ms" % label, r.get("lifetime_ms"), max([A_HOLD] + ages))
        t.le("%s: lifetime_ms" % label, r.get("lifetime_ms"),
             (sa["t_close"] - a["t_open"]) * 1000 + 1000)
        t.check(any(x["ts"] > r["ts"] for x in rows),
                "%s: the recorder printed no tick after the closed row" % label)

    # B: ended by a reset
    r = t.check_conn(rows, "B client (sent the reset)", "tcp", b, b["sent"], b["recv"],
                     pid=rb["pid"], closed=True)
    if r:
        t.ge("B client: resets_sent", r["resets_sent"], 1)
        t.eq("B client: close_reason", r.get("close_reason"), "reset")
        t.ge("B client: lifetime_ms", r.get("lifetime_ms"), B_HOLD)
    r = t.check_conn(rows, "B server (got the reset)", "tcp", sb, sb["sent"], sb["recv"],
                     pid=sres["pid"], closed=True)
    if r:
        t.ge("B server: resets_received", r["resets_received"], 1)
        t.eq("B server: close_reason", r.get("close_reason"), "reset")
        t.eq("B server: error", r.get("error"), errno.ECONNRESET)


if __name__ == "__main__":
    h.run("tcp_close", main)
