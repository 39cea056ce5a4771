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
import os
import shlex
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402

SKIP_RC = h.SKIP_RC  # what the recorder exits with when it cannot capture


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


def options(ap):
    ap.add_argument("--recorder", required=True)
    ap.add_argument("--case", choices=("none", "bpf-only"), default="none")


def main(t):
    a = t.args
    t.name = "privileges." + a.case
    keep = [] if a.case == "none" else ["bpf"]
    missing = "CAP_BPF" if a.case == "none" else "CAP_PERFMON"

    # -d: should the check ever let it through, it still ends on its own
    cmd = command([a.recorder, "-f", "json", "-i", "100ms", "-d", "1s"], keep)
    if cmd is None:
        raise h.Skip("cannot run the recorder with only %s (no setpriv or capsh, or not root)" %
                     (keep or "no capabilities"))
    t.note("  command: %s" % shlex.join(cmd))
    # in an empty directory: a recorder that cannot record must not leave a store behind
    cwd = t.tmpdir("cli")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=cwd,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise h.Failed("the recorder did not exit within 20s: %s" % shlex.join(cmd))
    left = sorted(os.listdir(cwd))
    lines = p.stderr.splitlines()
    t.note("  stderr: %r" % p.stderr[:500])
    t.eq("exit status", p.returncode, SKIP_RC)
    if t.eq("stderr lines", len(lines), 1):
        if t.check(lines[0].startswith("tcptop-record: ") and missing in lines[0],
                   "the stderr line does not start with 'tcptop-record: ' and name %s" % missing):
            t.check(a.case != "bpf-only" or "missing: CAP_BPF" not in lines[0],
                    "the stderr line names CAP_BPF as missing although it was kept")
    t.eq("stdout", p.stdout[:200], "")
    t.eq("files left in the working directory", left, [])
    if lines:
        print(lines[0])


if __name__ == "__main__":
    h.run("privileges", main, options, root=False)
