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
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

TT_BUF_MAX = 64 << 20


def synth(args, d, *opts):
    p = subprocess.run([args.synth, d, "--hours", "0.05"] + list(opts), capture_output=True,
                       text=True, timeout=600)
    if p.returncode != 0:
        raise SystemExit("FAIL: synth_store: " + p.stderr)


def analyze(args, *a):
    return subprocess.run([args.analyzer] + list(a), capture_output=True, timeout=600)


def no_loss(args, tmp):
    d = os.path.join(tmp, "s")
    synth(args, d, "--conns", "20")
    fails = []
    nothing = b"tcptop-analyze: events: nothing matched the filter in the window\n"
    for fmt in ("table", "json", "csv"):
        p = analyze(args, "events", "--type", "loss", "--format", fmt, d)
        if p.returncode != 0 or p.stderr != nothing or p.stdout:
            fails.append("events --type loss --format %s: exit %d, %r, %r" % (
                fmt, p.returncode, p.stdout, p.stderr))
    # the same store has connects: the type filter is what left nothing
    p = analyze(args, "events", "--type", "connect", "--format", "json", d)
    if p.returncode != 0 or not p.stdout:
        fails.append("events --type connect: exit %d, %d bytes" % (p.returncode, len(p.stdout)))
    return fails


def busy(args, tmp):
    d = os.path.join(tmp, "s")
    synth(args, d, "--conns", "2000", "--active", "1", "--retrans", "1")
    fails = []
    p = analyze(args, "events", "--format", "json", d)
    if p.returncode != 0 or p.stderr:
        return ["events: exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace"))]
    if len(p.stdout) <= TT_BUF_MAX:
        fails.append("events: %d bytes: the store was meant to give more than %d" % (
            len(p.stdout), TT_BUF_MAX))
    last, segs, rows, size = 0, 0, 0, len(p.stdout)
    for line in p.stdout.splitlines():
        r = json.loads(line)
        rows += 1
        if r["ts"] < last:
            fails.append("events: row %d at %s after %s" % (rows, r["ts"], last))
            break
        last = r["ts"]
        if r["event"] == "retransmit":
            segs += int(r["detail"].split()[0])
    p = analyze(args, "top", "-n", "100000", "--format", "json", d)
    want = sum(json.loads(l)["retransmits"] for l in p.stdout.splitlines())
    if p.returncode != 0 or segs != want or not want:
        fails.append("retransmitted segments: %d in the events' rows, %d in top" % (segs, want))
    print("events: %d rows, %d bytes, %d segments retransmitted" % (rows, size, segs))
    return fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--synth", required=True)
    ap.add_argument("--case", required=True, choices=["no_loss", "busy"])
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tt-events-")
    try:
        fails = {"no_loss": no_loss, "busy": busy}[args.case](args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for f in fails:
        print("FAIL: " + f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
