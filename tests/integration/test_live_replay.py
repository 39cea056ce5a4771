#!/usr/bin/python3
"""What the recorder printed live is what a replay of its store prints.

The recorder runs with -o DIR --events while real traffic flows: a TCP
connection and UDP flows opened before the start (partial), new TCP and UDP
connections (connected and per-peer) that carry known bytes and close, and a
refused connect. Then `tcptop-analyze replay --speed max --format json
--events DIR` must print the same rows and events, field for field, tick for
tick, in the same order: the store holds the aggregator's own input. The live
rows are also checked against the generator, so the equality is not between
two copies of nothing.
"""
import json
import os
import subprocess

import ttharness as h

BEFORE = {"tcp": ("30001:20002", "4321:1234"), "udpu": ("1501:1502", "777:333")}
AFTER = {"tcp": "123457:65431", "udp": "9001:4003", "udpu": "2345:1234"}


def main(t):
    me = os.getpid()
    store = t.tmpdir("replay")
    ana = t.analyzer()

    early = {}
    for proto, (before, after) in BEFORE.items():
        g = t.gen("pair", ["--proto", proto, "--before", before, "--after", after, "--hold", 250],
                  "ttre%s%d" % (proto, me))
        early[proto] = g
        g.expect("phase1")

    rec = t.recorder(interval="250ms", extra=["-o", store, "--events", "--flush", "1s"])
    rec.start()
    for g in early.values():
        g.say("go")
    late = {}
    for proto, amounts in AFTER.items():
        g = t.gen("pair", ["--proto", proto, "--before", "0:0", "--after", amounts, "--hold", 300],
                  "ttrl%s%d" % (proto, me))
        g.expect("phase1")
        g.say("go")
        late[proto] = g
    res = {p: g.finish() for p, g in list(early.items()) + [("late" + p, g) for p, g in late.items()]}
    port = h.free_port()
    t.gen("tcp-refused", ["--host", "127.0.0.1", "--port", port], "ttrr%d" % me).finish()
    tcp = [res["tcp"], res["latetcp"]]
    rec.wait_closed("tcp", [tuple(r[e][k] for k in ("laddr", "lport", "raddr", "rport"))
                            for r in tcp for e in ("client", "server")], timeout=10)
    rec.wait_ticks(2)
    rows = rec.stop()
    live = rec.lines

    # the live rows are right (against the generator), so the comparison means something
    r = res["latetcp"]
    ax, ay = (int(x) for x in AFTER["tcp"].split(":"))
    t.eq("generator: late tcp client sent", r["client_sent"], ax)
    t.check_conn(rows, "late tcp client", "tcp", r["client"], ax, ay, closed=True)
    t.check(any(x["partial"] for x in rows), "some rows are partial")
    t.check(any(x["udp_peer"] for x in rows), "some rows are UDP peers")
    t.check(any(x.get("close_reason") == "failed" and x["rport"] == port for x in rows),
            "the refused connect is in the live output")
    t.check(any(x["event"] == "state" for x in live if "event" in x), "state events printed")

    p = subprocess.run([ana, "replay", "--speed", "max", "--format", "json", "--events", store],
                       capture_output=True, text=True, timeout=60)
    t.eq("replay exit code (stderr: %s)" % p.stderr.strip(), p.returncode, 0)
    replay = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    t.eq("replay line count", len(replay), len(live))
    for i, (a, b) in enumerate(zip(live, replay)):
        if a != b:
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            t.check(False, "line %d differs in %s: live %s / replay %s" %
                    (i, keys, h.brief(a), h.brief(b)))
            break


if __name__ == "__main__":
    h.run("live_replay", main)
