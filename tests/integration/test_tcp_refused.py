#!/usr/bin/python3
"""A refused connection: connect() to a loopback port nobody listens on.

The generator makes two attempts, one from a socket bound first (its local
port is known) and one from a plain socket. Each must give exactly one row:
closed true, close_reason "failed", error 111 (ECONNREFUSED), at least one
reset received, no bytes, the generator's pid and comm; the bound one with
its local port.
"""
import errno
import os

import ttharness as h


def main(t):
    me = os.getpid()
    name = "ttref%d" % me
    rec = t.recorder()
    rec.start()
    port = h.free_port()
    g = t.gen("tcp-refused", ["--host", "127.0.0.1", "--port", port], name)
    res = g.finish()
    conns = res["conns"]
    for c in conns:
        t.require(c["error"] == errno.ECONNREFUSED,
                  "generator: connect to port %d gave errno %r, not ECONNREFUSED" %
                  (port, c["error"]))

    def attempts(rows):
        return [r for r in rows if r["proto"] == "tcp" and r["rport"] == port and
                r["raddr"] == "127.0.0.1" and r["closed"]]

    rec.wait_for(lambda rows: len(attempts(rows)) >= len(conns), timeout=10)
    rec.wait_ticks(1, timeout=5)
    rows = rec.stop()

    # every row about a connection to that port, open or closed
    mine = [r for r in rows if r["proto"] == "tcp" and r["rport"] == port]
    closed = [r for r in mine if r["closed"]]
    t.eq("closed rows for connections to port %d" % port, len(closed), len(conns))
    bound = [c for c in conns if c["bound"]][0]
    t.eq("closed rows from the bound socket (local port %d)" % bound["lport"],
         len([r for r in closed if r["lport"] == bound["lport"]]), 1)
    t.eq("rows from the unbound socket without its local port (0)",
         len([r for r in mine if r["lport"] == 0]), 0)
    for i, r in enumerate(closed):
        label = "refused attempt %d (%s:%d -> 127.0.0.1:%d)" % (i + 1, r["laddr"], r["lport"], port)
        t.eq("%s: close_reason" % label, r.get("close_reason"), "failed")
        t.eq("%s: error" % label, r.get("error"), errno.ECONNREFUSED)
        t.ge("%s: resets_received" % label, r["resets_received"], 1)
        t.eq("%s: bytes in/out" % label, (r["bytes_in"], r["bytes_out"]), (0, 0))
        t.eq("%s: pid" % label, r["pid"], res["pid"])
        t.eq("%s: comm" % label, r["comm"], name)
        t.eq("%s: state" % label, r["state"], "CLOSE")
        t.eq("%s: partial" % label, r["partial"], False)
        t.check(not any(x["ts"] > r["ts"] and x["lport"] == r["lport"] for x in mine),
                "%s: rows after the closed one" % label)


if __name__ == "__main__":
    h.run("tcp_refused", main)
