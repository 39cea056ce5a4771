#!/usr/bin/python3
"""Every tcptop-analyze subcommand on a store written without a kernel: runs as any user.

tests/bench/synth_store writes the store (the recorder's own writer, aggregator
and indexer behind a made-up, seeded event stream) and says what it wrote on its
"summary" line: ticks, connection lifetimes, connection-ticks, blocks, segments,
start and end. Each --case checks one subcommand's numbers against that summary
and against the index read directly (python's sqlite3, immutable: it writes
nothing), and against the other subcommands where they must agree:

  info      recordings, host, blocks, segments, connections, span
  verify    an intact store passes; a damaged frame and a missing segment are
            problems (exit 1) that name the file
  reindex   an index rebuilt from the segments answers top, events and info as
            the original did
  top       one row per connection lifetime, sums equal to the index, rollups
            equal to a replay of every tick, groupings that add up, -n and ranking
  events    closes (and their reasons), connects + accepts, resets, --type
  timeline  sums equal to the index, new and closed, bucket counts
  diff      each group's base and window bytes are top's over each window
  extract   a window as a new store that verifies and answers as the original
  replay    one JSON row per connection-tick, final totals equal to the index
  report    an HTML file, no script, the host named; no overwrite without --force
"""
import collections
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402
from ttharness import check  # noqa: E402

CASES = ("info", "verify", "reindex", "top", "events", "timeline", "diff", "extract",
         "replay", "report")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
SUMS = ("bytes_in", "bytes_out", "packets_in", "packets_out")



class Ctx:
    def __init__(self, a, work):
        self.ana = a.analyzer
        self.synth = a.synth
        self.work = work

    def make_store(self, name, *extra):
        d = os.path.join(self.work, name)
        p = subprocess.run([self.synth, d, "--conns", "40", "--hours", "0.1", "--seed", "11"] +
                           list(extra), capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise h.Failed("synth_store: exit %d: %s" % (p.returncode, p.stderr))
        summary = [l for l in p.stdout.splitlines() if l.startswith("summary ")][-1]
        s = dict(kv.split("=", 1) for kv in summary.split()[1:])
        return d, {k: (float(v) if "." in v else int(v)) for k, v in s.items()}

    def run(self, *args, rc=0):
        p = subprocess.run([self.ana] + list(args), capture_output=True, text=True, timeout=300,
                           cwd=self.work)
        check(not any(m in p.stderr for m in SANITIZER_MARKS),
              "%s: sanitizer report: %s" % (" ".join(args), p.stderr))
        if rc is not None and p.returncode != rc:
            raise h.Failed("%s: exit %d, want %d: %s" %
                             (" ".join(args), p.returncode, rc, p.stderr))
        return p

    def json(self, *args):
        return [json.loads(l) for l in self.run(*(list(args) + ["--format", "json"])).stdout
                .splitlines()]


def index(store):
    return sqlite3.connect("file:%s/index.db?mode=ro&immutable=1" % store, uri=True)


def q1(store, sql):
    db = index(store)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def conn_key(r):
    return (r["proto"], r["laddr"], r["lport"], r["raddr"], r["rport"])


def case_info(c):
    store, s = c.make_store("s")
    info = c.json("info", store)[0]
    check(info["schema_version"] >= 2, "info: schema_version %r" % info["schema_version"])
    check(len(info["recordings"]) == 1 and info["recordings"][0]["host"] == "synth-web-1",
          "info: one recording of synth-web-1: %r" % info["recordings"])
    check(info["recordings"][0]["clean_stop"], "info: a clean stop")
    check(info["blocks"] == s["blocks"], "info: blocks %d, synth wrote %d" %
          (info["blocks"], s["blocks"]))
    check(info["segments"] == s["segments"], "info: segments %d, synth wrote %d" %
          (info["segments"], s["segments"]))
    check(info["connections"] == s["conns_total"], "info: connections %d, synth made %d" %
          (info["connections"], s["conns_total"]))
    check(info["segment_bytes"] == s["segment_bytes"], "info: segment bytes %d, synth %d" %
          (info["segment_bytes"], s["segment_bytes"]))
    check(info["start_ns"] // 10**9 == s["start_unix"] and
          s["end_unix"] <= info["end_ns"] / 1e9 < s["end_unix"] + 1,
          "info: span %d..%d, synth %d..%d" % (info["start_ns"], info["end_ns"],
                                               s["start_unix"], s["end_unix"]))
    check(info["ring_drops"] == 0 and info["socks_full"] == 0 and info["peers_full"] == 0,
          "info: no losses: %r" % info)
    text = c.run("info", "--utc", store).stdout
    check("synth-web-1" in text and "2024-03-12" in text, "info text: host and date: %r" %
          text[:400])


def case_verify(c):
    store, s = c.make_store("s")
    p = c.run("verify", store)
    check("PROBLEM" not in p.stdout, "verify intact: %r" % p.stdout[-300:])
    seg = sorted(f for f in os.listdir(store) if f.endswith(".tts"))[0]
    # a flipped byte in the middle of the segment: one indexed block damaged
    bad = os.path.join(c.work, "bad")
    shutil.copytree(store, bad)
    path = os.path.join(bad, seg)
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0x10]))
    p = c.run("verify", bad, rc=1)
    check("PROBLEM" in p.stdout and seg in p.stdout, "verify flipped byte names %s: %r" %
          (seg, p.stdout[-400:]))
    # the segment gone: every block of it is a problem
    gone = os.path.join(c.work, "gone")
    shutil.copytree(store, gone)
    os.unlink(os.path.join(gone, seg))
    p = c.run("verify", gone, rc=1)
    check("PROBLEM" in p.stdout and seg in p.stdout, "verify missing segment names %s: %r" %
          (seg, p.stdout[-400:]))


def case_reindex(c):
    # The rebuilt recording row starts at its first segment's creation time, which
    # lib/writer.c takes from the real clock; the recorder's segments are created when
    # their data starts. synth_store's data is made to start just after now, to match.
    store, s = c.make_store("s", "--start", str(int(time.time()) + 10))
    copy = os.path.join(c.work, "copy")
    shutil.copytree(store, copy)
    for f in os.listdir(copy):
        if f.startswith("index.db"):
            os.unlink(os.path.join(copy, f))
    c.run("reindex", copy)
    a, b = c.json("info", store)[0], c.json("info", copy)[0]
    for k in ("blocks", "segments", "connections", "segment_bytes", "start_ns", "end_ns"):
        check(a[k] == b[k], "reindex: info %s %r, original %r" % (k, b[k], a[k]))
    for args in (["top", "-n", "1000000", "--group-by", "conn"],
                 ["top", "-n", "1000000", "--group-by", "process", "--no-rollups"],
                 ["timeline", "--from", "@%d" % s["start_unix"]], ["events"]):
        # the host is unknown to segments ("?"); top's average rates are over the window,
        # which starts at the rebuilt recording's start (the segment's creation)
        drop = ("host", "rate_in", "rate_out") if args[0] == "top" else ("host",)
        x, y = ([{k: v for k, v in r.items() if k not in drop} for r in c.json(*(args + [d]))]
                for d in (store, copy))
        check(x == y, "reindex: %s differs (%d rows vs %d)" % (" ".join(args), len(y), len(x)))
    c.run("verify", copy)


def case_top(c):
    store, s = c.make_store("s")
    conn = c.json("top", "-n", "1000000", "--group-by", "conn", store)
    check(len(conn) == s["conns_total"], "top conn: %d rows, synth made %d connections" %
          (len(conn), s["conns_total"]))
    for k in SUMS:
        want = q1(store, "SELECT sum(%s) FROM connections" % k)
        check(sum(r[k] for r in conn) == want, "top conn: sum %s %d, index %d" %
              (k, sum(r[k] for r in conn), want))
    check(sum(r["retransmits"] for r in conn) == q1(store, "SELECT sum(retrans) FROM connections"),
          "top conn: retransmits")
    # per connection: the index's row
    db = index(store)
    rows = {(p, la, lp, ra, rp): (bi, bo) for p, la, lp, ra, rp, bi, bo in db.execute(
        "SELECT proto, laddr, lport, raddr, rport, sum(bytes_in), sum(bytes_out) "
        "FROM connections GROUP BY 1, 2, 3, 4, 5")}
    db.close()
    got = collections.defaultdict(lambda: [0, 0])
    for r in conn:
        got[conn_key(r)][0] += r["bytes_in"]
        got[conn_key(r)][1] += r["bytes_out"]
    check({k: tuple(v) for k, v in got.items()} == rows, "top conn: per-connection bytes differ "
          "from the index")
    nor = c.json("top", "-n", "1000000", "--group-by", "conn", "--no-rollups", store)
    check(nor == conn, "top: rollups and --no-rollups differ")
    for g in ("process", "remote-port", "pid,remote-host"):
        rows = c.json("top", "-n", "1000000", "--group-by", g, store)
        for k in SUMS:
            check(sum(r[k] for r in rows) == sum(r[k] for r in conn),
                  "top %s: sum %s differs from top conn" % (g, k))
        check(sum(r["conns"] for r in rows) == s["conns_total"], "top %s: conns add to %d" %
              (g, s["conns_total"]))
    three = c.json("top", "-n", "3", "--group-by", "conn", store)
    tot = sorted((r["bytes_in"] + r["bytes_out"] for r in conn), reverse=True)[:3]
    check([r["bytes_in"] + r["bytes_out"] for r in three] == tot, "top -n 3: the 3 largest: %r" %
          [r["bytes_in"] + r["bytes_out"] for r in three])
    by_rx = c.json("top", "-n", "5", "--by", "rx", "--group-by", "conn", store)
    check([r["bytes_in"] for r in by_rx] == sorted((r["bytes_in"] for r in conn),
                                                  reverse=True)[:5], "top --by rx: ranking")
    udp = c.json("top", "-n", "1000000", "--group-by", "conn", "--proto", "udp", store)
    check(len(udp) == q1(store, "SELECT count(*) FROM connections WHERE proto = 'udp'") and
          all(r["proto"] == "udp" for r in udp), "top --proto udp: %d rows" % len(udp))


def case_events(c):
    store, s = c.make_store("s")
    ev = c.json("events", store)
    kinds = collections.Counter(e["event"] for e in ev)
    check(kinds["close"] == q1(store, "SELECT count(*) FROM connections WHERE close_ns IS NOT NULL"),
          "events: %d closes" % kinds["close"])
    db = index(store)
    reasons = dict(db.execute("SELECT close_reason, count(*) FROM connections "
                              "WHERE close_ns IS NOT NULL GROUP BY 1").fetchall())
    db.close()
    got = collections.Counter(e["detail"] for e in ev if e["event"] == "close")
    check(dict(got) == reasons, "events: close reasons %r, index %r" % (dict(got), reasons))
    check(kinds["connect"] + kinds["accept"] ==
          q1(store, "SELECT count(*) FROM connections WHERE proto = 'tcp' AND NOT partial"),
          "events: connects + accepts %d" % (kinds["connect"] + kinds["accept"]))
    check(kinds["reset"] == q1(store, "SELECT sum(reset_events) FROM connections"),
          "events: %d resets" % kinds["reset"])
    check(kinds["close"] > 0 and kinds["state"] > 0, "events: closes and state changes: %r" %
          kinds)
    ts = [e["ts"] for e in ev]
    check(ts == sorted(ts), "events: in time order")
    only = c.json("events", "--type", "close,reset", store)
    check(collections.Counter(e["event"] for e in only) ==
          collections.Counter({"close": kinds["close"], "reset": kinds["reset"]}),
          "events --type close,reset: %r" % collections.Counter(e["event"] for e in only))


def case_timeline(c):
    store, s = c.make_store("s")
    for bucket, b in (("10s", 10), ("1m", 60)):
        # a tick goes into the bucket its end is in; buckets from the window's start
        n = len({i // b for i in range(1, s["ticks"] + 1)})
        tl = c.json("timeline", "--bucket", bucket, store)
        check(len(tl) == n, "timeline %s: %d buckets, want %d" % (bucket, len(tl), n))
        for k in SUMS:
            want = q1(store, "SELECT sum(%s) FROM connections" % k)
            check(sum(r[k] for r in tl) == want, "timeline %s: sum %s %d, index %d" %
                  (bucket, k, sum(r[k] for r in tl), want))
        check(sum(r["new"] for r in tl) == s["conns_total"], "timeline %s: new %d, synth %d" %
              (bucket, sum(r["new"] for r in tl), s["conns_total"]))
        check(sum(r["closed"] for r in tl) ==
              q1(store, "SELECT count(*) FROM connections WHERE close_ns IS NOT NULL"),
              "timeline %s: closed" % bucket)
        check(max(r["conns"] for r in tl) <= s["conns"] + 10, "timeline %s: conns at once %d" %
              (bucket, max(r["conns"] for r in tl)))


def case_diff(c):
    store, s = c.make_store("s")
    base, win = "start..start+2m", "start+2m..end"
    d = c.json("diff", "--baseline", base, "--window", win, "-n", "1000", store)
    check(len(d) > 0, "diff: rows")

    def top(rng):
        f, t = rng.split("..")
        return {(r["raddr"], r["comm"]): r for r in
                c.json("top", "-n", "1000000", "--group-by", "remote-host,process", "--from", f,
                       "--to", t, store)}
    tb, tw = top(base), top(win)
    for r in d:
        k = (r["raddr"], r["comm"])
        b, w = tb.get(k), tw.get(k)
        check((b["bytes_in"] + b["bytes_out"] if b else 0) == r["bytes_base"],
              "diff %r: bytes_base %d, top says %r" % (k, r["bytes_base"], b))
        check((w["bytes_in"] + w["bytes_out"] if w else 0) == r["bytes_window"],
              "diff %r: bytes_window %d, top says %r" % (k, r["bytes_window"], w))
        want = "new" if not b else "gone" if not w else None
        if want:
            check(r["change"] == want, "diff %r: change %r, want %r" % (k, r["change"], want))


def case_extract(c):
    store, s = c.make_store("s")
    out = os.path.join(c.work, "small")
    c.run("extract", "--from", "start+1m", "--to", "start+3m", "-o", out, store)
    c.run("verify", out)
    info = c.json("info", out)[0]
    check(len(info["recordings"]) == 1 and info["recordings"][0]["host"] == "synth-web-1",
          "extract: one recording of the host: %r" % info["recordings"])
    check(0 < info["blocks"] < s["blocks"], "extract: %d blocks of %d" %
          (info["blocks"], s["blocks"]))
    start = s["start_unix"]
    win = ["--from", "@%d" % (start + 60), "--to", "@%d" % (start + 180)]
    for g in ("conn", "process"):
        args = ["top", "-n", "1000000", "--no-rollups", "--group-by", g] + win
        a, b = c.json(*(args + [store])), c.json(*(args + [out]))
        check(a == b, "extract: top %s over the window differs (%d rows vs %d)" %
              (g, len(b), len(a)))
    a = c.json("events", *(win + [store]))
    b = c.json("events", *(win + [out]))
    check(a == b, "extract: events of the window differ (%d vs %d)" % (len(b), len(a)))
    p = c.run("extract", "-o", out, store, rc=None)
    check(p.returncode == 1, "extract over an existing store: exit %d" % p.returncode)


def case_replay(c):
    store, s = c.make_store("s")
    rows = c.json("replay", "--speed", "max", store)
    check(len(rows) == s["conn_ticks"], "replay: %d rows, synth made %d connection-ticks" %
          (len(rows), s["conn_ticks"]))
    ticks = sorted({r["ts"] for r in rows})
    check(len(ticks) == s["ticks"], "replay: %d ticks, synth made %d" % (len(ticks), s["ticks"]))
    last = {}
    for r in rows:
        last[conn_key(r) + (r["open_ts"],)] = r
    check(len(last) == s["conns_total"], "replay: %d connections" % len(last))
    for k in SUMS:
        want = q1(store, "SELECT sum(%s) FROM connections" % k)
        check(sum(r[k] for r in last.values()) == want, "replay: final %s %d, index %d" %
              (k, sum(r[k] for r in last.values()), want))
    start = s["start_unix"]
    part = c.json("replay", "--speed", "max", "--from", "@%d" % (start + 100), "--to",
                  "@%d" % (start + 130), store)
    pt = sorted({r["ts"] for r in part})
    check(pt == [t for t in ticks if start + 100 <= t <= start + 130],
          "replay window: ticks %r..%r" % (pt[:1], pt[-1:]))


def case_report(c):
    store, s = c.make_store("s")
    out = os.path.join(c.work, "r.html")
    p = c.run("report", "-o", out, store)
    check(p.stdout == "", "report: nothing on stdout: %r" % p.stdout[:200])
    with open(out, encoding="utf-8") as f:
        html = f.read()
    check(html.lstrip().lower().startswith("<!doctype html"), "report: an HTML document")
    check("<script" not in html.lower(), "report: no script")
    check("synth-web-1" in html, "report: names the host")
    top1 = c.json("top", "-n", "1", "--group-by", "process", store)[0]["comm"]
    check(top1 in html, "report: names the top process %r" % top1)
    before = os.stat(out).st_mtime_ns, html
    p = c.run("report", "-o", out, store, rc=None)
    check(p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1,
          "report over an existing file without --force: exit %d, %r" %
          (p.returncode, p.stderr))
    with open(out, encoding="utf-8") as f:
        check((os.stat(out).st_mtime_ns, f.read()) == before, "report: the file was overwritten")
    c.run("report", "--force", "-o", out, store)


def options(ap):
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--synth", required=True)
    ap.add_argument("--case", choices=CASES, required=True)


def main(t):
    a = t.args
    work = t.tmpdir("synth")
    globals()["case_" + a.case](Ctx(a, work))


if __name__ == "__main__":
    h.run("analyze_synth", main, options, root=False)
