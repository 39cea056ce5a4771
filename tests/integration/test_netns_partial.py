#!/usr/bin/python3
"""TCP connections inside a namespace, open and idle when the recorder starts.

A namespace with a veth pair; a server in it on "::" (IPv4 too, v4-mapped) and
three clients, every connection made and used before the recorder starts:
- a client inside the namespace, two connections over the namespace's own
  loopback (both ends in the namespace);
- a client on the host, one connection to the namespace's IPv4 address and one
  (another process) to its IPv6 address, across the veth.
Each connection moves bytes both ways before the start, then stays silent. The
recorder starts: the per-tick walk over every task's files must find all eight
ends in the first ticks, flagged partial, with zero bytes, the pid and comm of
the process holding them, the right netns and family, before any of them moves
another byte. Then each sends a known, different amount both ways and closes:
one closed row per end, partial, with exactly the bytes after the start.
"""
import os

import ttharness as h

# before out, before in, after out, after in (client's view); BO >= 44, the header
IN_NS = ("3001:2003:150001:70003", "5003:100003:777:12345")
HOST4 = ("4007:9001:65537:300007",)
HOST6 = ("2503:1501:99991:4321",)
FIRST_TICKS = 2  # the ends must show up in the first this many ticks


def main(t):
    me = os.getpid()
    ns = t.netns("a")
    srv_name, nscli_name, hcli_name = "ttnps%d" % me, "ttnpi%d" % me, "ttnph%d" % me
    srv = t.gen("tcp-idle-server", ["--bind", "::", "--dual", "--conns",
                                    len(IN_NS) + len(HOST4) + len(HOST6)], srv_name, netns=ns)
    port = srv.expect("ready")["port"]

    clients = []  # (label, gen, netns inode, family, specs)
    for label, host, specs, netns, fam, name in (
            ("in-ns", "127.0.0.1", IN_NS, ns, 4, nscli_name),
            ("host->ns v4", ns.ns_v4, HOST4, None, 4, hcli_name),
            ("host->ns v6", ns.ns_v6, HOST6, None, 6, hcli_name)):
        args = ["--host", host, "--port", port, "--hold", 100]
        for s in specs:
            args += ["--conn", s]
        g = t.gen("tcp-idle-client", args, name, netns=netns)
        clients.append((label, g, netns, fam, name, [[int(x) for x in s.split(":")] for s in specs]))

    # everything is connected and has moved its before-bytes, then goes silent
    phase1 = {}
    for label, g, _, _, _, specs in clients:
        p1 = g.expect("phase1")
        for c, (bo, bi, _, _) in zip(p1["conns"], specs):
            t.require(c["before_sent"] == bo and c["before_recv"] == bi,
                      "%s: generator before-traffic %r, want %d/%d" % (label, c, bo, bi))
        phase1[label] = p1

    inner, host = ns.inode, h.host_netns()
    rec = t.recorder()
    rec.start()
    t.require(rec.wait_ticks(FIRST_TICKS, timeout=10),
              "recorder printed fewer than %d ticks after attaching" % FIRST_TICKS)
    early_rows = rec.snapshot()
    first = sorted({r["ts"] for r in early_rows})[:FIRST_TICKS]
    early_rows = [r for r in early_rows if r["ts"] <= first[-1]]

    # every end, as (label, tuple, pid, comm, netns, family); server ends are
    # only known by the server's result, so they are checked by their mirror
    ends = []
    for label, g, netns, fam, name, specs in clients:
        ni = inner if netns else host
        for i, c in enumerate(phase1[label]["conns"]):
            ends.append(("%s #%d client" % (label, i), c, g.pid, name, ni, fam))
            mirror = {"laddr": c["raddr"], "lport": c["rport"], "raddr": c["laddr"],
                      "rport": c["lport"]}
            ends.append(("%s #%d server" % (label, i), mirror, srv.pid, srv_name, inner, fam))

    for label, tup, pid, comm, netns, fam in ends:
        desc = "%s (%s) before any byte after the start" % (
            label, h.fmt_tuple("tcp", tup["laddr"], tup["lport"], tup["raddr"], tup["rport"]))
        rs = h.conn_rows(early_rows, "tcp", tup["laddr"], tup["lport"], tup["raddr"],
                         tup["rport"], netns)
        if not t.check(rs, "%s: not in the first %d ticks" % (desc, FIRST_TICKS)):
            other = h.conn_rows(early_rows, "tcp", tup["laddr"], tup["lport"], tup["raddr"],
                                tup["rport"])
            for r in other[-2:]:
                t.note("  same tuple, other netns: %s" % h.brief(r))
            continue
        r = rs[-1]
        t.eq("%s: partial" % desc, r["partial"], True)
        t.eq("%s: bytes out/in" % desc, (r["bytes_out"], r["bytes_in"]), (0, 0))
        t.eq("%s: pid" % desc, r["pid"], pid)
        t.eq("%s: comm" % desc, r["comm"], comm)
        t.eq("%s: family" % desc, r["family"], fam)
        t.eq("%s: closed" % desc, r["closed"], False)

    for _, g, _, _, _, _ in clients:
        g.say("go")
    results = {label: g.finish() for label, g, _, _, _, _ in clients}
    sres = srv.finish()
    for c in sres["conns"]:
        t.require(c["ok"], "generator server connection failed: %r" % c)
    tuples = [(c["laddr"], c["lport"], c["raddr"], c["rport"]) for c in sres["conns"]]
    for res in results.values():
        tuples += [(c["laddr"], c["lport"], c["raddr"], c["rport"]) for c in res["conns"]]
    rec.wait_closed("tcp", tuples, timeout=10)
    rows = rec.stop()

    by_peer = {(h.norm_addr(s["raddr"]), s["rport"]): s for s in sres["conns"]}
    for label, g, netns, fam, name, specs in clients:
        ni = inner if netns else host
        for i, (c, (_, _, ao, ai)) in enumerate(zip(results[label]["conns"], specs)):
            t.eq("%s #%d: client after-bytes out/in (generator)" % (label, i),
                 (c["sent"], c["recv"]), (ao, ai))
            t.check_conn(rows, "%s #%d client" % (label, i), "tcp", c, c["sent"], c["recv"],
                         pid=g.pid, comm=name, closed=True, netns=ni, family=fam, partial=True)
            s = by_peer.get((h.norm_addr(c["laddr"]), c["lport"]))
            if not t.check(s, "%s #%d: the server has no such connection" % (label, i)):
                continue
            t.eq("%s #%d: server after-bytes out/in (generator)" % (label, i),
                 (s["sent"], s["recv"]), (ai, ao))
            t.check_conn(rows, "%s #%d server (in netns)" % (label, i), "tcp", s, s["sent"],
                         s["recv"], pid=srv.pid, comm=srv_name, closed=True, netns=inner,
                         family=fam, partial=True)


if __name__ == "__main__":
    h.run("netns_partial", main)
