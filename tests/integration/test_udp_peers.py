#!/usr/bin/python3
"""An unconnected UDP server answering three clients: one row per peer.

One server socket (recvfrom/sendto) on loopback, three client processes, each
sending its own number of datagrams of its own size and asking for replies of
its own size (client 3 uses an unconnected socket itself). The server side
must show exactly three rows for its port, udp_peer true, one per client, each
with that client's exact bytes and datagrams in and out; the client sides show
the mirror image. The server socket itself never appears as a row of its own.
"""
import os

import ttharness as h

# datagrams, size out, size asked back, unconnected client socket
CLIENTS = ((4, 100, 1000, False), (7, 1300, 21, False), (2, 555, 4444, True))


def main(t):
    me = os.getpid()
    srv_name = "ttusrv%d" % me
    # the server starts after the recorder: every flow is whole, none partial
    rec = t.recorder()
    rec.start()
    srv = t.gen("udp-server", ["--bind", "127.0.0.1"], srv_name)
    port = srv.expect("ready")["ports"][0]
    clis = []
    for i, (n, out, inn, unc) in enumerate(CLIENTS, 1):
        flow = "%d:%d:%d%s" % (n, out, inn, ":u" if unc else "")
        g = t.gen("udp-client", ["--host", "127.0.0.1", "--port", port, "--bind", "127.0.0.1",
                                 "--flow", flow], "ttuc%d-%d" % (i, me))
        g.expect("ready")
        clis.append(g)
    cres = [g.finish() for g in clis]
    srv.close_stdin()
    sres = srv.finish()
    rows = rec.stop()

    peers = {p["rport"]: p for p in sres["peers"]}
    t.eq("peers the server heard from (generator)", len(peers), 3)
    for i, (res, (n, out, inn, unc)) in enumerate(zip(cres, CLIENTS), 1):
        f = res["flows"][0]
        t.eq("client %d sent (generator)" % i, f["sent"], n * out + f["resends"] * out)
        t.eq("client %d received (generator)" % i, f["recv"], n * inn)
        t.check_conn(rows, "client %d" % i, "udp", f, f["sent"], f["recv"], pid=res["pid"],
                     comm="ttuc%d-%d" % (i, me), udp_peer=unc, family=4, closed=None,
                     dgrams=(f["dgrams_out"], f["dgrams_in"]))
        p = peers.get(f["lport"])
        if not t.check(p, "server never heard from client %d (port %d)" % (i, f["lport"])):
            continue
        t.eq("server from client %d received (generator)" % i, p["recv"], f["sent"])
        t.check_conn(rows, "server peer %d" % i, "udp", p, p["sent"], p["recv"], pid=sres["pid"],
                     comm=srv_name, tid=p["tid"], udp_peer=True, family=4, closed=None,
                     dgrams=(p["dgrams_out"], p["dgrams_in"]), partial=False)

    server_side = {(r["raddr"], r["rport"], r["udp_peer"]) for r in rows
                   if r["proto"] == "udp" and r["lport"] == port}
    t.eq("distinct rows on the server port (peer addr, port, udp_peer)", sorted(server_side),
         sorted(("127.0.0.1", f["flows"][0]["lport"], True) for f in cres))


if __name__ == "__main__":
    h.run("udp_peers", main)
