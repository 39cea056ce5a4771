#!/usr/bin/python3
"""Make the damaged copies of tests/data/store-v1 and their expected answers.

Usage: make.py ANALYZER   (run from anywhere; rewrites this directory's copies
and expected/; review the diff: the expected answers must be what the damage
lost, see README.md)

Each copy is store-v1's index (compacted: journal DELETE, 512-byte pages, so the
copies stay small) and segment, damaged as its name says. DAMAGE lists, for
each, the blocks it loses (index blocks.id; store-v1 is schema 1, every block a
keyframe, so a lost block loses its own ticks and nothing else).
"""
import os
import shutil
import sqlite3
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "store-v1")
SEG = "r000001-s000000.tts"
# store-v1's blocks (blocks.id: offset, frame length): 1 @64+82, 2 @146+307,
# 3 @453+399, 4 @852+374, 5 @1226+288; the file is 1,514 bytes
DAMAGE = {
    # the recorder died writing block 5: its row never reached the index, the
    # file ends 150 bytes into its frame, the recording has no end
    "torn-tail": [5],
    # one bit of block 3's frame header (its raw length field)
    "flip-frame-header": [3],
    # one bit of block 2's zstd payload
    "flip-payload": [2],
    # the only segment file is gone
    "segment-missing": [1, 2, 3, 4, 5],
    # block 4's row says offset 2514, past the end of the 1,514-byte file
    "row-past-end": [4],
    # one bit of the segment's 64-byte file header (its recording id): the
    # frames carry their own checksums, so nothing is lost (issue 14 item 4)
    "flip-file-header": [],
}


def flip(path, off, bit):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)[0] ^ (1 << bit)
        f.seek(off)
        f.write(bytes([b]))


def sql(d, stmt):
    db = sqlite3.connect(os.path.join(d, "index.db"))
    db.executescript(stmt)
    db.commit()
    db.close()


def copy(d):
    shutil.rmtree(d, ignore_errors=True)
    os.mkdir(d)
    shutil.copy(os.path.join(SRC, "index.db"), d)
    shutil.copy(os.path.join(SRC, SEG), d)
    db = sqlite3.connect(os.path.join(d, "index.db"))
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA page_size=512")
    db.execute("VACUUM")
    db.close()


def damage(name, d):
    seg = os.path.join(d, SEG)
    if name == "torn-tail":
        os.truncate(seg, 1226 + 150)
        sql(d, "DELETE FROM blocks WHERE id = 5; UPDATE segments SET bytes = 1226, blocks = 4,"
               " t_end_ns = (SELECT t_end_ns FROM blocks WHERE id = 4), sealed = 0;"
               " UPDATE recordings SET end_ns = NULL, clean_stop = 0;")
    elif name == "flip-frame-header":
        flip(seg, 453 + 12, 3)
    elif name == "flip-payload":
        flip(seg, 146 + 48 + 100, 0)
    elif name == "segment-missing":
        os.unlink(seg)
    elif name == "row-past-end":
        sql(d, "UPDATE blocks SET offset = 2514 WHERE id = 4")
    elif name == "flip-file-header":
        flip(seg, 16, 1)


def answer(ana, cwd, *args):
    p = subprocess.run([ana] + list(args), cwd=cwd, capture_output=True, text=True, timeout=60)
    return "exit %d\n%s--- stderr\n%s" % (p.returncode, p.stdout, p.stderr)


def main():
    ana = os.path.abspath(sys.argv[1])
    os.makedirs(os.path.join(HERE, "expected"), exist_ok=True)
    for name in DAMAGE:
        d = os.path.join(HERE, name)
        copy(d)
        damage(name, d)
        for cmd, args in (("verify", ["verify", name]),
                          ("top", ["top", "-n", "100", "--format", "json", name])):
            with open(os.path.join(HERE, "expected", "%s.%s" % (name, cmd)), "w") as f:
                f.write(answer(ana, HERE, *args))
        for f in ("index.db-wal", "index.db-shm"):
            if os.path.exists(os.path.join(d, f)):
                os.unlink(os.path.join(d, f))


if __name__ == "__main__":
    main()
