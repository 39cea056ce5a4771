#!/usr/bin/python3
"""tcptop-record without CAP_BPF/CAP_PERFMON: exit 77 and one line saying what is missing.

As root the capabilities are dropped for the recorder alone with setpriv (or
capsh): bounding, inheritable and ambient sets emptied, so after exec it has
no capability at all. A second case keeps only CAP_BPF and expects CAP_PERFMON
to be named as missing. As a normal user the recorder simply runs without
them. Nothing may appear on stdout, nor be left in the working directory (no
empty store): it never got to record.

Usage: test_privileges.py --recorder PATH [--case none|bpf-only]
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

SKIP_RC = 77


def command(rec, keep):
    """rec run with only the capabilities in keep; None when that cannot be arranged."""
    if os.geteuid() != 0:
        return rec if not keep else None  # a normal user has none to keep
    if shutil.which("setpriv"):
        bset = ",".join(["-all"] + ["+" + c for c in keep])
        return ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=" + bset,
                "--"] + rec
    if shutil.which("capsh") and not keep:
        # root's exec gets only the bounding set: drop from it what the recorder checks
        drop = ",".join("cap_" + c for c in ("bpf", "perfmon", "sys_admin", "net_admin"))
        return ["capsh", "--drop=" + drop, "--", "-c", "exec " + shlex.join(rec)]
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--recorder", required=True)
    ap.add_argument("--case", choices=("none", "bpf-only"), default="none")
    a = ap.parse_args()
    name = "cli.privileges.%s" % a.case
    keep = [] if a.case == "none" else ["bpf"]
    missing = "CAP_BPF" if a.case == "none" else "CAP_PERFMON"

    # -d: should the check ever let it through, it still ends on its own
    cmd = command([a.recorder, "-f", "json", "-i", "100ms", "-d", "1s"], keep)
    if cmd is None:
        print("SKIPPED: %s: cannot run the recorder with only %s (no setpriv or capsh, or not "
              "root)" % (name, keep or "no capabilities"), flush=True)
        return SKIP_RC
    # in an empty directory: a recorder that cannot record must not leave a store behind
    with tempfile.TemporaryDirectory(prefix="ttcli-") as cwd:
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=cwd,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            print("FAIL: %s: the recorder did not exit within 20s: %s" % (name, shlex.join(cmd)))
            return 1
        left = sorted(os.listdir(cwd))
    lines = p.stderr.splitlines()
    fails = []
    if p.returncode != SKIP_RC:
        fails.append("exit status: got %d, want %d" % (p.returncode, SKIP_RC))
    if len(lines) != 1:
        fails.append("stderr: got %d lines, want exactly 1" % len(lines))
    elif not lines[0].startswith("tcptop-record: ") or missing not in lines[0]:
        fails.append("the stderr line does not start with 'tcptop-record: ' and name %s" % missing)
    elif a.case == "bpf-only" and "missing: CAP_BPF" in lines[0]:
        fails.append("the stderr line names CAP_BPF as missing although it was kept")
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
