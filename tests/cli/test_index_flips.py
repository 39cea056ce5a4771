#!/usr/bin/python3
"""Random bit flips in index.db: no answer changes without verify saying so.

tests/bench/synth_store writes a small store (no kernel needed). Each trial
flips one random bit of a copy of its index.db (seeded, so a failure can be
replayed with --seed and --only), then runs `top` and `verify` on the copy
under the build's sanitizers, and classifies:

  same     top's answer is the intact store's
  error    top exits 1 with one `tcptop-analyze: ...` line (SQLite: malformed)
  warned   top's answer differs and top warns on stderr
  caught   top's answer differs silently, but verify reports a PROBLEM
  silent   top's answer differs, top does not warn and verify passes
  crash    a signal, a sanitizer report, an exit other than 0/1/2
  hang     the timeout

silent, crash and hang must be 0 (issue 14: "2 of 2,000 random index bit flips
changed answers silently and verify passed").

Usage: test_index_flips.py --analyzer A --synth S [--flips 200] [--seed 1]
       [--only N] [--jobs 2]
"""
import concurrent.futures
import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402

TIMEOUT = 120


def run(args, store):
    try:
        p = subprocess.run(args + [store], capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None
    return p


def crashed(p):
    return (p.returncode not in (0, 1, 2) or h.sanitizer_report(p.stderr)
            or (p.returncode == 1 and p.stderr.count("\n") > 1
                and not any(l.startswith("tcptop-analyze: ") for l in p.stderr.splitlines())))


def trial(a, base, intact, tmp, n, bit):
    d = os.path.join(tmp, "t%d" % n)
    shutil.copytree(base, d)
    try:
        path = os.path.join(d, "index.db")
        with open(path, "r+b") as f:
            f.seek(bit // 8)
            b = f.read(1)[0] ^ (1 << (bit % 8))
            f.seek(bit // 8)
            f.write(bytes([b]))
        top = run([a.analyzer, "top", "-n", "1000", "--format", "json"], d)
        if top is None:
            return "hang", "top"
        if crashed(top):
            return "crash", "top: exit %d: %s" % (top.returncode, top.stderr[-400:])
        if top.returncode == 0 and top.stdout == intact.stdout and top.stderr == intact.stderr:
            return "same", ""
        if top.returncode != 0:
            return "error", top.stderr.strip()[:200]
        if top.stderr.strip() and top.stderr != intact.stderr:
            return "warned", top.stderr.strip()[:200]
        ver = run([a.analyzer, "verify"], d)
        if ver is None:
            return "hang", "verify"
        if crashed(ver):
            return "crash", "verify: exit %d: %s" % (ver.returncode, ver.stderr[-400:])
        if ver.returncode != 0 or "PROBLEM" in ver.stdout:
            return "caught", ver.stdout.strip().splitlines()[0][:200] if ver.stdout else ""
        return "silent", "top differs, no warning, verify passed"
    finally:
        shutil.rmtree(d, ignore_errors=True)


def options(ap):
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--synth", required=True)
    ap.add_argument("--flips", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", type=int, default=-1, help="run trial N alone")
    ap.add_argument("--jobs", type=int, default=2)


def main(t):
    a = t.args
    tmp = t.tmpdir("flips")
    base = os.path.join(tmp, "store")
    p = subprocess.run([a.synth, base, "--hours", "0.2", "--conns", "40", "--seed", "7",
                        "--start", "1710201600"], capture_output=True, text=True, timeout=600)
    t.require(p.returncode == 0, "synth_store: %s" % p.stderr)
    for f in ("index.db-wal", "index.db-shm"):
        t.require(not os.path.exists(os.path.join(base, f)),
                  "synth_store left %s: flips would miss what it holds" % f)
    intact = run([a.analyzer, "top", "-n", "1000", "--format", "json"], base)
    t.require(intact is not None and intact.returncode == 0 and intact.stdout,
              "top on the intact store: %r" % (intact and intact.stderr))
    nbits = os.path.getsize(os.path.join(base, "index.db")) * 8
    rnd = random.Random(a.seed)
    bits = [rnd.randrange(nbits) for _ in range(a.flips)]
    todo = [a.only] if a.only >= 0 else range(a.flips)
    counts = {}
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        futs = {ex.submit(trial, a, base, intact, tmp, n, bits[n]): n for n in todo}
        for fu in concurrent.futures.as_completed(futs):
            n = futs[fu]
            cls, why = fu.result()
            counts[cls] = counts.get(cls, 0) + 1
            t.check(cls not in ("silent", "crash", "hang"), "%s: trial %d (bit %d of %d, byte "
                    "%d): %s" % (cls, n, bits[n], nbits, bits[n] // 8, why))
    print("flips %d of index.db (%d bytes), seed %d" % (len(todo), nbits // 8, a.seed))
    for cls in ("same", "error", "warned", "caught", "silent", "crash", "hang"):
        print("  %-7s %d" % (cls, counts.get(cls, 0)))


if __name__ == "__main__":
    h.run("index_flips", main, options, root=False)
