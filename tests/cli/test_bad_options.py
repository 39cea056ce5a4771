#!/usr/bin/python3
"""tcptop-record with a bad option: exit 2, one line on stderr, nothing recorded.

Each case is one ctest (--case NAME). The line must start with
"tcptop-record: " and name what was wrong (the option or the value), stdout
must stay empty, and the recorder must exit at once without writing anything
(no store in the working directory): options are checked before anything is
loaded, so these run without root too.

Usage: test_bad_options.py --recorder PATH --case NAME
"""
import os
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402

# name: (arguments, a word the error line must contain)
CASES = {
    "unknown": (["--bogus"], "--bogus"),
    "interval_abc": (["--interval", "abc"], "abc"),
    "interval_missing": (["--interval"], "--interval"),
    "duration_negative": (["--duration", "-1"], "-1"),
    "format_xml": (["--format", "xml"], "xml"),
    "proto_sctp": (["--proto", "sctp"], "sctp"),
    "port_too_big": (["--port", "70000"], "70000"),
    "stray_argument": (["-f", "json", "extra"], "extra"),
    "keyframe_not_flush_multiple": (["--flush", "2s", "--keyframe", "3s"], "multiple of --flush"),
}


def options(ap):
    ap.add_argument("--recorder", required=True)
    ap.add_argument("--case", choices=sorted(CASES), required=True)


def main(t):
    a = t.args
    t.name = "bad_option." + a.case
    args, word = CASES[a.case]
    cmd = [a.recorder] + args
    t.note("  command: %s" % shlex.join(cmd))
    # in an empty directory: bad usage must not leave a store behind
    cwd = t.tmpdir("cli")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=cwd,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise h.Failed("%s did not exit within 10s (it should not even start)" % shlex.join(cmd))
    left = sorted(os.listdir(cwd))
    lines = p.stderr.splitlines()
    t.note("  stderr: %r" % p.stderr[:500])
    t.eq("exit status", p.returncode, 2)
    if t.eq("stderr lines", len(lines), 1):
        t.check(lines[0].startswith("tcptop-record: ") and word in lines[0],
                "the stderr line does not start with 'tcptop-record: ' and mention %r" % word)
    t.eq("stdout", p.stdout[:200], "")
    t.eq("files left in the working directory", left, [])
    if lines:
        print(lines[0])


if __name__ == "__main__":
    h.run("bad_option", main, options, root=False)
