#!/usr/bin/python3
"""tcptop-analyze sql end to end.

--case static (any user): on a store tests/bench/synth_store writes (the
recorder's own writer and indexer behind a made-up event stream, no kernel):

- every statement that could write or reach outside the index is refused:
  exit 1, exactly one 'tcptop-analyze: sql: ...' line on stderr naming why,
  nothing on stdout, no new file in the store or in the working directory
  (ATTACH and VACUUM INTO are given paths in both), and every file of the
  store byte for byte as it was. The runaway CTE and the long single function
  call must stop near --timeout; the memory hogs at their limits;
- a symbolic link as DIR/index.db is refused the same way;
- usage errors exit 2;
- real queries print a table, CSV and JSON lines that parse and agree with
  the index read directly (python's sqlite3, immutable, so it writes nothing).

--case live (root: exit 77 with SKIPPED otherwise): a query while the real
recorder is writing a store answers from its WAL.
"""
import argparse
import csv
import hashlib
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


def traffic(seconds):
    """A few short TCP connections on loopback, so the store has rows."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    end = time.time() + seconds

    def serve():
        srv.settimeout(seconds + 2)
        try:
            while time.time() < end:
                c, _ = srv.accept()
                while c.recv(65536):
                    pass
                c.close()
        except OSError:
            pass

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    while time.time() < end:
        c = socket.create_connection(srv.getsockname())
        c.sendall(b"x" * 20000)
        c.close()
        time.sleep(0.1)
    srv.close()


def snapshot(d):
    """Every file's name and content hash."""
    out = {}
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        with open(path, "rb") as f:
            out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def record(recorder, store, seconds, extra=()):
    p = subprocess.Popen([recorder, "-o", store, "-d", "%ds" % seconds, "-f", "json"] +
                         list(extra), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--case", choices=("static", "live"), required=True)
    ap.add_argument("--synth", help="tests/bench/synth_store (static)")
    ap.add_argument("--recorder", help="tcptop-record (live)")
    a = ap.parse_args()
    if a.case == "live" and os.geteuid() != 0:
        print("SKIPPED: needs root to record a store (run as root, as CI does)")
        return 77
    work = tempfile.mkdtemp(prefix="ttsql-")
    try:
        return run_static(a, work) if a.case == "static" else run_live(a, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sql_runner(a, cwd, check):
    def sql(args, timeout=600):  # a hang guard, not a measure
        p = subprocess.run([a.analyzer, "sql"] + args, capture_output=True, text=True,
                           timeout=timeout, cwd=cwd)
        check(" ".join(args)[:80], not any(m in p.stderr for m in SANITIZER_MARKS),
              "sanitizer report: %s" % p.stderr)
        return p
    return sql


def run_live(a, work):
    """A query while a recorder writes: its rows are in the WAL, read through the -shm it made."""
    fails = []

    def check(label, ok, detail=""):
        if not ok:
            fails.append("%s: %s" % (label, detail))

    sql = sql_runner(a, work, check)
    live = os.path.join(work, "live")
    rec = record(a.recorder, live, 4, ["--flush", "500ms"])
    deadline = time.time() + 10
    while time.time() < deadline and not os.path.exists(os.path.join(live, "index.db-wal")):
        if rec.poll() is not None:
            break
        time.sleep(0.05)
    if rec.poll() is not None and rec.returncode == 77:
        print("SKIPPED: the recorder cannot capture here: %s" % rec.stderr.read().strip())
        return 77
    time.sleep(1.5)  # a block or two committed
    traffic(0.5)
    p = sql(["--format", "csv", live, "SELECT count(*) FROM recordings WHERE end_ns IS NULL"])
    check("live", p.returncode == 0 and p.stdout.splitlines() == ["count(*)", "1"],
          "exit %d: %r %r" % (p.returncode, p.stdout, p.stderr))
    _, err = rec.communicate(timeout=30)
    check("recorder", rec.returncode == 0, "exit %d: %s" % (rec.returncode, err))
    for f in fails:
        print("FAIL: " + f)
    if fails:
        return 1
    print("PASS: a query on a store being written")
    return 0


def run_static(a, work):
    store = os.path.join(work, "store")
    cwd = os.path.join(work, "cwd")
    os.mkdir(cwd)
    syn = subprocess.run([a.synth, store, "--conns", "40", "--hours", "0.05", "--seed", "5"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         timeout=120)
    if syn.returncode != 0:
        print("FAIL: writing the store: exit %d: %s" % (syn.returncode, syn.stderr))
        return 1
    fails = []
    nrefused = [0]

    def check(label, ok, detail=""):
        if not ok:
            fails.append("%s: %s" % (label, detail))

    sql = sql_runner(a, cwd, check)
    before = snapshot(store)
    check("fresh store", not any(n.endswith(("-wal", "-shm")) for n in before),
          "a cleanly stopped store has no -wal/-shm: %s" % sorted(before))

    def refused(stmt, want, opts=(), want_rc=1, directory=store):
        label = "%r" % stmt[:70]
        nrefused[0] += 1
        p = sql(list(opts) + [directory, stmt])
        lines = [x for x in p.stderr.splitlines() if x.strip()]
        check(label, p.returncode == want_rc, "exit %d, want %d: %r" %
              (p.returncode, want_rc, p.stderr))
        check(label, len(lines) == 1 and lines[0].startswith("tcptop-analyze: sql: "),
              "stderr should be one 'tcptop-analyze: sql: ...' line: %r" % p.stderr)
        check(label, want in p.stderr, "stderr should say %r: %r" % (want, p.stderr))
        check(label, p.stdout == "", "stdout should be empty: %r" % p.stdout[:200])
        check(label, snapshot(store) == before, "the store changed: %s -> %s" %
              (sorted(before), sorted(snapshot(store))))
        check(label, os.listdir(cwd) == [], "files appeared in the cwd: %s" % os.listdir(cwd))

    ro = "(the index is read-only)"
    refused("ATTACH '%s/evil.db' AS evil" % store, "not allowed: ATTACH " + ro)
    refused("ATTACH 'evil.db' AS evil", "not allowed: ATTACH " + ro)
    refused("VACUUM INTO '%s/copy.db'" % store, "not allowed: VACUUM " + ro)
    refused("VACUUM INTO 'copy.db'", "not allowed: VACUUM " + ro)
    refused("VACUUM", "not allowed: VACUUM " + ro)
    refused("INSERT INTO recordings(host) VALUES ('x')", "not allowed: INSERT " + ro)
    refused("UPDATE conns SET tid = 1", "not allowed: UPDATE " + ro)
    refused("DELETE FROM blocks", "not allowed: DELETE " + ro)
    refused("CREATE TABLE t(x)", "not allowed: CREATE TABLE " + ro)
    refused("CREATE TEMP VIEW v AS SELECT 1", "not allowed: CREATE TEMP VIEW " + ro)
    refused("DROP TABLE conns", "not allowed: DROP TABLE " + ro)
    refused("DROP VIEW v_connections", "not allowed: DROP VIEW " + ro)
    refused("PRAGMA writable_schema = 1", "not allowed: PRAGMA writable_schema")
    refused("PRAGMA journal_mode = delete", "not allowed: PRAGMA journal_mode")
    refused("PRAGMA user_version = 5", "not allowed: PRAGMA user_version")
    refused("PRAGMA wal_checkpoint(TRUNCATE)", "not allowed: PRAGMA wal_checkpoint")
    refused("SELECT load_extension('/tmp/x')", "not allowed: load_extension()")
    refused("SELECT fts3_tokenizer('simple')", "not allowed: fts3_tokenizer()")
    refused("BEGIN IMMEDIATE", "not allowed: BEGIN " + ro)
    refused("ANALYZE", "not allowed: ANALYZE " + ro)
    refused("SELECT 1; SELECT 2", "only one statement per call")
    refused("SELECT 1; DROP TABLE connections", "only one statement per call")
    refused("SELEC count(*) FROM connections", 'syntax error near "SELEC"')
    refused("SELECT * FROM no_such_table", "no such table: no_such_table")
    refused("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
            " SELECT count(*) FROM c", "stopped after 1 s (--timeout)",
            opts=["--timeout", "1s"])
    # one function call the progress handler cannot interrupt: the backstop timer
    refused("SELECT instr(zeroblob(16000000) || x'01', zeroblob(8000000) || x'02')",
            "stopped after 1 s (--timeout)", opts=["--timeout", "1s"])
    refused("SELECT length(group_concat(zeroblob(1000000))) FROM (WITH RECURSIVE"
            " c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000) SELECT x FROM c)",
            "string or blob too big", opts=["--timeout", "10m"])  # the size cap, not the clock
    refused("SELECT count(DISTINCT r) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL"
            " SELECT x + 1 FROM c LIMIT 3000000) SELECT randomblob(100) AS r FROM c)",
            "needs more than 16 MiB of memory (--max-memory)", opts=["--max-memory", "16M"])
    refused("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5)"
            " SELECT x FROM c", "more than 4 rows (--max-rows)", opts=["--max-rows", "4"])

    # a symbolic link as index.db, pointing at the real one
    linked = os.path.join(work, "linked")
    os.mkdir(linked)
    os.symlink(os.path.join(store, "index.db"), os.path.join(linked, "index.db"))
    refused("SELECT count(*) FROM connections",
            "index.db is a symbolic link: refusing to follow it", directory=linked)
    check("symlink dir", os.listdir(linked) == ["index.db"], "files appeared: %s" %
          os.listdir(linked))

    for args in (["sql"], [store], ["--format", "xml", store, "SELECT 1"],
                 ["--no-such-option", store, "SELECT 1"], ["--timeout", "0", store, "SELECT 1"],
                 [store, "SELECT 1", "SELECT 2"]):
        p = sql(args[1:] if args == ["sql"] else args)
        check("usage %s" % args, p.returncode == 2, "exit %d, want 2: %r" %
              (p.returncode, p.stderr))
        check("usage %s" % args, p.stderr.startswith("tcptop-analyze: sql: ") and
              len(p.stderr.splitlines()) == 1, "one line: %r" % p.stderr)

    # real queries, checked against the index read directly
    ref = sqlite3.connect("file:%s/index.db?mode=ro&immutable=1" % store, uri=True)
    want = ref.execute("SELECT count(*) FROM connections").fetchone()[0]
    rows = ref.execute("SELECT id, proto, laddr, bytes_in, peak_rate_in, close_ns"
                       " FROM connections ORDER BY id LIMIT 20").fetchall()
    ref.close()
    q = "SELECT count(*) FROM connections"

    p = sql([store, q])
    check("table", p.returncode == 0 and p.stderr == "", "exit %d: %r" % (p.returncode, p.stderr))
    lines = p.stdout.splitlines()
    check("table", len(lines) == 2 and lines[0].strip() == "count(*)" and
          lines[1].strip() == str(want), "want a 'count(*)' header and %d: %r" % (want, p.stdout))

    p = sql(["--format", "csv", store, q])
    got = list(csv.reader(io.StringIO(p.stdout)))
    check("csv", p.returncode == 0 and got == [["count(*)"], [str(want)]],
          "want [['count(*)'], ['%d']]: %r" % (want, got))

    p = sql([store, q, "--format", "json"])
    try:
        got = [json.loads(x) for x in p.stdout.splitlines()]
    except ValueError as e:
        got = "unparsable: %s" % e
    check("json", p.returncode == 0 and got == [{"count(*)": want}],
          "want [{'count(*)': %d}]: %r" % (want, got))

    p = sql(["--format", "json", store, "SELECT id, proto, laddr, bytes_in, peak_rate_in,"
             " close_ns FROM connections ORDER BY id LIMIT 20"])
    try:
        got = [json.loads(x) for x in p.stdout.splitlines()]
    except ValueError as e:
        got = "unparsable: %s" % e
    check("json rows", p.returncode == 0 and isinstance(got, list) and len(got) == len(rows),
          "%d rows wanted: %r" % (len(rows), got if isinstance(got, str) else len(got)))
    if isinstance(got, list):
        for g, r in zip(got, rows):
            same = (g["id"], g["proto"], g["laddr"], g["bytes_in"], g["close_ns"]) == \
                (r[0], r[1], r[2], r[3], r[5])
            check("json row %d" % r[0], same, "%r vs %r" % (g, r))

    p = sql(["--format", "csv", store, "PRAGMA table_info(connections)"])
    got = list(csv.reader(io.StringIO(p.stdout)))
    check("pragma table_info", p.returncode == 0 and got and got[0][:3] == ["cid", "name", "type"]
          and any(row[1] == "bytes_in" for row in got[1:]), "%r" % got[:3])
    check("after the queries", snapshot(store) == before and os.listdir(cwd) == [],
          "store or cwd changed: %s %s" % (sorted(snapshot(store)), os.listdir(cwd)))

    for f in fails:
        print("FAIL: " + f)
    if fails:
        return 1
    print("PASS: %d refusals, usage errors, table/csv/json on %d connections" %
          (nrefused[0], want))
    return 0


if __name__ == "__main__":
    sys.exit(main())
