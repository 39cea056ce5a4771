#!/usr/bin/python3
"""A connect the application gives up on before the kernel does: "failed".

nftables in a namespace drops every TCP segment to one port, so a host-side
nonblocking connect() over IPv4 and over IPv6 stays in SYN-SENT. After 1.5 s
the generator close()s it, long before the kernel's own SYN retries would end
(TCP_SYNCNT 6, ~2 minutes). The connection was never established: its closed
row says close_reason "failed" (not "normal") and error ETIMEDOUT (the
kernel had no reason of its own: nothing answered), no row or state event of it
ever shows an established state, no bytes either way, as many packets out as
nft dropped SYNs, the generator's pid and comm, and a lifetime at least as
long as the generator held the pending connect.
"""
import errno
import os

import ttharness as h

PORT = 9  # discard: nothing listens there in our namespace anyway
WAIT_MS = 1500
NOT_ESTABLISHED = {"SYN-SENT", "CLOSE"}


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
    name = "ttfail%d" % me
    rec = t.recorder(extra=["--events"])
    rec.start()
    gens = {fam: t.gen("tcp-abandon", ["--host", addr, "--port", PORT, "--wait-ms", WAIT_MS],
                       name)
            for fam, addr in ((4, ns.ns_v4), (6, ns.ns_v6))}
    res = {fam: g.finish(30) for fam, g in gens.items()}
    for fam, r in res.items():
        t.require(r["conns"][0].get("pending"),
                  "IPv%d generator: the connect was not pending at close: %r" % (fam, r))
    tuples = [tuple(r["conns"][0][k] for k in ("laddr", "lport", "raddr", "rport"))
              for r in res.values()]
    t.check(rec.wait_closed("tcp", tuples, timeout=10), "no closed row for both within 10s")
    syns = dict(zip((4, 6), ns.nft_counters("inet", "ttblack", "input")))
    t.note("  SYNs dropped by nft: %r" % syns)
    rows = rec.stop()

    host = h.host_netns()
    for fam, r in res.items():
        c = r["conns"][0]
        label = "IPv%d abandoned connect" % fam
        row = t.check_conn(rows, label, "tcp", c, 0, 0, pid=r["pid"], comm=name, closed=True,
                           netns=host, family=fam, partial=False, packets=False)
        if not row:
            continue
        t.eq("%s: close_reason" % label, row.get("close_reason"), "failed")
        # nft drops silently: the kernel has no reason of its own, so the timeout
        t.eq("%s: error (ETIMEDOUT)" % label, row.get("error"), errno.ETIMEDOUT)
        rs = h.conn_rows(rows, "tcp", c["laddr"], c["lport"], c["raddr"], c["rport"])
        t.eq("%s: states of its rows beyond SYN-SENT and CLOSE" % label,
             sorted({x["state"] for x in rs} - NOT_ESTABLISHED), [])
        evs = [e for e in rec.lines if "event" in e and
               h.conn_rows([e], "tcp", c["laddr"], c["lport"], c["raddr"], c["rport"])]
        t.check([e for e in evs if e["event"] == "state" and e["state"] == "CLOSE"],
                "%s: no state event to CLOSE" % label)
        t.eq("%s: states of its state events beyond SYN-SENT and CLOSE" % label,
             sorted({e["state"] for e in evs if e["event"] == "state"} - NOT_ESTABLISHED), [])
        closes = [e for e in evs if e["event"] == "close"]
        t.eq("%s: close events' close_reason" % label, [e.get("close_reason") for e in closes],
             ["failed"])
        t.eq("%s: close events' error" % label, [e.get("error") for e in closes],
             [errno.ETIMEDOUT])
        t.eq("%s: packets_out (SYNs nft dropped)" % label, row["packets_out"], syns[fam])
        t.eq("%s: resets sent/received" % label, (row["resets_sent"], row["resets_received"]),
             (0, 0))
        t.ge("%s: lifetime_ms" % label, row.get("lifetime_ms"), WAIT_MS)
        t.le("%s: lifetime_ms" % label, row.get("lifetime_ms"),
             (c["t_close"] - c["t_open"]) * 1000 + 1000)


if __name__ == "__main__":
    h.run("tcp_failed", main)
