#!/usr/bin/python3
"""A connect that times out: SYNs dropped inside a namespace, ETIMEDOUT.

nftables in a namespace drops every TCP segment for one port, so a host-side
connect() over IPv4 and over IPv6 (TCP_SYNCNT 1: one SYN retry, gives up
after ~3s) never gets an answer. Each must give one closed row with the
socket's real local port, close_reason "failed", error 110 (ETIMEDOUT), as
many packets out as nft dropped SYNs for that family and all but the first
counted as retransmits, no reset, no bytes, and a lifetime at least as long
as the kernel kept trying (1s + 2s).
"""
import errno
import os

import ttharness as h

PORT = 9  # discard: nothing listens there in our namespace anyway


def main(t):
    if not h.shutil.which("nft"):
        raise h.Skip("nft (package nftables) is not installed")
    me = os.getpid()
    ns = t.netns("a")
    ns.nft("""
table inet ttblack {
    chain input {
        type filter hook input priority 0; policy accept;
        meta nfproto ipv4 tcp dport %d counter drop
        meta nfproto ipv6 tcp dport %d counter drop
    }
}
""" % (PORT, PORT))
    name = "tttmo%d" % me
    rec = t.recorder()
    rec.start()
    gens = {fam: t.gen("tcp-timeout", ["--host", addr, "--port", PORT, "--syncnt", 1], name)
            for fam, addr in ((4, ns.ns_v4), (6, ns.ns_v6))}
    res = {fam: g.finish(30) for fam, g in gens.items()}
    for fam, r in res.items():
        t.require(r["conns"][0]["error"] == errno.ETIMEDOUT,
                  "IPv%d generator: connect ended with errno %r, not ETIMEDOUT" %
                  (fam, r["conns"][0]["error"]))
    # every SYN that reached the namespace, per family: what the client sent
    syns = dict(zip((4, 6), ns.nft_counters("inet", "ttblack", "input")))
    t.note("  SYNs dropped by nft: %r" % syns)
    tuples = [tuple(r["conns"][0][k] for k in ("laddr", "lport", "raddr", "rport"))
              for r in res.values()]
    rec.wait_closed("tcp", tuples, timeout=10)
    rows = rec.stop()

    host = h.host_netns()
    for fam, r in res.items():
        c = r["conns"][0]
        label = "IPv%d timed-out connect" % fam
        row = t.check_conn(rows, label, "tcp", c, 0, 0, pid=r["pid"], comm=name, tid=r["tid"],
                           closed=True, netns=host, family=fam, partial=False, packets=False)
        if not row:
            continue
        t.eq("%s: close_reason" % label, row.get("close_reason"), "failed")
        t.eq("%s: error" % label, row.get("error"), errno.ETIMEDOUT)
        t.eq("%s: packets_out (SYNs nft dropped)" % label, row["packets_out"], syns[fam])
        t.eq("%s: retransmits (SYNs after the first)" % label, row["retransmits"], syns[fam] - 1)
        t.ge("%s: retransmits" % label, row["retransmits"], 1)
        t.eq("%s: resets sent/received" % label, (row["resets_sent"], row["resets_received"]),
             (0, 0))
        t.ge("%s: lifetime_ms" % label, row.get("lifetime_ms"), 3000)
        t.le("%s: lifetime_ms" % label, row.get("lifetime_ms"),
             (c["t_close"] - c["t_open"]) * 1000 + 1000)


if __name__ == "__main__":
    h.run("tcp_timeout", main)
