#!/usr/bin/python3
"""tcptop-record --ship: live shipping survives the server being down.

The recorder starts with --ship pointing at a loopback port where no
ClickHouse listens yet. A loopback TCP transfer of a known size happens; the
recorder says once that shipping fails, and records on. Then clickhouse-server
starts there (a plain process, ttclickhouse); shipping catches up (said once)
and the first transfer arrives. A second transfer, then SIGINT: the last
blocks are shipped on the way out. Checks against what the test itself sent
and against the store:
  - both transfers' bytes, summed in ClickHouse, are what was sent;
  - top and events --clickhouse == top and events over the store (json, field
    for field);
  - every table holds one copy of every row: counts and sums equal to a
    one-shot export of the store into another database.
"""
import os
import shutil
import socket
import threading
import time

import ttclickhouse as tc
import ttharness as h


def transfer(nbytes):
    """One loopback TCP connection: nbytes from client to server; (cport, sport)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = []

    def serve():
        c, _ = srv.accept()
        n = 0
        while True:
            b = c.recv(65536)
            if not b:
                break
            n += len(b)
        got.append(n)
        c.close()

    th = threading.Thread(target=serve)
    th.start()
    cl = socket.create_connection(srv.getsockname())
    cport = cl.getsockname()[1]
    cl.sendall(b"x" * nbytes)
    cl.close()
    th.join(10)
    sport = srv.getsockname()[1]
    srv.close()
    return cport, sport, got[0] if got else -1


def sent_to(server, sport, db):
    out = server.q("SELECT sum(bytes_out) FROM (SELECT bytes_out, ts, host, rec, conn_id,"
                   " open_mono FROM tt_ticks FINAL WHERE rport = %d AND laddr = '127.0.0.1')"
                   % sport, db).strip()
    return int(out or 0)


def analyze(t, args):
    p = t.analyze(*args, timeout=120)
    t.eq("%s: exit (%s)" % (" ".join(args[:2]), p.stderr.strip()), p.returncode, 0)
    return p.stdout


def main(t):
    if not tc.available():
        raise h.Skip("%s is not installed (apt-get install clickhouse-server)" % tc.SERVER)
    tmp = t.tmpdir("ship")
    http, tcp = h.free_port(), h.free_port()
    ch = tc.Server(os.path.join(tmp, "ch"), http, tcp, [tcp], start=False)
    t.cleanup(ch.stop)
    url = "http://127.0.0.1:%d/" % http
    store = os.path.join(tmp, "store")
    r = t.recorder(interval="200ms", extra=["-o", store, "--flush", "400ms", "--ship", url])
    r.start()

    _, sport1, got1 = transfer(300000)
    t.eq("first transfer received", got1, 300000)
    deadline = time.monotonic() + 20
    while "shipping to" not in r.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    t.check("shipping to %s failed" % url in r.stderr_text(),
            "the recorder says shipping fails while the server is down: %r" % r.stderr_text())
    time.sleep(1.0)  # a few more blocks sealed with the server down

    ch.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if sent_to(ch, sport1, "default") >= 300000:
                break
        except OSError:
            pass  # the tables are not there yet
        time.sleep(0.3)
    t.eq("first transfer's bytes in ClickHouse after the server came up",
         sent_to(ch, sport1, "default"), 300000)
    deadline = time.monotonic() + 10  # said after the pass, at the next tick
    while "caught up" not in r.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    t.check("caught up" in r.stderr_text(),
            "the recorder says shipping caught up: %r" % r.stderr_text())

    _, sport2, got2 = transfer(450000)
    t.eq("second transfer received", got2, 450000)
    time.sleep(0.6)
    r.stop()
    t.eq("second transfer's bytes in ClickHouse after the stop",
         sent_to(ch, sport2, "default"), 450000)

    local = analyze(t, ["top", "--format", "json", "-n", "100000", store])
    fleet = analyze(t, ["top", "--format", "json", "-n", "100000", "--clickhouse", url])
    diff = [(a, b) for a, b in zip(local.splitlines(), fleet.splitlines()) if a != b]
    t.check(local == fleet and local, "fleet top == the store's top (%d and %d lines; first"
            " difference %r)" % (len(local.splitlines()), len(fleet.splitlines()), diff[:1]))

    local = analyze(t, ["events", "--format", "json", store])
    fleet = analyze(t, ["events", "--format", "json", "--clickhouse", url])
    t.check(local == fleet and local, "fleet events == the store's events (%d and %d lines)" %
            (len(local.splitlines()), len(fleet.splitlines())))

    ch.q("CREATE DATABASE ref")
    ref = os.path.join(tmp, "ref")
    shutil.copytree(store, ref)
    analyze(t, ["export", ref, "--clickhouse", url + "?database=ref"])
    for db in ("default", "ref"):
        for tab in ("tt_ticks", "tt_events", "tt_conns", "tt_recordings"):
            ch.q("OPTIMIZE TABLE %s FINAL" % tab, db)
    for tab, cols in (("tt_ticks", "count(), sum(bytes_in), sum(bytes_out), sum(packets_in)"),
                      ("tt_events", "count(), sum(new_state)"),
                      ("tt_conns", "count(), sum(bytes_in), sum(bytes_out), sum(close_ns % 1000)"),
                      ("tt_recordings", "count(), sum(end_ns), sum(clean_stop)")):
        got = ch.q("SELECT %s FROM %s" % (cols, tab), "default").split()
        want = ch.q("SELECT %s FROM %s" % (cols, tab), "ref").split()
        t.check(got == want and int(want[0]) > 0,
                "%s: one copy of every row (shipped %s, one-shot export %s)" % (tab, got, want))


if __name__ == "__main__":
    h.run("fleet_ship", main)
