#!/usr/bin/python3
"""A killed `extract` leaves nothing that passes for a store, and a retry gives the whole copy.

A store of 30 synthetic minutes (tests/bench/synth_store, no kernel) is
extracted to OUT; once the copy holds some blocks, the extract is SIGKILLed.
Then OUT must not exist (the partial copy lives beside it, in .OUT.extract,
and is renamed only when complete), and `verify OUT` must fail. The retry
exits 0, says in one line that it removed what the killed one left, leaves no
.OUT.extract, and its OUT answers `top` and `info` exactly as an extract that
was never interrupted, and verifies. An extract into an existing empty
directory still works (the rename replaces it). Runs as any user.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402
from ttharness import check  # noqa: E402


def run(*cmd, timeout=300):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout)


def answers(ana, store):
    """What a user reads from a store: top (every row) and info, as JSON."""
    top = run(ana, "top", "-n", "1000000", "--format", "json", store)
    info = run(ana, "info", "--format", "json", store)
    check(top.returncode == 0 and info.returncode == 0,
          "%s: top exit %d, info exit %d: %s %s" % (store, top.returncode, info.returncode,
                                                   top.stderr, info.stderr))
    rows = sorted(top.stdout.splitlines())
    data = json.loads(info.stdout) if info.returncode == 0 else {}
    keep = ("recordings", "start_ns", "end_ns", "segments", "segments_sealed", "blocks",
            "connections", "raw_bytes", "ring_drops", "socks_full", "peers_full")
    return rows, {k: data.get(k) for k in keep}


def blocks_written(tmp):
    """Bytes of segment data the partial copy holds past its file header."""
    try:
        return sum(max(0, e.stat().st_size - 64) for e in os.scandir(tmp)
                   if e.name.endswith(".tts"))
    except FileNotFoundError:
        return 0


def options(ap):
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--synth", required=True)


def main(t):
    a = t.args
    ana = a.analyzer
    top = t.tmpdir("extract")
    src = os.path.join(top, "src")
    p = run(a.synth, src, "--conns", "150", "--hours", "0.5", "--seed", "3")
    if p.returncode:
        raise h.Failed("synth_store: %s" % p.stderr)

    whole = os.path.join(top, "whole")
    p = run(ana, "extract", "-o", whole, src)
    check(p.returncode == 0, "uninterrupted extract: exit %d, %s" % (p.returncode, p.stderr))

    out = os.path.join(top, "out")
    tmp = os.path.join(top, ".out.extract")
    killed_mid_way = False
    for attempt in range(3):
        ex = subprocess.Popen([ana, "extract", "-o", out, src], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        # a few blocks into the copy, well before its end (wherever it is written)
        while ex.poll() is None and blocks_written(tmp) + blocks_written(out) < 20000:
            time.sleep(0.005)
        if ex.poll() is None:
            ex.send_signal(signal.SIGKILL)
            ex.wait()
            killed_mid_way = True
            break
        ex.wait()
        shutil.rmtree(out, ignore_errors=True)
    if not check(killed_mid_way, "extract finished each time before it could be killed"):
        return
    check(not os.path.exists(out), "after the kill: %s does not exist (it holds %r)" %
          (out, os.listdir(out) if os.path.isdir(out) else None))
    check(os.path.isdir(tmp), "after the kill: the partial copy is beside it, in %s" % tmp)
    v = run(ana, "verify", out)
    check(v.returncode != 0, "after the kill: verify %s fails (exit %d)" % (out, v.returncode))

    p = run(ana, "extract", "-o", out, src)
    check(p.returncode == 0, "retry: exit %d, %s" % (p.returncode, p.stderr))
    lines = p.stderr.strip().splitlines()
    check(len(lines) == 1 and "removed" in lines[0] and tmp in lines[0],
          "retry: one line saying it removed %s: %r" % (tmp, p.stderr))
    check(not os.path.exists(tmp), "retry: no %s left" % tmp)
    v = run(ana, "verify", out)
    check(v.returncode == 0, "retry: verify exit %d: %s" % (v.returncode, v.stdout[-500:]))
    got, want = answers(ana, out), answers(ana, whole)
    check(len(want[0]) > 10 and want[1]["blocks"],
          "the uninterrupted copy has rows (%d) and blocks (%r)" % (len(want[0]),
                                                                 want[1]["blocks"]))
    check(got[0] == want[0], "retry: top equals the uninterrupted extract's (%d vs %d rows)"
          % (len(got[0]), len(want[0])))
    check(got[1] == want[1], "retry: info %r == %r" % (got[1], want[1]))

    empty = os.path.join(top, "empty")
    os.mkdir(empty)
    p = run(ana, "extract", "-o", empty, src)
    check(p.returncode == 0 and answers(ana, empty) == want,
          "extract into an empty directory: exit %d, same answers" % p.returncode)


if __name__ == "__main__":
    h.run("extract_kill", main, options, root=False)
