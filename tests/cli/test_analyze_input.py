#!/usr/bin/python3
"""tcptop-analyze on bad input: one clear line, a non-zero exit, nothing written.

A store is written first by tests/bench/synth_store (the recorder's own writer,
aggregator and indexer behind a made-up event stream; no kernel, any user).
Then, for every subcommand: an unknown option,
a malformed time, a window outside the recording, a directory that is not a
store, a missing store argument; each must exit non-zero (2 for usage, 1 for
the rest) with exactly one line on stderr naming the problem, print nothing on
stdout, and leave the store byte for byte as it was. Finally a segment is
damaged in the middle: verify reports it (exit 1), and top --no-rollups,
events, timeline and replay still answer from the intact blocks (exit 0) with a
warning line (top from rollups answers from the index, without the segment).
"""
import hashlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402

COMMANDS = ["top", "events", "timeline", "replay", "info", "verify", "diff", "extract", "report"]
WINDOWED = ["top", "events", "timeline"]


def digest(d):
    h = hashlib.sha256()
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        # SQLite readers of a WAL database create an empty -wal and the -shm
        # index; neither holds data. Anything else counts, byte for byte.
        if name.endswith("-shm") or (name.endswith("-wal") and os.path.getsize(path) == 0):
            continue
        with open(path, "rb") as f:
            h.update(name.encode() + f.read())
    return h.hexdigest()


def options(ap):
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--synth", required=True)


def main(t):
    a = t.args
    work = t.tmpdir("cli")
    store = os.path.join(work, "store")
    rec = subprocess.run([a.synth, store, "--conns", "30", "--hours", "0.05", "--seed", "13"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         timeout=120)

    def check(label, ok, detail=""):
        t.check(ok, "%s %s" % (label, detail))

    t.require(rec.returncode == 0, "writing the store: exit %d: %s" % (rec.returncode,
                                                                      rec.stderr))
    empty = os.path.join(work, "empty")
    os.mkdir(empty)
    before = digest(store)

    def run(args, want_rc, what):
        p = subprocess.run([a.analyzer] + args, capture_output=True, text=True, timeout=60,
                           cwd=work)
        lines = [x for x in p.stderr.splitlines() if x.strip()]
        label = "%s (%s)" % (" ".join(args), what)
        check(label, p.returncode == want_rc, "exit %d, want %d: %r" %
              (p.returncode, want_rc, p.stderr))
        check(label, len(lines) == 1 and lines[0].startswith("tcptop-analyze: "),
              "stderr should be one 'tcptop-analyze: ...' line: %r" % p.stderr)
        check(label, p.stdout == "", "stdout should be empty: %r" % p.stdout[:200])
        return p

    for cmd in COMMANDS:
        run([cmd, "--no-such-option", store], 2, "unknown option")
        run([cmd, empty], 2 if cmd in ("diff", "extract", "report") else 1, "not a store")
        run([cmd], 2, "no store")
    for cmd in WINDOWED:
        run([cmd, "--from", "2026-13-45T99:00", store], 2, "malformed time")
        run([cmd, "--last", "-5m", store], 2, "malformed duration")
        run([cmd, "--from", "2001-01-01T00:00Z", "--to", "2001-01-02T00:00Z", store], 1,
            "window outside the recording")
        run([cmd, "--from", "10:00", "--to", "09:00", store], 2, "from after to")
        run([cmd, "--host", "300.1.1.1", store], 2, "bad host")
        run([cmd, "--format", "xml", store], 2, "bad format")
    run(["top", "--group-by", "colour", store], 2, "bad group key")
    run(["top", "--by", "weight", store], 2, "bad metric")
    run(["diff", "--baseline", "garbage", "--window", "-1m..end", store], 2, "bad range")
    run(["extract", "-o", store, store], 1, "extract over an existing store")
    check("the store is untouched by all of the above", digest(store) == before)

    # damage one byte in the middle of the segment: the rest still answers
    seg = sorted(f for f in os.listdir(store) if f.endswith(".tts"))[0]
    path = os.path.join(store, seg)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0xFF]))
    p = subprocess.run([a.analyzer, "verify", store], capture_output=True, text=True, timeout=60)
    check("verify on a damaged segment", p.returncode == 1 and "PROBLEM" in p.stdout,
          "exit %d: %r" % (p.returncode, p.stdout[-300:]))
    # top answers whole rollup periods from the index, which the damage does not touch
    p = subprocess.run([a.analyzer, "top", store], capture_output=True, text=True, timeout=60)
    check("top (rollups) on a damaged segment", p.returncode == 0 and p.stdout != "",
          "exit %d, stderr %r" % (p.returncode, p.stderr))
    for cmd in ["top", "events", "timeline", "replay"]:
        args = [cmd, store] + {"replay": ["--speed", "max"],
                               "top": ["--no-rollups"]}.get(cmd, [])
        p = subprocess.run([a.analyzer] + args, capture_output=True, text=True, timeout=60)
        check("%s on a damaged segment" % cmd, p.returncode == 0 and p.stdout != "" and
              "warning" in p.stderr, "exit %d, stderr %r" % (p.returncode, p.stderr))


if __name__ == "__main__":
    h.run("analyze_input", main, options, root=False)
