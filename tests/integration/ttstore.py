#!/usr/bin/python3
"""ttstore: what the integration tests of the on-disk store need beside ttharness.

(The recorder with a store, t.recorder(store=...), and the store traffic,
ttgen.py store-burst and store-churn, are in ttharness and ttgen.)

- verify(t, ...), info_json(t, ...): tcptop-analyze verify and info, checked.
- ro_index(), query(), check_index_vs_disk(): the index read with python's
  sqlite3 (read-only URI) and compared with the files in the store.
- disk_bytes(), host_sockets(), tmpfs(): what the retention and full-disk
  tests measure and fill.

Stdlib only, for Debian's /usr/bin/python3.
"""
import json
import os
import sqlite3
import subprocess
import tempfile

import ttharness as h


def verify(t, store, what):
    """tcptop-analyze verify: exit 0, no PROBLEM line, no sanitizer report. Its stdout."""
    p = t.analyze("verify", store)
    problems = [l for l in p.stdout.splitlines() if l.startswith("PROBLEM")]
    t.check(p.returncode == 0 and not problems,
            "%s: tcptop-analyze verify exited %d:\n%s%s" %
            (what, p.returncode, h.indent(p.stdout, 40), h.indent(p.stderr, 10)))
    t.check(not h.sanitizer_report(p.stderr), "%s: verify: sanitizer report:\n%s" %
            (what, h.indent(p.stderr, 60)))
    return p.stdout


def info_json(t, store, what):
    """tcptop-analyze info --format json, parsed; None (and a failed check) if it fails."""
    p = t.analyze("info", "--format", "json", store)
    if not t.check(p.returncode == 0, "%s: tcptop-analyze info exited %d: %s" %
                   (what, p.returncode, p.stderr.strip())):
        return None
    try:
        return json.loads(p.stdout)
    except ValueError:
        t.check(False, "%s: info --format json is not JSON: %r" % (what, p.stdout[:500]))
        return None


# --- the index, read by hand ----------------------------------------------------


def ro_index(store):
    """index.db read-only, as docs/SCHEMA.md tells people to open it."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(store, "index.db"), uri=True,
                         timeout=10)
    db.row_factory = sqlite3.Row
    return db


def query(store, sql, args=()):
    db = ro_index(store)
    try:
        return [dict(r) for r in db.execute(sql, args)]
    finally:
        db.close()


def segment_files(store):
    return sorted(f for f in os.listdir(store) if f.endswith(".tts"))


def check_index_vs_disk(t, store, what, files_known=True):
    """Every segments row names a file on disk, every block lies inside its file,
    segments.bytes does too; with files_known, every .tts on disk is in the index.
    Returns the segments rows."""
    segs = query(store, "SELECT id, recording_id, seq, file, bytes, blocks, sealed, "
                        "t_start_ns, t_end_ns FROM segments ORDER BY id")
    on_disk = set(segment_files(store))
    named = {s["file"] for s in segs}
    sizes = {}
    for s in segs:
        path = os.path.join(store, s["file"])
        if t.check(os.path.exists(path), "%s: index names segment %s, not on disk" %
                   (what, s["file"])):
            sizes[s["id"]] = os.path.getsize(path)
            t.check(s["bytes"] <= sizes[s["id"]], "%s: %s: segments.bytes %d > file size %d" %
                    (what, s["file"], s["bytes"], sizes[s["id"]]))
    if files_known:
        t.eq("%s: segment files on disk that the index does not know" % what,
             sorted(on_disk - named), [])
    bad = []
    nblocks = 0
    for b in query(store, "SELECT b.segment_id, s.file, b.offset, b.length FROM blocks b "
                          "JOIN segments s ON s.id = b.segment_id"):
        nblocks += 1
        size = sizes.get(b["segment_id"])
        if size is None:
            bad.append("%s: block at %d, file missing" % (b["file"], b["offset"]))
        elif b["offset"] < 64 or b["offset"] + b["length"] > size:
            bad.append("%s: block at %d + %d, file size %d" % (b["file"], b["offset"],
                                                              b["length"], size))
    t.check(not bad, "%s: blocks rows that do not point inside their segment file (%d of %d):"
            "\n%s" % (what, len(bad), nblocks, h.indent("\n".join(bad), 20)))
    orphans = query(store, "SELECT count(*) AS n FROM blocks WHERE segment_id NOT IN "
                           "(SELECT id FROM segments)")[0]["n"]
    t.eq("%s: blocks rows without a segments row" % what, orphans, 0)
    return segs


def disk_bytes(store):
    """Bytes of the segment files on disk now (files may vanish while we look)."""
    total = 0
    for f in segment_files(store):
        try:
            total += os.path.getsize(os.path.join(store, f))
        except FileNotFoundError:
            pass
    return total


def host_sockets():
    """TCP connections (not listening, not in TIME_WAIT) and UDP sockets of this
    network namespace now (other tests, services): each is an index row that the
    recorder rewrites with every block."""
    n = 0
    for f in ("tcp", "tcp6", "udp", "udp6"):
        try:
            with open("/proc/net/" + f) as fh:
                next(fh, None)
                for line in fh:
                    st = line.split()[3:4]
                    if not f.startswith("tcp") or st not in (["06"], ["0A"]):
                        n += 1
        except OSError:
            pass
    return n


def tmpfs(t, size_k, tag):
    """A fresh tmpfs of size_k KiB, unmounted at teardown. Its mount point."""
    mnt = tempfile.mkdtemp(prefix="tt%s-" % tag)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dk,mode=0700" % size_k, "tmpfs",
                        mnt], capture_output=True, text=True)
    if p.returncode != 0:
        os.rmdir(mnt)
        raise h.Skip("cannot mount a tmpfs: %s" % p.stderr.strip())

    def down():
        if subprocess.run(["umount", mnt], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", mnt], capture_output=True)
        os.rmdir(mnt)

    t.cleanup(down)
    return mnt
