#!/usr/bin/python3
"""TCP and UDP across a veth pair into a network namespace, IPv4 and IPv6.

The servers run inside a namespace this test creates (ip netns exec), the
clients on the host side. Exact bytes on every row, seen from both ends:
- TCP: one listener on "::" accepting both families, so the IPv4 connection is
  a v4-mapped IPv6 socket in the namespace and must still be shown as family 4.
- UDP: an unconnected server socket per family (per-peer rows, udp_peer true),
  answered by a connected client socket and an unconnected one (udp_peer rows
  on the client side too). Datagram counts are exact as well.
Rows carry the right netns: the namespace's inode for the servers, the host's
for the clients.
"""
import os

import ttharness as h


def main(t):
    me = os.getpid()
    ns = t.netns("a")
    srv_name, cli_name = "ttnsrv%d" % me, "ttncli%d" % me
    usrv_name, ucli_name = "ttnusr%d" % me, "ttnucl%d" % me

    tsrv = t.gen("tcp-server", ["--bind", "::", "--dual", "--conns", 2], srv_name, netns=ns)
    tport = tsrv.expect("ready")["port"]
    usrv = t.gen("udp-server", ["--bind", ns.ns_v4, "--bind", ns.ns_v6], usrv_name, netns=ns)
    uports = usrv.expect("ready")["ports"]

    rec = t.recorder()
    rec.start()
    tcli = {}
    for fam, addr in ((4, ns.ns_v4), (6, ns.ns_v6)):
        out, inn = (123457, 54321) if fam == 4 else (65537, 200003)
        tcli[fam] = t.gen("tcp-client", ["--host", addr, "--port", tport,
                                         "--conn", "%d:%d:100" % (out, inn)], cli_name)
    ucli = {}
    for fam, addr, local, port in ((4, ns.ns_v4, ns.host_v4, uports[0]),
                                   (6, ns.ns_v6, ns.host_v6, uports[1])):
        k = fam
        ucli[fam] = t.gen("udp-client", ["--host", addr, "--port", port, "--bind", local,
                                         "--flow", "%d:%d:%d" % (5, 1000 + k, 3000 + k),
                                         "--flow", "%d:%d:%d:u" % (3, 200 + k, 50 + k)],
                          ucli_name)
    tres = {fam: g.finish() for fam, g in tcli.items()}
    ures = {fam: g.finish() for fam, g in ucli.items()}
    usrv.close_stdin()
    usres = usrv.finish()
    tsres = tsrv.finish()
    for fam in (4, 6):
        for c in tres[fam]["conns"]:
            t.require(c["ok"], "generator TCP connection failed: %r" % c)
    for c in tsres["conns"]:
        t.require(c["ok"], "generator TCP server connection failed: %r" % c)
    tuples = [(c["laddr"], c["lport"], c["raddr"], c["rport"])
              for c in tsres["conns"] + tres[4]["conns"] + tres[6]["conns"]]
    rec.wait_closed("tcp", tuples, timeout=10)
    rows = rec.stop()

    host = h.host_netns()
    inner = ns.inode
    # TCP: both ends of both connections
    by_client_port = {s["rport"]: s for s in tsres["conns"]}
    for fam in (4, 6):
        c = tres[fam]["conns"][0]
        s = by_client_port.get(c["lport"])
        t.require(s is not None, "TCP server saw no connection from port %d" % c["lport"])
        t.eq("IPv%d TCP: server received (generator)" % fam, s["recv"], c["sent"])
        t.check_conn(rows, "IPv%d TCP client" % fam, "tcp", c, c["sent"], c["recv"],
                     pid=tres[fam]["pid"], comm=cli_name, tid=c["tid"], closed=True,
                     netns=host, family=fam, partial=False)
        t.check_conn(rows, "IPv%d TCP server (in netns)" % fam, "tcp", s, s["sent"], s["recv"],
                     pid=tsres["pid"], comm=srv_name, tid=s["tid"], closed=True, netns=inner,
                     family=fam, partial=False)

    # UDP: client sockets on the host, per-peer rows of the server in the namespace
    peers = {(h.norm_addr(p["raddr"]), p["rport"]): p for p in usres["peers"]}
    t.eq("UDP server peers (generator)", len(peers), 4)
    for fam in (4, 6):
        for i, f in enumerate(ures[fam]["flows"]):
            kind = "unconnected" if f["unconnected"] else "connected"
            label = "IPv%d UDP %s client" % (fam, kind)
            t.check_conn(rows, label, "udp", f, f["sent"], f["recv"], pid=ures[fam]["pid"],
                         comm=ucli_name, netns=host, family=fam, udp_peer=f["unconnected"],
                         dgrams=(f["dgrams_out"], f["dgrams_in"]), closed=None)
            p = peers.get((h.norm_addr(f["laddr"]), f["lport"]))
            if not t.check(p, "%s: the server never heard from it" % label):
                continue
            t.eq("%s: server received (generator)" % label, p["recv"], f["sent"])
            t.check_conn(rows, "IPv%d UDP server peer (%s client, in netns)" % (fam, kind), "udp",
                         p, p["sent"], p["recv"], pid=usres["pid"], comm=usrv_name, netns=inner,
                         family=fam, udp_peer=True, dgrams=(p["dgrams_out"], p["dgrams_in"]),
                         closed=None)
    # the unconnected server sockets are shown through their peers only
    for port in uports:
        alone = [r for r in rows if r["proto"] == "udp" and r["lport"] == port and
                 r["netns"] == inner and not r["udp_peer"]]
        t.eq("UDP server port %d: rows that are not per peer" % port, len(alone), 0)


if __name__ == "__main__":
    h.run("netns_veth", main)
