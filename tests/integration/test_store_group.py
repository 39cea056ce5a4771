#!/usr/bin/python3
"""--group shares a store with one group, and only that much.

Under umask 000, `tcptop-record -o DIR --group G` must leave DIR setgid, owned
by group G, mode 2750, and every file in it (LOCK, index.db and its WAL files,
segments) group G with mode 0640: readable by the group, by nobody else. An
unknown group is one error line and exit 1, with no store left behind.

And the group can read it: a real non-root member of G (a user made for the
test if none exists) runs `top` and `verify` and gets exactly what root gets,
with nothing written into the store, after a clean stop, after a SIGKILL of
the recorder (the -wal and -shm are left), with an index left in WAL mode
without -wal (read immutable), after root ran `reindex` (which keeps
index.db 0640 and group G), and after a recording without --group (whose
files keep the store's 0640).
"""
import grp
import os
import pwd
import re
import socket
import sqlite3
import stat
import subprocess
import tempfile
import time

import ttharness as h
import ttstore as ts

READER = "ttgrpreader"


def main(t):
    group = next((g for g in ("adm", "daemon", "users") if _has(g)), None)
    if group is None:
        raise h.Skip("no adm, daemon or users group on this machine")
    gid = grp.getgrnam(group).gr_gid
    base = tempfile.mkdtemp(prefix="ttgrp-")
    t.cleanup(lambda: subprocess.run(["rm", "-rf", base]))
    store = os.path.join(base, "store")
    # a connection open all along: the recording has rows whatever else the host does
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(1)
    cli = socket.create_connection(lsn.getsockname())
    srv, _ = lsn.accept()
    t.cleanup(lambda: [x.close() for x in (cli, srv, lsn)])
    old = os.umask(0)
    try:
        p = subprocess.run([t.args.recorder, "-o", store, "-q", "-d", "3s", "-i", "250ms",
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
    _shared(t, store, gid, "recorded")
    t.eq("unknown group: exit", bad.returncode, 1)
    t.check(bad.stderr.count("\n") == 1 and "no group named" in bad.stderr,
            "unknown group: one line naming it: %r" % bad.stderr)
    t.check(not os.path.exists(os.path.join(base, "nogroup")),
            "unknown group: no store left behind")

    os.chmod(base, 0o755)  # the member must reach the stores
    member = _member(t, group)
    _read_as_member(t, member, store, "after a clean stop")

    # an index left in WAL mode without -wal (a reader had it open when the
    # recorder stopped): read immutable, nothing created
    db = sqlite3.connect(os.path.join(store, "index.db"))
    t.eq("index left in WAL mode", db.execute("PRAGMA journal_mode = WAL").fetchone()[0], "wal")
    db.close()
    t.check(not os.path.exists(os.path.join(store, "index.db-wal")),
            "no -wal after the last connection closed: %r" % sorted(os.listdir(store)))
    _read_as_member(t, member, store, "a WAL index without -wal")

    killed = os.path.join(base, "killed")
    rec = ts.StoreRecorder(t, killed, extra=("--group", group), umask=0)
    rec.start()
    time.sleep(0.8)
    rec.sigkill()
    t.check(os.path.exists(os.path.join(killed, "index.db-wal")),
            "after a SIGKILL the -wal is left: %r" % sorted(os.listdir(killed)))
    _read_as_member(t, member, killed, "after a SIGKILL")
    # the kill may land after a checkpoint emptied the -wal (wal_autocheckpoint
    # 1, journal_size_limit 0) while the -shm still counts its frames: make
    # that state (what is committed is in index.db by then) and read again
    killed2 = os.path.join(base, "killed2")
    rec = ts.StoreRecorder(t, killed2, extra=("--group", group), umask=0)
    rec.start()
    time.sleep(0.8)
    rec.sigkill()
    os.truncate(os.path.join(killed2, "index.db-wal"), 0)
    _read_as_member(t, member, killed2, "after a SIGKILL, an empty -wal and a stale -shm")

    r = ts.analyze(t, "reindex", store)
    t.eq("reindex exit (stderr %r)" % r.stderr, r.returncode, 0)
    _shared(t, store, gid, "after reindex")
    _read_as_member(t, member, store, "after reindex")

    # a later recording without --group keeps the store shared
    p = subprocess.run([t.args.recorder, "-o", store, "-q", "-d", "1s", "-i", "250ms",
                        "--flush", "500ms"], capture_output=True, text=True, timeout=60)
    t.eq("recording again without --group: exit (stderr %r)" % p.stderr, p.returncode, 0)
    _shared(t, store, gid, "recorded again")
    _read_as_member(t, member, store, "recorded again without --group")


def _shared(t, store, gid, what):
    """Every file of store: mode 0640, group gid."""
    for f in os.listdir(store):
        fs = os.stat(os.path.join(store, f))
        t.eq("%s: %s mode" % (what, f), oct(stat.S_IMODE(fs.st_mode)), oct(0o640))
        t.eq("%s: %s group" % (what, f), fs.st_gid, gid)


def _member(t, group):
    """A non-root user in group: READER, made for the test if missing."""
    try:
        pw = pwd.getpwnam(READER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", "-G", group, READER],
                       check=True, capture_output=True)
        t.cleanup(lambda: subprocess.run(["userdel", READER], capture_output=True))
        pw = pwd.getpwnam(READER)
    if READER not in grp.getgrnam(group).gr_mem:
        subprocess.run(["usermod", "-a", "-G", group, READER], check=True, capture_output=True)
    return pw


def _read_as_member(t, member, store, what):
    before = {f: os.stat(os.path.join(store, f)).st_mtime_ns for f in os.listdir(store)}
    def as_member(cmd):
        return subprocess.run(["setpriv", "--reuid=%d" % member.pw_uid,
                               "--regid=%d" % member.pw_gid, "--init-groups", "--",
                               ts.analyzer(t)] + cmd + [store],
                              capture_output=True, text=True, timeout=60)

    for cmd in (["top", "-n", "1000"], ["verify"]):
        mine = as_member(cmd)
        t.eq("%s: member's %s exit (stderr %r)" % (what, cmd[0], mine.stderr), mine.returncode, 0)
        t.check(not ts.sanitizer_report(mine.stderr), "%s: sanitizer report" % what)
        if cmd[0] == "top":
            t.check(mine.stdout.count("\n") > 1, "%s: top has rows: %r (stderr %r)"
                    % (what, mine.stdout, mine.stderr))
            after = {f: os.stat(os.path.join(store, f)).st_mtime_ns for f in os.listdir(store)}
            t.eq("%s: the member's read wrote nothing" % what, after, before)
            roots = ts.analyze(t, *(cmd + [store]))
            # a SIGKILL between a block's fsync and its index transaction leaves blocks
            # the member cannot adopt (it cannot write): it says how many its answer
            # lacks, root's read adopts exactly those, and then the two answers agree
            lack = re.search(r"(\d+) blocks not indexed", mine.stderr)
            if lack:
                t.check(re.search(r"\b%s blocks written before a recorder stopped uncleanly"
                                  % lack.group(1), roots.stderr),
                        "%s: the member lacked %s blocks, root adopted them: %r"
                        % (what, lack.group(1), roots.stderr))
                mine = as_member(cmd)
            t.check(mine.stdout == roots.stdout, "%s: member's top equals root's (%d and %d "
                    "lines)" % (what, mine.stdout.count("\n"), roots.stdout.count("\n")))


def _has(g):
    try:
        grp.getgrnam(g)
        return True
    except KeyError:
        return False


if __name__ == "__main__":
    h.run("store_group", main)
