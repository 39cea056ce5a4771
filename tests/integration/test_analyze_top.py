#!/usr/bin/python3
"""tcptop-analyze top answers from the store with the generator's exact bytes.

Three processes each hold a TCP connection on loopback (both ends in the same
process) and send in two timed phases separated by quiet pauses; two of them
share a process name. The recorder stores it all. Then, from the store:
- top --group-by conn: each connection end has exactly the bytes of both phases;
- top --group-by process: each name has exactly the sum of its processes' ends;
- a window that ends in the pause holds exactly the first phase, one that
  starts in it exactly the second (ticks are 250 ms, pauses 1.5 s);
- a narrow window reads fewer blocks than the recording has (--stats);
- events lists one close per connection end, with its final bytes;
- diff of the two phases gives each process's bytes before and after;
- extract of the whole recording, and of the second phase, answers top exactly
  as the original store does.
"""
import json
import os
import re
import subprocess
import tempfile
import time

import ttharness as h

# name suffix: (before out:in, after out:in)
PHASES = {"a1": ("11000:1100", "5000:500"), "a2": ("22000:2200", "6000:600"),
          "b1": ("33000:3300", "7000:700")}


def ends(r):
    """(end name, tuple, sent, received) for both ends of a pair, from its result."""
    return [("client", r["client"], r["client_sent"], r["client_recv"]),
            ("server", r["server"], r["server_sent"], r["server_recv"])]


def main(t):
    me = os.getpid() % 100000
    store = t.tmpdir("top")
    names = {k: "tt%s%d" % (k[0], me) for k in PHASES}  # a1 and a2 share a name

    rec = t.recorder(interval="250ms", extra=["-o", store, "--flush", "1s"])
    rec.start()
    gens, first = {}, {}
    for k, (before, after) in PHASES.items():
        gens[k] = t.gen("pair", ["--proto", "tcp", "--before", before, "--after", after,
                                 "--hold", 200], names[k])
    for k, g in gens.items():
        first[k] = g.expect("phase1")
    time.sleep(1.5)
    mid = time.time()
    time.sleep(0.2)
    for g in gens.values():
        g.say("go")
    res = {k: g.finish() for k, g in gens.items()}
    tuples = [tuple(r[e][x] for x in ("laddr", "lport", "raddr", "rport"))
              for r in res.values() for e in ("client", "server")]
    rec.wait_closed("tcp", tuples, timeout=10)
    time.sleep(1.5)
    rec.stop()

    def key(c):
        return (c["laddr"], c["lport"], c["raddr"], c["rport"])

    comm_glob = "tt[ab]%d" % me
    conns = {key(r): r for r in t.analyze_rows("top", "-n", 100, "--comm", comm_glob, store)}
    want_proc = {}
    for k, r in res.items():
        p1 = first[k]
        for end, tup, sent, recv in ends(r):
            b_sent = p1[end + "_sent"]
            b_recv = p1[end + "_recv"]
            row = conns.get(key(tup))
            label = "%s %s" % (k, end)
            if not t.check(row is not None, "%s: a top row for %s" % (label, key(tup))):
                continue
            t.eq("%s: bytes_out, whole recording" % label, row["bytes_out"], b_sent + sent)
            t.eq("%s: bytes_in, whole recording" % label, row["bytes_in"], b_recv + recv)
            t.eq("%s: comm" % label, row["comm"], names[k])
            t.eq("%s: pid" % label, row["pid"], r["pid"])
            w = want_proc.setdefault(names[k], [0, 0])
            w[0] += b_sent + sent
            w[1] += b_recv + recv

    procs = {r["comm"]: r for r in t.analyze_rows("top", "--group-by", "process", "--comm",
                                         comm_glob, store)}
    for name, (o, i) in want_proc.items():
        row = procs.get(name)
        if t.check(row is not None, "a process row for %s" % name):
            t.eq("process %s: bytes_out" % name, row["bytes_out"], o)
            t.eq("process %s: bytes_in" % name, row["bytes_in"], i)
            t.eq("process %s: conns" % name, row["conns"], 4 if name == names["a1"] else 2)

    # windows cut in the pause between the phases
    at = "@%.3f" % mid
    before = {key(r): r for r in t.analyze_rows("top", "-n", 100, "--comm", comm_glob, "--to",
                                       at, store)}
    after = {key(r): r for r in t.analyze_rows("top", "-n", 100, "--comm", comm_glob,
                                      "--from", at, store)}
    for k, r in res.items():
        p1 = first[k]
        for end, tup, sent, recv in ends(r):
            label = "%s %s" % (k, end)
            b = before.get(key(tup))
            if t.check(b is not None, "%s: a row before %s" % (label, at)):
                t.eq("%s: bytes_out before the pause" % label, b["bytes_out"], p1[end + "_sent"])
                t.eq("%s: bytes_in before the pause" % label, b["bytes_in"], p1[end + "_recv"])
            a = after.get(key(tup))
            if t.check(a is not None, "%s: a row after %s" % (label, at)):
                t.eq("%s: bytes_out after the pause" % label, a["bytes_out"], sent)
                t.eq("%s: bytes_in after the pause" % label, a["bytes_in"], recv)

    # the index picks the blocks: a tenth of a second reads a few of them
    p = t.analyze_ok("top", "--stats", "--from", at, "--to", "@%.3f" % (mid + 0.1), store)
    m = re.search(r"blocks read (\d+) of (\d+)", p.stderr)
    if t.check(m is not None, "--stats prints the blocks read: %r" % p.stderr.strip()):
        read, total = int(m.group(1)), int(m.group(2))
        t.check(0 < read <= 2, "a 100 ms window reads 1-2 blocks (read %d)" % read)
        t.check(total >= 4, "the recording has several blocks (%d)" % total)

    closes = [e for e in t.analyze_rows("events", "--type", "close", "--comm", comm_glob, store)]
    for k, r in res.items():
        for end, tup, sent, recv in ends(r):
            mine = [e for e in closes if key(e) == key(tup)]
            t.eq("%s %s: close events" % (k, end), len(mine), 1)
            if mine:
                t.eq("%s %s: bytes_out at close" % (k, end), mine[0]["bytes_out"],
                     first[k][end + "_sent"] + sent)


    # diff: the first phase as baseline, the second as the window
    start = "@%.3f" % (mid - 30)  # clamped to the recording by the tool
    end = "@%.3f" % (time.time() + 30)
    drows = t.analyze_rows("diff", "--group-by", "process", "--comm", comm_glob, "--baseline",
                  "%s..%s" % (start, at), "--window", "%s..%s" % (at, end), store)
    dproc = {r["comm"]: r for r in drows}
    for name in want_proc:
        want_b = sum(first[k][e + "_sent"] + first[k][e + "_recv"]
                     for k in res if names[k] == name for e in ("client", "server"))
        want_w = sum(res[k][e + "_sent"] + res[k][e + "_recv"]
                     for k in res if names[k] == name for e in ("client", "server"))
        row = dproc.get(name)
        if t.check(row is not None, "diff has a row for %s" % name):
            t.eq("diff %s: bytes in the baseline" % name, row["bytes_base"], want_b)
            t.eq("diff %s: bytes in the window" % name, row["bytes_window"], want_w)

    # extract: a self-contained copy answers like the original
    for label, window in (("whole", []), ("second phase", ["--from", at])):
        small = tempfile.mkdtemp(prefix="tttopx-")
        t.cleanup(lambda d=small: subprocess.run(["rm", "-rf", d]))
        t.analyze_ok("extract", *window, "-o", small, store)
        t.analyze_ok("verify", small)
        q = ["top", "-n", 1000, "--group-by", "conn", "--comm", comm_glob] + window
        orig = sorted(json.dumps(r, sort_keys=True) for r in t.analyze_rows(*q, store))
        copy = sorted(json.dumps(r, sort_keys=True) for r in t.analyze_rows(*q, small))
        for r in (orig, copy):  # rates depend on the window's length, not the data
            r[:] = [re.sub(r'"(rate_in|rate_out)": [0-9.]+', "", x) for x in r]
        t.eq("extract (%s): top of the copy equals top of the original" % label, copy, orig)


if __name__ == "__main__":
    h.run("analyze_top", main)
