#!/usr/bin/python3
"""--group shares a store with one group, and only that much.

Under umask 000, `tcptop-record -o DIR --group G` must leave DIR setgid, owned
by group G, mode 2750, and every file in it (LOCK, index.db and its WAL files,
segments) group G with mode 0640: readable by the group, by nobody else. An
unknown group is one error line and exit 1, with no store left behind.
"""
import grp
import os
import stat
import subprocess
import tempfile

import ttharness as h


def main(t):
    group = next((g for g in ("adm", "daemon", "users") if _has(g)), None)
    if group is None:
        raise h.Skip("no adm, daemon or users group on this machine")
    gid = grp.getgrnam(group).gr_gid
    base = tempfile.mkdtemp(prefix="ttgrp-")
    t.cleanup(lambda: subprocess.run(["rm", "-rf", base]))
    store = os.path.join(base, "store")
    old = os.umask(0)
    try:
        p = subprocess.run([t.args.recorder, "-o", store, "-q", "-d", "1500ms", "-i", "250ms",
                            "--flush", "500ms", "--group", group], capture_output=True,
                           text=True, timeout=60)
        bad = subprocess.run([t.args.recorder, "-o", os.path.join(base, "nogroup"), "-q", "-d",
                              "1s", "--group", "no-such-group-tt"], capture_output=True,
                             text=True, timeout=60)
    finally:
        os.umask(old)
    if p.returncode == 77:
        raise h.Skip("the recorder cannot capture here: %s" % p.stderr.strip())
    t.eq("recorder exit (stderr %r)" % p.stderr, p.returncode, 0)
    st = os.stat(store)
    t.eq("store directory mode", oct(stat.S_IMODE(st.st_mode)), oct(0o2750))
    t.eq("store directory group", st.st_gid, gid)
    files = os.listdir(store)
    t.check(any(f.endswith(".tts") for f in files) and "index.db" in files,
            "segments and index.db were written: %r" % files)
    for f in files:
        fs = os.stat(os.path.join(store, f))
        t.eq("%s mode" % f, oct(stat.S_IMODE(fs.st_mode)), oct(0o640))
        t.eq("%s group" % f, fs.st_gid, gid)
    t.eq("unknown group: exit", bad.returncode, 1)
    t.check(bad.stderr.count("\n") == 1 and "no group named" in bad.stderr,
            "unknown group: one line naming it: %r" % bad.stderr)
    t.check(not os.path.exists(os.path.join(base, "nogroup")),
            "unknown group: no store left behind")


def _has(g):
    try:
        grp.getgrnam(g)
        return True
    except KeyError:
        return False


if __name__ == "__main__":
    h.run("store_group", main)
