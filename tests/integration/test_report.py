#!/usr/bin/python3
"""tcptop-analyze report: a real recording, rendered by a real browser.

Three ttgen pairs (TCP, both ends in one process, distinct names) and one
child whose process name is hostile HTML with bytes that are not UTF-8 (it
ends its connection with a reset) are recorded into a store. Then:
- the report renders in headless Chromium; in the DOM after rendering every
  chart has data (points of lines, bars, lifetime bars) and every table rows;
- the report of the generator's processes (--comm) has each connection end
  and each process with the generator's exact bytes, and the reset;
- every table row equals, rank by rank, `top --format json` for the same
  window (by connection, process and remote host; whole recording, --last,
  and the report's own "same tables" command line), unfiltered too, with
  whatever else this machine did meanwhile;
- the hostile name is text, never markup; the file fetches nothing (no
  http(s) reference, no script); an existing -o file is refused without
  --force and replaced with it; bad input is one line and an exit code, and
  leaves neither the file nor a temporary one.
Needs root (the recorder) and Chromium (`chromium`, installed by
quickstart.sh); without either it says SKIPPED and exits 77.
TTREPORT_SAMPLE=FILE.png keeps the screenshot (and the report beside it).
"""
import html.parser
import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import ttharness as h

NAME_BYTES = b"ttr<b>&\"'\xff\x01z"  # markup, quotes, a byte that is not UTF-8, a control byte

# a TCP pair under a hostile process name: known bytes, then a reset (SO_LINGER 0)
HOSTILE = r'''
import ctypes, json, socket, struct, sys, time
ctypes.CDLL(None).prctl(15, ctypes.c_char_p(bytes.fromhex(sys.argv[1])), 0, 0, 0)
n_out, n_back = int(sys.argv[2]), int(sys.argv[3])
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
c = socket.create_connection(ls.getsockname(), timeout=15); s, _ = ls.accept(); ls.close()
s.settimeout(15)
def pump(a, b, n):
    a.sendall(b"x" * n)
    got = 0
    while got < n:
        got += len(b.recv(65536))
pump(c, s, n_out)
pump(s, c, n_back)
tup = lambda k: dict(zip(("laddr", "lport", "raddr", "rport"), k.getsockname() + k.getpeername()))
out = {"pid": __import__("os").getpid(), "client": tup(c), "server": tup(s)}
time.sleep(0.3)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
time.sleep(0.3)
s.close()
print(json.dumps(out), flush=True)
'''


def html_view(raw):
    """How the report shows a name: valid UTF-8 as is, other bytes and controls as \\xNN."""
    out, i = [], 0
    while i < len(raw):
        c = raw[i]
        if 0x20 <= c < 0x7f:
            out.append(chr(c))
            i += 1
            continue
        if c >= 0x80:
            for n in (4, 3, 2):
                try:
                    out.append(raw[i:i + n].decode("utf-8"))
                    i += n
                    break
                except UnicodeDecodeError:
                    continue
            else:
                out.append("\\x%02x" % c)
                i += 1
            continue
        out.append("\\x%02x" % c)
        i += 1
    return "".join(out) or "?"


def json_comm(s):
    """top's JSON writes each byte >= 0x7f as \\u00XX: back to the bytes, then as the report shows them."""
    return html_view(s.encode("latin-1")) if s != "?" else "?"


class Dom(html.parser.HTMLParser):
    """What the checks need from the rendered DOM: charts, tables, cards, tags."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = set()
        self.svgs = {}  # id -> {"series": {name: {"points": n, "bars": n}}, "bars": n}
        self.tables = {}  # id -> [{"attrs": {...}, "cells": {key: value or None}, "comm": text}]
        self.cards = {}
        self.command = ""
        self.texts = []
        self._svg = self._table = self._row = self._cell = None
        self._gs = []
        self._in_comm = self._in_cmd = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        cls = (a.get("class") or "").split()
        if tag == "svg" and a.get("id"):
            self._svg = self.svgs.setdefault(a["id"], {"series": {}, "bars": 0})
        elif tag == "g" and self._svg is not None:
            name = a.get("data-series") or (cls[1] if "series" in cls and len(cls) > 1 else None)
            if "series" in cls:
                self._svg["series"].setdefault(name, {"points": 0, "bars": 0})
            self._gs.append(name if "series" in cls else None)
        elif tag in ("polyline", "circle", "rect") and self._svg is not None:
            ser = next((g for g in reversed(self._gs) if g is not None), None)
            pts = len(a.get("points", "").split()) if tag == "polyline" else 1
            if tag == "rect" and "bar" in cls:
                self._svg["bars"] += 1
            if ser is not None:
                key = "bars" if tag == "rect" else "points"
                self._svg["series"][ser][key] += pts
        elif tag == "table" and a.get("id"):
            self._table = self.tables.setdefault(a["id"], [])
        elif tag == "tr" and self._table is not None and "data-rank" in a:
            self._row = {"attrs": a, "cells": {}, "comm": ""}
            self._table.append(self._row)
        elif tag == "td" and self._row is not None:
            if "data-k" in a:
                self._row["cells"][a["data-k"]] = a.get("data-v")
            self._in_comm = "comm" in cls
        elif tag == "div" and "card" in cls and a.get("id"):
            self.cards[a["id"]] = a.get("data-v")
        elif tag == "code" and a.get("id") == "meta-command":
            self._in_cmd = True

    def handle_endtag(self, tag):
        if tag == "svg":
            self._svg = None
            self._gs = []
        elif tag == "g" and self._gs:
            self._gs.pop()
        elif tag == "table":
            self._table = None
        elif tag == "tr":
            self._row = None
        elif tag == "td":
            self._in_comm = False
        elif tag == "code":
            self._in_cmd = False

    def handle_data(self, data):
        self.texts.append(data)
        if self._in_comm and self._row is not None:
            self._row["comm"] += data
        if self._in_cmd:
            self.command += data


def analyzer(t):
    path = os.path.normpath(os.path.join(os.path.dirname(t.args.recorder), "..", "analyze",
                                         "tcptop-analyze"))
    t.require(os.access(path, os.X_OK), "tcptop-analyze next to the recorder: %s" % path)
    return path


def run(ana, *args):
    p = subprocess.run([ana] + [str(a) for a in args], capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def jrows(t, ana, *args):
    rc, out, err = run(ana, *args, "--format", "json")
    t.require(rc == 0, "tcptop-analyze %s: exit %d: %s" % (" ".join(map(str, args)), rc, err))
    return [json.loads(x) for x in out.splitlines()]


class Chromium:
    def __init__(self, t, exe):
        self.t = t
        self.exe = exe

    def _run(self, url, *extra):
        prof = tempfile.mkdtemp(prefix="ttchrome-")
        try:
            p = subprocess.run([self.exe, "--headless", "--no-sandbox", "--disable-gpu",
                                "--disable-dev-shm-usage", "--disable-background-networking",
                                "--disable-component-update", "--disable-sync",
                                "--no-first-run", "--user-data-dir=" + prof] + list(extra) +
                               [url], capture_output=True, timeout=90)
        finally:
            shutil.rmtree(prof, ignore_errors=True)
        return p

    def dom(self, path):
        p = self._run("file://" + os.path.abspath(path), "--dump-dom")
        self.t.require(p.returncode == 0 and p.stdout,
                       "chromium --dump-dom %s: exit %d: %s" %
                       (path, p.returncode, p.stderr.decode("utf-8", "replace")[-800:]))
        d = Dom()
        d.feed(p.stdout.decode("utf-8", "replace"))
        return d

    def screenshot(self, path, png):
        p = self._run("file://" + os.path.abspath(path), "--screenshot=" + png,
                      "--window-size=1400,3000", "--hide-scrollbars")
        self.t.require(p.returncode == 0 and os.path.exists(png),
                       "chromium --screenshot: exit %d: %s" %
                       (p.returncode, p.stderr.decode("utf-8", "replace")[-800:]))


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def num(v):
    return None if v is None else float(v)


METRICS = ("bytes_in", "bytes_out", "peak_rate_in", "peak_rate_out", "rtt_us", "rtt_max_us",
           "retransmits", "resets", "duration")
KEYS = {"table-conn": ("proto", "laddr", "lport", "raddr", "rport", "pid", "comm"),
        "table-process": ("comm",), "table-rhost": ("raddr",)}
GROUPS = {"table-conn": "conn", "table-process": "process", "table-rhost": "remote-host"}


def same_as_top(t, label, dom, ana, args, store, n=10):
    """Every table of the report equals top's JSON for the same window, rank by rank."""
    for tid, group in GROUPS.items():
        want = jrows(t, ana, "top", "-n", n, "--group-by", group, *args, store)
        got = dom.tables.get(tid)
        if not t.check(got is not None, "%s: a table %s" % (label, tid)):
            continue
        t.eq("%s %s: rows" % (label, tid), len(got), len(want))
        for i, (g, w) in enumerate(zip(got, want)):
            where = "%s %s row %d" % (label, tid, i + 1)
            for k in KEYS[tid]:
                gv = g["attrs"].get("data-" + k)
                wv = json_comm(w[k]) if k == "comm" else str(w[k])
                t.eq("%s: %s" % (where, k), gv, wv)
            for k in METRICS + (() if group == "conn" else ("conns",)):
                t.eq("%s: %s" % (where, k), num(g["cells"].get(k)), num(w.get(k)))
    return want


def check_charts(t, label, dom, nconns, resets):
    svgs = dom.svgs
    for sid in ("chart-bandwidth", "chart-conn-rates", "chart-rtt", "chart-new-resets",
                "chart-lifetimes"):
        t.check(sid in svgs, "%s: an svg #%s" % (label, sid))
    bw = svgs.get("chart-bandwidth", {"series": {}})["series"]
    t.eq("%s: bandwidth series" % label, sorted(bw), ["0", "1"])
    for k, s in bw.items():
        t.ge("%s: bandwidth series %s points" % (label, k), s["points"], 2)
    cr = svgs.get("chart-conn-rates", {"series": {}})["series"]
    t.eq("%s: connection rate lines" % label, len(cr), min(nconns, 10))
    for k, s in cr.items():
        t.ge("%s: connection line %s points" % (label, k), s["points"], 1)
    rtt = svgs.get("chart-rtt", {"series": {}})["series"]
    t.ge("%s: RTT lines" % label, len(rtt), 1)
    t.ge("%s: RTT points" % label, sum(s["points"] for s in rtt.values()), 1)
    nr = svgs.get("chart-new-resets", {"series": {}})["series"]
    t.ge("%s: new-connection bars" % label, nr.get("new", {}).get("bars", 0), 1)
    if resets:
        t.ge("%s: reset bars" % label, nr.get("reset", {}).get("bars", 0), 1)
    t.eq("%s: lifetime bars" % label, svgs.get("chart-lifetimes", {"bars": 0})["bars"],
         min(nconns, 10))


def main(t):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise h.Skip("Chromium is not installed (apt-get install chromium; quickstart.sh "
                     "installs it): the report is checked as a browser renders it")
    chrome = Chromium(t, exe)
    me = os.getpid() % 100000
    work = tempfile.mkdtemp(prefix="ttreport-")
    t.cleanup(lambda: shutil.rmtree(work, ignore_errors=True))
    store = os.path.join(work, "store")
    ana = analyzer(t)
    sizes = {"a": ("200000:20000", "400000:40000"), "b": ("100000:10000", "50000:5000"),
             "c": ("30000:3000", "10000:1000")}
    names = {k: "ttr%s%d" % (k, me) for k in sizes}
    hostile = NAME_BYTES

    rec = t.recorder(interval="250ms", extra=["-o", store, "--flush", "1s"])
    rec.start()
    gens = {k: t.gen("pair", ["--proto", "tcp", "--before", b, "--after", a, "--hold", 300],
                     names[k]) for k, (b, a) in sizes.items()}
    first = {k: g.expect("phase1") for k, g in gens.items()}
    time.sleep(0.6)
    for g in gens.values():
        g.say("go")
    p = subprocess.run([sys.executable, "-c", HOSTILE, hostile.hex(), "70000", "7000"],
                       capture_output=True, timeout=30)
    t.require(p.returncode == 0, "the hostile-name child: %s" % p.stderr.decode()[-500:])
    hres = json.loads(p.stdout)
    res = {k: g.finish() for k, g in gens.items()}
    tuples = [tuple(r[e][x] for x in ("laddr", "lport", "raddr", "rport"))
              for r in list(res.values()) + [hres] for e in ("client", "server")]
    rec.wait_closed("tcp", tuples, timeout=10)
    time.sleep(1.0)
    rec.stop()

    # what the generator did, per connection end and per process name
    want_conn, want_proc = {}, {}
    for k, r in res.items():
        for e in ("client", "server"):
            tup = r[e]
            o = first[k][e + "_sent"] + r[e + "_sent"]
            i = first[k][e + "_recv"] + r[e + "_recv"]
            want_conn[(tup["lport"], tup["rport"])] = (names[k], o, i)
            w = want_proc.setdefault(names[k], [0, 0])
            w[0] += o
            w[1] += i
    hname = html_view(hostile)
    want_conn[(hres["client"]["lport"], hres["client"]["rport"])] = (hname, 70000, 7000)
    want_conn[(hres["server"]["lport"], hres["server"]["rport"])] = (hname, 7000, 70000)
    want_proc[hname] = [77000, 77000]

    # --- the generator's report: exact bytes, every chart, the same as top --------------
    glob = "ttr*"
    mine = os.path.join(work, "mine.html")
    rc, out, err = run(ana, "report", "--comm", glob, "-o", mine, store)
    t.require(rc == 0, "report --comm: exit %d: %s" % (rc, err))
    t.eq("report --comm: stderr", err, "")
    dom = chrome.dom(mine)
    conns = dom.tables.get("table-conn", [])
    by_ports = {(int(r["attrs"]["data-lport"]), int(r["attrs"]["data-rport"])): r for r in conns}
    for key, (name, o, i) in want_conn.items():
        r = by_ports.get(key)
        if not t.check(r is not None, "connection table: a row for ports %s" % (key,)):
            continue
        t.eq("connection %s: process" % (key,), r["attrs"].get("data-comm"), name)
        t.eq("connection %s: process shown" % (key,), r["comm"], name)
        t.eq("connection %s: bytes_out" % (key,), num(r["cells"].get("bytes_out")), o)
        t.eq("connection %s: bytes_in" % (key,), num(r["cells"].get("bytes_in")), i)
    procs = {r["attrs"].get("data-comm"): r for r in dom.tables.get("table-process", [])}
    for name, (o, i) in want_proc.items():
        r = procs.get(name)
        if t.check(r is not None, "process table: a row for %r" % name):
            t.eq("process %r: bytes_out" % name, num(r["cells"].get("bytes_out")), o)
            t.eq("process %r: bytes_in" % name, num(r["cells"].get("bytes_in")), i)
            t.eq("process %r: conns" % name, num(r["cells"].get("conns")), 2)
            t.eq("process %r: shown" % name, r["comm"], name)
    t.eq("process table rows", len(procs), len(want_proc))
    rh = dom.tables.get("table-rhost", [])
    t.check(any(r["attrs"].get("data-raddr") == "127.0.0.1" for r in rh),
            "remote-host table: a row for 127.0.0.1")
    t.eq("summary: bytes in", num(dom.cards.get("sum-bytes-in")),
         sum(i for _, _, i in want_conn.values()))
    t.eq("summary: bytes out", num(dom.cards.get("sum-bytes-out")),
         sum(o for _, o, _ in want_conn.values()))
    t.eq("summary: connections", num(dom.cards.get("sum-conns")), len(want_conn))
    t.ge("summary: resets (the hostile child's)", num(dom.cards.get("sum-resets")), 1)
    check_charts(t, "report --comm", dom, len(want_conn), resets=True)
    same_as_top(t, "report --comm", dom, ana, ["--comm", glob], store)
    # markup in a process name stays text
    t.check(not ({"b", "i", "script", "img", "iframe", "link", "object"} & dom.tags),
            "no element came from a process name: %s" % sorted(dom.tags))
    t.check(any(hname in x for x in dom.texts), "the hostile name is shown as text: %r" % hname)

    raw = open(mine, "rb").read()
    for bad in (b"http://", b"https://", b"<script", b"src=", b"@import", b"url(", b"<link"):
        t.check(bad not in raw.lower(), "the report has no %r (self-contained)" % bad)
    t.check(b"@media print" in raw and b"page-break-inside:avoid" in raw,
            "a print layout: @media print, page-break-inside: avoid")

    # the report's own "same tables" command gives the same tables
    cmd = shlex.split(dom.command)
    if t.check(cmd[:2] == ["tcptop-analyze", "top"], "a top command line: %r" % dom.command):
        rows = jrows(t, ana, *cmd[1:])
        got = dom.tables.get("table-conn", [])
        t.eq("the command line's top: rows", len(rows), len(got))
        for g, w in zip(got, rows):
            t.eq("the command line's top: bytes_in of %s" % w["lport"],
                 num(g["cells"].get("bytes_in")), w["bytes_in"])

    # --- everything on this machine, and a window: still top's numbers -------------------
    for label, args in (("report (whole store)", []), ("report --last 3s", ["--last", "3s"])):
        path = os.path.join(work, "all%d.html" % len(args))
        rc, out, err = run(ana, "report", "-o", path, *args, store)
        t.require(rc == 0, "%s: exit %d: %s" % (label, rc, err))
        d = chrome.dom(path)
        same_as_top(t, label, d, ana, args, store)
        allc = jrows(t, ana, "top", "-n", 1000000, *args, store)
        t.eq("%s: summary bytes in" % label, num(d.cards.get("sum-bytes-in")),
             sum(r["bytes_in"] for r in allc))
        t.eq("%s: summary bytes out" % label, num(d.cards.get("sum-bytes-out")),
             sum(r["bytes_out"] for r in allc))
        t.eq("%s: summary connections" % label, num(d.cards.get("sum-conns")), len(allc))
        if not args:
            check_charts(t, label, d, len(allc), resets=True)

    # --- look at it: a screenshot ------------------------------------------------------
    png = os.path.join(work, "report.png")
    chrome.screenshot(mine, png)
    size = png_size(png)
    t.check(size is not None and size[0] == 1400 and size[1] >= 1000,
            "a screenshot of the report: %r" % (size,))
    sample = os.environ.get("TTREPORT_SAMPLE")
    if sample:
        shutil.copy(png, sample)
        shutil.copy(mine, os.path.splitext(sample)[0] + ".html")
        print("report: screenshot in %s" % sample)

    # --- refusing to overwrite, bad input, no half files --------------------------------
    outdir = os.path.join(work, "out")
    os.mkdir(outdir)
    target = os.path.join(outdir, "incident.html")
    with open(target, "w") as f:
        f.write("keep")
    rc, out, err = run(ana, "report", "-o", target, store)
    t.eq("an existing -o file: exit", rc, 1)
    t.check("--force" in err and len(err.strip().splitlines()) == 1,
            "an existing -o file: one line naming --force: %r" % err)
    t.eq("an existing -o file: untouched", open(target).read(), "keep")
    rc, out, err = run(ana, "report", "--force", "-o", target, store)
    t.eq("--force: exit", rc, 0)
    t.check(open(target).read().startswith("<!DOCTYPE html>"), "--force replaced the file")
    for label, args, code in (
            ("no -o", [store], 2),
            ("--format json", ["--format", "json", "-o", os.path.join(outdir, "x.html"), store], 2),
            ("not a store", ["-o", os.path.join(outdir, "y.html"), work], 1),
            ("a window outside the recording",
             ["--from", "@1000", "--to", "@2000", "-o", os.path.join(outdir, "z.html"), store], 1),
            ("no such directory for -o", ["-o", os.path.join(work, "nodir", "r.html"), store], 1),
            ("a malformed time", ["--from", "yesterday-ish", "-o",
                                  os.path.join(outdir, "w.html"), store], 2)):
        rc, out, err = run(ana, "report", *args)
        t.eq("%s: exit" % label, rc, code)
        t.check(err.startswith("tcptop-analyze: report: ") and len(err.strip().splitlines()) == 1,
                "%s: one line on stderr: %r" % (label, err))
    t.eq("nothing left behind in the output directory", sorted(os.listdir(outdir)),
         ["incident.html"])


if __name__ == "__main__":
    h.run("report", main)
