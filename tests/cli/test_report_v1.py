#!/usr/bin/python3
"""tcptop-analyze report on the golden store (no root, no browser needed).

A copy of tests/data/store-v1 (a generator's known traffic, truth.json) is
reported on, and the HTML read back with Python's parser:
- failed connects by errno and destination hold truth.json's refused connect
  (errno, destination, one attempt), as `events` closes it;
- the by-service-port table equals `top --group-by service-port`, and the
  resets table the groups of `top --group-by remote-host,service-port` that
  had a reset;
- --baseline FROM..TO shows the rows `diff` prints for the same two windows
  (the command line the report shows); a malformed or outside baseline is one
  line and exit 2 or 1, and leaves no file behind.
"""
import html.parser
import json
import os
import shlex
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402
from ttharness import check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "store-v1")

def run(ana, *args):
    p = subprocess.run([ana] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


def jrows(ana, *args):
    rc, out, err = run(ana, *args, "--format", "json")
    if rc != 0:
        raise h.Failed("%s: exit %d: %s" % (" ".join(map(str, args)), rc, err))
    return [json.loads(x) for x in out.splitlines()]


class Tables(html.parser.HTMLParser):
    """Rows of every table with an id: their data- attributes and data-k cells; code by id."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables, self.codes = {}, {}
        self._t = self._row = self._code = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._t = self.tables.setdefault(a["id"], [])
        elif tag == "tr" and self._t is not None and "data-rank" in a:
            self._row = {"attrs": a, "cells": {}}
            self._t.append(self._row)
        elif tag == "td" and self._row is not None and "data-k" in a:
            self._row["cells"][a["data-k"]] = a.get("data-v")
        elif tag == "code" and a.get("id"):
            self._code = a["id"]
            self.codes[self._code] = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._t = None
        elif tag == "tr":
            self._row = None
        elif tag == "code":
            self._code = None

    def handle_data(self, data):
        if self._code:
            self.codes[self._code] += data


def report(ana, path, *args):
    rc, out, err = run(ana, "report", "-o", path, *args)
    if rc != 0:
        raise h.Failed("report %s: exit %d: %s" % (" ".join(args), rc, err))
    p = Tables()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    return p


def num(v):
    return None if v is None else float(v)


def options(ap):
    ap.add_argument("--analyzer", required=True)


def main(t):
    a = t.args
    ana = a.analyzer
    tmp = t.tmpdir("rpv1")
    store = os.path.join(tmp, "store")
    shutil.copytree(DATA, store)
    with open(os.path.join(DATA, "truth.json")) as f:
        truth = json.load(f)
    d = report(ana, os.path.join(tmp, "r.html"), "--utc", store)

    closes = [e for e in jrows(ana, "events", "--type", "close", store)
              if e["detail"].startswith("failed")]
    fails = d.tables.get("table-failed", [])
    for r in truth["refused"]:
        row = [x for x in fails if x["attrs"].get("data-rport") == str(r["rport"])]
        check(len(row) == 1 and row[0]["attrs"].get("data-err") == str(r["errno"])
              and row[0]["attrs"].get("data-raddr") == "127.0.0.1"
              and num(row[0]["cells"].get("count")) == 1,
              "failed connects: the refused connect to port %d: %r" % (r["rport"], fails))
    check(sum(num(x["cells"]["count"]) for x in fails) == len(closes),
          "failed connects: as many as events closes as failed (%d): %r" %
          (len(closes), fails))

    want = jrows(ana, "top", "-n", 10, "--group-by", "service-port", store)
    got = d.tables.get("table-sport", [])
    check(len(got) == len(want), "by service port: %d rows, top has %d" % (len(got), len(want)))
    for g, w in zip(got, want):
        for k in ("proto", "service_port"):
            check(g["attrs"].get("data-" + k) == str(w[k]),
                  "by service port %s: %s %r, top %r" % (w["service_port"], k,
                                                          g["attrs"].get("data-" + k), w[k]))
        for k in ("conns", "bytes_in", "bytes_out", "retransmits", "resets"):
            check(num(g["cells"].get(k)) == w[k],
                  "by service port %s: %s %s, top %s" % (w["service_port"], k,
                                                         g["cells"].get(k), w[k]))

    want = {(w["raddr"], w["service_port"]): w
            for w in jrows(ana, "top", "-n", 1000, "--group-by", "remote-host,service-port",
                           store) if w["resets"] > 0}
    got = {(x["attrs"]["data-raddr"], int(x["attrs"]["data-service_port"])): x
           for x in d.tables.get("table-resets", [])}
    check(sorted(got) == sorted(want) and all(
        num(got[k]["cells"]["resets"]) == w["resets"] for k, w in want.items()),
          "resets by peer and port: %r, top: %r" % (sorted(got), sorted(want)))

    d = report(ana, os.path.join(tmp, "b.html"), "--utc", "--baseline",
               "start..start+4s", "--from", "start+4s", store)
    cmd = shlex.split(d.codes.get("meta-diff-command", ""))
    check(cmd[:2] == ["tcptop-analyze", "diff"], "a diff command line: %r" % cmd)
    if cmd[:2] == ["tcptop-analyze", "diff"]:
        want = jrows(ana, *cmd[1:])
        got = d.tables.get("table-diff", [])
        check(len(got) == len(want) and len(got) >= 1,
              "baseline: %d rows, diff has %d" % (len(got), len(want)))
        for g, w in zip(got, want):
            check(g["attrs"].get("data-raddr") == w["raddr"] and
                  g["attrs"].get("data-change") == w["change"],
                  "baseline row: %r, diff %r" % (g["attrs"], w))
            for k in ("bytes_base", "bytes_window", "conns_base", "conns_window",
                      "retransmits_base", "retransmits_window"):
                check(num(g["cells"].get(k)) == w[k],
                      "baseline %s: %s %s, diff %s" % (w["raddr"], k, g["cells"].get(k),
                                                       w[k]))
            for k in ("rate_base", "rate_window", "rate_delta"):
                check(abs(num(g["cells"].get(k)) - w[k]) <= 0.051,
                      "baseline %s: %s %s, diff %s" % (w["raddr"], k, g["cells"].get(k),
                                                       w[k]))

    out = os.path.join(tmp, "out")
    os.mkdir(out)
    for label, spec, code in (("malformed", "start..soon", 2), ("no dots", "start", 2),
                              ("backwards", "start+4s..start", 2),
                              ("outside", "@1000..@2000", 1)):
        rc, _, err = run(ana, "report", "-o", os.path.join(out, "x.html"), "--baseline",
                         spec, store)
        check(rc == code and err.startswith("tcptop-analyze: report: --baseline: ")
              and len(err.strip().splitlines()) == 1,
              "--baseline %s (%s): exit %d, want %d, one line: %r" % (spec, label, rc, code,
                                                                      err))
    check(os.listdir(out) == [], "nothing left behind: %r" % os.listdir(out))


if __name__ == "__main__":
    h.run("report_v1", main, options, root=False)
