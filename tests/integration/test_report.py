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
The same recording has a post-mortem's trouble (all under process names
ttq*): a paced TCP flow to a server in a network namespace behind a veth
where nftables drops about 20 % of its data segments (retransmits), a fast
50 MB loopback flow beside it (three orders of magnitude faster), and
connects to a closed loopback port (refused: ground truth = the attempts).
The report of ttq* must show: the refused connects in the failed-connects
table and chart, exactly as many as were made and as `events` closes as
failed; the lossy flow first among the retransmitters (top --by retrans), its
exact bytes, and its two ends (host and namespace) as one line, as the fast
flow's two loopback ends; a log axis for the rates; the by-service-port,
by-retransmits and by-failures tables equal to top's; resets by peer and
service port equal to `top --group-by remote-host,service-port`; and with
--baseline, the rows `diff` prints for the same two windows.
Needs root (the recorder) and Chromium (`chromium`, installed by
quickstart.sh); without either it says SKIPPED and exits 77.
TTREPORT_SAMPLE=FILE.png keeps the screenshot (and the report beside it).
"""
import html.parser
import json
import os
import shlex
import shutil
import socket
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
        self._in_comm = self._in_cmd = self._in_title = False
        self.diff_command = ""
        self._in_dcmd = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        cls = (a.get("class") or "").split()
        if tag == "svg" and a.get("id"):
            self._svg = self.svgs.setdefault(a["id"], {"series": {}, "bars": 0,
                                                       "log": "log" in cls})
        elif tag == "g" and self._svg is not None:
            name = a.get("data-series") or (cls[1] if "series" in cls and len(cls) > 1 else None)
            if "series" in cls:
                self._svg["series"].setdefault(name, {"points": 0, "bars": 0, "title": ""})
            self._gs.append(name if "series" in cls else None)
        elif tag in ("polyline", "circle", "rect") and self._svg is not None:
            ser = next((g for g in reversed(self._gs) if g is not None), None)
            pts = len(a.get("points", "").split()) if tag == "polyline" else 1
            if tag == "rect" and "bar" in cls:
                self._svg["bars"] += 1
            if ser is not None:
                key = "bars" if tag == "rect" else "points"
                self._svg["series"][ser][key] += pts
                if tag == "rect" and a.get("data-v") is not None:
                    self._svg["series"][ser]["sum"] = (self._svg["series"][ser].get("sum", 0) +
                                                       int(a["data-v"]))
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
        elif tag == "code" and a.get("id") == "meta-diff-command":
            self._in_dcmd = True
        elif tag == "title" and self._svg is not None and self._gs and self._gs[-1] is not None:
            self._in_title = True

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
            self._in_cmd = self._in_dcmd = False
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        self.texts.append(data)
        if self._in_comm and self._row is not None:
            self._row["comm"] += data
        if self._in_cmd:
            self.command += data
        if self._in_dcmd:
            self.diff_command += data
        if self._in_title:
            self._svg["series"][self._gs[-1]]["title"] += data


def run(t, *args):
    """tcptop-analyze ARGS, any exit: exit status, stdout, stderr (any bytes, replaced)."""
    p = t.analyze(*args, timeout=120, text=False)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


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
                      "--window-size=1400,5200", "--hide-scrollbars")
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
KEYS = {"conn": ("proto", "laddr", "lport", "raddr", "rport", "pid", "comm"),
        "process": ("comm",), "remote-host": ("raddr",), "service-port": ("proto", "service_port")}
# table id -> (grouping, --by, only rows with some of it)
TABLES = {"table-conn": ("conn", None, False), "table-process": ("process", None, False),
          "table-rhost": ("remote-host", None, False),
          "table-sport": ("service-port", None, False),
          "table-conn-retrans": ("conn", "retrans", True),
          "table-rhost-retrans": ("remote-host", "retrans", True),
          "table-process-failures": ("process", "failures", True),
          "table-rhost-failures": ("remote-host", "failures", True)}


def same_as_top(t, label, dom, args, store, n=10):
    """Every table of the report equals top's JSON for the same window, rank by rank."""
    for tid, (group, by, positive) in TABLES.items():
        want = t.analyze_rows("top", "-n", n, "--group-by", group, *(["--by", by] if by else []),
                     *args, store)
        got = dom.tables.get(tid)
        if not t.check(got is not None, "%s: a table %s" % (label, tid)):
            continue
        if by == "retrans":
            want = [w for w in want if w["retransmits"] > 0]
        elif positive:
            # top's JSON has no failed count: the report's rows are its first ones
            t.check(all(w["resets"] == 0 for w in want[len(got):]),
                    "%s %s: every row top ranks after the report's has no reset" % (label, tid))
            want = want[:len(got)]
        t.eq("%s %s: rows" % (label, tid), len(got), len(want))
        for i, (g, w) in enumerate(zip(got, want)):
            where = "%s %s row %d" % (label, tid, i + 1)
            for k in KEYS[group]:
                gv = g["attrs"].get("data-" + k)
                wv = json_comm(w[k]) if k == "comm" else str(w[k])
                t.eq("%s: %s" % (where, k), gv, wv)
            for k in METRICS + (() if group == "conn" else ("conns",)):
                t.eq("%s: %s" % (where, k), num(g["cells"].get(k)), num(w.get(k)))


def check_charts(t, label, dom, nlines, resets):
    """nlines: the connections with bytes (a local connection's two ends are one); None: any."""
    svgs = dom.svgs
    for sid in ("chart-bandwidth", "chart-conn-rates", "chart-rtt", "chart-retrans",
                "chart-new-resets", "chart-lifetimes", "chart-failed", "chart-resets"):
        t.check(sid in svgs, "%s: an svg #%s" % (label, sid))
    bw = svgs.get("chart-bandwidth", {"series": {}})["series"]
    t.eq("%s: bandwidth series" % label, sorted(bw), ["0", "1"])
    for k, s in bw.items():
        t.ge("%s: bandwidth series %s points" % (label, k), s["points"], 2)
    cr = svgs.get("chart-conn-rates", {"series": {}})["series"]
    lines = {k: v for k, v in cr.items() if not v["title"].startswith("others")}
    others = len(cr) - len(lines)
    t.le("%s: connection rate lines" % label, len(lines), 5)
    t.le("%s: an 'others' line at most" % label, others, 1)
    if nlines is not None:
        t.eq("%s: connection rate lines" % label, len(lines), min(nlines, 5))
        t.eq("%s: an 'others' line" % label, others, 1 if nlines > 5 else 0)
    else:
        t.ge("%s: connection rate lines" % label, len(lines), 1)
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
         len(lines))


LOSSY_OUT, FAST_OUT, BACK = 400009, 50000000, 1003
REFUSED_RUNS = 3  # tcp-refused connects twice per run


def low_port_socket():
    """A loopback socket bound (not listening) to a free port below the ephemeral range."""
    for port in range(20000 + os.getpid() % 7919, 32768):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return s
        except OSError:
            s.close()
    raise h.Skip("no free loopback port below 32768")


def trouble_start(t, me):
    """Servers for the trouble traffic: a lossy one in a namespace, a fast one, a closed port."""
    if not shutil.which("nft"):
        raise h.Skip("nft (package nftables) is not installed: the lossy link needs it")
    ns = t.netns("a")
    # service ports below the ephemeral range: the side that listens is told by its port
    lossy_srv = t.gen("tcp-server", ["--bind", ns.ns_v4, "--port", 20001, "--conns", 1],
                      "ttqls%d" % me, netns=ns)
    lport = lossy_srv.expect("ready")["port"]
    ns.nft("""
table inet ttloss {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport %d tcp flags & (syn | fin | rst) == 0 meta length > 100 numgen random mod 10 < 2 counter drop
    }
}
""" % lport)
    # wire-sized packets, so the drops hit the data (test_retransmits.py says why)
    h.run_cmd(["ip", "link", "set", "dev", ns.host_if, "gso_max_size", "1500"])
    s = low_port_socket()
    fport = s.getsockname()[1]
    s.close()
    fast_srv = t.gen("tcp-server", ["--bind", "127.0.0.1", "--port", fport, "--conns", 1],
                     "ttqfs%d" % me)
    fast_srv.expect("ready")
    closed = low_port_socket()  # bound, never listening: every connect to it is refused
    t.cleanup(closed.close)
    return {"ns": ns, "lossy_srv": lossy_srv, "lport": lport, "fast_srv": fast_srv,
            "fport": fport, "cport": closed.getsockname()[1]}


def trouble_run(t, me, tr):
    """The lossy paced flow and the fast one at once, then the refused connects."""
    ns = tr["ns"]
    lossy = t.gen("tcp-client", ["--host", ns.ns_v4, "--port", tr["lport"], "--conn",
                                 "%d:%d:3000" % (LOSSY_OUT, BACK), "--slices", 15],
                  "ttqlc%d" % me)
    time.sleep(1.0)
    fast = t.gen("tcp-client", ["--host", "127.0.0.1", "--port", tr["fport"], "--conn",
                                "%d:%d:0" % (FAST_OUT, BACK)], "ttqfc%d" % me)
    tr["fast"] = (fast.finish(60)["conns"][0], tr["fast_srv"].finish(60)["conns"][0])
    refused = [t.gen("tcp-refused", ["--port", tr["cport"]], "ttqrf%d" % me).finish()
               for _ in range(REFUSED_RUNS)]
    tr["lossy"] = (lossy.finish(60)["conns"][0], tr["lossy_srv"].finish(60)["conns"][0])
    tr["dropped"] = ns.nft_rule_packets("inet", "ttloss", "input")
    tr["refused"] = [c for r in refused for c in r["conns"]]
    for what in ("lossy", "fast"):
        c, sv = tr[what]
        t.require(c["ok"] and sv["ok"], "%s: generator connection failed: %r %r" % (what, c, sv))
    t.require(tr["dropped"] > 0, "nft dropped nothing: no loss was applied")
    t.require(all(c["error"] == 111 for c in tr["refused"]),
              "every connect to the closed port was refused: %r" % tr["refused"])
    return [(x["laddr"], x["lport"], x["raddr"], x["rport"])
            for w in ("lossy", "fast") for x in tr[w]]


def check_trouble(t, chrome, work, store, tr):
    """The report's new sections for the ttq* traffic, against the generators and top/events."""
    args = ["--comm", "ttq*"]
    path = os.path.join(work, "trouble.html")
    rc, out, err = run(t, "report", "--baseline", "start..start+2s", *args, "-o", path, store)
    t.require(rc == 0, "report --comm ttq*: exit %d: %s" % (rc, err))
    dom = chrome.dom(path)
    attempts = len(tr["refused"])
    t.note("  nft dropped %d segments; %d refused connects" % (tr["dropped"], attempts))

    # failed connects: the generator's attempts, events' failed closes, table, chart, card
    closes = [e for e in t.analyze_rows("events", "--type", "close", *args, store)
              if e["detail"].startswith("failed")]
    refused_ev = [e for e in closes if e["rport"] == tr["cport"] and "ECONNREFUSED" in e["detail"]]
    t.eq("events: refused connects to the closed port", len(refused_ev), attempts)
    fails = dom.tables.get("table-failed", [])
    row = [r for r in fails if r["attrs"].get("data-rport") == str(tr["cport"])]
    if t.check(len(row) == 1, "failed connects: one row for port %d: %r" % (tr["cport"], fails)):
        a = row[0]["attrs"]
        t.eq("failed connects: errno", a.get("data-err"), "111")
        t.eq("failed connects: destination", a.get("data-raddr"), "127.0.0.1")
        t.eq("failed connects: count (the attempts made)", num(row[0]["cells"].get("count")),
             attempts)
    t.eq("failed connects: rows, as events closes them", sum(num(r["cells"]["count"]) for r in fails),
         len(closes))
    t.eq("summary: failed connects", num(dom.cards.get("sum-failed")), len(closes))
    nr = dom.svgs.get("chart-new-resets", {"series": {}})["series"]
    t.eq("chart: failed-connect bars add up to the attempts", nr.get("failed", {}).get("sum"),
         attempts)
    fc = dom.svgs.get("chart-failed", {"series": {}})["series"]
    t.eq("chart: failed connects by destination", fc.get("bars", {}).get("sum"), len(closes))
    for r in dom.tables.get("table-process-failures", []):
        comm = r["attrs"].get("data-comm")
        t.eq("failures by process %s: failed, as events closes them" % comm,
             num(r["cells"].get("failed")),
             sum(1 for e in closes if json_comm(e["comm"]) == comm))

    # the lossy flow: exact bytes, the top retransmitter, one line for its two ends
    c, sv = tr["lossy"]
    conns = {(int(r["attrs"]["data-lport"]), int(r["attrs"]["data-rport"])): r
             for r in dom.tables.get("table-conn", [])}
    r = conns.get((c["lport"], c["rport"]))
    if t.check(r is not None, "by connection: the lossy client %d" % c["lport"]):
        t.eq("lossy client: bytes_out (sent)", num(r["cells"].get("bytes_out")), LOSSY_OUT)
        t.eq("lossy client: bytes_in", num(r["cells"].get("bytes_in")), BACK)
        t.ge("lossy client: retransmits", num(r["cells"].get("retransmits")), 1)
    r = conns.get((sv["lport"], sv["rport"]))
    if t.check(r is not None, "by connection: the lossy server (in the namespace)"):
        t.eq("lossy server: bytes_in", num(r["cells"].get("bytes_in")), LOSSY_OUT)
    c2, s2 = tr["fast"]
    r = conns.get((c2["lport"], c2["rport"]))
    if t.check(r is not None, "by connection: the fast client"):
        t.eq("fast client: bytes_out (sent)", num(r["cells"].get("bytes_out")), FAST_OUT)
    rt = dom.tables.get("table-conn-retrans", [])
    if t.check(rt, "top retransmitters: rows"):
        t.eq("top retransmitter: the lossy client", int(rt[0]["attrs"]["data-lport"]), c["lport"])
    rx = dom.svgs.get("chart-retrans", {"series": {}})["series"]
    t.check("0" in rx and "both ends" in rx["0"]["title"] and rx["0"]["points"] >= 1,
            "retransmit chart: the lossy connection's line, both ends in one: %r" % rx)
    cr = dom.svgs.get("chart-conn-rates", {"series": {}, "log": False})
    titles = sorted(v["title"] for v in cr["series"].values())
    t.eq("rate chart: two lines (lossy and fast, each end pair as one)", len(titles), 2)
    t.check(all("both ends" in x for x in titles), "rate chart: both ends merged: %r" % titles)
    t.check(cr["log"], "rate chart: a log axis (the fast flow is ~1000x the lossy one)")
    check_charts(t, "report --comm ttq*", dom, 2, resets=True)

    # by service port: the servers' ports, both ends; as top --group-by service-port
    sp = {(r["attrs"]["data-proto"], int(r["attrs"]["data-service_port"])): r
          for r in dom.tables.get("table-sport", [])}
    for label, port, n in (("lossy", tr["lport"], 2), ("fast", tr["fport"], 2),
                           ("refused", tr["cport"], attempts)):
        r = sp.get(("tcp", port))
        if t.check(r is not None, "by service port: a row for the %s port %d" % (label, port)):
            t.eq("service port %d: connection ends" % port, num(r["cells"].get("conns")), n)
    same_as_top(t, "report --comm ttq*", dom, args, store)
    t.check(dom.tables.get("table-diff"), "report --comm ttq* --baseline: a comparison")

    # resets by peer and service port: top's groups that had one
    want = {(w["raddr"], w["service_port"]): w
            for w in t.analyze_rows("top", "-n", 1000, "--group-by", "remote-host,service-port",
                           *args, store) if w["resets"] > 0}
    got = {(r["attrs"]["data-raddr"], int(r["attrs"]["data-service_port"])): r
           for r in dom.tables.get("table-resets", [])}
    t.eq("resets table: the groups top has with resets", sorted(got), sorted(want))
    for k, w in want.items():
        if k in got:
            t.eq("resets %s: resets" % (k,), num(got[k]["cells"].get("resets")), w["resets"])
            t.eq("resets %s: conns" % (k,), num(got[k]["cells"].get("conns")), w["conns"])
    t.check(("127.0.0.1", tr["cport"]) in got, "resets: the refused port's (the RSTs received)")

    # --baseline: the rows diff prints for the same two windows
    path = os.path.join(work, "baseline.html")
    rc, out, err = run(t, "report", "--baseline", "start..start+2s", "-o", path, store)
    t.require(rc == 0, "report --baseline: exit %d: %s" % (rc, err))
    d = chrome.dom(path)
    cmd = shlex.split(d.diff_command)
    if t.check(cmd[:2] == ["tcptop-analyze", "diff"], "a diff command line: %r" % d.diff_command):
        want = t.analyze_rows(*cmd[1:])
        got = d.tables.get("table-diff", [])
        t.eq("baseline: rows", len(got), min(len(want), 10))
        t.ge("baseline: rows", len(got), 1)
        for i, (g, w) in enumerate(zip(got, want)):
            where = "baseline row %d" % (i + 1)
            t.eq("%s: raddr" % where, g["attrs"].get("data-raddr"), w["raddr"])
            t.eq("%s: comm" % where, g["attrs"].get("data-comm"), json_comm(w["comm"]))
            t.eq("%s: change" % where, g["attrs"].get("data-change"), w["change"])
            for k in ("bytes_base", "bytes_window", "conns_base", "conns_window", "rtt_us_base",
                      "rtt_us_window", "retransmits_base", "retransmits_window"):
                t.eq("%s: %s" % (where, k), num(g["cells"].get(k)), num(w.get(k)))
            for k in ("rate_base", "rate_window", "rate_delta"):
                t.check(abs(num(g["cells"].get(k)) - w[k]) <= 0.051,
                        "%s: %s %s, diff says %s" % (where, k, g["cells"].get(k), w[k]))
    return os.path.join(work, "trouble.html")


def main(t):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise h.Skip("Chromium is not installed (apt-get install chromium; quickstart.sh "
                     "installs it): the report is checked as a browser renders it")
    chrome = Chromium(t, exe)
    me = os.getpid() % 100000
    work = t.tmpdir("report")
    store = os.path.join(work, "store")
    sizes = {"a": ("200000:20000", "400000:40000"), "b": ("100000:10000", "50000:5000"),
             "c": ("30000:3000", "10000:1000")}
    names = {k: "ttr%s%d" % (k, me) for k in sizes}
    hostile = NAME_BYTES

    tr = trouble_start(t, me)
    rec = t.recorder(interval="250ms", extra=["-o", store, "--flush", "1s"])
    rec.start()
    time.sleep(2.5)  # a quiet start: the baseline
    trouble = trouble_run(t, me, tr)
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
    rec.wait_closed("tcp", tuples + trouble, timeout=15)
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
    rc, out, err = run(t, "report", "--comm", glob, "-o", mine, store)
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
    t.eq("process table rows: %r" % sorted(procs), len(procs), len(want_proc))
    rh = dom.tables.get("table-rhost", [])
    t.check(any(r["attrs"].get("data-raddr") == "127.0.0.1" for r in rh),
            "remote-host table: a row for 127.0.0.1")
    t.eq("summary: bytes in", num(dom.cards.get("sum-bytes-in")),
         sum(i for _, _, i in want_conn.values()))
    t.eq("summary: bytes out", num(dom.cards.get("sum-bytes-out")),
         sum(o for _, o, _ in want_conn.values()))
    t.eq("summary: connections", num(dom.cards.get("sum-conns")), len(want_conn))
    t.ge("summary: resets (the hostile child's)", num(dom.cards.get("sum-resets")), 1)
    check_charts(t, "report --comm", dom, len(want_conn) // 2, resets=True)
    same_as_top(t, "report --comm", dom, ["--comm", glob], store)
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
        rows = t.analyze_rows(*cmd[1:])
        got = dom.tables.get("table-conn", [])
        t.eq("the command line's top: rows", len(rows), len(got))
        for g, w in zip(got, rows):
            t.eq("the command line's top: bytes_in of %s" % w["lport"],
                 num(g["cells"].get("bytes_in")), w["bytes_in"])

    # --- everything on this machine, and a window: still top's numbers -------------------
    for label, args in (("report (whole store)", []), ("report --last 3s", ["--last", "3s"])):
        path = os.path.join(work, "all%d.html" % len(args))
        rc, out, err = run(t, "report", "-o", path, *args, store)
        t.require(rc == 0, "%s: exit %d: %s" % (label, rc, err))
        d = chrome.dom(path)
        same_as_top(t, label, d, args, store)
        allc = t.analyze_rows("top", "-n", 1000000, *args, store)
        t.eq("%s: summary bytes in" % label, num(d.cards.get("sum-bytes-in")),
             sum(r["bytes_in"] for r in allc))
        t.eq("%s: summary bytes out" % label, num(d.cards.get("sum-bytes-out")),
             sum(r["bytes_out"] for r in allc))
        t.eq("%s: summary connections" % label, num(d.cards.get("sum-conns")), len(allc))
        if not args:
            check_charts(t, label, d, None, resets=True)

    trouble_html = check_trouble(t, chrome, work, store, tr)

    # --- look at it: a screenshot ------------------------------------------------------
    png = os.path.join(work, "report.png")
    chrome.screenshot(trouble_html, png)
    size = png_size(png)
    t.check(size is not None and size[0] == 1400 and size[1] >= 1000,
            "a screenshot of the report: %r" % (size,))
    sample = os.environ.get("TTREPORT_SAMPLE")
    if sample:
        shutil.copy(png, sample)
        shutil.copy(trouble_html, os.path.splitext(sample)[0] + ".html")
        print("report: screenshot in %s" % sample)

    # --- refusing to overwrite, bad input, no half files --------------------------------
    outdir = os.path.join(work, "out")
    os.mkdir(outdir)
    target = os.path.join(outdir, "incident.html")
    with open(target, "w") as f:
        f.write("keep")
    rc, out, err = run(t, "report", "-o", target, store)
    t.eq("an existing -o file: exit", rc, 1)
    t.check("--force" in err and len(err.strip().splitlines()) == 1,
            "an existing -o file: one line naming --force: %r" % err)
    t.eq("an existing -o file: untouched", open(target).read(), "keep")
    rc, out, err = run(t, "report", "--force", "-o", target, store)
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
        rc, out, err = run(t, "report", *args)
        t.eq("%s: exit" % label, rc, code)
        t.check(err.startswith("tcptop-analyze: report: ") and len(err.strip().splitlines()) == 1,
                "%s: one line on stderr: %r" % (label, err))
    t.eq("nothing left behind in the output directory", sorted(os.listdir(outdir)),
         ["incident.html"])


if __name__ == "__main__":
    h.run("report", main)
