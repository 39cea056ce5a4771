#!/usr/bin/python3
"""Retransmits: packets dropped on purpose inside a namespace, and a clean link.

Two TCP servers in a namespace behind a veth pair. nftables in the namespace
drops about 20% of the data segments arriving for the "lossy" server's port
(SYN, FIN and RST and pure ACKs pass, so the connection always completes);
its counter says how many it dropped. A host-side client sends the same
amount to each server. The lossy connection's client row must show
retransmits > 0, the clean one 0 on both ends, and both the exact bytes:
what was retransmitted is not counted twice.
"""
import os

import ttharness as h

OUT, IN = 400009, 1003


def main(t):
    if not h.shutil.which("nft"):
        raise h.Skip("nft (package nftables) is not installed")
    me = os.getpid()
    ns = t.netns("a")
    name = "ttrtx%d" % me
    lossy = t.gen("tcp-server", ["--bind", ns.ns_v4, "--conns", 1], "ttrls%d" % me, netns=ns)
    clean = t.gen("tcp-server", ["--bind", ns.ns_v4, "--conns", 1], "ttrcs%d" % me, netns=ns)
    lport = lossy.expect("ready")["port"]
    cport = clean.expect("ready")["port"]
    ns.nft("""
table inet ttloss {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport %d tcp flags & (syn | fin | rst) == 0 meta length > 100 numgen random mod 10 < 2 counter drop
    }
}
""" % lport)

    # wire-sized packets: with GSO, 400 KB can cross the veth as a handful of
    # 64 KB aggregates, and a 20 % drop then misses all of them now and then
    h.run_cmd(["ip", "link", "set", "dev", ns.host_if, "gso_max_size", "1500"])

    rec = t.recorder()
    rec.start()
    cl = t.gen("tcp-client", ["--host", ns.ns_v4, "--port", lport,
                              "--conn", "%d:%d:0" % (OUT, IN)], name)
    cc = t.gen("tcp-client", ["--host", ns.ns_v4, "--port", cport,
                              "--conn", "%d:%d:0" % (OUT, IN)], name)
    rl, rc = cl.finish(30), cc.finish(30)
    sl, sc = lossy.finish(), clean.finish()
    dropped = ns.nft_rule_packets("inet", "ttloss", "input")
    t.note("  nft dropped %d packets on the lossy port" % dropped)
    pairs = {"lossy": (rl["conns"][0], sl["conns"][0]), "clean": (rc["conns"][0], sc["conns"][0])}
    for what, (c, s) in pairs.items():
        t.require(c["ok"] and s["ok"], "%s: generator connection failed: %r %r" % (what, c, s))
    t.require(dropped > 0, "nft dropped nothing: the loss was not applied, the test proves nothing")
    tuples = [(x["laddr"], x["lport"], x["raddr"], x["rport"]) for p in pairs.values() for x in p]
    rec.wait_closed("tcp", tuples, timeout=15)
    rows = rec.stop()

    inner = ns.inode
    c, s = pairs["lossy"]
    r = t.check_conn(rows, "lossy client", "tcp", c, OUT, IN, pid=rl["pid"], comm=name,
                     closed=True)
    if r:
        t.ge("lossy client: retransmits (nft dropped %d)" % dropped, r["retransmits"], 1)
    t.check_conn(rows, "lossy server", "tcp", s, IN, OUT, pid=sl["pid"], closed=True, netns=inner)

    c, s = pairs["clean"]
    for label, g, pid, sent, recv, netns in (("clean client", c, rc["pid"], OUT, IN, None),
                                             ("clean server", s, sc["pid"], IN, OUT, inner)):
        r = t.check_conn(rows, label, "tcp", g, sent, recv, pid=pid, closed=True, netns=netns)
        if r:
            t.eq("%s: retransmits" % label, r["retransmits"], 0)


if __name__ == "__main__":
    h.run("retransmits", main)
