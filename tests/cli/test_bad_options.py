#!/usr/bin/python3
"""tcptop-record with a bad option: exit 2, one line on stderr, nothing recorded.

Each case is one ctest (--case NAME). The line must start with
"tcptop-record: " and name what was wrong (the option or the value), stdout
must stay empty, and the recorder must exit at once without writing anything
(no store in the working directory): options are checked before anything is
loaded, so these run without root too.

Usage: test_bad_options.py --recorder PATH --case NAME
"""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--recorder", required=True)
    ap.add_argument("--case", choices=sorted(CASES), required=True)
    a = ap.parse_args()
    args, word = CASES[a.case]
    name = "cli.bad_option.%s" % a.case
    cmd = [a.recorder] + args
    # in an empty directory: bad usage must not leave a store behind
    with tempfile.TemporaryDirectory(prefix="ttcli-") as cwd:
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=cwd,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            print("FAIL: %s: %s did not exit within 10s (it should not even start)" %
                  (name, shlex.join(cmd)))
            return 1
        left = sorted(os.listdir(cwd))
    lines = p.stderr.splitlines()
    fails = []
    if p.returncode != 2:
        fails.append("exit status: got %d, want 2" % p.returncode)
    if len(lines) != 1:
        fails.append("stderr: got %d lines, want exactly 1" % len(lines))
    elif not lines[0].startswith("tcptop-record: ") or word not in lines[0]:
        fails.append("the stderr line does not start with 'tcptop-record: ' and mention %r" % word)
    if p.stdout:
        fails.append("stdout is not empty: %r" % p.stdout[:200])
    if left:
        fails.append("files left in the working directory: %r" % left)
    if fails:
        print("FAIL: %s: %s" % (name, shlex.join(cmd)))
        for f in fails:
            print("  - " + f)
        print("  stderr: %r" % p.stderr[:500])
        return 1
    print("PASS: %s: %s" % (name, lines[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
