#!/usr/bin/python3
"""Connections opened before the recorder starts: partial, counted from the start.

Three connections carry traffic before the recorder starts: a TCP connection,
a connected UDP pair, and a connected UDP client talking to an unconnected UDP
server socket (a per-peer flow). The recorder starts, attaches, and then each
carries a different, known amount of traffic each way and closes. Every end
must be flagged partial and count exactly what was sent after the start, not a
byte of what came before; the TCP ends are reported closed exactly once.
"""
import os

import ttharness as h

# proto: (before out:in, after out:in)
PAIRS = {
    "tcp": ("70001:50003", "12345:6789"),
    "udp": ("3001:2002", "1234:567"),
    "udpu": ("2503:1504", "999:777"),
}


def main(t):
    me = os.getpid()
    gens = {}
    for proto, (before, after) in PAIRS.items():
        g = t.gen("pair", ["--proto", proto, "--before", before, "--after", after, "--hold", 250],
                  "ttp%s%d" % (proto, me))
        gens[proto] = (g, g.expect("phase1"))
    for proto, (g, p1) in gens.items():
        bx, by = (int(x) for x in PAIRS[proto][0].split(":"))
        t.require(p1["client_sent"] == bx and p1["server_sent"] == by,
                  "%s: generator before-traffic: %r" % (proto, p1))

    rec = t.recorder()
    rec.start()
    for g, _ in gens.values():
        g.say("go")
    res = {proto: g.finish() for proto, (g, _) in gens.items()}
    r = res["tcp"]
    rec.wait_closed("tcp", [tuple(r[e][k] for k in ("laddr", "lport", "raddr", "rport"))
                            for e in ("client", "server")], timeout=10)
    rows = rec.stop()

    for proto, r in res.items():
        ax, ay = (int(x) for x in PAIRS[proto][1].split(":"))
        t.eq("%s: client sent after the start (generator)" % proto, r["client_sent"], ax)
        t.eq("%s: server sent after the start (generator)" % proto, r["server_sent"], ay)
        wire = "tcp" if proto == "tcp" else "udp"
        for end in ("client", "server"):
            kw = {}
            if wire == "udp":
                other = "server" if end == "client" else "client"
                kw["dgrams"] = (r[end + "_dgrams_out"], r[other + "_dgrams_out"])
                # UDP ends close when their socket does, at a tick boundary: after
                # the generator closed them, either state is right
                kw["closed"] = None
                kw["udp_peer"] = proto == "udpu" and end == "server"
            else:
                kw["closed"] = True
                kw["tid"] = r["tid"]
            t.check_conn(rows, "%s %s (opened before the start)" % (proto, end), wire, r[end],
                         r[end + "_sent"], r[end + "_recv"], pid=r["pid"],
                         comm="ttp%s%d" % (proto, me), partial=True, family=4, **kw)


if __name__ == "__main__":
    h.run("partial", main)
