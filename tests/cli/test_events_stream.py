#!/usr/bin/python3
"""events prints what a store holds however much it is (issue 14, item 12).

Stores written without a kernel by tests/bench/synth_store:
  --case no_loss  a store whose recorder lost nothing: `events --type loss` is
                  an empty answer (no table, no JSON line, one stderr line saying
                  nothing matched), exit 0, no sanitizer report (an empty list
                  once reached qsort as NULL);
  --case busy     2,000 connections, every one retransmitting in every tick for
                  3 minutes: more than 64 MiB of JSON lines (the cap of one
                  output buffer, where events failed with "out of memory"
                  while it gathered every row before printing). Every line
                  parses, times never go back, and the retransmitted segments
                  of the retransmit rows add up to top's retransmits.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402
from ttharness import check  # noqa: E402

TT_BUF_MAX = 64 << 20


def synth(args, d, *opts):
    p = subprocess.run([args.synth, d, "--hours", "0.05"] + list(opts), capture_output=True,
                       text=True, timeout=600)
    if p.returncode != 0:
        raise h.Failed("synth_store: " + p.stderr)


def analyze(args, *a):
    return subprocess.run([args.analyzer] + list(a), capture_output=True, timeout=600)


def no_loss(args, tmp):
    d = os.path.join(tmp, "s")
    synth(args, d, "--conns", "20")
    nothing = b"tcptop-analyze: events: nothing matched the filter in the window\n"
    for fmt in ("table", "json", "csv"):
        p = analyze(args, "events", "--type", "loss", "--format", fmt, d)
        check(p.returncode == 0 and p.stderr == nothing and not p.stdout,
              "events --type loss --format %s: exit %d, %r, %r" % (fmt, p.returncode, p.stdout,
                                                                   p.stderr))
    # the same store has connects: the type filter is what left nothing
    p = analyze(args, "events", "--type", "connect", "--format", "json", d)
    check(p.returncode == 0 and p.stdout,
          "events --type connect: exit %d, %d bytes" % (p.returncode, len(p.stdout)))


def busy(args, tmp):
    d = os.path.join(tmp, "s")
    synth(args, d, "--conns", "2000", "--active", "1", "--retrans", "1")
    p = analyze(args, "events", "--format", "json", d)
    if not check(p.returncode == 0 and not p.stderr,
                 "events: exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace"))):
        return
    check(len(p.stdout) > TT_BUF_MAX, "events: %d bytes: the store was meant to give more "
          "than %d" % (len(p.stdout), TT_BUF_MAX))
    last, segs, rows, size = 0, 0, 0, len(p.stdout)
    for line in p.stdout.splitlines():
        r = json.loads(line)
        rows += 1
        if not check(r["ts"] >= last, "events: row %d at %s after %s" % (rows, r["ts"], last)):
            break
        last = r["ts"]
        if r["event"] == "retransmit":
            segs += int(r["detail"].split()[0])
    p = analyze(args, "top", "-n", "100000", "--format", "json", d)
    want = sum(json.loads(l)["retransmits"] for l in p.stdout.splitlines())
    check(p.returncode == 0 and segs == want and want,
          "retransmitted segments: %d in the events' rows, %d in top" % (segs, want))
    print("events: %d rows, %d bytes, %d segments retransmitted" % (rows, size, segs))


def options(ap):
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--synth", required=True)
    ap.add_argument("--case", required=True, choices=["no_loss", "busy"])


def main(t):
    args = t.args
    t.name = "events_stream." + args.case
    tmp = t.tmpdir("events")
    {"no_loss": no_loss, "busy": busy}[args.case](args, tmp)


if __name__ == "__main__":
    h.run("events_stream", main, options, root=False)
