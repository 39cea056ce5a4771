#!/usr/bin/python3
"""ttstore: what the integration tests of the on-disk store need beside ttharness.

- StoreRecorder: `tcptop-record -o DIR -f json` that can be killed at any
  moment (attached or not), stopped with SIGINT, or run under a chosen umask;
  its stdout is drained (the canary row says when it is attached) and its
  stderr kept, with a check for sanitizer reports.
- analyzer(t), verify(t, ...), info_json(t, ...): tcptop-analyze, found next to
  the recorder (build/record/ -> build/analyze/): ttharness parses its
  arguments strictly (--recorder only), so no --analyzer option is passed.
- ro_index(), check_index_vs_disk(): the index read with python's sqlite3
  (read-only URI) and compared with the files in the store.
- Traffic generators, run as `python3 ttstore.py MODE ...` in their own
  process so the test's own threads cannot disturb their timing:
  - burst: connections on loopback that each carry a few bursts, every burst
    ONE send() of a size taken from a seeded schedule and ONE
    recv(MSG_WAITALL) at the other end, with a pause between bursts. A
    recorder can then only ever see a socket's total at a burst boundary; the
    result lists each connection's tuple, burst sizes and the
    CLOCK_MONOTONIC time each send() started, so a test knows every total a
    socket ever had and when.
  - churn: many TCP connections held open on loopback, a random few of them
    moving random amounts every few ms, and some closed and reopened every
    second: a steady stream of data for the store (keyframes, samples,
    connection rows).
  Both run until stdin is closed (or --duration), then print one JSON result.

Stdlib only, for Debian's /usr/bin/python3.
"""
import argparse
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SELF = os.path.abspath(__file__)
# the line a recorder with a store starts with (as in ttharness)
START_LINE = re.compile(r"^tcptop-record: recording into .*, keeping ")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


def pdeathsig(sig):
    """Command prefix: the child gets sig when we die, even by SIGKILL (ctest timeout)."""
    if shutil.which("setpriv"):
        return ["setpriv", "--pdeathsig", sig]
    return []


def sanitizer_report(text):
    return any(m in text for m in SANITIZER_MARKS)


# --- tcptop-analyze -----------------------------------------------------------


def analyzer(t):
    """tcptop-analyze of the same build: $TT_ANALYZER, else ../analyze/ from the recorder."""
    import ttharness as h

    path = os.environ.get("TT_ANALYZER") or os.path.normpath(
        os.path.join(os.path.dirname(os.path.abspath(t.args.recorder)), "..", "analyze",
                     "tcptop-analyze"))
    if not os.access(path, os.X_OK):
        raise h.Failed("tcptop-analyze not found next to the recorder: %s (set TT_ANALYZER)" % path)
    return path


def analyze(t, *args, timeout=60):
    return subprocess.run([analyzer(t)] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout)


def verify(t, store, what):
    """tcptop-analyze verify: exit 0, no PROBLEM line, no sanitizer report. Its stdout."""
    p = analyze(t, "verify", store)
    problems = [l for l in p.stdout.splitlines() if l.startswith("PROBLEM")]
    t.check(p.returncode == 0 and not problems,
            "%s: tcptop-analyze verify exited %d:\n%s%s" %
            (what, p.returncode, _indent(p.stdout, 40), _indent(p.stderr, 10)))
    t.check(not sanitizer_report(p.stderr), "%s: verify: sanitizer report:\n%s" %
            (what, _indent(p.stderr, 60)))
    return p.stdout


def info_json(t, store, what):
    """tcptop-analyze info --format json, parsed; None (and a failed check) if it fails."""
    p = analyze(t, "info", "--format", "json", store)
    if not t.check(p.returncode == 0, "%s: tcptop-analyze info exited %d: %s" %
                   (what, p.returncode, p.stderr.strip())):
        return None
    try:
        return json.loads(p.stdout)
    except ValueError:
        t.check(False, "%s: info --format json is not JSON: %r" % (what, p.stdout[:500]))
        return None


def _indent(text, max_lines):
    lines = text.rstrip().splitlines()
    if len(lines) > max_lines:
        lines = lines[:max_lines] + ["... (%d more lines)" % (len(lines) - max_lines)]
    return "".join("      %s\n" % l for l in lines)


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
            "\n%s" % (what, len(bad), nblocks, _indent("\n".join(bad), 20)))
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
    import tempfile

    import ttharness as h

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


# --- the recorder ---------------------------------------------------------------


class StoreRecorder:
    """tcptop-record -o STORE -f json, in the background."""

    def __init__(self, t, store, extra=(), interval="100ms", flush="200ms", umask=None,
                 canary=True):
        self.t = t
        self.store = store
        self.cmd = [t.args.recorder, "-o", store, "-f", "json", "-i", interval, "--flush", flush,
                    "-d", "110s"] + [str(x) for x in extra]
        self.umask = umask
        self.proc = None
        self.rc = None
        self.lines = 0
        self.stderr = []
        self.attached = threading.Event()
        self._canary = []
        self._port = None
        self._threads = []
        self._want_canary = canary
        self.t_spawn = None  # CLOCK_MONOTONIC
        self.wall_spawn = None
        self.t_end = None  # CLOCK_MONOTONIC once it is known dead
        self.wall_end = None

    def start(self, wait=True, timeout=20.0):
        """Start; with wait, until a tick shows the canary (every program attached,
        the store open). Returns whether it attached (always True with wait, or Failed)."""
        import ttharness as h

        if self._want_canary:
            a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            a.bind(("127.0.0.1", 0))
            b.bind(("127.0.0.1", 0))
            a.connect(b.getsockname())
            b.connect(a.getsockname())
            self._canary = [a, b]
            self._port = a.getsockname()[1]
        cmd = pdeathsig("KILL") + self.cmd
        if self.umask is not None:
            cmd = ["sh", "-c", "umask %03o && exec \"$@\"" % self.umask, "sh"] + cmd
        self.wall_spawn = time.time()
        self.t_spawn = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.t.cleanup(self.kill)
        for fn, stream in ((self._read_out, self.proc.stdout), (self._read_err, self.proc.stderr)):
            th = threading.Thread(target=fn, args=(stream,), daemon=True)
            th.start()
            self._threads.append(th)
        if not wait:
            return False
        deadline = time.monotonic() + timeout
        while not self.attached.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                break
        if self.attached.is_set():
            return True
        rc = self.proc.poll()
        for th in self._threads:
            th.join(2)
        msg = self.stderr_text().strip()
        if rc == h.SKIP_RC:
            raise h.Skip("tcptop-record exits 77: %s" % msg)
        if rc is not None:
            raise h.Failed("tcptop-record exited %d before attaching: %s" % (rc, msg))
        raise h.Failed("tcptop-record showed no canary within %.0fs: %s" % (timeout, msg))

    def _read_out(self, stream):
        for line in stream:
            self.lines += 1
            if self.attached.is_set() or not self._port:
                if not self._port:
                    self.attached.set()
                continue
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("proto") == "udp" and r.get("lport") == self._port:
                self.attached.set()

    def _read_err(self, stream):
        for line in stream:
            self.stderr.append(line.decode("utf-8", "replace"))

    def stderr_text(self):
        """stderr, without the line the recorder starts with (where, what it keeps)."""
        return "".join(l for l in self.stderr if not START_LINE.match(l))

    def start_line(self):
        return next((l.rstrip("\n") for l in self.stderr if START_LINE.match(l)), None)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _reap(self, timeout):
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.t_end = time.monotonic()
        self.wall_end = time.time()
        for th in self._threads:
            th.join(5)
        for s in self._canary:
            s.close()
        self._canary = []
        return self.rc

    def sigkill(self):
        """SIGKILL; returns once it is dead (t_end: a moment after it died)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self._reap(10)

    def stop(self, sig=signal.SIGINT, timeout=15.0):
        """Signal it and wait for the exit; its exit status (None: still running)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self._reap(timeout)
        if rc is None:
            self.kill()
        return rc

    def wait_exit(self, timeout):
        return self._reap(timeout)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self._reap(5)
        for s in self._canary:
            s.close()
        self._canary = []

    def check_stderr_clean(self, what):
        self.t.check(not sanitizer_report(self.stderr_text()),
                     "%s: sanitizer report on the recorder's stderr:\n%s" %
                     (what, _indent(self.stderr_text(), 60)))


# --- traffic generators (their own process) -------------------------------------


class GenProc:
    """`python3 ttstore.py MODE ...`: started, then told to stop by closing stdin."""

    def __init__(self, t, mode, args):
        self.t = t
        self.proc = subprocess.Popen(pdeathsig("KILL") + [sys.executable, SELF, mode] +
                                     [str(a) for a in args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t.cleanup(self.kill)
        self.ready = self._line()

    def _line(self):
        import ttharness as h

        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(5)
            raise h.Failed("ttstore generator exited %s: %s" %
                           (self.proc.returncode, self.proc.stderr.read().decode().strip()))
        return json.loads(line)

    def finish(self, timeout=30.0):
        import ttharness as h

        try:
            out, err = self.proc.communicate(timeout=timeout)  # closes stdin: stop
        except subprocess.TimeoutExpired:
            self.kill()
            raise h.Failed("ttstore generator did not finish within %.0fs" % timeout)
        if self.proc.returncode != 0:
            raise h.Failed("ttstore generator exited %d: %s" % (self.proc.returncode,
                                                              err.decode().strip()))
        return json.loads(out.decode().strip().splitlines()[-1])

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def burst_schedule(seed, lane, idx):
    """Burst sizes of connection idx of a lane; both ends compute the same."""
    rng = random.Random("%s/%d/%d" % (seed, lane, idx))
    return [1000 + rng.randrange(0, 3000) for _ in range(rng.randint(2, 9))]


def _stdin_closed_watch(stop, deadline):
    def watch():
        while time.monotonic() < deadline:
            r, _, _ = select.select([sys.stdin], [], [], 0.2)
            if r and not sys.stdin.buffer.readline():
                break
        stop.set()

    threading.Thread(target=watch, daemon=True).start()


def gen_burst(a):
    stop = threading.Event()
    _stdin_closed_watch(stop, time.monotonic() + a.duration)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    port = ls.getsockname()[1]
    lock = threading.Lock()
    cond = threading.Condition(lock)
    # client (addr, port) -> burst sizes of its connections in connect order: with
    # tcp_tw_reuse a port comes back once the last connection on it has closed
    schedules = {}
    conns = []
    errors = []

    def serve(c, peer, sizes):
        try:
            # blocking, no Python timeout: with one, the socket is non-blocking and
            # MSG_WAITALL may return part of a burst; SO_RCVTIMEO is the backstop
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 20, 0))
            if sizes is None:
                raise RuntimeError("no schedule for %r" % (peer,))
            got = []
            for n in sizes:
                b = c.recv(n, socket.MSG_WAITALL)
                got.append(len(b))
                if len(b) != n:
                    raise RuntimeError("%r: recv gave %d of a %d-byte burst" % (peer, len(b), n))
            b = c.recv(1, socket.MSG_WAITALL)
            if b:
                raise RuntimeError("%r: more bytes than scheduled" % (peer,))
        except Exception as e:  # reported, the test fails on it
            with lock:
                errors.append("server: %r" % e)
        finally:
            c.close()

    def acceptor():
        ls.settimeout(0.2)
        while True:
            try:
                c, peer = ls.accept()
            except socket.timeout:
                if done_lanes.is_set():
                    return
                continue
            c.settimeout(None)
            # here, in accept order, which is connect order for one client port
            with cond:
                sizes = None
                if cond.wait_for(lambda: schedules.get(peer), 20):
                    sizes = schedules[peer].pop(0)
            threading.Thread(target=serve, args=(c, peer, sizes), daemon=True).start()

    def lane(k):
        idx = 0
        while not stop.is_set():
            sizes = burst_schedule(a.seed, k, idx)
            rng = random.Random("%s/pause/%d/%d" % (a.seed, k, idx))
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            rec = {"lane": k, "idx": idx, "sizes": sizes, "t_send": [], "sent": 0}
            try:
                s.settimeout(None)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 20, 0))
                rec["t_connect"] = time.monotonic()
                s.connect(("127.0.0.1", port))
                la = s.getsockname()
                rec.update(laddr=la[0], lport=la[1], raddr="127.0.0.1", rport=port)
                with cond:
                    schedules.setdefault((la[0], la[1]), []).append(sizes)
                    cond.notify_all()
                for i, n in enumerate(sizes):
                    payload = bytes([(idx + i) & 0xFF]) * n
                    rec["t_send"].append(time.monotonic())
                    w = s.send(payload)  # one send(): one sock_send_length with all n
                    rec["sent"] += w
                    if w != n:
                        raise RuntimeError("send wrote %d of %d" % (w, n))
                    time.sleep(rng.uniform(a.pause_min, a.pause_max) / 1000.0)
            except Exception as e:
                with lock:
                    errors.append("client %d/%d: %r" % (k, idx, e))
            finally:
                s.close()
                rec["t_close"] = time.monotonic()
                with lock:
                    conns.append(rec)
            idx += 1

    done_lanes = threading.Event()
    acc = threading.Thread(target=acceptor)
    acc.start()
    print(json.dumps({"kind": "ready", "pid": os.getpid(), "port": port}), flush=True)
    lanes = [threading.Thread(target=lane, args=(k,)) for k in range(a.lanes)]
    for th in lanes:
        th.start()
    for th in lanes:
        th.join()
    done_lanes.set()
    acc.join()
    time.sleep(0.2)  # the last servers read their EOF
    ls.close()
    with lock:
        print(json.dumps({"kind": "result", "pid": os.getpid(), "port": port, "conns": conns,
                          "errors": errors}), flush=True)


def gen_churn(a):
    """--conns TCP pairs held open; every --period ms, --active random ones move data."""
    stop = threading.Event()
    _stdin_closed_watch(stop, time.monotonic() + a.duration)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1024)
    port = ls.getsockname()[1]
    rng = random.Random(a.seed)

    def pair():
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        s, _ = ls.accept()
        s.setblocking(False)
        return [c, s]

    pairs = [pair() for _ in range(a.conns)]
    print(json.dumps({"kind": "ready", "pid": os.getpid(), "port": port}), flush=True)
    moved = reopened = 0
    last_reopen = time.monotonic()
    blob = os.urandom(65536)
    while not stop.is_set():
        for p in rng.sample(pairs, min(a.active, len(pairs))):
            n = rng.randrange(1, a.max_bytes)
            off = rng.randrange(0, len(blob) - n)
            p[0].sendall(blob[off:off + n])
            moved += n
            while True:
                try:
                    if not p[1].recv(65536):
                        break
                except BlockingIOError:
                    break
        if a.reopen and time.monotonic() - last_reopen >= 1.0:
            last_reopen = time.monotonic()
            for i in rng.sample(range(len(pairs)), min(a.reopen, len(pairs))):
                for s in pairs[i]:
                    s.close()
                pairs[i] = pair()
                reopened += 1
        time.sleep(a.period / 1000.0)
    for p in pairs:
        for s in p:
            s.close()
    ls.close()
    print(json.dumps({"kind": "result", "moved": moved, "reopened": reopened}), flush=True)


def main():
    ap = argparse.ArgumentParser(prog="ttstore")
    sub = ap.add_subparsers(dest="mode", required=True)
    q = sub.add_parser("burst")
    q.add_argument("--seed", required=True)
    q.add_argument("--lanes", type=int, default=3)
    q.add_argument("--pause-min", type=float, default=5.0, help="ms between bursts")
    q.add_argument("--pause-max", type=float, default=40.0)
    q.add_argument("--duration", type=float, default=150.0, help="backstop, seconds")
    q.set_defaults(fn=gen_burst)
    q = sub.add_parser("churn")
    q.add_argument("--seed", default="1")
    q.add_argument("--conns", type=int, default=200)
    q.add_argument("--active", type=int, default=20)
    q.add_argument("--period", type=float, default=10.0, help="ms")
    q.add_argument("--max-bytes", type=int, default=3000)
    q.add_argument("--reopen", type=int, default=0, help="pairs closed and reopened per second")
    q.add_argument("--duration", type=float, default=100.0, help="backstop, seconds")
    q.set_defaults(fn=gen_churn)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
