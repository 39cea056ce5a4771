#!/usr/bin/python3
"""1,000 TCP connections spread over 20 network namespaces.

20 namespaces, each with a veth pair and a server listening on 0.0.0.0 that
takes 50 connections. In the even namespaces the client runs inside the
namespace and connects over its loopback (both ends there); in the odd ones the
client runs on the host and connects across the veth. Connection k (0..999)
sends its own number of bytes and asks for its own number back, so no two
connections look alike. The recorder starts before any of them.

Every end of every connection (2,000) must have exactly one closed row and
nothing after it, with the exact bytes both ways, the pid and comm of the
process that held it, family 4, not partial, and the netns it lives in: the
namespace's inode (NetNS.inode) or the host's. No TCP row in one of these
namespaces may belong to anything else.
"""
import os
import time

import ttharness as h

NNS = 20
PER_NS = 50


def sizes(k):
    """Bytes out and back of connection k: all different."""
    return 500 + 37 * k, 300 + 53 * k


def main(t):
    me = os.getpid()
    srv_name, cli_name = "ttmsrv%d" % me, "ttmcli%d" % me
    nss = [t.netns(chr(ord("a") + i)) for i in range(NNS)]
    servers = []
    for ns in nss:
        g = t.gen("tcp-server", ["--bind", "0.0.0.0", "--conns", PER_NS], srv_name, netns=ns)
        servers.append(g)
    ports = [g.expect("ready")["port"] for g in servers]

    rec = t.recorder()
    rec.start()
    clients = []
    for i, (ns, port) in enumerate(zip(nss, ports)):
        inside = i % 2 == 0
        args = ["--host", "127.0.0.1" if inside else ns.ns_v4, "--port", port]
        for j in range(PER_NS):
            out, back = sizes(i * PER_NS + j)
            args += ["--conn", "%d:%d:0" % (out, back)]
        clients.append(t.gen("tcp-client", args, cli_name, netns=ns if inside else None))
    cres = [g.finish(timeout=40) for g in clients]
    sres = [g.finish(timeout=20) for g in servers]

    host = h.host_netns()
    ends = []  # (label, tuple, sent, recv, pid, comm, netns)
    for i, (ns, cr, sr) in enumerate(zip(nss, cres, sres)):
        inside = i % 2 == 0
        t.eq("ns %d: connections the client made (generator)" % i, len(cr["conns"]), PER_NS)
        t.eq("ns %d: connections the server served (generator)" % i, len(sr["conns"]), PER_NS)
        by_peer = {(h.norm_addr(s["raddr"]), s["rport"]): s for s in sr["conns"]}
        for j, c in enumerate(cr["conns"]):
            label = "ns %d conn %d" % (i, j)
            t.require(c["ok"], "%s: generator client failed: %r" % (label, c))
            out, back = sizes(i * PER_NS + j)
            t.require((c["sent"], c["recv"]) == (out, back),
                      "%s: generator client moved %d/%d, want %d/%d" %
                      (label, c["sent"], c["recv"], out, back))
            s = by_peer.get((h.norm_addr(c["laddr"]), c["lport"]))
            t.require(s and s["ok"], "%s: the server has no good connection: %r" % (label, s))
            ends.append((label + " client", c, c["sent"], c["recv"], cr["pid"], cli_name,
                         ns.inode if inside else host))
            ends.append((label + " server", s, s["sent"], s["recv"], sr["pid"], srv_name,
                         ns.inode))

    def key(tup):
        return (h.norm_addr(tup["laddr"]), tup["lport"], h.norm_addr(tup["raddr"]), tup["rport"])

    want_closed = {(key(tup), netns) for _, tup, _, _, _, _, netns in ends}
    # wait until every end has its closed row (an index built as rows come in)
    seen_closed, done = set(), 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        rows = rec.snapshot()
        for r in rows[done:]:
            if r["proto"] == "tcp" and r["closed"]:
                seen_closed.add(((r["laddr"], r["lport"], r["raddr"], r["rport"]), r["netns"]))
        done = len(rows)
        if want_closed <= seen_closed:
            break
        time.sleep(0.2)
    rows = rec.stop()

    index = {}
    for r in rows:
        if r["proto"] == "tcp":
            index.setdefault((r["laddr"], r["lport"], r["raddr"], r["rport"]), []).append(r)
    t.eq("ends with a closed row in the right netns within 15s", len(want_closed & seen_closed),
         len(want_closed))
    for label, tup, sent, recv, pid, comm, netns in ends:
        same = index.get(key(tup), [])
        mine = [r for r in same if r["netns"] == netns]
        if not mine and same:
            t.check(False, "%s (%s): rows only with netns %r, want %d" %
                    (label, h.fmt_tuple("tcp", *key(tup)), sorted({r["netns"] for r in same}),
                     netns))
            continue
        t.check_conn(mine, label, "tcp", tup, sent, recv, pid=pid, comm=comm, closed=True,
                     netns=netns, family=4, partial=False)

    # nothing else in our namespaces: every TCP row there is one of the ends
    ours = {ns.inode for ns in nss}
    known = {(key(tup), netns) for _, tup, _, _, _, _, netns in ends}
    strays = [r for r in rows if r["proto"] == "tcp" and r["netns"] in ours and
              ((r["laddr"], r["lport"], r["raddr"], r["rport"]), r["netns"]) not in known]
    t.eq("TCP rows in the test's namespaces that are no connection of the test", len(strays), 0)
    for r in strays[:5]:
        t.note("  stray: %s" % h.brief(r))


if __name__ == "__main__":
    h.run("netns_many", main)
