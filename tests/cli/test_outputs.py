#!/usr/bin/python3
"""What the analyzer prints, on a copy of tests/data/store-v1 (truth.json: what
its generator sent), for the output fixes of issue 10:

- --fields: top, events and sql print the chosen columns in the chosen order
  in JSON, CSV and tables; an unknown field is one line listing the valid ones,
  exit 2, nothing on stdout;
- diff prints DELTA/s in human units, like the rates beside it;
- table times carry their zone (UTC with --utc, the local zone's name else);
- timeline --bucket and top --per-interval buckets start on the clock: every
  bucket but the first starts on a multiple of the length; the first starts
  at the window's start; the buckets add up to the window's totals;
- a filter that matches nothing: one line on stderr, nothing on stdout, exit 0
  (top, events, timeline, diff);
- --group-by service-port: every TCP end of the generator's three connections
  is under the server's port (this store predates the direction flags: the
  port rule decides);
- a host name from the index is data: set to a terminal attack, it reaches
  no table raw (top, events, info, sql; the report's HTML escapes with the same code),
  nor does a file name in the store directory (verify);
- replay --format json: the per-tick *_delta keys add up to each closed
  connection's totals, equal to what the generator sent; replay into a pipe
  does not pace (no nanosleep under strace), --speed does.

Usage: test_outputs.py --analyzer PATH
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402
from ttharness import check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "store-v1")


def run(ana, *args, env=None, want_rc=0):
    p = subprocess.run([ana] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=120, env=env)
    check(p.returncode == want_rc, "%s: exit %d, want %d: %s" %
          (" ".join(map(str, args)), p.returncode, want_rc, p.stderr.strip()))
    return p


def jrows(ana, *args):
    return [json.loads(l) for l in run(ana, *args, "--format", "json").stdout.splitlines()]


def fields(ana, store):
    top = jrows(ana, "top", "--fields", "comm,bytes_in,lport", store)
    check(top and all(list(r) == ["comm", "bytes_in", "lport"] for r in top),
          "top --fields comm,bytes_in,lport: JSON keys in that order: %s" % top[:1])
    full = jrows(ana, "top", store)
    check([(r["comm"], r["bytes_in"], r["lport"]) for r in full] ==
          [(r["comm"], r["bytes_in"], r["lport"]) for r in top],
          "top --fields: the same rows as without")
    csv = run(ana, "top", "--fields", "bytes_out,rport", "--format", "csv", store).stdout
    check(csv.splitlines()[0] == "bytes_out,rport", "top --fields: CSV header: %r" % csv[:40])
    table = run(ana, "top", "--utc", "--fields", "rport,comm", store).stdout.splitlines()
    check(re.match(r"RPORT +COMM$", table[1]), "top --fields: table header: %r" % table[1])
    ev = jrows(ana, "events", "--fields", "event,pid", store)
    check(ev and all(list(r) == ["event", "pid"] for r in ev), "events --fields: %s" % ev[:1])
    sql = jrows(ana, "sql", "--fields", "comm,pid", store,
                "SELECT pid, comm, lport FROM connections")
    check(sql and all(list(r) == ["comm", "pid"] for r in sql), "sql --fields: %s" % sql[:1])
    for cmd in (["top"], ["events"], ["sql"]):
        extra = ["SELECT pid FROM connections"] if cmd == ["sql"] else []
        p = run(ana, *cmd, "--fields", "pid,nope", store, *extra, want_rc=2)
        lines = p.stderr.strip().splitlines()
        check(len(lines) == 1 and "'nope'" in lines[0] and "pid" in lines[0].split(":")[-1],
              "%s --fields pid,nope: one line naming it and listing the fields: %r" %
              (cmd[0], p.stderr))
        check(p.stdout == "", "%s --fields pid,nope: nothing on stdout" % cmd[0])


def diff(ana, store):
    out = run(ana, "diff", "--utc", "--baseline", "start..start+5s", "--window",
              "start+5s..end", store).stdout.splitlines()
    head = out[1]
    col = head.index("DELTA/s")
    for line in out[2:]:
        # right-aligned under its title: the cell ends where the title ends
        cell = line[:col + len("DELTA/s")].split("  ")[-1].strip()
        check(re.fullmatch(r"-?\d+(\.\d+)? (B|KiB|MiB|GiB)/s", cell),
              "diff: DELTA/s in human units: %r" % cell)


def zones(ana, store):
    t = run(ana, "events", "--utc", store).stdout.splitlines()
    check(all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC ", l) for l in t[1:]),
          "events --utc: every time ends in UTC: %r" % t[1:2])
    env = dict(os.environ, TZ="Europe/Paris")
    t = run(ana, "events", store, env=env).stdout.splitlines()
    check(all(re.match(r"\S+ \S+ CET ", l) for l in t[1:]),
          "events in Europe/Paris: every time carries CET: %r" % t[1:2])
    head = run(ana, "top", store, env=env).stdout.splitlines()[0]
    check(re.match(r"\S+ \S+ CET -> \S+ \S+ CET ", head), "top's window carries CET: %r" % head)


def buckets(ana, store, span):
    tot = sum(r["bytes_in"] for r in jrows(ana, "top", "-n", 1000, store))
    for step in (5, 3):
        tl = jrows(ana, "timeline", "--bucket", "%ds" % step, store)
        check(abs(tl[0]["ts"] - span[0]) < 0.002,
              "timeline --bucket %ds: the first bucket starts at the window's start" % step)
        check(all(round(r["ts"] * 1000) % (step * 1000) == 0 for r in tl[1:]),
              "timeline --bucket %ds: buckets on the clock: %s" % (step, [r["ts"] for r in tl]))
        check(sum(r["bytes_in"] for r in tl) == tot,
              "timeline --bucket %ds: buckets add up to top's bytes_in" % step)
        iv = jrows(ana, "top", "-n", 1000, "--per-interval", "%ds" % step, store)
        starts = sorted({r["interval_start"] for r in iv})
        check(all(round(s * 1000) % (step * 1000) == 0 or abs(s - span[0]) < 0.002
                  for s in starts),
              "top --per-interval %ds: intervals on the clock: %s" % (step, starts))
        check(sum(r["bytes_in"] for r in iv) == tot,
              "top --per-interval %ds: intervals add up to the window" % step)


def nothing(ana, store):
    for cmd in (["top"], ["events"], ["timeline"],
                ["diff", "--baseline", "start..start+5s", "--window", "start+5s..end"]):
        for fmt in ("table", "json"):
            p = run(ana, *cmd, "--comm", "no-such-process", "--format", fmt, store)
            check(p.stdout == "", "%s --format %s, a filter matching nothing: no table: %r" %
                  (cmd[0], fmt, p.stdout[:200]))
            check(p.stderr.strip().count("\n") == 0 and "nothing matched" in p.stderr,
                  "%s: one line 'nothing matched' on stderr: %r" % (cmd[0], p.stderr))


def service_port(ana, store, truth):
    rows = {r["service_port"]: r for r in jrows(ana, "top", "--group-by", "service-port", store)}
    server = truth["tcp"][0]["rport"]
    r = rows.get(server)
    if check(r is not None, "service-port: a row for the server's port %d: %s" % (server, rows)):
        check(r["conns"] == 2 * len(truth["tcp"]),
              "service-port %d: both ends of every connection: %d" % (server, r["conns"]))
        sent = sum(c["sent"] for c in truth["tcp"]) + sum(c["recv"] for c in truth["tcp"])
        check(r["bytes_out"] == sent, "service-port %d: bytes_out %d, want %d" %
              (server, r["bytes_out"], sent))
    rp = {r["rport"] for r in jrows(ana, "top", "--group-by", "remote-port", store)}
    check(len(rp) > 2, "remote-port, for contrast, lists the client ports too")


def replay(ana, store, truth):
    # LeakSanitizer cannot run under ptrace
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=nanosleep,clock_nanosleep", "-o",
                        store + ".strace", ana, "replay", "--format", "json", store],
                       capture_output=True, text=True, timeout=120, env=env)
    check(p.returncode == 0, "replay into a pipe: exit %d: %s" % (p.returncode, p.stderr))
    with open(store + ".strace") as f:
        sleeps = [l for l in f if "nanosleep(" in l]
    check(not sleeps, "replay into a pipe, no --speed: not paced (%d sleeps)" % len(sleeps))
    subprocess.run(["strace", "-f", "-qq", "-e", "trace=nanosleep,clock_nanosleep", "-o",
                    store + ".strace", ana, "replay", "--format", "json", "--speed", "100",
                    store], capture_output=True, timeout=120, env=env)
    with open(store + ".strace") as f:
        check(any("nanosleep(" in l for l in f), "replay --speed 100: paced (the check sees it)")

    rows = [json.loads(l) for l in p.stdout.splitlines()]
    keys = ("bytes_in", "bytes_out", "packets_in", "packets_out", "retransmits")
    by = {}
    for r in rows:
        if r["proto"] != "tcp" or r["partial"]:
            continue
        k = (r["lport"], r["rport"])
        s = by.setdefault(k, {x: 0 for x in keys})
        if not check(all(x + "_delta" in r for x in keys), "replay JSON: *_delta keys: %s" % r):
            return
        for x in keys:
            s[x] += r[x + "_delta"]
        s["last"] = r
    for c in truth["tcp"]:
        s = by.get((c["lport"], c["rport"]))
        if not check(s is not None, "replay: rows for %d -> %d" % (c["lport"], c["rport"])):
            continue
        check(s["bytes_out"] == c["sent"] and s["bytes_in"] == c["recv"],
              "replay %d: the deltas add up to what was sent and received: %d/%d, want %d/%d" %
              (c["lport"], s["bytes_out"], s["bytes_in"], c["sent"], c["recv"]))
        for x in keys:
            check(s[x] == s["last"][x], "replay %d: %s_delta adds up to the total %s" %
                  (c["lport"], x, x))


def hostile_host(ana, tmp):
    store = os.path.join(tmp, "hostile")
    shutil.copytree(DATA, store)
    db = sqlite3.connect(os.path.join(store, "index.db"))
    db.execute("UPDATE recordings SET host = char(27) || ']0;PWNED' || char(7) || char(27) || '[2J'")
    db.commit()
    db.close()
    for cmd in (["top"], ["top", "--group-by", "host"], ["events"], ["info"],
                ["sql", "SELECT host FROM recordings"]):
        extra = [cmd.pop()] if cmd[0] == "sql" else []
        out = subprocess.run([ana] + cmd + [store] + extra, capture_output=True,
                             timeout=60).stdout
        check(out and b"\x1b" not in out and b"\x07" not in out,
              "%s with a hostile host name: no ESC or BEL on the terminal: %r" %
              (" ".join(cmd), out[:300]))
        check(b"\\x1b]0;PWNED\\x07" in out, "%s: the host name shown escaped" % " ".join(cmd))
    # a file name in the store directory is anybody's too
    evil = os.path.join(store, "r000001-s000009\x1b]0;PWNED\x07.tts")
    shutil.copy(os.path.join(store, "r000001-s000000.tts"), evil)
    p = subprocess.run([ana, "verify", store], capture_output=True, timeout=60)
    out = p.stdout + p.stderr
    check(b"PWNED" in out and b"\x1b" not in out and b"\x07" not in out,
          "verify: a segment file named with escapes is reported escaped: %r" % out[:300])


def options(ap):
    ap.add_argument("--analyzer", required=True)


def main(t):
    a = t.args
    tmp = t.tmpdir("out")
    store = os.path.join(tmp, "store")
    shutil.copytree(DATA, store)  # never opened in place
    with open(os.path.join(DATA, "truth.json")) as f:
        truth = json.load(f)
    info = json.loads(run(a.analyzer, "info", "--format", "json", store).stdout)
    span = (info["start_ns"] / 1e9, info["end_ns"] / 1e9)
    rec = info["recordings"][0]
    span = (rec["start_ns"] / 1e9, span[1])
    parts = [("fields", fields, ()), ("diff", diff, ()), ("zones", zones, ()),
             ("buckets", buckets, (span,)), ("nothing", nothing, ()),
             ("service_port", service_port, (truth,))]
    parts.append(("hostile_host", lambda ana, _store: hostile_host(ana, tmp), ()))
    if shutil.which("strace"):
        parts.append(("replay", replay, (truth,)))
    else:
        check(False, "strace is needed (quickstart.sh installs it)")
    for name, fn, extra in parts:
        try:  # one broken part does not hide the others
            fn(a.analyzer, store, *extra)
        except Exception as e:
            check(False, "%s: %s: %s" % (name, type(e).__name__, e))


if __name__ == "__main__":
    h.run("outputs", main, options, root=False)
