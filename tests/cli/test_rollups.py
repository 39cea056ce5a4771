#!/usr/bin/python3
"""top from the index's rollups answers exactly what a replay of every tick answers.

Two stores are written without a kernel by tests/bench/synth_store (the
recorder's own writer, aggregator and indexer behind a made-up event stream:
partial connections, closes, resets, UDP, short and long lives) and read
together.
For random windows (edges inside minutes, windows inside one minute, across
hours, across the two stores, the whole store) and every grouping, `top
--format json` with rollups equals `top --no-rollups`, row for row and field
for field, and --stats shows which path answered. Runs as any user.
"""
import json
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402
from ttharness import check  # noqa: E402

START = 1710201600  # 2024-03-12T00:00:00Z, synth_store's default start
GROUPS = ("conn", "pid", "process", "remote-host", "remote-net/24", "remote-port",
          "local-port", "cgroup", "process,remote-port", "host")

def top(ana, stores, args, rollups):
    cmd = [ana, "top", "-n", "1000000", "--format", "json", "--stats"] + args + stores
    if not rollups:
        cmd.insert(2, "--no-rollups")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise h.Failed("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr))
    pieces = 0
    for line in p.stderr.splitlines():
        if line.startswith("stats:") and "rollup pieces" in line:
            pieces = int(line.rsplit("rollup pieces", 1)[1].strip())
    return [json.loads(l) for l in p.stdout.splitlines()], pieces


def options(ap):
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--synth", required=True)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("TT_SEED", "7")))


def main(t):
    a = t.args
    rnd = random.Random(a.seed)
    print("seed %d (TT_SEED to repeat)" % a.seed)
    tmp = t.tmpdir("rollup")
    stores = [os.path.join(tmp, "a"), os.path.join(tmp, "b")]
    # two stores read together: 2.1 h, and 20 min starting 3 h in
    for store, extra in zip(stores, ([], ["--start", str(START + 3 * 3600), "--hours",
                                          "0.34", "--seed", "2"])):
        args = ["--conns", "80", "--hours", "2.1", "--active", "0.3", "--seed", "1"]
        p = subprocess.run([a.synth, store] + args + extra, capture_output=True, text=True,
                           timeout=600)
        if p.returncode != 0:
            raise h.Failed("synth_store: " + p.stderr)
    windows = [([], "whole store"),
               (["--from", "@%d" % (START + 3600), "--to", "@%d" % (START + 7200)],
                "one whole hour")]
    for _ in range(14):
        f = START + rnd.uniform(-100, 3.5 * 3600)
        length = rnd.choice([rnd.uniform(1, 59), rnd.uniform(60, 600),
                             rnd.uniform(600, 3 * 3600)])
        windows.append((["--from", "@%.3f" % f, "--to", "@%.3f" % (f + length)],
                        "%.3f + %.3f s" % (f, length)))
    used = 0
    for i, (w, name) in enumerate(windows):
        groups = GROUPS if i < 3 else rnd.sample(GROUPS, 3)
        for g in groups:
            extra = ["--group-by", g]
            if rnd.random() < 0.3:
                extra += rnd.choice([["--proto", "tcp"], ["--proto", "udp"],
                                     ["--port", "5432"], ["--comm", "j*"],
                                     ["--host", "10.0.0.0/8"]])
            want, p0 = top(a.analyzer, stores, w + extra, False)
            got, p1 = top(a.analyzer, stores, w + extra, True)
            check(p0 == 0, "%s %s: --no-rollups read %d pieces" % (name, extra, p0))
            used += p1 > 0
            if got != want:
                check(False, "%s %s: %d rows with rollups, %d replayed" %
                      (name, extra, len(got), len(want)))
                for x, y in zip(got, want):
                    if x != y:
                        print("  rollups: %s\n  replay:  %s" % (x, y))
                        break
    # the windows of an hour and longer cannot have been answered without pieces
    check(used >= len(GROUPS), "rollups were used in only %d queries" % used)
    print("%d windows compared, rollups used in %d queries" % (len(windows), used))


if __name__ == "__main__":
    h.run("rollups", main, options, root=False)
