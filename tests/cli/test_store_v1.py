#!/usr/bin/python3
"""A store written by the schema-1 build still answers, read as it is or migrated.

tests/data/store-v1 was recorded by the first store format while a generator
sent known bytes (truth.json); expected/ holds that build's answers. The store
is copied (never opened in place) and:
  --case read     read as it is by today's analyzer (any user): top, top by
                  process and remote port, a window, events: the same rows as
                  expected/, and the generator's bytes, datagrams and refused
                  connect;
  --case migrate  opened by today's recorder (root: it records 2 s into it),
                  which migrates the index: the same answers for the old
                  recording, and the new recording appended.
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402
from ttharness import check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "store-v1")
END = "2026-12-03 15:52:21"  # after the old recording, before any new one

def run(ana, *args):
    p = subprocess.run([ana] + list(args), capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise h.Failed("%s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
    return [json.loads(l) for l in p.stdout.splitlines()]


def expected(name):
    with open(os.path.join(DATA, "expected", name)) as f:
        return [json.loads(l) for l in f]


def answers(ana, store, migrated):
    # the old recording alone; once a new one follows, the window is given and
    # is longer than the recording by a second: only the average rates differ
    win = ["--to", END, "--utc"] if migrated else []
    return {
        "top.json": run(ana, "top", "-n", "100", "--format", "json", *win, store),
        "top_process_rport.json": run(ana, "top", "-n", "100", "--group-by",
                                      "process,remote-port", "--format", "json", *win, store),
        "top_window.json": run(ana, "top", "-n", "100", "--format", "json", "--from",
                               "2026-12-03 15:52:12", "--to", "2026-12-03 15:52:16", "--utc",
                               store),
        "events.json": run(ana, "events", "--format", "json", *win, store),
    }


def no_rates(rows):
    return [{k: v for k, v in r.items() if k not in ("rate_in", "rate_out")} for r in rows]


def check_answers(got, migrated):
    for name, rows in got.items():
        want = expected(name)
        if migrated and name != "top_window.json":
            rows, want = no_rates(rows), no_rates(want)
        check(rows == want, "%s: %d rows, want %d as the v1 build answered%s" % (
            name, len(rows), len(want),
            "" if len(rows) != len(want) else ": first difference " + next(
                ("%s / %s" % (a, b) for a, b in zip(rows, want) if a != b), "")))
    with open(os.path.join(DATA, "truth.json")) as f:
        truth = json.load(f)
    top = got["top.json"]
    for c in truth["tcp"]:
        client = [r for r in top if r["proto"] == "tcp" and r["lport"] == c["lport"]]
        server = [r for r in top if r["proto"] == "tcp" and r["rport"] == c["lport"]]
        check(len(client) == 1 and client[0]["bytes_out"] == c["sent"]
              and client[0]["bytes_in"] == c["recv"],
              "tcp client port %d: want out %d in %d, got %s" % (c["lport"], c["sent"], c["recv"],
                                                                 client))
        check(len(server) == 1 and server[0]["bytes_in"] == c["sent"]
              and server[0]["bytes_out"] == c["recv"],
              "tcp server end of %d: got %s" % (c["lport"], server))
    for u in truth["udp"]:
        cl = [r for r in top if r["proto"] == "udp" and r["lport"] == u["client_port"]]
        check(len(cl) == 1 and cl[0]["bytes_out"] == u["client_sent"]
              and cl[0]["bytes_in"] == u["client_recv"]
              and cl[0]["packets_out"] == u["datagrams_each_way"],
              "udp client %d: got %s" % (u["client_port"], cl))
    for r in truth["refused"]:
        ev = [e for e in got["events.json"] if e["event"] == "close" and e["lport"] == r["lport"]]
        check(len(ev) == 1 and "ECONNREFUSED" in ev[0]["detail"],
              "refused connect from %d: got %s" % (r["lport"], ev))


def options(ap):
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--recorder", required=True)
    ap.add_argument("--case", choices=("read", "migrate"), required=True)


def main(t):
    a = t.args
    tmp = t.tmpdir("v1")
    store = os.path.join(tmp, "store")
    shutil.copytree(DATA, store)
    if a.case == "read":
        check_answers(answers(a.analyzer, store, False), False)
        info = subprocess.run([a.analyzer, "info", store], capture_output=True, text=True)
        check("schema v1" in info.stdout, "info names the schema: %s" % info.stdout[:200])
    else:
        if os.geteuid() != 0:
            raise h.Skip("migrating needs the recorder, which needs root")
        p = subprocess.run([a.recorder, "-o", store, "-q", "-d", "2s"], capture_output=True,
                           text=True, timeout=60)
        if p.returncode == 77:
            raise h.Skip("the recorder cannot run here: " + p.stderr.strip())
        check(p.returncode == 0, "recorder exit %d: %s" % (p.returncode, p.stderr))
        info = subprocess.run([a.analyzer, "info", store], capture_output=True, text=True)
        check("schema v3" in info.stdout and "#2" in info.stdout,
              "migrated, with a second recording: %s" % info.stdout[:300])
        check_answers(answers(a.analyzer, store, True), True)


if __name__ == "__main__":
    h.run("store_v1", main, options, root=False)
