#!/usr/bin/python3
"""A root recorder and a root analyzer cannot be turned against the machine by a local user.

The attacker is `nobody`, acting through `setpriv`; the victim is a file of
root's, mode 0600, outside every store, with known contents. Each attack must
leave the victim byte for byte as it was, and be refused in one line:

1. A store directory another user owns (the default `-o ./tcptop-data` run
   from a world-writable directory where that user made it first): the
   recorder refuses it, with or without a LOCK or index.db symbolic link to
   the victim planted inside (today: root truncates the victim and writes its
   pid into it, or turns it into a SQLite database).
2. A store directory of root's that others may write (mode 0777 and 01777):
   refused.
3. A LOCK, index.db or index.db-wal symbolic link in root's own store (left
   by whoever had access once): the recorder refuses the store; `top` refuses
   to read it; the victim survives.
4. Retention and a hostile index: a sealed segment row naming `../victim`,
   older than --retain-age: the recorder refuses to remove that file, names it
   in one line, and the victim survives (today: it is unlinked).
5. A segment row naming `../victim` for a reader: `verify` reports it as a
   problem and never opens the victim.
"""
import os
import pwd
import shutil
import sqlite3
import subprocess
import time

import ttharness as h

SECRET = b"root's precious file\n" * 8


def as_nobody(*cmd):
    p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
                       + list(cmd), capture_output=True, text=True, timeout=20)
    if p.returncode:
        raise h.Failed("as nobody: %r: exit %d, %s" % (cmd, p.returncode, p.stderr.strip()))


def record(t, store, *extra):
    """A recorder that is expected to refuse the store: (exit, stderr)."""
    p = subprocess.run([t.args.recorder, "-o", store, "-q", "-d", "1s", "-i", "250ms"]
                       + list(extra), capture_output=True, text=True, timeout=60)
    if p.returncode == 77:
        raise h.Skip("the recorder cannot capture here: %s" % p.stderr.strip())
    return p.returncode, p.stderr


def recorded(t, store):
    """A store of root's with one short recording in it."""
    rec = t.recorder(store=store)
    rec.start()
    time.sleep(0.6)
    t.eq("recording %s: exit" % store, rec.halt(), 0)
    return store


class Victim:
    def __init__(self, t, top, name):
        self.t = t
        self.path = os.path.join(top, name)
        with open(self.path, "wb") as f:
            f.write(SECRET)
        os.chmod(self.path, 0o600)

    def intact(self, what):
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = None
        self.t.check(data == SECRET, "%s: the victim %s is untouched (now %r)" %
                     (what, self.path, data if data is None else data[:40]))


def refused(t, what, rc, err, *words):
    t.check(rc not in (0, 77), "%s: refused (exit %d, stderr %r)" % (what, rc, err))
    lines = err.strip().splitlines()
    t.check(len(lines) == 1 and all(w in lines[0] for w in words),
            "%s: one line naming %r, got %r" % (what, words, err))
    t.check(not h.sanitizer_report(err), "%s: sanitizer report in %r" % (what, err))


def foreign_dirs(t, top, pub):
    v = Victim(t, top, "victim-foreign")
    for plant in (None, "LOCK", "index.db"):
        store = os.path.join(pub, "tcptop-data-%s" % (plant or "plain"))
        as_nobody("mkdir", "-m", "0755", store)
        if plant:
            as_nobody("ln", "-s", v.path, os.path.join(store, plant))
        rc, err = record(t, store)
        refused(t, "a store owned by nobody (%s)" % (plant or "empty"), rc, err, store,
                "owned by uid %d" % pwd.getpwnam("nobody").pw_uid)
        v.intact("a store owned by nobody, %s" % (plant or "empty"))
        t.eq("a store owned by nobody (%s): files root made there" % (plant or "empty"),
             sorted(f for f in os.listdir(store)
                    if os.stat(os.path.join(store, f), follow_symlinks=False).st_uid == 0), [])
    for mode in (0o777, 0o1777, 0o770):
        store = os.path.join(top, "open-%o" % mode)
        os.mkdir(store)
        os.chmod(store, mode)
        rc, err = record(t, store)
        refused(t, "a store of mode %o" % mode, rc, err, store, "writable by")
        t.eq("a store of mode %o: files made" % mode, os.listdir(store), [])


def planted_links(t, top):
    """Root's own store, then a link where a file of it belongs."""
    good = recorded(t, os.path.join(top, "good"))
    for plant in ("LOCK", "index.db", "index.db-wal", "index.db-shm"):
        v = Victim(t, top, "victim-%s" % plant)
        store = os.path.join(top, "linked-%s" % plant)
        shutil.copytree(good, store, symlinks=True)
        target = os.path.join(store, plant)
        if os.path.exists(target):
            os.unlink(target)
        os.symlink(v.path, target)
        rc, err = record(t, store)
        refused(t, "recorder, %s a symbolic link" % plant, rc, err, plant, "symbolic link")
        v.intact("recorder, %s a symbolic link" % plant)
        if plant == "LOCK":
            continue  # readers never open LOCK
        p = subprocess.run([t.analyzer()] + ["top", store], capture_output=True, text=True,
                           timeout=60)
        refused(t, "top, %s a symbolic link" % plant, p.returncode, p.stderr, plant,
                "symbolic link")
        v.intact("top, %s a symbolic link" % plant)
        t.check(os.path.islink(target), "top, %s: the link is still a link" % plant)


def hostile_rows(t, top):
    store = recorded(t, os.path.join(top, "retained"))
    v = Victim(t, top, "victim")  # top/victim = store/../victim
    db = sqlite3.connect(os.path.join(store, "index.db"))
    with db:
        db.execute("INSERT INTO segments (recording_id, seq, file, created_ns, t_start_ns, "
                   "t_end_ns, bytes, blocks, sealed) VALUES (1, 999, '../victim', 1, 1, 1, "
                   "64, 0, 1)")
    db.close()
    p = subprocess.run([t.analyzer()] + ["verify", store], capture_output=True, text=True,
                       timeout=60)
    t.check(p.returncode != 0 and "../victim" in p.stdout + p.stderr,
            "verify: the row naming ../victim is a problem (exit %d, %r)" %
            (p.returncode, (p.stdout + p.stderr)[-300:]))
    v.intact("verify of a row naming ../victim")
    rc, err = record(t, store, "--retain-age", "1h")
    refused(t, "retention of a row naming ../victim", rc, err, "../victim")
    v.intact("retention of a row naming ../victim")


def main(t):
    h.preflight(t)
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        raise h.Skip("no user nobody on this machine")
    top = t.tmpdir("attack")
    os.chmod(top, 0o755)
    pub = os.path.join(top, "pub")  # a world-writable directory, as /tmp is
    os.mkdir(pub)
    os.chmod(pub, 0o1777)
    foreign_dirs(t, top, pub)
    planted_links(t, top)
    hostile_rows(t, top)


if __name__ == "__main__":
    h.run("store_attacks", main)
