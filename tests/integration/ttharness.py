"""ttharness: the one harness of the integration and cli tests.

- run(name, main, options, root): argument parsing (--recorder by default, or
  the test's own options), the skip/fail/pass protocol (exit 77 with a loud
  "SKIPPED: <name>: <reason>", 1 with every failed check and its numbers, 0),
  the final "N checks, M failures" line, and teardown that runs whatever
  happens (try/finally, atexit, SIGTERM/SIGHUP). root=True (the integration
  tests): skipped without root or BTF, leftovers of killed runs swept first.
- Test: checks that collect failures instead of stopping at the first (also as
  the module functions check(), eq() and require(), for the test running
  now), temporary directories removed at teardown, tcptop-analyze found and run.
- Recorder: runs `tcptop-record -f json` in the background, waits until it is
  attached (a canary socket made before the start shows up in a tick), collects
  its rows, stops it with SIGINT and checks it exited 0. With store=DIR, the
  store tests' recorder: rows only counted, killed at any moment (attached or
  not), a chosen umask, the moments it was spawned and found dead.
- Gen: one ttgen.py process (the traffic generator that knows exactly what it
  sent and read), optionally inside a network namespace; its burst and churn
  modes feed the store tests.
- pdeathsig(): every child process dies with the test, even when the test is
  SIGKILLed (a ctest timeout).
- NetNS: a namespace joined to the host by a veth pair, IPv4 and IPv6
  (2001:db8::/32, nodad), with names and subnets unique to this process.
- Tmux: a command on a terminal of a chosen size (tmux), its screen read and
  keys sent as a person would, for the interactive view; fmt_bytes: the
  view's human units, written again independently.

Every wait is bounded. Stdlib only, for Debian's /usr/bin/python3.
"""
import argparse
import atexit
import ipaddress
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

SKIP_RC = 77
HERE = os.path.dirname(os.path.abspath(__file__))
TTGEN = os.path.join(HERE, "ttgen.py")
# every recorder with a store says once where it records and what it keeps
START_LINE = re.compile(r"^tcptop-record: recording into .*, keeping ")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")
NS_PREFIX = "ttint"  # namespaces: ttint<pid><tag>; veth ends: tt<pid><tag>h / n


class Skip(Exception):
    pass


class Failed(Exception):
    pass


def pdeathsig(sig):
    """Command prefix: the child dies with us even if we are SIGKILLed (ctest timeout).

    setpriv keeps the setting across exec and `ip netns exec` keeps it too; no
    preexec_fn, which is not safe once threads run.
    """
    if shutil.which("setpriv"):
        return ["setpriv", "--pdeathsig", sig]
    return []


def run_cmd(cmd, check=True, input=None, timeout=20):
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise Failed("command failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr.strip()))
    return p


def sanitizer_report(text):
    """Whether text (a stderr) holds an ASan, LSan or UBSan report."""
    return any(m in text for m in SANITIZER_MARKS)


def indent(text, max_lines):
    """text indented under a failure line, at most max_lines of it."""
    lines = text.rstrip().splitlines()
    if len(lines) > max_lines:
        lines = lines[:max_lines] + ["... (%d more lines)" % (len(lines) - max_lines)]
    return "".join("      %s\n" % l for l in lines)


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def norm_addr(a):
    """An address as the recorder prints it: IPv4 plain (v4-mapped folded), IPv6 compressed."""
    if a in ("*", "", None):
        return "*"
    ip = ipaddress.ip_address(a.split("%")[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return "*"
    return str(ip)


def fmt_tuple(proto, laddr, lport, raddr, rport):
    def hp(a, p):
        a = norm_addr(a)
        return "[%s]:%d" % (a, p) if ":" in a else "%s:%d" % (a, p)

    return "%s %s -> %s" % (proto, hp(laddr, lport), hp(raddr, rport))


def cgroup_id(pid):
    """cgroup v2 id of a process (the inode of its cgroup directory), None if unknown."""
    try:
        return _cgroup_id(pid)
    except OSError:
        return None


def cgroup2_mount():
    """Where the cgroup v2 hierarchy is mounted, None if nowhere."""
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    return None


def _cgroup_id(pid):
    mnt = cgroup2_mount()
    if not mnt:
        return None
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            if line.startswith("0::"):
                return os.stat(mnt + line[3:].strip()).st_ino
    return None


def host_netns():
    return os.stat("/proc/self/ns/net").st_ino


# --- test protocol ----------------------------------------------------------


class Test:
    def __init__(self, name, options=None):
        ap = argparse.ArgumentParser(prog="test_" + name)
        if options is None:
            ap.add_argument("--recorder", required=True, help="path to tcptop-record")
        else:
            options(ap)
        self.args = ap.parse_args()
        self.name = name
        self.failures = []
        self.notes = []
        self.nchecks = 0
        self._cleanups = []
        self._torn_down = False
        self.recorders = []
        self.tag = str(os.getpid())

    # checks: record and go on, so one run shows everything that differs
    def check(self, cond, what):
        self.nchecks += 1
        if not cond:
            self.failures.append(what)
        return bool(cond)

    def eq(self, what, got, want):
        return self.check(got == want, "%s: got %r, want %r" % (what, got, want))

    def ge(self, what, got, low):
        return self.check(got is not None and got >= low, "%s: got %r, want >= %r" % (what, got, low))

    def le(self, what, got, high):
        return self.check(got is not None and got <= high, "%s: got %r, want <= %r" % (what, got, high))

    def require(self, cond, what):
        """A check whose failure makes the rest meaningless: stop here."""
        self.nchecks += 1
        if not cond:
            raise Failed(what)

    def note(self, msg):
        """Context printed only when the test fails."""
        self.notes.append(msg)

    def cleanup(self, fn):
        """Run fn at teardown, last registered first."""
        self._cleanups.append(fn)

    def tmpdir(self, prefix):
        """A fresh directory, removed with all it holds at teardown."""
        d = tempfile.mkdtemp(prefix="tt%s-" % prefix)
        self.cleanup(lambda: shutil.rmtree(d, ignore_errors=True))
        return d

    # tcptop-analyze of the same build
    def analyzer(self):
        """--analyzer if the test takes it, else $TT_ANALYZER, else ../analyze/ beside the
        recorder."""
        path = getattr(self.args, "analyzer", None) or os.environ.get("TT_ANALYZER")
        if not path:
            path = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(
                self.args.recorder)), "..", "analyze", "tcptop-analyze"))
        self.require(os.access(path, os.X_OK), "tcptop-analyze not found or not executable: %s "
                     "(set TT_ANALYZER)" % path)
        return path

    def analyze(self, *args, timeout=60, text=True):
        """tcptop-analyze ARGS: the CompletedProcess, whatever its exit."""
        return subprocess.run([self.analyzer()] + [str(a) for a in args], capture_output=True,
                              text=text, timeout=timeout)

    def analyze_ok(self, *args, timeout=120, text=True):
        """tcptop-analyze ARGS, which must exit 0 (else the test stops here)."""
        p = self.analyze(*args, timeout=timeout, text=text)
        err = p.stderr if text else p.stderr.decode("utf-8", "replace")
        self.require(p.returncode == 0, "tcptop-analyze %s: exit %d: %s" %
                     (" ".join(map(str, args)), p.returncode, err.strip()))
        return p

    def analyze_rows(self, *args, timeout=120):
        """tcptop-analyze ARGS --format json, which must exit 0: its rows."""
        return [json.loads(x) for x in self.analyze_ok(*args, "--format", "json",
                                                       timeout=timeout).stdout.splitlines()]

    def teardown(self):
        if self._torn_down:
            return
        self._torn_down = True
        while self._cleanups:
            fn = self._cleanups.pop()
            try:
                fn()
            except Exception as e:  # teardown must go on
                sys.stderr.write("teardown: %r\n" % e)

    # factories
    def recorder(self, interval="200ms", extra=(), store=None, flush="200ms", umask=None,
                 canary=True):
        """A Recorder (see there); store: the store tests' kind, rows counted, not kept."""
        r = Recorder(self, self.args.recorder, interval, list(extra), store, flush, umask, canary)
        if store is None:
            self.recorders.append(r)
        return r

    def gen(self, mode, args, name, netns=None, pre=(), cgroup=None, ready=False):
        """A ttgen.py process; pre: options that go before the mode (--wait-go ...);
        cgroup: a cgroup v2 directory it starts in (its sockets are born there);
        ready: wait for its "ready" line, kept in .ready."""
        g = Gen(self, mode, args, name, netns, pre, cgroup)
        if ready:
            g.ready = g.expect("ready", 60)
        return g

    def netns(self, tag="a"):
        ns = NetNS(self, tag)
        ns.up()
        return ns

    # connection checks shared by the tests
    def check_conn(self, rows, label, proto, tup, sent, recv, pid=None, comm=None, tid=None,
                   closed=None, netns=None, family=None, udp_peer=None, partial=None,
                   packets=True, dgrams=None):
        """Check the rows of one connection against what the generator did.

        tup: dict with laddr, lport, raddr, rport as the generator saw them.
        closed True: exactly one closed row and nothing after it; its counters are
        the ones checked. closed False: never closed; the last row is checked.
        closed None: either, but closed at most once and nothing after it.
        dgrams: (out, in) datagrams, for UDP where packets are exactly known.
        Returns the row checked, or None when there is no row at all.
        """
        desc = "%s (%s)" % (label, fmt_tuple(proto, tup["laddr"], tup["lport"], tup["raddr"],
                                              tup["rport"]))
        rs = conn_rows(rows, proto, tup["laddr"], tup["lport"], tup["raddr"], tup["rport"], netns)
        if not self.check(rs, "%s: no row at all" % desc):
            near = [r for r in rows if r["proto"] == proto and
                    (r["lport"] in (tup["lport"], tup["rport"]) or
                     r["rport"] in (tup["lport"], tup["rport"]))]
            for r in near[-4:]:
                self.note("  row with one of those ports: %s" % brief(r))
            return None
        closed_rows = [i for i, r in enumerate(rs) if r["closed"]]
        final = rs[-1]
        if closed is True:
            self.eq("%s: rows with closed=true" % desc, len(closed_rows), 1)
            if closed_rows:
                final = rs[closed_rows[0]]
                self.eq("%s: rows after the closed one" % desc, len(rs) - 1 - closed_rows[0], 0)
        elif closed is False:
            self.eq("%s: rows with closed=true" % desc, len(closed_rows), 0)
        else:  # either: but closed at most once, and nothing after it
            self.le("%s: rows with closed=true" % desc, len(closed_rows), 1)
            if closed_rows:
                self.eq("%s: rows after the closed one" % desc, len(rs) - 1 - closed_rows[0], 0)
        self.eq("%s: bytes_out" % desc, final["bytes_out"], sent)
        self.eq("%s: bytes_in" % desc, final["bytes_in"], recv)
        if dgrams is not None:
            self.eq("%s: packets_out" % desc, final["packets_out"], dgrams[0])
            self.eq("%s: packets_in" % desc, final["packets_in"], dgrams[1])
        elif packets:
            if sent:
                self.ge("%s: packets_out" % desc, final["packets_out"], 1)
            if recv:
                self.ge("%s: packets_in" % desc, final["packets_in"], 1)
        if pid is not None:
            self.eq("%s: pid" % desc, final["pid"], pid)
        if comm is not None:
            self.eq("%s: comm" % desc, final["comm"], comm)
        if tid is not None:
            # a per-tick walk of open files knows the process holding a socket,
            # not the thread that did the I/O: tid is that process
            self.eq("%s: tid (the holding process)" % desc, final["tid"], final["pid"])
        if netns is not None:
            self.eq("%s: netns" % desc, final["netns"], netns)
        if family is not None:
            self.eq("%s: family" % desc, final["family"], family)
        if udp_peer is not None:
            self.eq("%s: udp_peer" % desc, final["udp_peer"], udp_peer)
        if partial is not None:
            self.eq("%s: partial" % desc, final["partial"], partial)
        # totals never go backwards from one tick to the next
        for a, b in zip(rs, rs[1:]):
            for k in ("bytes_in", "bytes_out", "packets_in", "packets_out"):
                if not self.check(b[k] >= a[k], "%s: %s went backwards: %d then %d" %
                                  (desc, k, a[k], b[k])):
                    break
        return final


def brief(r):
    keys = ("ts", "proto", "family", "laddr", "lport", "raddr", "rport", "pid", "tid", "comm",
            "netns", "state", "bytes_in", "bytes_out", "packets_in", "packets_out", "retransmits",
            "resets_sent", "resets_received", "partial", "closed", "udp_peer", "age_ms",
            "close_reason", "error", "lifetime_ms")
    return json.dumps({k: r[k] for k in keys if k in r})


def conn_rows(rows, proto, laddr, lport, raddr, rport, netns=None):
    """Rows of one connection, in the order the recorder printed them."""
    la, ra = norm_addr(laddr), norm_addr(raddr)
    return [r for r in rows
            if r["proto"] == proto and r["lport"] == lport and r["rport"] == rport and
            r["laddr"] == la and r["raddr"] == ra and (netns is None or r["netns"] == netns)]


_current = None  # the Test running in this process, for check() and eq()


def check(cond, what):
    """Test.check of the test running now (for helpers that are not given it)."""
    return _current.check(cond, what)


def eq(what, got, want):
    return _current.eq(what, got, want)


def require(cond, what):
    return _current.require(cond, what)


def run(name, main, options=None, root=True):
    """Run main(t) under the skip/fail/pass protocol and exit with its code.

    options(argparse parser): the test's own options (default: --recorder).
    root: an integration test, which needs root and BTF (else skipped) and sweeps
    what killed runs left behind before it starts.
    """
    global _current
    t = _current = Test(name, options)

    def on_signal(sig, frame):
        raise Failed("interrupted by signal %d" % sig)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    atexit.register(t.teardown)
    rc = 0
    try:
        if root:
            preflight(t)
            sweep_stale()
        main(t)
    except Skip as e:
        print("SKIPPED: %s: %s" % (name, e), flush=True)
        rc = SKIP_RC
    except Failed as e:
        t.failures.append(str(e))
    except Exception:
        t.failures.append("exception:\n" + traceback.format_exc())
    finally:
        try:
            t.teardown()
        except Failed as e:
            t.failures.append(str(e))
    if rc == SKIP_RC:
        sys.exit(rc)
    summary = "%s: %d checks, %d failures" % (name, t.nchecks, len(t.failures))
    if t.failures:
        print("FAIL: " + summary)
        for f in t.failures:
            print("  - " + f)
        for n in t.notes:
            print(n)
        for r in t.recorders:
            path = r.dump()
            if path:
                print("  recorder rows: %s" % path)
            if r.stderr_text().strip():
                print("  recorder stderr: %s" % r.stderr_text().strip()[-2000:])
        sys.stdout.flush()
        sys.exit(1)
    print("PASS: " + summary, flush=True)
    if os.environ.get("TTINT_DUMP"):  # for whoever wants to see what was checked
        for r in t.recorders:
            print("  recorder rows: %s" % r.dump())
    sys.exit(0)


def preflight(t):
    if os.geteuid() != 0:
        raise Skip("needs root (loads eBPF, creates network namespaces)")
    if not os.access("/sys/kernel/btf/vmlinux", os.R_OK):
        raise Skip("kernel has no BTF (/sys/kernel/btf/vmlinux)")
    if not os.access(t.args.recorder, os.X_OK):
        raise Failed("recorder not found or not executable: %s" % t.args.recorder)


def _pid_alive(pid):
    return os.path.exists("/proc/%d" % pid)


def sweep_stale():
    """Remove namespaces and veths left by test processes that were SIGKILLed."""
    try:
        names = run_cmd(["ip", "netns", "list"], check=False).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return
    for n in names:
        m = re.fullmatch(NS_PREFIX + r"(\d+)([a-z])", n)
        if m and not _pid_alive(int(m.group(1))):
            run_cmd(["ip", "netns", "del", n], check=False)
    links = run_cmd(["ip", "-o", "link", "show", "type", "veth"], check=False).stdout
    for m in re.finditer(r"^\d+: (tt(\d+)[a-z]h)[@:]", links, re.M):
        if not _pid_alive(int(m.group(2))):
            run_cmd(["ip", "link", "del", m.group(1)], check=False)


# --- the recorder -----------------------------------------------------------


class Recorder:
    """tcptop-record -f json in the background.

    Without store: --no-store (unless extra has -o DIR), every row kept (rows,
    lines, wait_for ...), stop() checks the exit and returns the rows.
    With store: -o STORE --flush FLUSH, the store tests' recorder: rows only
    counted (nlines; a churn of thousands a second would only cost CPU), umask,
    start without waiting, sigkill() at any moment; t_spawn/wall_spawn and
    t_end/wall_end bracket its life (CLOCK_MONOTONIC and wall clock).
    Its pdeathsig is TERM without a store, KILL with one.
    """

    def __init__(self, t, path, interval, extra, store=None, flush="200ms", umask=None,
                 canary=True):
        self.t = t
        self.path = path
        self.interval = interval
        self.extra = [str(x) for x in extra]
        self.store = store
        self.keep_rows = store is None
        # -d: a backstop so the recorder ends even if nobody stops it
        if store is not None:
            self.cmd = [path, "-o", store, "-f", "json", "-i", interval, "--flush", flush,
                        "-d", "110s"] + self.extra
        else:
            self.cmd = [path, "-f", "json", "-i", interval, "-d", "110s"]
            # no store unless the test asks for one (-o DIR): tests run side by side
            self.cmd += self.extra if "-o" in self.extra else ["--no-store"] + self.extra
        self.umask = umask
        self._want_canary = canary
        self.proc = None
        self.rows = []
        self.lines = []  # everything printed, rows and --events lines, in order
        self.nlines = 0
        self.bad_lines = []
        self.cond = threading.Condition()
        self.attached = threading.Event()
        self._ready = None
        self.stderr = []
        self.rc = None
        self._canary = []
        self._threads = []
        self.t_spawn = None
        self.wall_spawn = None
        self.t_end = None
        self.wall_end = None

    def start(self, ready=None, timeout=20.0, wait=True):
        """Start and, with wait, wait until attached; returns whether it is.

        Attached means a tick was printed with a row matching ready (default: the
        canary, a connected UDP pair made here before the start, which the
        start-up socket walk must find; canary=False: any line). Ticks come only
        after every program is attached, so from then on everything is counted.
        """
        if ready is None and self._want_canary:
            a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            a.bind(("127.0.0.1", 0))
            b.bind(("127.0.0.1", 0))
            a.connect(b.getsockname())
            b.connect(a.getsockname())
            self._canary = [a, b]
            port = a.getsockname()[1]
            ready = lambda r: r.get("proto") == "udp" and r.get("lport") == port  # noqa: E731
        self._ready = ready
        cmd = pdeathsig("TERM" if self.store is None else "KILL") + self.cmd
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
        if not self.attached.is_set():
            rc = self.proc.poll()
            for th in self._threads:
                th.join(2)
            msg = self.stderr_text().strip()
            if rc == SKIP_RC:
                raise Skip("tcptop-record exits 77: %s" % msg)
            if rc is not None:
                raise Failed("tcptop-record exited %d before attaching: %s" % (rc, msg))
            raise Failed("tcptop-record printed no tick with the canary within %.0fs: %s" %
                         (timeout, msg))
        self.start_mono = time.monotonic()
        return True

    def _read_out(self, stream):
        for line in stream:
            self.nlines += 1
            if not self.keep_rows and self.attached.is_set():
                continue
            line = line.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except ValueError:
                with self.cond:
                    self.bad_lines.append(line)
                continue
            if not self.attached.is_set() and (self._ready is None or
                                               ("event" not in r and self._ready(r))):
                self.attached.set()
            if not self.keep_rows:
                continue
            with self.cond:
                self.lines.append(r)
                if "event" not in r:  # --events lines: in lines only
                    self.rows.append(r)
                self.cond.notify_all()

    def _read_err(self, stream):
        for line in stream:
            self.stderr.append(line.decode("utf-8", "replace"))

    def stderr_text(self):
        """stderr, without the line a recorder with a store starts with (where, what it keeps)."""
        return "".join(l for l in self.stderr if not START_LINE.match(l))

    def start_line(self):
        """That line, or None."""
        return next((l.rstrip("\n") for l in self.stderr if START_LINE.match(l)), None)

    def check_stderr_clean(self, what):
        self.t.check(not sanitizer_report(self.stderr_text()),
                     "%s: sanitizer report on the recorder's stderr:\n%s" %
                     (what, indent(self.stderr_text(), 60)))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def snapshot(self):
        with self.cond:
            return list(self.rows)

    def wait_for(self, pred, timeout=10.0):
        """Wait until pred(rows) is true; returns whether it became true."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.rows):
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return bool(pred(self.rows))
                self.cond.wait(min(left, 0.2))
            return True

    def wait_closed(self, proto, tuples, timeout=10.0):
        """Wait until each (laddr, lport, raddr, rport) has a closed row."""
        def done(rows):
            return all(any(r["closed"] for r in conn_rows(rows, proto, *tp)) for tp in tuples)

        return self.wait_for(done, timeout)

    def ticks(self):
        with self.cond:
            return sorted({r["ts"] for r in self.rows})

    def wait_ticks(self, n, timeout=10.0):
        """Wait until n more ticks with rows have been printed."""
        have = len(self.ticks())
        return self.wait_for(lambda rows: len({r["ts"] for r in rows}) >= have + n, timeout)

    def mark(self, timeout=10.0):
        """A tick ts M such that every tick with ts > M was sampled after this call.

        Waits for a tick newer than any printed so far (it may have been sampled
        just before the call) and returns its ts: the ticks after it began after
        it was printed, so after the call.
        """
        seen = self.ticks()
        last = seen[-1] if seen else 0
        if not self.wait_for(lambda rows: any(r["ts"] > last for r in rows), timeout):
            raise Failed("tcptop-record printed no tick within %.0fs" % timeout)
        return max(self.ticks())

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

    def halt(self, sig=signal.SIGINT, timeout=15.0):
        """Signal it and wait for the exit: its exit status; None (and killed) if it
        did not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self._reap(timeout)
        if rc is None:
            self.kill()
        return rc

    def stop(self, timeout=15.0, sig=signal.SIGINT):
        """Signal it (SIGINT), wait for the last tick and the exit; check exit 0. All rows."""
        if self.halt(sig, timeout) is None:
            raise Failed("tcptop-record did not exit within %.0fs of %s" %
                         (timeout, signal.Signals(sig).name))
        self.t.eq("tcptop-record exit status after %s" % signal.Signals(sig).name, self.rc, 0)
        self.t.eq("tcptop-record lines that are not JSON", self.bad_lines[:3], [])
        return self.snapshot()

    def sigkill(self):
        """SIGKILL; returns once it is dead (t_end: a moment after it died)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self._reap(10)

    def wait_exit(self, timeout=15.0):
        """Wait for it to end by itself (--duration); its exit status, None if it did not."""
        return self._reap(timeout)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self._reap(5)
        for s in self._canary:
            s.close()
        self._canary = []

    def dump(self):
        """On failure: all rows to a file, for whoever debugs it."""
        if not self.rows:
            return None
        fd, path = tempfile.mkstemp(prefix="%s-" % self.t.name, suffix=".jsonl")
        with os.fdopen(fd, "w") as f:
            for r in self.rows:
                f.write(json.dumps(r) + "\n")
        return path


# --- the traffic generator --------------------------------------------------


class Gen:
    """One ttgen.py process; its JSON lines arrive on a queue."""

    def __init__(self, t, mode, args, name, netns=None, pre=(), cgroup=None):
        self.t = t
        self.mode = mode
        self.name = name[:15]
        cmd = [sys.executable, TTGEN, "--name", self.name] + [str(a) for a in pre]
        cmd += [mode] + [str(a) for a in args]
        if netns is not None:
            cmd = ["ip", "netns", "exec", netns.name] + cmd
        if cgroup is not None:
            cmd = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup] + cmd
        self.proc = subprocess.Popen(pdeathsig("KILL") + cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        t.cleanup(self.kill)
        self.q = queue.Queue()
        self.err = []
        self.cgroup = None
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_out(self):
        for line in self.proc.stdout:
            try:
                self.q.put(json.loads(line))
            except ValueError:
                self.err.append("stdout: " + line.decode("utf-8", "replace"))
        self.q.put(None)

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line.decode("utf-8", "replace"))

    def expect(self, kind, timeout=20.0):
        """The next message of that kind; fails if the generator dies or is silent."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                m = self.q.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise Failed("ttgen %s: no %r within %.0fs; stderr: %s" %
                             (self.mode, kind, timeout, "".join(self.err).strip()))
            if m is None:
                self.proc.wait(5)
                raise Failed("ttgen %s exited %s before %r; stderr: %s" %
                             (self.mode, self.proc.returncode, kind, "".join(self.err).strip()))
            if m.get("kind") == kind:
                if kind in ("ready", "waiting"):
                    # read while it surely runs: its cgroup is part of the ground truth
                    self.cgroup = cgroup_id(self.proc.pid)
                return m

    def say(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def close_stdin(self):
        self.proc.stdin.close()

    def finish(self, timeout=20.0):
        """Its result, after it exited 0."""
        res = self.expect("result", timeout)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            raise Failed("ttgen %s did not exit after its result" % self.mode)
        if rc != 0:
            raise Failed("ttgen %s exited %d: %s" % (self.mode, rc, "".join(self.err).strip()))
        return res

    def stop(self, timeout=30.0):
        """Close its stdin (store-burst and store-churn stop then): its result."""
        self.close_stdin()
        return self.finish(timeout)

    def alive(self):
        return self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


# --- a terminal: tmux ---------------------------------------------------------


class Tmux:
    """cmd (a shell line) in a detached tmux session of cols x rows; it prints
    EXITED:<code> when it ends and the pane stays for the test to read."""

    def __init__(self, t, cmd, cols=200, rows=50, env=("TZ=UTC",), tag="tt"):
        if not shutil.which("tmux"):
            raise Skip("tmux is not installed (apt-get install tmux)")
        self.name = "%s%d" % (tag, os.getpid())
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(cols), "-y",
                        str(rows), "env"] + list(env) + ["sh", "-c",
                                                           cmd + "; echo EXITED:$?; sleep 120"],
                       check=True)
        # the window follows resize-window, not the size of a client (there is none)
        subprocess.run(["tmux", "set-option", "-t", self.name, "window-size", "manual"],
                       capture_output=True)
        t.cleanup(self.kill)

    def kill(self):
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)

    def screen(self):
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True).stdout

    def keys(self, *k):
        """tmux key names: "Space", "Enter", "Right", "PageDown", "?" ..."""
        subprocess.run(["tmux", "send-keys", "-t", self.name] + list(k), check=True)

    def type(self, text):
        """text as typed, letter by letter (no key-name lookup)."""
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)

    def alternate(self):
        """Whether the program has the terminal on its alternate screen (a full-screen view)."""
        return subprocess.run(["tmux", "display-message", "-p", "-t", self.name,
                               "#{alternate_on}"], capture_output=True,
                              text=True).stdout.strip() == "1"

    def resize(self, cols, rows):
        subprocess.run(["tmux", "resize-window", "-t", self.name, "-x", str(cols), "-y",
                        str(rows)], check=True)

    def wait(self, pred, timeout=10.0):
        """The first screen for which pred holds, else the last one seen."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.1)
        return self.screen()


def fmt_bytes(v):
    """lib/format.c tt_fmt_bytes, independently: 3 significant digits, binary units."""
    if v < 1024:
        return "%d B" % v
    units = ["KiB", "MiB", "GiB", "TiB"]
    x, u = v / 1024.0, 0
    while x >= 1024 and u < 3:
        x, u = x / 1024.0, u + 1
    return ("%.2f %s" if x < 10 else "%.1f %s" if x < 100 else "%.0f %s") % (x, units[u])


# --- network namespace + veth ----------------------------------------------


def host_prefixes():
    """Every prefix the host's main routing tables have, IPv4 and IPv6."""
    nets = []
    for fam in ("-4", "-6"):
        out = run_cmd(["ip", fam, "-o", "route", "show"], check=False).stdout
        for line in out.splitlines():
            words = line.split()
            dst = words[1] if words and words[0] in ("unreachable", "blackhole", "local",
                                                      "broadcast", "prohibit") else words[0]
            if dst == "default":
                continue
            try:
                nets.append(ipaddress.ip_network(dst, strict=False))
            except ValueError:
                pass
    return nets


class NetNS:
    """A namespace joined to the host by a veth pair.

    Host end <host_if> has .1, the namespace end .2, in a 10.x.y.0/24 and a
    2001:db8:z::/64 derived from our pid, so no two test processes (nor a stale
    leftover) collide and nothing is ever routed off the host.
    """

    def __init__(self, t, tag):
        assert re.fullmatch("[a-z]", tag)
        pid = os.getpid()
        self.t = t
        self.name = "%s%d%s" % (NS_PREFIX, pid, tag)
        self.host_if = "tt%d%sh" % (pid, tag)
        self.ns_if = "tt%d%sn" % (pid, tag)
        taken = host_prefixes()
        idx = (pid * 26 + ord(tag) - ord("a")) % 25600
        for _ in range(256):
            v4 = ipaddress.ip_network("10.%d.%d.0/24" % (100 + idx // 256, idx % 256))
            v6 = ipaddress.ip_network("2001:db8:%x::/64" % (idx + 1))
            # a subnet the host already routes somewhere would be taken from it
            if not any(v4.overlaps(p) or v6.overlaps(p) for p in taken
                       if p.version in (4, 6) and p.prefixlen > 0):
                break
            idx = (idx + 257) % 25600
        else:
            raise Skip("no free 10.x/24 and 2001:db8:x::/64 pair for the test namespace")
        self.host_v4, self.ns_v4 = str(v4[1]), str(v4[2])
        self.host_v6, self.ns_v6 = str(v6[1]), str(v6[2])

    def up(self, timeout=10.0):
        self.t.cleanup(self.down)
        ns, h, n = self.name, self.host_if, self.ns_if
        run_cmd(["ip", "netns", "add", ns])
        run_cmd(["ip", "link", "add", h, "type", "veth", "peer", "name", n, "netns", ns])
        # no duplicate address detection: the addresses are usable at once
        with open("/proc/sys/net/ipv6/conf/%s/accept_dad" % h, "w") as f:
            f.write("0")
        self.exec(["sh", "-c", "echo 0 > /proc/sys/net/ipv6/conf/%s/accept_dad" % n])
        run_cmd(["ip", "addr", "add", self.host_v4 + "/24", "dev", h])
        run_cmd(["ip", "-6", "addr", "add", self.host_v6 + "/64", "dev", h, "nodad"])
        run_cmd(["ip", "-n", ns, "addr", "add", self.ns_v4 + "/24", "dev", n])
        run_cmd(["ip", "-n", ns, "-6", "addr", "add", self.ns_v6 + "/64", "dev", n, "nodad"])
        run_cmd(["ip", "-n", ns, "link", "set", "lo", "up"])
        run_cmd(["ip", "-n", ns, "link", "set", n, "up"])
        run_cmd(["ip", "link", "set", h, "up"])
        deadline = time.monotonic() + timeout
        while True:
            ok = ("state UP" in run_cmd(["ip", "-o", "link", "show", h]).stdout and
                  "state UP" in run_cmd(["ip", "-n", ns, "-o", "link", "show", n]).stdout and
                  "tentative" not in run_cmd(["ip", "-6", "-o", "addr", "show", "dev", h]).stdout and
                  "tentative" not in run_cmd(["ip", "-n", ns, "-6", "-o", "addr", "show", "dev",
                                              n]).stdout)
            if ok:
                break
            if time.monotonic() > deadline:
                raise Failed("veth %s/%s not up within %.0fs" % (h, n, timeout))
            time.sleep(0.05)
        # never send to an address that would leave the host: the route must be ours
        for fam, addr in (("-4", self.ns_v4), ("-6", self.ns_v6)):
            out = run_cmd(["ip", fam, "-o", "route", "get", addr]).stdout
            if not re.search(r"\bdev %s\b" % re.escape(h), out):
                raise Failed("route to %s does not use %s: %s" % (addr, h, out.strip()))

    def exec(self, cmd, check=True, input=None):
        return run_cmd(["ip", "netns", "exec", self.name] + cmd, check=check, input=input)

    def nft(self, script):
        return self.exec(["nft", "-f", "-"], input=script)

    def nft_counters(self, family, table, chain):
        """Packets counted by each counter of a chain, in rule order."""
        out = self.exec(["nft", "-j", "list", "chain", family, table, chain]).stdout
        counts = []
        for item in json.loads(out).get("nftables", []):
            for expr in item.get("rule", {}).get("expr", []):
                if "counter" in expr:
                    counts.append(expr["counter"]["packets"])
        return counts

    def nft_rule_packets(self, family, table, chain):
        """Packets counted by the counters of a chain's rules, summed."""
        return sum(self.nft_counters(family, table, chain))

    @property
    def inode(self):
        return os.stat("/run/netns/%s" % self.name).st_ino

    def down(self):
        run_cmd(["ip", "link", "del", self.host_if], check=False)
        run_cmd(["ip", "netns", "del", self.name], check=False)
