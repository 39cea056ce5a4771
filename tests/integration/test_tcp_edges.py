#!/usr/bin/python3
"""TCP edge cases on loopback: exact final bytes on both ends' closed rows.

The generator runs both ends of each connection and counts exactly what each
end handed to send()/sendfile()/splice() and got back from recv()/splice().
The recorder's bytes are "what the application wrote and read", so each
closed row (client and, mirrored, server) must carry exactly those numbers:

  unread        the server reads 30,000 of 100,000 and closes: it read 30,000
                (not what arrived), the client wrote 100,000; the kernel resets
  shutwr        shutdown(SHUT_WR), then the reply read to EOF: no +1 for a FIN
  abort-client  SO_LINGER {1,0} + close() after traffic both ways, by either
  abort-server  end (tcp_disconnect zeroes the kernel's counters): exact bytes,
                close_reason "reset"
  sendfile      1,000,000 bytes sent with sendfile() from a file
  splice        3,000,000 bytes spliced pipe -> socket and socket -> pipe
  fastopen-1/2  TCP Fast Open (net.ipv4.tcp_fastopen=3 for the test, the cached
                cookie for 127.0.0.1 flushed): the first connection asks for the
                cookie, the second carries data on its SYN (checked by tcpi_options)

Then one long-lived connection sends in bursts across many ticks: a tick
printed before burst k+1 starts never shows more than had been sent and read
by the end of burst k, a tick sampled while the connection is idle shows
exactly the totals so far, and the closed row has the exact final totals.
"""
import os

import ttharness as h

FASTOPEN = "/proc/sys/net/ipv4/tcp_fastopen"
CASES = ["unread", "shutwr", "abort-client", "abort-server", "sendfile", "splice", "fastopen"]
# what the generator was asked to move: (client sent, client read, server sent, server read)
WANT = {
    "unread": (100000, 0, 0, 30000),
    "shutwr": (123457, 54321, 54321, 123457),
    "abort-client": (70001, 9973, 9973, 70001),
    "abort-server": (70001, 9973, 9973, 70001),
    "sendfile": (1000000, 0, 0, 1000000),
    "splice": (3000000, 0, 0, 3000000),
    "fastopen-1": (20011, 7919, 7919, 20011),
    "fastopen-2": (20012, 7920, 7920, 20012),
}
REASON = {"unread": "reset", "abort-client": "reset", "abort-server": "reset"}
# OUT:IN:SLICES per burst; the 4th is spread over ~6 ticks
BURSTS = ["30011:101:1", "1:1:1", "262147:65537:2", "600011:7:12", "77:200003:1"]
KEYS = (("client", "bytes_out", "sent"), ("client", "bytes_in", "recv"),
        ("server", "bytes_out", "sent"), ("server", "bytes_in", "recv"))


def tup(e):
    return (e["laddr"], e["lport"], e["raddr"], e["rport"])


def enable_fastopen(t):
    with open(FASTOPEN) as f:
        old = f.read().strip()

    def restore():
        with open(FASTOPEN, "w") as f:
            f.write(old)

    t.cleanup(restore)
    with open(FASTOPEN, "w") as f:
        f.write("3")  # client and server
    # forget a cookie cached by an earlier run: the first connection must ask for one
    h.run_cmd(["ip", "tcp_metrics", "delete", "127.0.0.1"], check=False)


def edges(t, rec, name):
    g = t.gen("tcp-edge", sum((["--case", c] for c in CASES), []), name)
    g.expect("ready")
    res = g.finish(60)
    conns = {c["case"]: c for c in res["conns"]}
    t.require(sorted(conns) == sorted(WANT), "generator cases: %r" % sorted(conns))
    for case, (cs, cr, ss, sr) in WANT.items():
        c = conns[case]
        t.eq("%s: generator moved (client sent, read, server sent, read)" % case,
             (c["client"]["sent"], c["client"]["recv"], c["server"]["sent"], c["server"]["recv"]),
             (cs, cr, ss, sr))
    t.require(conns["unread"].get("server_unread") == 70000 and conns["unread"].get("client_reset"),
              "unread: the server did not close over 70,000 unread bytes with a reset: %r" %
              conns["unread"])
    t.require(conns["abort-client"].get("server_got_reset") and
              conns["abort-server"].get("client_got_reset"),
              "abort: the peer did not see the reset: %r %r" %
              (conns["abort-client"], conns["abort-server"]))
    # the premise: fastopen-1 asked for a cookie (its data went after the handshake),
    # fastopen-2 used it (its SYN carried data the server acked)
    t.require(not conns["fastopen-1"]["syn_data"],
              "fastopen-1: data on the SYN although the cookie cache was flushed: %r" %
              conns["fastopen-1"])
    t.require(conns["fastopen-2"]["syn_data"] and conns["fastopen-2"]["server_syn_data"],
              "fastopen-2: no data on the SYN (tcpi_options), Fast Open did not happen: %r" %
              conns["fastopen-2"])
    return res["pid"], conns


def bursts(t, rec, name):
    """Drive the bursts; check each tick against the totals at the time. Returns the result."""
    g = t.gen("tcp-bursts", sum((["--burst", b] for b in BURSTS), []) + ["--gap-ms", 100], name)
    ready = g.expect("ready")
    ct, st = tup(ready["client"]), tup(ready["server"])
    seen = {"client": 0, "server": 0}  # rows already checked, per end
    totals = []
    for k in range(len(BURSTS)):
        b = g.expect("burst")
        totals.append(b["client"]["sent"])
        # a tick sampled after the burst, while nothing moves: exactly the totals
        m = rec.mark()
        rec.wait_for(lambda rows: any(r["ts"] > m for r in h.conn_rows(rows, "tcp", *ct)), 5)
        rows = rec.snapshot()
        for end, tp in (("client", ct), ("server", st)):
            rs = h.conn_rows(rows, "tcp", *tp)
            new, seen[end] = rs[seen[end]:], len(rs)
            label = "bursts %s after burst %d" % (end, k + 1)
            for r in new:
                for e, key, field in KEYS:
                    if e == end:
                        t.le("%s: %s at ts %.3f (%s then)" % (label, key, r["ts"], field),
                             r[key], b[end][field])
            idle = [r for r in new if r["ts"] > m]
            if t.check(idle, "%s: no row sampled after it" % label):
                for e, key, field in KEYS:
                    if e == end:
                        t.eq("%s: %s of the first tick sampled idle" % (label, key), idle[0][key],
                             b[end][field])
        g.say("go")
    res = g.finish()
    live = [r for r in h.conn_rows(rec.snapshot(), "tcp", *ct) if not r["closed"]]
    t.ge("bursts: ticks the connection was seen open", len(live), 2 * len(BURSTS))
    mid = [r["bytes_out"] for r in live]
    t.note("  bursts: client bytes_out per tick: %r" % mid)
    # burst 4 takes 11 pauses of 100 ms: ticks in between see it part-way
    t.check(any(totals[2] < x < totals[3] for x in mid),
            "bursts: no tick caught burst 4 part-way (%d < bytes_out < %d): %r" %
            (totals[2], totals[3], mid))
    return res


def main(t):
    me = os.getpid()
    name = "ttedge%d" % me
    enable_fastopen(t)
    rec = t.recorder()
    rec.start()
    pid, conns = edges(t, rec, name)
    bres = bursts(t, rec, name)
    tuples = [tup(c[e]) for c in conns.values() for e in ("client", "server")]
    tuples += [tup(bres[e]) for e in ("client", "server")]
    t.check(rec.wait_closed("tcp", tuples, timeout=10), "no closed row for every end within 10s")
    rows = rec.stop()

    for case in WANT:
        c = conns[case]
        for end in ("client", "server"):
            e = c[end]
            r = t.check_conn(rows, "%s %s" % (case, end), "tcp", e, sent=e["sent"],
                             recv=e["recv"], pid=pid, comm=name, closed=True, partial=False)
            if r:
                t.eq("%s %s: close_reason" % (case, end), r.get("close_reason"),
                     REASON.get(case, "normal"))
    for end in ("client", "server"):
        e = bres[end]
        r = t.check_conn(rows, "bursts %s" % end, "tcp", e, sent=e["sent"], recv=e["recv"],
                         pid=bres["pid"], comm=name, closed=True, partial=False)
        if r:
            t.eq("bursts %s: close_reason" % end, r.get("close_reason"), "normal")


if __name__ == "__main__":
    h.run("tcp_edges", main)
