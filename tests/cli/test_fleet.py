#!/usr/bin/python3
"""Fleet: stores exported to a sharded ClickHouse answer top as the stores do.

Two clickhouse-server processes (Debian's 18.16) run as plain processes on
loopback ports with configs in a temporary directory, as two shards of one
cluster; shard 1 also holds the Distributed tables (schema/clickhouse/
distributed.sql). Three stores of three hosts, written without a kernel by
tests/bench/synth_store with distinct host names, seeds and start times, are
exported: alpha and bravo to shard 1, charlie to shard 2. Checks:
  - top --clickhouse (through the Distributed tables) equals the local top over
    the three stores, json, field for field, for several groupings and windows,
    and so do diff, events and timeline (timeline also with a fourth, sparse
    host ticking every 2 s, most of its ticks without an active connection,
    whose buckets' CONNS come from connections tt_ticks has no row of there);
  - a SIGKILL in the middle of charlie's export (after its first acknowledged
    batch), then a rerun, then one more with the cursors wiped (every row sent
    twice, as if every batch had been acknowledged and no cursor saved):
    exactly one copy of every row (counts and sums equal to a one-shot export
    of the same store into another database, read FINAL and after the tables
    merged), and a further run sends no tick again;
  - a refused export (unknown user, missing database) and an unreachable
    server: one error line, exit 1.
Runs as any user; skipped (77) without clickhouse-server.
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttclickhouse as tc  # noqa: E402
import ttharness as h  # noqa: E402
from ttclickhouse import Server  # noqa: E402
from ttharness import check, free_port  # noqa: E402

START = 1710201600  # synth_store's default start


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def top(ana, args):
    return query(ana, "top", args)


def query(ana, cmd, args):
    p = run([ana, cmd, "--format", "json"] + args)
    if p.returncode != 0:
        raise h.Failed("%s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
    return [json.loads(l) for l in p.stdout.splitlines()]


def one_error_line(p, what):
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 1 and len(lines) == 1 and lines[0].startswith("tcptop-analyze: export: "),
          "%s: exit 1 and one error line (exit %d, %r)" % (what, p.returncode, p.stderr))


def totals(srv, db):
    return srv.q("SELECT count(), sum(bytes_in), sum(bytes_out), sum(packets_in), sum(retrans)"
                 " FROM tt_ticks FINAL WHERE host = 'charlie'", db).split()


def options(ap):
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--synth", required=True)


def main(t):
    a = t.args
    if not tc.available():
        raise h.Skip("%s is not installed (apt-get install clickhouse-server)" % tc.SERVER)
    ana = a.analyzer
    tmp = t.tmpdir("fleet")
    servers = []
    try:
        ports = [free_port() for _ in range(4)]
        tcp = [ports[1], ports[3]]
        t0 = time.time()
        servers = [Server(os.path.join(tmp, "s1"), ports[0], ports[1], tcp),
                   Server(os.path.join(tmp, "s2"), ports[2], ports[3], tcp)]
        print("two servers up in %.1f s" % (time.time() - t0))
        s1, s2 = servers
        for s in servers:
            s.q("CREATE DATABASE fleet")
        s2.q("CREATE DATABASE ref")

        stores = {}
        for i, (h, conns, mins) in enumerate((("alpha", 30, 6), ("bravo", 40, 5),
                                               ("charlie", 60, 12))):
            d = os.path.join(tmp, h)
            p = run([a.synth, d, "--conns", str(conns), "--hours", str(mins / 60.0), "--seed",
                     str(11 + i), "--host", h, "--start", str(START + 60 * i)])
            if p.returncode != 0:
                raise h.Failed("synth_store: " + p.stderr)
            stores[h] = d

        # one-shot export of charlie into ref: what the killed one must end up as
        ref = os.path.join(tmp, "charlie-ref")
        shutil.copytree(stores["charlie"], ref)
        p = run([ana, "export", ref, "--clickhouse", s2.url("ref")])
        check(p.returncode == 0, "one-shot export: exit 0 (%s)" % p.stderr.strip())

        for h in ("alpha", "bravo"):
            p = run([ana, "export", stores[h], "--clickhouse", s1.url()])
            check(p.returncode == 0, "export %s to shard 1 (%s)" % (h, p.stderr.strip()))

        # charlie to shard 2, killed after its first acknowledged batch
        db = os.path.join(stores["charlie"], "index.db")
        ex = subprocess.Popen([ana, "export", stores["charlie"], "--clickhouse", s2.url(),
                               "--batch", "200"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        moved = False
        for _ in range(3000):
            if ex.poll() is not None:
                break
            try:
                c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
                row = c.execute("SELECT ticks_ns FROM export_cursors").fetchone()
                c.close()
            except sqlite3.Error:
                row = None
            if row and row[0] > 0:
                moved = True
                break
            time.sleep(0.002)
        ex.send_signal(signal.SIGKILL)
        ex.wait()
        check(moved and ex.returncode == -signal.SIGKILL,
              "export killed in the middle (cursor moved: %s, exit %s)" % (moved, ex.returncode))
        partial = totals(s2, "fleet")
        check(int(partial[0]) < int(totals(s2, "ref")[0]),
              "the kill left the export incomplete (%s rows of %s)" %
              (partial[0], totals(s2, "ref")[0]))
        p = run([ana, "export", stores["charlie"], "--clickhouse", s2.url(), "--batch", "200"])
        check(p.returncode == 0, "rerun after the kill: exit 0 (%s)" % p.stderr.strip())
        # the worst a kill can do: every batch acknowledged but no cursor saved
        c = sqlite3.connect(db, timeout=5)
        c.execute("UPDATE export_cursors SET ticks_ns = 0, meta_ns = 0")
        c.commit()
        c.close()
        p = run([ana, "export", stores["charlie"], "--clickhouse", s2.url(), "--batch", "200"])
        check(p.returncode == 0, "rerun with the cursor lost: exit 0 (%s)" % p.stderr.strip())
        raw = s2.q("SELECT count() FROM tt_ticks WHERE host = 'charlie'", "fleet").strip()
        check(int(raw) > int(totals(s2, "ref")[0]),
              "the rows went twice (%s stored before merging, %s distinct)" %
              (raw, totals(s2, "ref")[0]))
        check(totals(s2, "fleet") == totals(s2, "ref"), "FINAL reads one copy before merging")
        for s, d in ((s2, "fleet"), (s2, "ref")):
            for t in ("tt_ticks", "tt_events", "tt_conns", "tt_recordings", "tt_losses"):
                s.q("OPTIMIZE TABLE %s FINAL" % t, d)
        for t, cols in (("tt_ticks", "count(), sum(bytes_in), sum(bytes_out), sum(packets_out),"
                                     " sum(retrans), sum(resets), sum(srtt_us)"),
                        ("tt_events", "count(), sum(conn_id % 1000), sum(new_state)"),
                        ("tt_conns", "count(), sum(bytes_in), sum(bytes_out), sum(close_ns % 1000000)"),
                        ("tt_recordings", "count(), sum(end_ns)")):
            got = s2.q("SELECT %s FROM %s" % (cols, t), "fleet").split()
            want = s2.q("SELECT %s FROM %s" % (cols, t), "ref").split()
            check(got == want and int(want[0]) > 0,
                  "%s after kill and rerun: one copy of every row (%s, one-shot %s)" %
                  (t, got, want))
        p = run([ana, "export", stores["charlie"], "--clickhouse", s2.url()])
        check(p.returncode == 0 and " 0 connection-ticks, 0 events" in p.stdout,
              "a third export sends no tick again (%s)" % p.stdout.strip())

        # the Distributed tables on shard 1 read both shards
        tc.apply_sql(s1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                      "schema", "clickhouse", "distributed.sql"), "fleet")
        dirs = [stores[h] for h in ("alpha", "bravo", "charlie")]
        for args in ([], ["--group-by", "process"], ["--group-by", "host,remote-port", "--by", "packets"],
                     ["-n", "100000", "--group-by", "remote-net/16", "--by", "conns"],
                     ["--from", "@%d" % (START + 95), "--to", "@%d" % (START + 313), "--group-by", "pid"],
                     ["--last", "3m", "--by", "rate"], ["--state", "ESTAB", "-n", "50"],
                     ["--per-interval", "2m", "--group-by", "host"]):
            local = top(ana, args + dirs)
            fleet = top(ana, args + ["--clickhouse", s1.url()])
            check(local == fleet and local, "fleet top == local top %s (%d rows)" %
                  (" ".join(args), len(local)))
        for args in (["--baseline", "@%d..@%d" % (START, START + 150),
                      "--window", "@%d..@%d" % (START + 200, START + 400)],
                     ["--baseline", "@%d..@%d" % (START + 60, START + 130),
                      "--window", "@%d..@%d" % (START + 300, START + 700),
                      "--group-by", "host,remote-port", "-n", "40", "--state", "ESTAB"]):
            local = query(ana, "diff", args + dirs)
            fleet = query(ana, "diff", args + ["--clickhouse", s1.url()])
            check(local == fleet and local, "fleet diff == local diff %s (%d rows)" %
                  (" ".join(args), len(local)))
        for args in ([], ["--type", "retransmit,close", "--port", "443"],
                     ["--from", "@%d" % (START + 95), "--to", "@%d" % (START + 313)]):
            local = query(ana, "events", args + dirs)
            fleet = query(ana, "events", args + ["--clickhouse", s1.url()])
            check(local == fleet and local, "fleet events == local events %s (%d rows)" %
                  (" ".join(args), len(local)))
        for args in ([], ["--bucket", "1m"], ["--bucket", "1s", "--state", "ESTAB"],
                     ["--bucket", "7s", "--from", "@%d" % (START + 95), "--to", "@%d" % (START + 313)],
                     ["--bucket", "1s", "--from", "@%d.5" % (START + 95),
                      "--to", "@%d.25" % (START + 313), "--port", "443"],
                     ["--bucket", "30s", "--comm", "py*", "--utc"], ["--last", "3m", "--bucket", "2s"],
                     ["--bucket", "1m", "--proto", "udp"], ["--bucket", "1h"]):
            local = query(ana, "timeline", args + dirs)
            fleet = query(ana, "timeline", args + ["--clickhouse", s1.url()])
            check(local == fleet and local, "fleet timeline == local timeline %s (%d rows)" %
                  (" ".join(args), len(local)))
        for args in (["--utc", "--bucket", "1m"], ["--format", "csv", "--bucket", "1s"]):
            local = run([ana, "timeline"] + args + dirs)
            fleet = run([ana, "timeline"] + args + ["--clickhouse", s1.url()])
            check(local.returncode == 0 and local.stdout == fleet.stdout and local.stdout,
                  "fleet timeline == local timeline, byte for byte, %s" % " ".join(args))
        local = top(ana, ["--group-by", "process", stores["charlie"]])
        fleet = top(ana, ["--group-by", "process", "--clickhouse", s1.url(),
                          "--hostname", "charlie"])
        check(local == fleet and local, "--hostname charlie == charlie's store alone")

        # a sparse host: 2 s ticks, few connections, rarely active
        d = os.path.join(tmp, "delta")
        p = run([a.synth, d, "--conns", "6", "--hours", "0.1", "--active", "0.02", "--tick", "2s",
                 "--seed", "17", "--host", "delta", "--start", str(START + 30)])
        if p.returncode != 0:
            raise SystemExit("FAIL: synth_store: " + p.stderr)
        p = run([ana, "export", d, "--clickhouse", s2.url()])
        check(p.returncode == 0, "export delta to shard 2 (%s)" % p.stderr.strip())
        idle = int(s1.q("SELECT count() FROM (SELECT DISTINCT ts FROM tt_ticks_all"
                        " WHERE host = 'delta')", "fleet"))
        check(0 < idle < 60, "delta: %d of its 180 ticks have an active row" % idle)
        for args in (["--bucket", "1s"], ["--bucket", "3s", "--from", "@%d" % (START + 100)],
                     ["--bucket", "1s", "--from", "@%d.5" % (START + 95), "--to", "@%d.25" % (START + 313)],
                     ["--bucket", "5s", "--state", "ESTAB"], ["--bucket", "1m", "--port", "443"]):
            local = query(ana, "timeline", args + [d])
            fleet = query(ana, "timeline", args + ["--clickhouse", s1.url(), "--hostname", "delta"])
            quiet = sum(r["conns"] > 0 and r["active"] == 0 for r in local)
            check(local == fleet and local and (quiet or args[1] != "1s"),
                  "fleet timeline == local timeline of delta %s (%d rows, %d with connections"
                  " and none active)" % (" ".join(args), len(local), quiet))
            local = query(ana, "timeline", args + dirs + [d])
            fleet = query(ana, "timeline", args + ["--clickhouse", s1.url()])
            check(local == fleet and local, "fleet timeline == local timeline of 4 hosts %s (%d rows)" %
                  (" ".join(args), len(local)))

        p = run([ana, "export", stores["alpha"], "--clickhouse",
                 "http://nobody:x@127.0.0.1:%d/?database=fleet" % s1.http])
        one_error_line(p, "unknown user")
        check("nobody" in p.stderr and "x@" not in p.stderr,
              "the error names the user, not the password")
        p = run([ana, "export", stores["alpha"], "--clickhouse", s1.url("missing")])
        one_error_line(p, "missing database")
        p = run([ana, "export", stores["alpha"], "--retries", "1", "--clickhouse",
                 "http://127.0.0.1:%d/" % free_port()])
        one_error_line(p, "unreachable server")
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    h.run("fleet", main, options, root=False)
