#!/usr/bin/python3
"""Filters --pid, --comm, --port, --proto: what they keep and what they drop.

Four recorders run at the same time (which also shows that several instances
can capture side by side), each with one filter:
  --pid A       only rows of process A (a TCP client)
  --comm ttfa*  the same, by name
  --port P      only rows with local or remote port P (the TCP server's port):
                A's and C's connections, both ends, nothing of the UDP traffic
  --proto udp   only UDP rows: B's flows and the UDP server's peers
A holds a UDP canary pair made before the recorders start, one end on port
P, so each filtered recorder has a matching row from its first tick and the
test knows when it is attached. Kept rows carry the exact bytes.
"""
import fnmatch
import os

import ttharness as h


def main(t):
    me = os.getpid()
    na, nb, nc = "ttfa%d" % me, "ttfb%d" % me, "ttfc%d" % me
    srv = t.gen("tcp-server", ["--bind", "127.0.0.1", "--conns", 2], "ttfs%d" % me)
    port = srv.expect("ready")["port"]
    usrv = t.gen("udp-server", ["--bind", "127.0.0.1"], "ttfu%d" % me)
    uport = usrv.expect("ready")["ports"][0]
    conn = ["--conn", "30011:20011:100"]
    ga = t.gen("tcp-client", ["--host", "127.0.0.1", "--port", port] + conn, na,
               pre=["--wait-go", "--canary-port", port])
    canary = ga.expect("waiting")["canary"][0]
    gb = t.gen("udp-client", ["--host", "127.0.0.1", "--port", uport, "--flow", "3:301:702"], nb,
               pre=["--wait-go"])
    gc = t.gen("tcp-client", ["--host", "127.0.0.1", "--port", port,
                              "--conn", "40013:10013:100"], nc, pre=["--wait-go"])
    gb.expect("waiting")
    gc.expect("waiting")

    def is_canary(r):
        return r["proto"] == "udp" and r["lport"] == canary

    filters = {
        "pid": (["--pid", ga.pid], lambda r: r["pid"] == ga.pid or r["tid"] == ga.pid),
        "comm": (["--comm", "ttfa*"], lambda r: fnmatch.fnmatchcase(r["comm"], "ttfa*")),
        "port": (["--port", port], lambda r: port in (r["lport"], r["rport"])),
        "proto": (["--proto", "udp"], lambda r: r["proto"] == "udp"),
    }
    recs = {}
    for what, (args, _) in filters.items():
        recs[what] = t.recorder(extra=args)
        recs[what].start(ready=is_canary)
    for g in (ga, gb, gc):
        g.say("go")
    ra, rb, rc = ga.finish(), gb.finish(), gc.finish()
    sres = srv.finish()
    usrv.close_stdin()
    ures = usrv.finish()
    a, c = ra["conns"][0], rc["conns"][0]
    t.require(a["ok"] and c["ok"], "generator connections failed: %r %r" % (a, c))
    sv = {s["rport"]: s for s in sres["conns"]}
    sa, sc = sv.get(a["lport"]), sv.get(c["lport"])
    t.require(sa and sc, "server missed a connection: %r" % sres)
    tcp_ends = [(x["laddr"], x["lport"], x["raddr"], x["rport"]) for x in (a, c, sa, sc)]
    for what in ("pid", "comm", "port"):
        tuples = tcp_ends if what == "port" else tcp_ends[:1]
        recs[what].wait_closed("tcp", tuples, timeout=10)
    rows = {what: r.stop() for what, r in recs.items()}

    for what, (args, keep) in filters.items():
        bad = [r for r in rows[what] if not keep(r)]
        t.eq("--%s: rows the filter should have dropped" % what, [h.brief(r) for r in bad[:3]],
             [])
    # what each filter must keep, with its exact numbers
    for what in ("pid", "comm", "port"):
        t.check_conn(rows[what], "--%s: A client" % what, "tcp", a, a["sent"], a["recv"],
                     pid=ra["pid"], comm=na, closed=True)
    t.check_conn(rows["port"], "--port: C client", "tcp", c, c["sent"], c["recv"],
                 pid=rc["pid"], comm=nc, closed=True)
    for label, s in (("A", sa), ("C", sc)):
        t.check_conn(rows["port"], "--port: server end of %s" % label, "tcp", s, s["sent"],
                     s["recv"], pid=sres["pid"], closed=True)
    f = rb["flows"][0]
    t.check_conn(rows["proto"], "--proto udp: B client", "udp", f, f["sent"], f["recv"],
                 pid=rb["pid"], comm=nb, dgrams=(f["dgrams_out"], f["dgrams_in"]))
    p = [x for x in ures["peers"] if x["rport"] == f["lport"]]
    t.require(len(p) == 1, "UDP server peers: %r" % ures["peers"])
    t.check_conn(rows["proto"], "--proto udp: UDP server peer", "udp", p[0], p[0]["sent"],
                 p[0]["recv"], udp_peer=True, dgrams=(p[0]["dgrams_out"], p[0]["dgrams_in"]))
    # and what it must not keep, although the capture saw it
    for what in ("pid", "comm"):
        t.eq("--%s: rows of C or of the server" % what,
             len([r for r in rows[what] if r["pid"] in (rc["pid"], sres["pid"])]), 0)
    t.eq("--port: UDP rows other than the canary",
         len([r for r in rows["port"] if r["proto"] == "udp" and r["lport"] != canary and
              r["rport"] != canary]), 0)


if __name__ == "__main__":
    h.run("filters", main)
