#!/usr/bin/python3
"""tcptop-record's live view in tmux (lib/view.c), driven while it records.

A real recorder with a store runs on a 200x50 terminal; a TCP server on a
fixed port below the ephemeral range and a client with a known number of
bytes each way (ttgen) make the connection the test knows. Then:
- the header says where it records and what it keeps; the client's row shows
  the bytes it sent and read;
- every key while it records: s and the column keys sort; / filters by name
  and by port, an empty line clears; v groups by process, remote host and
  service port (the server's port, both ends: CONNS 2 and their sums); ?
  shows the help; space pauses (the time stands still, PAUSED (still
  recording)) and a second client that runs while the view is paused is not
  drawn, then is once resumed;
- resized to 80x24 mid-run: RX/s TX/s RX TX in the column header, the
  client's bytes whole, no line wider than 80;
- q stops the recorder (exit 0), and the store has both clients' connections
  with exactly the generator's bytes: keys never stopped the recording.
"""
import json
import os
import subprocess
import tempfile
import time

import ttharness as h
import ttstore as ts
from ttharness import fmt_bytes


def rows_of(s, needle=""):
    lines = s.splitlines()
    head = next((i for i, ln in enumerate(lines) if "RX/s" in ln), None)
    if head is None:
        return []
    return [ln for ln in lines[head + 1:-1] if ln.strip() and needle in ln]


def first_line(s):
    return s.splitlines()[0] if s.strip() else ""


def clock(s):
    """The header's time (and tick), which moves at every tick unless paused."""
    parts = first_line(s).split("UTC")
    return parts[0] if len(parts) > 1 else None


def main(t):
    me = os.getpid() % 100000
    store = tempfile.mkdtemp(prefix="ttlv-")
    errf = tempfile.NamedTemporaryFile(prefix="ttlv-err-", delete=False).name
    t.cleanup(lambda: subprocess.run(["rm", "-rf", store, errf]))
    cname, dname, sname = "ttlC%d" % me, "ttlD%d" % me, "ttlS%d" % me
    port = 20000 + me % 10000  # below 32768: the service port, whatever the heuristic
    OUT, IN, HOLD = 300000, 20000, 25000  # the hold outlasts every key below
    OUT2, IN2 = 50000, 7000

    tm = h.Tmux(t, "%s -o %s --interval 250ms --flush 1s 2>%s" % (t.args.recorder, store, errf),
                200, 50, tag="ttlv")
    s = tm.wait(lambda s: "tick" in first_line(s), 30)
    t.require("tick" in first_line(s), "the live view starts:\n%s\n%s" %
              (s, open(errf).read()))
    t.check("recording into %s, keeping " % os.path.realpath(store) in s.splitlines()[1],
            "the header says where it records and what it keeps: %r" % s.splitlines()[1])
    t.check("losses: none" in s, "the header says the losses:\n%s" % s)

    srv = t.gen("tcp-server", ["--port", port, "--conns", 2], sname)
    srv.expect("ready")
    cli = t.gen("tcp-client", ["--host", "127.0.0.1", "--port", port, "--conn",
                               "%d:%d:%d" % (OUT, IN, HOLD)], cname)
    cli.expect("ready")

    def client_row(s):
        return [ln for ln in rows_of(s, cname) if fmt_bytes(OUT) in ln and fmt_bytes(IN) in ln]

    s = tm.wait(client_row, 15)
    t.require(client_row(s), "the client's row shows TX %s RX %s:\n%s" %
              (fmt_bytes(OUT), fmt_bytes(IN), s))
    r = client_row(s)[0]
    t.check(r.find(fmt_bytes(IN)) < r.rfind(fmt_bytes(OUT)), "RX before TX: %r" % r)
    t.check((":%d " % port) in r, "the client's row has the server's port: %r" % r)

    # sort
    for key, name in (("s", "bytes"), ("x", "retrans"), ("d", "duration"), ("r", "rate"),
                      ("b", "bytes")):
        tm.keys(key)
        s = tm.wait(lambda s: "sort: " + name in s)
        t.check("sort: " + name in s, "%s sorts by %s" % (key, name))
    # filter by name, by port, cleared
    tm.keys("/")
    tm.type(cname)
    tm.keys("Enter")
    s = tm.wait(lambda s: "filter: " + cname in s)
    t.check(rows_of(s) and all(cname in ln for ln in rows_of(s)),
            "the name filter leaves the client's row: %r" % rows_of(s))
    tm.keys("/")
    tm.type(str(port))
    tm.keys("Enter")
    s = tm.wait(lambda s: "filter: %d" % port in s and len(rows_of(s)) == 2)
    t.check(len(rows_of(s)) == 2 and all(":%d " % port in ln for ln in rows_of(s)),
            "the port filter leaves both ends: %r" % rows_of(s))
    # group, with the port filter on: process, remote host, service port
    tm.keys("v")
    s = tm.wait(lambda s: "group: process" in s)
    for n in (cname, sname):
        r = [ln for ln in rows_of(s) if ln.startswith(n + " ")]
        t.check(len(r) == 1 and r[0].split()[1] == "1", "one process line for %s, 1 conn: %r"
                % (n, r))
    tm.keys("v")
    s = tm.wait(lambda s: "group: remote host" in s)
    r = [ln for ln in rows_of(s) if ln.startswith("127.0.0.1 ")]
    t.check(len(r) == 1 and r[0].split()[1] == "2", "one remote host line, 2 conns: %r" % r)
    tm.keys("v")
    s = tm.wait(lambda s: "group: service port" in s)
    r = [ln for ln in rows_of(s) if ln.startswith("tcp/%d " % port)]
    if t.check(len(r) == 1, "one service port line tcp/%d:\n%s" % (port, s)):
        t.eq("service port: both ends", r[0].split()[1], "2")
        t.check(fmt_bytes(OUT + IN) in r[0], "service port: RX and TX of both ends, %s: %r"
                % (fmt_bytes(OUT + IN), r[0]))
    tm.keys("v")
    s = tm.wait(lambda s: "group: connection" in s)
    tm.keys("/", "Enter")
    s = tm.wait(lambda s: "filter: none" in s)
    t.check("filter: none" in s, "an empty filter line clears")
    tm.keys("?")
    s = tm.wait(lambda s: "group rows" in s)
    t.check("group rows" in s, "? shows the help")
    tm.keys("Escape")
    s = tm.wait(lambda s: "group rows" not in s)
    t.check("group rows" not in s, "Escape closes the help")

    # pause: the view stands still, the recorder does not
    tm.keys("Space")
    s = tm.wait(lambda s: "PAUSED (still recording)" in first_line(s))
    t.check("PAUSED (still recording)" in first_line(s), "space pauses: %r" % first_line(s))
    c0 = clock(s)
    cli2 = t.gen("tcp-client", ["--host", "127.0.0.1", "--port", port, "--conn",
                                "%d:%d:0" % (OUT2, IN2)], dname)
    res2 = cli2.finish()
    time.sleep(1.0)
    s = tm.screen()
    t.eq("paused: the clock stands still", clock(s), c0)
    t.check(dname not in s, "paused: a new connection is not drawn")
    tm.keys("p")
    s = tm.wait(lambda s: clock(s) not in (None, c0) and "PAUSED" not in first_line(s))
    t.check(clock(s) not in (None, c0), "p resumes: %r" % first_line(s))

    # resized to 80x24 mid-run
    tm.keys("/")
    tm.type(cname)
    tm.keys("Enter")
    tm.resize(80, 24)
    s = tm.wait(lambda s: len(s.splitlines()) <= 24 and client_row(s))
    lines = s.splitlines()
    head = next((ln for ln in lines if "RX/s" in ln), "")
    t.check(all(c in head.split() for c in ("RX/s", "TX/s", "RX", "TX")),
            "at 80 columns the header has RX/s TX/s RX TX: %r" % head)
    t.check(client_row(s), "at 80x24 the client's row shows TX %s RX %s:\n%s"
            % (fmt_bytes(OUT), fmt_bytes(IN), s))
    t.check(max(len(ln) for ln in lines) <= 80, "nothing wider than 80 columns")

    res = cli.finish(timeout=HOLD / 1000.0 + 20)
    srv.finish()
    time.sleep(1.0)
    tm.keys("q")
    s = tm.wait(lambda s: "EXITED:" in s, 15)
    t.check("EXITED:0" in s, "q stops the recorder with exit 0:\n%s" % s)
    err = open(errf).read()
    t.check(not h.sanitizer_report(err), "recorder stderr: sanitizer report:\n%s" % err)

    # the store has what the generator did, keys and pause notwithstanding
    p = t.analyze("top", "-n", 100, "--group-by", "conn", "--comm", "ttl[CD]%d" % me,
                   "--format", "json", store)
    t.require(p.returncode == 0, "top on the store: %s" % p.stderr)
    rows = {r["comm"]: r for r in (json.loads(x) for x in p.stdout.splitlines())}
    for n, c in ((cname, res["conns"][0]), (dname, res2["conns"][0])):
        r = rows.get(n)
        if t.check(r is not None, "the store has %s's connection: %r" % (n, list(rows))):
            t.eq("%s: bytes_out in the store" % n, r["bytes_out"], c["sent"])
            t.eq("%s: bytes_in in the store" % n, r["bytes_in"], c["recv"])
            t.eq("%s: port" % n, r["rport"], port)
    t.eq("the client sent what it was asked", res["conns"][0]["sent"], OUT)
    t.eq("the second client sent what it was asked", res2["conns"][0]["sent"], OUT2)
    ts.verify(t, store, "after the live view")


if __name__ == "__main__":
    h.run("live_view", main)
