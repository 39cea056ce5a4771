#!/usr/bin/python3
"""TCP over loopback: exact bytes, owner and lifecycle of several connections.

Four connections open at the same time, connection k sending 100000*k + k
bytes and receiving 77777*k. Each connection's closed row must carry exactly
those totals, seen from the client and (mirrored) from the server, with the
generator's pid, comm and I/O thread, packets in both directions, the cgroup
and netns of the generator, and a lifetime of at least the time the generator
held the connection open. Each connection is reported closed exactly once.
"""
import os

import ttharness as h

K = 4
HOLD_MS = 300


def main(t):
    me = os.getpid()
    srv_name, cli_name = "ttsrv%d" % me, "ttcli%d" % me
    # the listener predates the recorder: its children must still count from the start
    srv = t.gen("tcp-server", ["--bind", "127.0.0.1", "--conns", K], srv_name)
    port = srv.expect("ready")["port"]

    rec = t.recorder()
    rec.start()
    args = ["--host", "127.0.0.1", "--port", port, "--parallel"]
    for k in range(1, K + 1):
        args += ["--conn", "%d:%d:%d" % (100000 * k + k, 77777 * k, HOLD_MS)]
    cli = t.gen("tcp-client", args, cli_name)
    cli.expect("ready")
    cres = cli.finish()
    sres = srv.finish()
    conns = cres["conns"]
    for c in conns + sres["conns"]:
        t.require(c and c["ok"], "generator connection failed: %r" % c)
    tuples = [(c["laddr"], c["lport"], c["raddr"], c["rport"]) for c in conns]
    tuples += [(c["laddr"], c["lport"], c["raddr"], c["rport"]) for c in sres["conns"]]
    rec.wait_closed("tcp", tuples, timeout=10)
    rows = rec.stop()

    netns = h.host_netns()
    by_client_port = {s["rport"]: s for s in sres["conns"]}
    for k, c in enumerate(conns, 1):
        # the generator itself: it did what it was asked to
        t.eq("client %d sent (generator)" % k, c["sent"], 100000 * k + k)
        t.eq("client %d received (generator)" % k, c["recv"], 77777 * k)
        s = by_client_port.get(c["lport"])
        t.require(s is not None, "server has no connection from client port %d" % c["lport"])
        t.eq("server %d received (generator)" % k, s["recv"], c["sent"])

        for label, g, pid, comm, cg in (("client %d" % k, c, cres["pid"], cli_name, cli.cgroup),
                                       ("server %d" % k, s, sres["pid"], srv_name, srv.cgroup)):
            r = t.check_conn(rows, label, "tcp", g, sent=g["sent"], recv=g["recv"], pid=pid,
                             comm=comm, tid=g["tid"], closed=True, netns=netns, family=4,
                             partial=False, udp_peer=False)
            if not r:
                continue
            if cg is not None:  # None: no cgroup v2 to compare with
                t.eq("%s: cgroup" % label, r["cgroup"], cg)
            t.eq("%s: close_reason" % label, r.get("close_reason"), "normal")
            t.eq("%s: error" % label, r.get("error"), 0)
            t.eq("%s: resets sent+received" % label, r["resets_sent"] + r["resets_received"], 0)
            # open from before connect() until after the server's close() at the latest
            t.ge("%s: lifetime_ms" % label, r.get("lifetime_ms"), HOLD_MS)
            t.le("%s: lifetime_ms" % label, r.get("lifetime_ms"),
                 (s["t_close"] - c["t_open"]) * 1000 + 1000)


if __name__ == "__main__":
    h.run("tcp_loopback", main)
