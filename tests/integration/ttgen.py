#!/usr/bin/python3
"""ttgen: the traffic generator of the integration tests.

It is the ground truth the recordings are checked against: every mode counts,
to the byte, what it handed to send()/sendto() and what recv()/recvfrom()
returned, per socket (or per peer for an unconnected UDP socket), and reports
the socket's own 4-tuple, its pid and the native id of the thread that did the
I/O. It prints one JSON object per line on stdout:

    {"kind": "ready", ...}     the sockets exist (servers: port to connect to)
    {"kind": "phase1", ...}    pair mode: the "before" traffic is done
    {"kind": "result", ...}    everything it did, then it exits 0

Errors go to stderr and exit 1. Every blocking call has a timeout, so a test
whose other half died fails instead of hanging. The process name (comm) is set
with prctl(PR_SET_NAME) from --name so the recorder's pid/comm can be checked.

store-burst and store-churn feed the store tests and run until stdin is closed:
store-burst makes each total a socket ever has known, with the moment it began
(a recorder can only ever see a total at a burst boundary); store-churn is a
steady stream of data for the store (keyframes, samples, connection rows).

Stdlib only: it runs with Debian's /usr/bin/python3, inside network namespaces
(`ip netns exec NS python3 ttgen.py ...` execs, so the pid stays the same).
"""
import argparse
import ctypes
import errno
import fcntl
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

PR_SET_NAME = 15
IO_TIMEOUT = 15.0  # seconds any single blocking call may take
TCP_HDR = 24  # b"TTG %09d %09d\n": total bytes the client sends, reply size
UDP_HDR = 14  # b"TTU %09d\n": reply size
CHUNK = 16384

_libc = ctypes.CDLL(None, use_errno=True)


def set_comm(name):
    """comm is per thread: call it in every thread that does I/O (str, or bytes as they are)."""
    if name:
        raw = name if isinstance(name, bytes) else name.encode()
        _libc.prctl(PR_SET_NAME, ctypes.c_char_p(raw[:15]), 0, 0, 0)


def emit(kind, **kw):
    kw["kind"] = kind
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def die(msg):
    sys.stderr.write("ttgen: %s\n" % msg)
    sys.stderr.flush()
    os._exit(1)


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def tuple_of(sock):
    la = sock.getsockname()
    ra = sock.getpeername()
    return {"laddr": la[0], "lport": la[1], "raddr": ra[0], "rport": ra[1]}


def filler(n, seed):
    """n bytes of a repeating pattern; the content does not matter, the size does."""
    pat = bytes((seed + i) & 0xFF for i in range(251))
    return (pat * (n // len(pat) + 1))[:n]


class Counted:
    """A socket wrapper that counts every byte that crossed send/recv."""

    def __init__(self, sock):
        self.sock = sock
        self.sent = 0
        self.recv = 0
        self.tid = threading.get_native_id()

    def send_all(self, data):
        view = memoryview(data)
        while view:
            n = self.sock.send(view[:CHUNK])
            self.sent += n
            view = view[n:]
        self.tid = threading.get_native_id()

    def recv_exact(self, n):
        parts = []
        while n > 0:
            b = self.sock.recv(min(n, 65536))
            if not b:
                raise ConnectionError("peer closed with %d bytes still expected" % n)
            self.recv += len(b)
            n -= len(b)
            parts.append(b)
        self.tid = threading.get_native_id()
        return b"".join(parts)

    def recv_until_eof(self):
        while True:
            b = self.sock.recv(65536)
            if not b:
                return
            self.recv += len(b)
            self.tid = threading.get_native_id()


# --- TCP -------------------------------------------------------------------


def tcp_server(a):
    fam = family_of(a.bind)
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        # dual stack on "::": IPv4 clients arrive as v4-mapped IPv6 sockets
        ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if a.dual else 1)
    ls.bind((a.bind, a.port))
    ls.listen(64)
    ls.settimeout(IO_TIMEOUT)
    emit("ready", pid=os.getpid(), port=ls.getsockname()[1])

    results = []
    lock = threading.Lock()

    def serve(conn):
        set_comm(a.name)
        c = Counted(conn)
        rec = {"ok": False}
        try:
            conn.settimeout(IO_TIMEOUT)
            rec.update(tuple_of(conn))
            hdr = c.recv_exact(TCP_HDR)
            total, reply = int(hdr[4:13]), int(hdr[14:23])
            c.recv_exact(total - TCP_HDR)
            c.send_all(filler(reply, 7))
            try:
                c.recv_until_eof()  # the client decides when the connection ends
            except ConnectionResetError:
                rec["reset"] = True
            rec["ok"] = True
        except OSError as e:
            rec["error"] = e.errno or 0
            rec["exc"] = repr(e)
        finally:
            rec.update(sent=c.sent, recv=c.recv, tid=c.tid)
            conn.close()
            rec["t_close"] = time.monotonic()
            with lock:
                results.append(rec)

    threads = []
    try:
        for _ in range(a.conns):
            conn, _ = ls.accept()
            t = threading.Thread(target=serve, args=(conn,))
            t.start()
            threads.append(t)
    except socket.timeout:
        die("tcp-server: accept timed out after %d of %d connections" % (len(threads), a.conns))
    for t in threads:
        t.join(IO_TIMEOUT * 3)
    ls.close()
    emit("result", pid=os.getpid(), conns=results)


def parse_conn(spec):
    out, inn, hold = (int(x) for x in spec.split(":"))
    if out < TCP_HDR:
        raise argparse.ArgumentTypeError("OUT must be at least %d (the header)" % TCP_HDR)
    return out, inn, hold


def tcp_client(a):
    results = [None] * len(a.conn)
    emit("ready", pid=os.getpid())

    def run(i, spec):
        out, inn, hold = spec
        set_comm(a.name)
        rec = {"ok": False, "want_out": out, "want_in": inn, "hold_ms": hold}
        s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
        c = Counted(s)
        try:
            s.settimeout(IO_TIMEOUT)
            if a.bind:
                s.bind((a.bind, 0))
            rec["t_open"] = time.monotonic()
            s.connect((a.host, a.port))
            rec.update(tuple_of(s))
            data = b"TTG %09d %09d\n" % (out, inn) + filler(out - TCP_HDR, i)
            # --slices: spread the data over the hold time, so it moves across ticks
            step = -(-len(data) // a.slices)
            for k in range(a.slices):
                c.send_all(data[k * step:(k + 1) * step])
                if a.slices > 1:
                    time.sleep(hold / 1000.0 / a.slices)
            c.recv_exact(inn)
            if a.slices == 1:
                time.sleep(hold / 1000.0)
            if a.rst:
                # linger 0: close() sends a reset instead of a FIN
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            rec["ok"] = True
        except OSError as e:
            rec["error"] = e.errno or 0
            rec["exc"] = repr(e)
        finally:
            rec.update(sent=c.sent, recv=c.recv, tid=c.tid)
            s.close()
            rec["t_close"] = time.monotonic()
            results[i] = rec

    if a.parallel:
        threads = [threading.Thread(target=run, args=(i, spec)) for i, spec in enumerate(a.conn)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(IO_TIMEOUT * 3)
    else:
        for i, spec in enumerate(a.conn):
            run(i, spec)
    emit("result", pid=os.getpid(), conns=results)


def tcp_refused(a):
    """connect() to a port nobody listens on; report what the socket was."""
    emit("ready", pid=os.getpid())
    results = []
    for bind in (True, False):
        s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
        s.settimeout(IO_TIMEOUT)
        rec = {"bound": bind, "lport": 0}
        if bind:
            s.bind((a.host, 0))
            rec["lport"] = s.getsockname()[1]
        rec["t_open"] = time.monotonic()
        try:
            s.connect((a.host, a.port))
            rec["error"] = 0
        except OSError as e:
            rec["error"] = e.errno or 0
        rec["t_close"] = time.monotonic()
        s.close()
        results.append(rec)
    emit("result", pid=os.getpid(), tid=threading.get_native_id(), conns=results)


def tcp_timeout(a):
    """connect() to a host that never answers, giving up after --syncnt SYN retries."""
    emit("ready", pid=os.getpid())
    s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, a.syncnt)
    s.setblocking(False)
    rec = {"t_open": time.monotonic()}
    err = s.connect_ex((a.host, a.port))
    if err != errno.EINPROGRESS:
        die("tcp-timeout: connect gave %s at once" % errno.errorcode.get(err, err))
    la = s.getsockname()  # the port is picked by now, the SYN is out
    rec.update(laddr=la[0], lport=la[1], raddr=a.host, rport=a.port)
    _, w, _ = select.select([], [s], [], IO_TIMEOUT * 2)
    if not w:
        die("tcp-timeout: connect still pending after %.0fs" % (IO_TIMEOUT * 2))
    rec["error"] = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    rec["t_close"] = time.monotonic()
    s.close()
    emit("result", pid=os.getpid(), tid=threading.get_native_id(), conns=[rec])


# --- UDP -------------------------------------------------------------------


def wait_stdin_or(socks, deadline):
    """select() on sockets and stdin; returns (readable socks, stdin_closed)."""
    left = max(0.0, deadline - time.monotonic())
    r, _, _ = select.select(list(socks) + [sys.stdin], [], [], min(left, 1.0))
    stdin_closed = False
    if sys.stdin in r:
        if not sys.stdin.readline():
            stdin_closed = True
        r.remove(sys.stdin)
    return r, stdin_closed


def udp_server(a):
    """One unconnected socket per --bind, answering each datagram with the size it asks for.

    Runs until stdin is closed (the test says it is done) or --timeout.
    """
    socks = []
    for b in a.bind:
        s = socket.socket(family_of(b), socket.SOCK_DGRAM)
        if family_of(b) == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((b, 0))
        socks.append(s)
    emit("ready", pid=os.getpid(), ports=[s.getsockname()[1] for s in socks],
         addrs=[s.getsockname()[0] for s in socks])
    peers = {}  # (local port, peer addr, peer port) -> counts
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        ready, done = wait_stdin_or(socks, deadline)
        for s in ready:
            data, peer = s.recvfrom(65536)
            la = s.getsockname()
            key = (la[1], peer[0], peer[1])
            p = peers.setdefault(key, {"laddr": la[0], "lport": la[1], "raddr": peer[0],
                                       "rport": peer[1], "recv": 0, "sent": 0,
                                       "dgrams_in": 0, "dgrams_out": 0})
            p["recv"] += len(data)
            p["dgrams_in"] += 1
            p["tid"] = threading.get_native_id()
            want = int(data[4:13]) if len(data) >= UDP_HDR and data[:4] == b"TTU " else 0
            if want:
                n = s.sendto(filler(want, 3), peer)
                p["sent"] += n
                p["dgrams_out"] += 1
        if done:
            break
    else:
        die("udp-server: timed out waiting for stdin to close")
    for s in socks:
        s.close()
    emit("result", pid=os.getpid(), peers=list(peers.values()))


def parse_flow(spec):
    f = spec.split(":")
    if len(f) not in (3, 4) or (len(f) == 4 and f[3] != "u"):
        raise argparse.ArgumentTypeError("N:OUT:IN or N:OUT:IN:u")
    n, out, inn = (int(x) for x in f[:3])
    if out < UDP_HDR:
        raise argparse.ArgumentTypeError("OUT must be at least %d (the header)" % UDP_HDR)
    return n, out, inn, len(f) == 4


def udp_client(a):
    """One socket per --flow N:OUT:IN[:u]: N datagrams of OUT bytes, each answered by IN bytes.

    A connected socket (send/recv), or with ":u" an unconnected one (sendto).
    A lost datagram is sent again after a timeout; both copies are counted.
    --phases 2: after the flows, print "phase1" with the counts so far, wait for
    a line on stdin, run the same flows again on the same sockets, and report
    the counts of the second phase only (the first ones in "phase1").
    """
    emit("ready", pid=os.getpid())
    dst = (a.host, a.port)
    socks, recs = [], []
    for i, (n, out, inn, unconnected) in enumerate(a.flow):
        s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
        s.settimeout(2.0)
        if unconnected:
            wild = "::" if family_of(a.host) == socket.AF_INET6 else "0.0.0.0"
            s.bind((a.bind or wild, 0))
        else:
            s.connect(dst)
        socks.append(s)

    def run_flows():
        recs.clear()
        for i, ((n, out, inn, unconnected), s) in enumerate(zip(a.flow, socks)):
            rec = {"sent": 0, "recv": 0, "dgrams_out": 0, "dgrams_in": 0, "resends": 0,
                   "unconnected": unconnected}
            msg = b"TTU %09d\n" % inn + filler(out - UDP_HDR, i)
            for _ in range(n):
                for attempt in range(6):
                    rec["sent"] += s.sendto(msg, dst) if unconnected else s.send(msg)
                    rec["dgrams_out"] += 1
                    try:
                        data = s.recv(65536)
                    except socket.timeout:
                        rec["resends"] += 1
                        continue
                    rec["recv"] += len(data)
                    rec["dgrams_in"] += 1
                    # wall clock, like the recorder's ts: by now both ends have seen traffic
                    rec.setdefault("t_answered", time.time())
                    break
                else:
                    die("udp-client: no answer from %s:%d after 6 tries" % dst)
            la = s.getsockname()
            rec.update(laddr=la[0], lport=la[1], raddr=a.host, rport=a.port,
                       tid=threading.get_native_id(), t_done=time.time())
            recs.append(rec)

    run_flows()
    if a.phases == 2:
        emit("phase1", pid=os.getpid(), flows=list(recs))
        r, _, _ = select.select([sys.stdin], [], [], IO_TIMEOUT * 2)
        if not r:
            die("udp-client: nobody said go")
        sys.stdin.readline()
        run_flows()
    time.sleep(a.hold / 1000.0)
    for s in socks:
        s.close()
    emit("result", pid=os.getpid(), flows=recs)


# --- a connection that exists before the recorder starts -------------------


def pump(src, dst, n, seed):
    """src sends n bytes in chunks, dst reads each chunk right away: no buffer can fill."""
    left = n
    while left:
        k = min(left, 4096)
        src.send_all(filler(k, seed))
        dst.recv_exact(k)
        left -= k


def pair(a):
    """Both ends of one connection, in this process: TCP, a connected UDP pair, or
    (udpu) a connected UDP client talking to an unconnected server socket.

    Traffic --before, then "phase1", then wait for a line on stdin, traffic
    --after, hold, close. The test starts the recorder in between; the counts in
    the result are those of the "after" part only.
    """
    bx, by = (int(x) for x in a.before.split(":"))
    ax, ay = (int(x) for x in a.after.split(":"))
    host = "127.0.0.1"
    if a.proto == "tcp":
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.bind((host, 0))
        ls.listen(1)
        ls.settimeout(IO_TIMEOUT)
        cli = socket.create_connection(ls.getsockname(), timeout=IO_TIMEOUT)
        srv, _ = ls.accept()
        ls.close()
    else:
        cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        cli.bind((host, 0))
        srv.bind((host, 0))
        cli.connect(srv.getsockname())
        if a.proto == "udp":
            srv.connect(cli.getsockname())
    for s in (cli, srv):
        s.settimeout(IO_TIMEOUT)
    c, s = Counted(cli), Counted(srv)
    dgrams = {"client_dgrams_out": 0, "server_dgrams_out": 0}
    cli_addr = cli.getsockname()

    def xfer(x, y):
        if a.proto == "tcp":
            pump(c, s, x, 1)
            pump(s, c, y, 2)
            return
        for src, dst, total, who in ((c, s, x, "client"), (s, c, y, "server")):
            left = total
            while left:
                k = min(left, 1200)
                if src is s and a.proto == "udpu":
                    src.sent += srv.sendto(filler(k, 5), cli_addr)
                else:
                    src.sent += src.sock.send(filler(k, 5))
                dgrams[who + "_dgrams_out"] += 1
                got = dst.sock.recv(65536)
                dst.recv += len(got)
                left -= k

    def tup(sock):
        if a.proto == "udpu" and sock is srv:
            la = srv.getsockname()
            return {"laddr": la[0], "lport": la[1], "raddr": cli_addr[0], "rport": cli_addr[1]}
        return tuple_of(sock)

    xfer(bx, by)
    emit("phase1", pid=os.getpid(), client=tup(cli), server=tup(srv),
         client_sent=c.sent, client_recv=c.recv, server_sent=s.sent, server_recv=s.recv)
    r, _, _ = select.select([sys.stdin], [], [], IO_TIMEOUT * 2)
    if not r:
        die("pair: nobody said go")
    sys.stdin.readline()
    # from here on is what the recorder must see
    c.sent = c.recv = s.sent = s.recv = 0
    for k in dgrams:
        dgrams[k] = 0
    xfer(ax, ay)
    time.sleep(a.hold / 1000.0)
    res = {"pid": os.getpid(), "tid": threading.get_native_id(), "client": tup(cli),
           "server": tup(srv), "client_sent": c.sent, "client_recv": c.recv,
           "server_sent": s.sent, "server_recv": s.recv}
    res.update(dgrams)
    cli.close()
    srv.close()
    emit("result", **res)


# --- TCP connections idle when the recorder starts --------------------------

TCPI_HDR = 44  # b"TTI %09d %09d %09d %09d\n": before out, before in, after out, after in


def parse_idle_conn(spec):
    f = [int(x) for x in spec.split(":")]
    if len(f) != 4 or f[0] < TCPI_HDR:
        raise argparse.ArgumentTypeError("BO:BI:AO:AI with BO >= %d (the header)" % TCPI_HDR)
    return f


def tcp_idle_server(a):
    """Accept --conns connections that each do a "before" exchange, stay idle,
    then an "after" exchange the client starts whenever the test says so.

    The client's header says the four sizes. Counts are reported per phase, so
    the after-counts are exactly what a recorder started in between must see.
    """
    fam = family_of(a.bind)
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if a.dual else 1)
    ls.bind((a.bind, 0))
    ls.listen(64)
    ls.settimeout(IO_TIMEOUT)
    emit("ready", pid=os.getpid(), port=ls.getsockname()[1])
    results = []
    lock = threading.Lock()

    def serve(conn):
        set_comm(a.name)
        rec = {"ok": False}
        c = Counted(conn)
        try:
            conn.settimeout(IO_TIMEOUT)
            rec.update(tuple_of(conn))
            hdr = c.recv_exact(TCPI_HDR)
            bo, bi, ao, ai = (int(x) for x in hdr[4:].split())
            c.recv_exact(bo - TCPI_HDR)
            c.send_all(filler(bi, 11))
            rec.update(before_sent=c.sent, before_recv=c.recv)
            c.sent = c.recv = 0
            conn.settimeout(IO_TIMEOUT * 3)  # idle while the recorder starts
            c.recv_exact(ao)
            conn.settimeout(IO_TIMEOUT)
            c.send_all(filler(ai, 13))
            c.recv_until_eof()
            rec["ok"] = True
        except OSError as e:
            rec["error"] = e.errno or 0
            rec["exc"] = repr(e)
        finally:
            rec.update(sent=c.sent, recv=c.recv, tid=c.tid)
            conn.close()
            with lock:
                results.append(rec)

    threads = []
    try:
        for _ in range(a.conns):
            conn, _ = ls.accept()
            th = threading.Thread(target=serve, args=(conn,))
            th.start()
            threads.append(th)
    except socket.timeout:
        die("tcp-idle-server: accept timed out after %d of %d" % (len(threads), a.conns))
    ls.close()
    for th in threads:
        th.join(IO_TIMEOUT * 5)
    emit("result", pid=os.getpid(), conns=results)


def tcp_idle_client(a):
    """One connection per --conn BO:BI:AO:AI: BO bytes out and BI back, "phase1"
    (the tuples), idle until a line on stdin, then AO out and AI back, --hold ms,
    close. The result counts the after part only."""
    conns = []
    for i, (bo, bi, ao, ai) in enumerate(a.conn):
        s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
        s.settimeout(IO_TIMEOUT)
        s.connect((a.host, a.port))
        c = Counted(s)
        c.send_all(b"TTI %09d %09d %09d %09d\n" % (bo, bi, ao, ai) + filler(bo - TCPI_HDR, i))
        c.recv_exact(bi)
        conns.append(c)
    emit("phase1", pid=os.getpid(),
         conns=[dict(tuple_of(c.sock), before_sent=c.sent, before_recv=c.recv) for c in conns])
    r, _, _ = select.select([sys.stdin], [], [], IO_TIMEOUT * 3)
    if not r or not sys.stdin.readline():
        die("tcp-idle-client: nobody said go")
    out = []
    for i, (c, (bo, bi, ao, ai)) in enumerate(zip(conns, a.conn)):
        c.sent = c.recv = 0
        c.send_all(filler(ao, 17 + i))
        c.recv_exact(ai)
        out.append(dict(tuple_of(c.sock), sent=c.sent, recv=c.recv, tid=c.tid))
    time.sleep(a.hold / 1000.0)
    for c in conns:
        c.sock.close()
    emit("result", pid=os.getpid(), conns=out)


# --- UDP sockets that change their connection -----------------------------


def udp_late_connect(a):
    """The iperf3 -u server pattern, both ends in this process.

    The server socket is bound and unconnected; the client's first datagram
    (--first bytes) is read with recvfrom(); --gap ms later the server
    connect()s to that client; then --count rounds: the client send()s --out
    bytes, the server recv()s them and send()s --back bytes, the client
    recv()s them. Every count is per socket, both phases together.
    """
    host = a.host
    fam = family_of(host)
    srv = socket.socket(fam, socket.SOCK_DGRAM)
    cli = socket.socket(fam, socket.SOCK_DGRAM)
    for s in (srv, cli):
        s.settimeout(2.0)
        s.bind((host, 0))
    cli.connect(srv.getsockname())
    emit("ready", pid=os.getpid())
    tot = {"client_sent": 0, "client_recv": 0, "server_sent": 0, "server_recv": 0,
           "client_dgrams_out": 0, "client_dgrams_in": 0, "server_dgrams_out": 0,
           "server_dgrams_in": 0}
    try:
        tot["client_sent"] += cli.send(filler(a.first, 1))
        tot["client_dgrams_out"] += 1
        data, peer = srv.recvfrom(65536)
        tot["server_recv"] += len(data)
        tot["server_dgrams_in"] += 1
        t_first = time.time()
        time.sleep(a.gap / 1000.0)
        srv.connect(peer)
        t_connect = time.time()
        for i in range(a.count):
            tot["client_sent"] += cli.send(filler(a.out, i))
            tot["client_dgrams_out"] += 1
            data = srv.recv(65536)
            tot["server_recv"] += len(data)
            tot["server_dgrams_in"] += 1
            tot["server_sent"] += srv.send(filler(a.back, i))
            tot["server_dgrams_out"] += 1
            data = cli.recv(65536)
            tot["client_recv"] += len(data)
            tot["client_dgrams_in"] += 1
    except socket.timeout:
        die("udp-late-connect: a datagram was lost on %s" % host)
    la, ca = srv.getsockname(), cli.getsockname()
    time.sleep(a.hold / 1000.0)
    cli.close()
    srv.close()
    emit("result", pid=os.getpid(), t_first=t_first, t_connect=t_connect,
         server={"laddr": la[0], "lport": la[1], "raddr": ca[0], "rport": ca[1]},
         client={"laddr": ca[0], "lport": ca[1], "raddr": la[0], "rport": la[1]}, **tot)


def parse_step(spec):
    f = spec.split(":")
    try:
        if f[0] == "connect" and len(f) == 2:
            return ("connect", int(f[1]))
        if f[0] == "disconnect" and len(f) == 1:
            return ("disconnect",)
        if f[0] == "send" and len(f) == 4:
            return ("send", None) + tuple(int(x) for x in f[1:])
        if f[0] == "sendto" and len(f) == 5:
            return ("sendto", int(f[1])) + tuple(int(x) for x in f[2:])
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        "connect:PORT | disconnect | send:N:OUT:IN | sendto:PORT:N:OUT:IN")


def udp_disconnect(s):
    """connect(AF_UNSPEC): what Python's socket.connect cannot express."""
    sa = struct.pack("=H14x", socket.AF_UNSPEC)
    buf = ctypes.create_string_buffer(sa, len(sa))
    if _libc.connect(s.fileno(), buf, len(sa)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "connect(AF_UNSPEC): %s" % os.strerror(e))


def udp_steps(a):
    """One UDP client socket driven through --step changes of its connection,
    talking to udp-server sockets on --host (which answer with the size asked):

      connect:PORT          connect() to PORT
      disconnect            connect(AF_UNSPEC)
      send:N:OUT:IN         N datagrams of OUT bytes with send(), each answered by IN bytes
      sendto:PORT:N:OUT:IN  the same with sendto(PORT) and recvfrom()

    --gap ms between steps. Counts are per (local port, peer port): the local
    port may change, since a disconnect unbinds an automatically chosen port
    (one bound by number, --fixed-port, stays).
    """
    s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
    s.settimeout(2.0)
    if a.fixed_port:
        # a port asked for by number is locked: it survives a disconnect
        for _ in range(50):
            probe = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
            probe.bind((a.host, 0))
            port = probe.getsockname()[1]
            probe.close()
            try:
                s.bind((a.host, port))
                break
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
        else:
            die("udp-steps: no free port to bind by number")
    else:
        s.bind((a.host, 0))
    emit("ready", pid=os.getpid())
    flows = {}
    connected = None
    for k, step in enumerate(a.step):
        if k:
            time.sleep(a.gap / 1000.0)
        if step[0] == "connect":
            s.connect((a.host, step[1]))
            connected = step[1]
            continue
        if step[0] == "disconnect":
            udp_disconnect(s)
            connected = None
            continue
        port, n, out, inn = step[1:]
        if step[0] == "send":
            if connected is None:
                die("udp-steps: send while not connected")
            port = connected
        msg = b"TTU %09d\n" % inn + filler(out - UDP_HDR, k)
        for _ in range(n):
            if step[0] == "send":
                sent = s.send(msg)
            else:
                sent = s.sendto(msg, (a.host, port))
            la = s.getsockname()  # an unbound socket gets its port at the first send
            f = flows.setdefault((la[1], port), {
                "laddr": la[0], "lport": la[1], "raddr": a.host, "rport": port, "sent": 0,
                "recv": 0, "dgrams_out": 0, "dgrams_in": 0})
            f["sent"] += sent
            f["dgrams_out"] += 1
            try:
                data, frm = s.recvfrom(65536)
            except socket.timeout:
                die("udp-steps: no answer from port %d (step %d)" % (port, k))
            if frm[1] != port:
                die("udp-steps: answer from port %d, expected %d" % (frm[1], port))
            f["recv"] += len(data)
            f["dgrams_in"] += 1
    time.sleep(a.hold / 1000.0)
    s.close()
    emit("result", pid=os.getpid(), flows=list(flows.values()))


# --- UDP generic segmentation offload ----------------------------------------

SOL_UDP = 17
UDP_SEGMENT = 103


def udp_gso(a):
    """--count sends of --size bytes with UDP_SEGMENT --gso: each leaves as
    ceil(size/gso) datagrams. Sender and receiver in this process, in lock step
    (each send's datagrams are read before the next), connected to each other
    or, with --unconnected, sendto()/recvfrom(). --cmsg sets the segment size
    per send (a control message) instead of per socket.
    """
    host = a.host
    fam = family_of(host)
    tx = socket.socket(fam, socket.SOCK_DGRAM)
    rx = socket.socket(fam, socket.SOCK_DGRAM)
    for s in (tx, rx):
        s.settimeout(2.0)
        s.bind((host, 0))
    if not a.unconnected:
        tx.connect(rx.getsockname())
        rx.connect(tx.getsockname())
    if not a.cmsg:
        try:
            tx.setsockopt(SOL_UDP, UDP_SEGMENT, a.gso)
        except OSError as e:
            emit("unsupported", why="setsockopt(UDP_SEGMENT): %s" % e)
            sys.exit(0)
    emit("ready", pid=os.getpid())
    res = {"sends": 0, "sent": 0, "wire_dgrams": 0, "recv": 0, "dgrams_in": 0, "sizes": {}}
    dst = rx.getsockname()
    for i in range(a.count):
        data = filler(a.size, i)
        if a.cmsg:
            anc = [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", a.gso))]
            n = tx.sendmsg([data], anc, 0, dst) if a.unconnected else tx.sendmsg([data], anc)
        elif a.unconnected:
            n = tx.sendto(data, dst)
        else:
            n = tx.send(data)
        res["sends"] += 1
        res["sent"] += n
        segs = -(-n // a.gso)
        res["wire_dgrams"] += segs
        for _ in range(segs):
            try:
                got = rx.recv(65536)
            except socket.timeout:
                die("udp-gso: send %d: got %d of %d datagrams" % (i, _, segs))
            res["recv"] += len(got)
            res["dgrams_in"] += 1
            res["sizes"][str(len(got))] = res["sizes"].get(str(len(got)), 0) + 1
    ta, ra = tx.getsockname(), rx.getsockname()
    time.sleep(a.hold / 1000.0)
    tx.close()
    rx.close()
    emit("result", pid=os.getpid(), tx={"laddr": ta[0], "lport": ta[1], "raddr": ra[0],
                                        "rport": ra[1]},
         rx={"laddr": ra[0], "lport": ra[1], "raddr": ta[0], "rport": ta[1]}, **res)


# --- TCP churn ----------------------------------------------------------------


def tcp_churn(a):
    """Open and close --count short TCP connections as fast as --threads client
    threads can (at most --seconds), against a listener of this process served
    by as many threads. Each client sends 20 + i % 50 bytes, shuts down its
    write side, reads the --reply bytes the server sends back until EOF, and
    closes. Every end of every connection is reported, with its bytes.
    """
    ls = socket.socket(family_of(a.host), socket.SOCK_STREAM)
    ls.bind((a.host, 0))
    ls.listen(4096)
    ls.settimeout(0.2)
    port = ls.getsockname()[1]
    emit("ready", pid=os.getpid(), port=port)
    lock = threading.Lock()
    clients, servers, errors = [], [], []
    nxt = [0]
    stop = threading.Event()
    deadline = time.monotonic() + a.seconds

    def serve():
        set_comm(a.name)
        while not stop.is_set():
            try:
                conn, _ = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            c = Counted(conn)
            rec = {}
            try:
                conn.settimeout(IO_TIMEOUT)
                rec.update(tuple_of(conn))
                c.recv_until_eof()
                c.send_all(filler(a.reply, 9))
            except OSError as e:
                rec["error"] = repr(e)
            finally:
                conn.close()
                rec.update(sent=c.sent, recv=c.recv)
                with lock:
                    servers.append(rec)

    def client():
        set_comm(a.name)
        while time.monotonic() < deadline:
            with lock:
                i = nxt[0]
                if i >= a.count:
                    return
                nxt[0] += 1
            s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
            c = Counted(s)
            rec = {}
            try:
                s.settimeout(IO_TIMEOUT)
                s.connect((a.host, port))
                rec.update(tuple_of(s))
                c.send_all(filler(20 + i % 50, i))
                s.shutdown(socket.SHUT_WR)
                c.recv_until_eof()
            except OSError as e:
                rec["error"] = repr(e)
            finally:
                s.close()
                rec.update(sent=c.sent, recv=c.recv)
                with lock:
                    (errors if "error" in rec else clients).append(rec)

    t0 = time.monotonic()
    srv_threads = [threading.Thread(target=serve) for _ in range(a.threads)]
    cli_threads = [threading.Thread(target=client) for _ in range(a.threads)]
    for th in srv_threads + cli_threads:
        th.start()
    for th in cli_threads:
        th.join(a.seconds + IO_TIMEOUT * 2)
    wait_until = time.monotonic() + IO_TIMEOUT
    while time.monotonic() < wait_until:
        with lock:
            if len(servers) >= len(clients) + len(errors):
                break
        time.sleep(0.01)
    stop.set()
    for th in srv_threads:
        th.join(IO_TIMEOUT)
    ls.close()
    emit("result", pid=os.getpid(), port=port, elapsed=time.monotonic() - t0,
         t_end=time.time(), clients=clients, servers=servers, errors=errors)


# --- TCP edge cases: both ends in this process --------------------------------

GEN_NAME = ""  # --name: every thread that does I/O takes it
SIOCINQ = 0x541B  # FIONREAD: bytes queued on a socket, not yet read
PR_SET_PDEATHSIG = 1
TCPI_OPT_SYN_DATA = 32  # tcp_info.tcpi_options: the SYN carried data that was acked


def set_pdeathsig(sig=9):
    """Die with the parent (a forked or spawned helper must not outlive the test)."""
    _libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def wait_fd(fd, events, what, timeout=IO_TIMEOUT):
    p = select.poll()
    p.register(fd, events)
    if not p.poll(timeout * 1000):
        raise TimeoutError(errno.ETIMEDOUT, "%s: nothing within %.0fs" % (what, timeout))


def both(*fns):
    """Run fns at the same time, one thread each (the two ends of a connection)."""
    errs = []

    def wrap(fn):
        set_comm(GEN_NAME)
        try:
            fn()
        except BaseException as e:  # re-raised in the caller
            errs.append(e)

    threads = [threading.Thread(target=wrap, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(IO_TIMEOUT * 3)
        if t.is_alive():
            die("a connection end is stuck after %.0fs" % (IO_TIMEOUT * 3))
    if errs:
        raise errs[0]


def listener(fastopen=0):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    if fastopen:
        ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, fastopen)
    ls.listen(8)
    ls.settimeout(IO_TIMEOUT)
    return ls


def lo_pair():
    """A connected loopback pair: (client, server), both with the I/O timeout."""
    ls = listener()
    c = socket.create_connection(ls.getsockname(), timeout=IO_TIMEOUT)
    s, _ = ls.accept()
    s.settimeout(IO_TIMEOUT)
    ls.close()
    return c, s


def inq(sock):
    buf = bytearray(4)
    fcntl.ioctl(sock.fileno(), SIOCINQ, buf)
    return struct.unpack("i", buf)[0]


def end_rec(tup, counted):
    rec = dict(tup)
    rec.update(sent=counted.sent, recv=counted.recv)
    return rec


def edge_conn(case, c, s):
    """Run case on the pair (client c, server s); its record, tuples taken while connected."""
    ct, st = tuple_of(c), tuple_of(s)
    cc, sc = Counted(c), Counted(s)
    extra = EDGE_CASES[case](c, s, cc, sc)
    rec = {"case": case, "client": end_rec(ct, cc), "server": end_rec(st, sc)}
    rec.update(extra or {})
    return rec


def edge_unread(c, s, cc, sc):
    """The server reads 30,000 of the 100,000 sent, then closes (the kernel resets)."""
    out, read = 100000, 30000
    got = {}

    def client():
        cc.send_all(filler(out, 1))
        try:
            cc.recv_until_eof()
        except ConnectionResetError:
            got["client_reset"] = True
        c.close()

    def server():
        sc.recv_exact(read)
        # close only once the rest has arrived, unread: the client really wrote it all
        deadline = time.monotonic() + IO_TIMEOUT
        while inq(s) < out - read:
            if time.monotonic() > deadline:
                raise TimeoutError(errno.ETIMEDOUT, "unread: %d of %d bytes queued" %
                                   (inq(s), out - read))
            time.sleep(0.01)
        got["server_unread"] = inq(s)
        s.close()

    both(client, server)
    return got


def edge_shutwr(c, s, cc, sc):
    """The client writes, shutdown(SHUT_WR), reads the reply to EOF."""
    def client():
        cc.send_all(filler(123457, 2))
        c.shutdown(socket.SHUT_WR)
        cc.recv_until_eof()
        c.close()

    def server():
        sc.recv_until_eof()
        sc.send_all(filler(54321, 3))
        s.close()

    both(client, server)


def edge_abort(who):
    """Traffic both ways, everything read, then `who` closes with SO_LINGER {1, 0}."""
    def run(c, s, cc, sc):
        read_all = threading.Event()
        got = {}

        def end(sock, counted, me):
            if me == who:
                if not read_all.wait(IO_TIMEOUT):
                    raise TimeoutError(errno.ETIMEDOUT, "the peer did not read everything")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                try:
                    counted.recv_until_eof()
                except ConnectionResetError:
                    got[me + "_got_reset"] = True
            sock.close()

        def client():
            cc.send_all(filler(70001, 4))
            cc.recv_exact(9973)
            read_all.set()
            end(c, cc, "client")

        def server():
            sc.recv_exact(70001)
            sc.send_all(filler(9973, 5))
            end(s, sc, "server")

        both(client, server)
        return got
    return run


def edge_sendfile(c, s, cc, sc):
    """The client sends a 1,000,000-byte file with sendfile()."""
    size = 1000000
    with tempfile.TemporaryFile() as f:
        f.write(filler(size, 6))
        f.flush()

        def client():
            off = 0
            while off < size:
                wait_fd(c.fileno(), select.POLLOUT, "sendfile")
                try:
                    n = os.sendfile(c.fileno(), f.fileno(), off, size - off)
                except BlockingIOError:
                    continue
                if n == 0:
                    raise OSError(errno.EIO, "sendfile: 0 at offset %d of %d" % (off, size))
                off += n
                cc.sent += n
            c.shutdown(socket.SHUT_WR)
            cc.recv_until_eof()
            c.close()

        def server():
            sc.recv_until_eof()
            s.close()

        both(client, server)


def edge_splice(c, s, cc, sc):
    """3,000,000 bytes through pipes: the client splices pipe -> socket, the server
    splices socket -> pipe and drains the pipe."""
    size, flags = 3000000, os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK

    def client():
        pr, pw = os.pipe()
        try:
            left = size
            while left:
                k = min(left, 32768)  # an empty pipe takes it whole
                if os.write(pw, filler(k, 7)) != k:
                    raise OSError(errno.EIO, "short write into the pipe")
                while k:
                    wait_fd(c.fileno(), select.POLLOUT, "splice to the socket")
                    try:
                        n = os.splice(pr, c.fileno(), k, flags=flags)
                    except BlockingIOError:
                        continue
                    k -= n
                    left -= n
                    cc.sent += n
        finally:
            os.close(pr)
            os.close(pw)
        c.shutdown(socket.SHUT_WR)
        cc.recv_until_eof()
        c.close()

    def server():
        pr, pw = os.pipe()
        try:
            while True:
                wait_fd(s.fileno(), select.POLLIN, "splice from the socket")
                try:
                    n = os.splice(s.fileno(), pw, 65536, flags=flags)
                except BlockingIOError:
                    continue
                if n == 0:
                    break  # EOF
                sc.recv += n
                while n:  # the pipe is empty again before the next splice
                    n -= len(os.read(pr, n))
        finally:
            os.close(pr)
            os.close(pw)
        s.close()

    both(client, server)


EDGE_CASES = {
    "unread": edge_unread,
    "shutwr": edge_shutwr,
    "abort-client": edge_abort("client"),
    "abort-server": edge_abort("server"),
    "sendfile": edge_sendfile,
    "splice": edge_splice,
}


def tcp_info_options(sock):
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[5]


def edge_fastopen(n):
    """n connections to one TCP_FASTOPEN listener, each opened by sendto(MSG_FASTOPEN):
    the first gets a cookie (unless one is cached), the next carry data on the SYN.
    Needs net.ipv4.tcp_fastopen with client and server bits (3)."""
    ls = listener(fastopen=16)
    tv = struct.pack("ll", int(IO_TIMEOUT), 0)
    recs = []
    for i in range(n):
        out, inn = 20011 + i, 7919 + i
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # blocking, so sendto waits for the handshake: SO_SNDTIMEO bounds that wait
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        cc = Counted(c)
        ends = {}

        def client():
            data = filler(out, 8)
            k = c.sendto(data, socket.MSG_FASTOPEN, ls.getsockname())
            cc.sent += k
            ends["client"] = tuple_of(c)
            ends["syn_sent"] = k
            cc.send_all(data[k:])
            cc.recv_exact(inn)
            ends["client_options"] = tcp_info_options(c)
            c.close()

        def server():
            s, _ = ls.accept()
            s.settimeout(IO_TIMEOUT)
            ends["server"] = tuple_of(s)
            sc = Counted(s)
            ends["sc"] = sc
            sc.recv_exact(out)
            ends["server_options"] = tcp_info_options(s)
            sc.send_all(filler(inn, 9))
            sc.recv_until_eof()
            s.close()

        both(client, server)
        sc = ends["sc"]
        recs.append({"case": "fastopen-%d" % (i + 1),
                     "client": end_rec(ends["client"], cc), "server": end_rec(ends["server"], sc),
                     "syn_data": bool(ends["client_options"] & TCPI_OPT_SYN_DATA),
                     "server_syn_data": bool(ends["server_options"] & TCPI_OPT_SYN_DATA),
                     "first_sendto": ends["syn_sent"]})
    ls.close()
    return recs


def tcp_edge(a):
    """One loopback connection per --case, one after the other, both ends here.

    Each record has the client's and the server's 4-tuple and exactly what each
    end handed to send/sendfile/splice and got back from recv/splice.
    """
    emit("ready", pid=os.getpid())
    conns = []
    for case in a.case:
        if case == "fastopen":
            conns += edge_fastopen(2)
            continue
        c, s = lo_pair()
        conns.append(edge_conn(case, c, s))
    emit("result", pid=os.getpid(), conns=conns)


def parse_burst(spec):
    f = [int(x) for x in spec.split(":")]
    if len(f) != 3 or f[0] < 1 or f[2] < 1:
        raise argparse.ArgumentTypeError("OUT:IN:SLICES, OUT and SLICES at least 1")
    return f


def wait_go(what):
    r, _, _ = select.select([sys.stdin], [], [], IO_TIMEOUT * 2)
    if not r or not sys.stdin.readline():
        die("%s: nobody said go" % what)


def tcp_bursts(a):
    """One long-lived loopback connection, both ends here, traffic in bursts.

    Burst k: the client sends OUT (in SLICES parts, --gap-ms apart) and the
    server answers IN once it has it all. After each burst: a "burst" line with
    the totals so far, then wait for a line on stdin. Then close.
    """
    c, s = lo_pair()
    cc, sc = Counted(c), Counted(s)
    ct, st = tuple_of(c), tuple_of(s)
    emit("ready", pid=os.getpid(), client=ct, server=st)
    for k, (out, inn, slices) in enumerate(a.burst):
        data = filler(out, k)
        step = -(-out // slices)

        def client():
            for j in range(slices):
                cc.send_all(data[j * step:(j + 1) * step])
                if j + 1 < slices:
                    time.sleep(a.gap_ms / 1000.0)
            cc.recv_exact(inn)

        def server():
            sc.recv_exact(out)
            sc.send_all(filler(inn, k + 1))

        both(client, server)
        emit("burst", index=k, client=end_rec(ct, cc), server=end_rec(st, sc))
        wait_go("tcp-bursts")
    c.close()
    sc.recv_until_eof()
    s.close()
    emit("result", pid=os.getpid(), client=end_rec(ct, cc), server=end_rec(st, sc))


# --- who holds a socket ------------------------------------------------------


def proc_comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().rstrip("\n")


def read_line_fd(fd, what, timeout=IO_TIMEOUT):
    """One line from a pipe; b"" at EOF."""
    buf = b""
    while not buf.endswith(b"\n"):
        wait_fd(fd, select.POLLIN, what, timeout)
        b = os.read(fd, 1)
        if not b:
            return buf
        buf += b
    return buf


def reap(pid, timeout=IO_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        p, status = os.waitpid(pid, os.WNOHANG)
        if p:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            die("child %d still running after %.0fs" % (pid, timeout))
        time.sleep(0.02)


def child_main(fn):
    """In a forked child: run fn, never return into the parent's code."""
    try:
        set_pdeathsig()
        fn()
    except BaseException as e:
        sys.stderr.write("ttgen child %d: %r\n" % (os.getpid(), e))
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)


def hold(a):
    """A connection whose socket changes hands; both ends in this family of processes.

    --how pass: this process uses the client end, then passes it over a unix
      socket (SCM_RIGHTS) to a new process (comm --name2) and closes its copy;
      the receiver moves --out/--in bytes and holds it.
    --how fork: this process uses it, forks; the child (comm --name2) keeps only
      the client end, this process only the server end; the child moves bytes.
    --how exec: a forked child (comm --name2) connects and moves bytes, then
      execs /bin/sleep with the socket inherited (comm "sleep").
    --how thread: one thread (comm --name3) connects, another (comm --name2)
      moves the bytes; the process's comm (its main thread's) stays --name.
    Lines: "before" (who holds the client end now), wait for stdin, "moved"
    (who holds it after), wait for stdin, close, "result". The server end stays
    in this process throughout. holder_comm is read from /proc/PID/comm.
    """
    me = os.getpid()
    x, y = a.out, a.inn
    pre = 4099  # bytes each way this process moves before a pass or fork
    pre_c = pre_s = None
    if a.how == "exec":
        ls = listener()
        r1, w1 = os.pipe()  # child -> parent
        r2, w2 = os.pipe()  # parent -> child
        pid = os.fork()
        if pid == 0:
            def child():
                set_comm(a.name2)
                os.close(r1)
                os.close(w2)
                c = socket.create_connection(ls.getsockname(), timeout=IO_TIMEOUT)
                ls.close()
                cc = Counted(c)
                cc.send_all(filler(x, 1))
                cc.recv_exact(y)
                os.write(w1, json.dumps({"client": tuple_of(c), "sent": cc.sent,
                                         "recv": cc.recv}).encode() + b"\n")
                if read_line_fd(r2, "exec: wait for the word") != b"exec\n":
                    raise OSError(errno.EPIPE, "exec: the parent went away")
                # the socket stays open across exec; stdin/stdout must not
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, 0)
                os.dup2(null, 1)
                os.set_inheritable(c.fileno(), True)
                os.execv("/bin/sleep", ["sleep", "%d" % int(IO_TIMEOUT * 4)])
            child_main(child)
        os.close(w1)
        os.close(r2)
        s, _ = ls.accept()
        ls.close()
        s.settimeout(IO_TIMEOUT)
        sc = Counted(s)
        sc.recv_exact(x)
        sc.send_all(filler(y, 2))
        m = json.loads(read_line_fd(r1, "exec: child's counts") or b"null")
        if not m:
            die("exec: the child died before reporting")
        emit("before", pid=me, holder_pid=pid, holder_comm=proc_comm(pid), client=m["client"],
             server=tuple_of(s))
        wait_go("hold exec")
        os.write(w2, b"exec\n")
        # the pipe's write end is close-on-exec: EOF means the exec is under way
        if read_line_fd(r1, "exec: wait for the exec") != b"":
            die("exec: unexpected line from the child")
        deadline = time.monotonic() + IO_TIMEOUT
        while proc_comm(pid) != "sleep":
            if time.monotonic() > deadline:
                die("exec: comm of %d still %r" % (pid, proc_comm(pid)))
            time.sleep(0.01)
        emit("moved", pid=me, holder_pid=pid, holder_comm=proc_comm(pid))
        wait_go("hold exec")
        os.kill(pid, 15)  # the kernel closes the socket as sleep dies
        rc = reap(pid)
        sc.recv_until_eof()
        s.close()
        emit("result", pid=me, holder_pid=pid, holder_rc=rc,
             client=dict(m["client"], sent=m["sent"], recv=m["recv"]),
             server=end_rec(tuple_of_rec(m["client"]), sc))
        return

    if a.how == "thread":
        ls = listener()
        box = {}

        def connect():
            set_comm(a.name3)
            box["c"] = socket.create_connection(ls.getsockname(), timeout=IO_TIMEOUT)
            box["tid"] = threading.get_native_id()

        t1 = threading.Thread(target=connect)
        t1.start()
        s, _ = ls.accept()
        t1.join(IO_TIMEOUT)
        ls.close()
        if "c" not in box:
            die("thread: connect did not finish")
        c = box["c"]
        s.settimeout(IO_TIMEOUT)
    else:
        c, s = lo_pair()
    cc, sc = Counted(c), Counted(s)
    ct, st = tuple_of(c), tuple_of(s)
    if a.how != "thread":
        pump(cc, sc, pre, 3)
        pump(sc, cc, pre, 4)
        pre_c = (cc.sent, cc.recv)
    emit("before", pid=me, holder_pid=me, holder_comm=proc_comm(me), client=ct, server=st)
    wait_go("hold %s" % a.how)

    if a.how == "thread":
        def io():
            set_comm(a.name2)
            cc.send_all(filler(x, 1))
            sc.recv_exact(x)
            sc.send_all(filler(y, 2))
            cc.recv_exact(y)
            box["io_tid"] = threading.get_native_id()

        t2 = threading.Thread(target=io)
        t2.start()
        t2.join(IO_TIMEOUT * 2)
        if "io_tid" not in box:
            die("thread: the I/O thread did not finish")
        emit("moved", pid=me, holder_pid=me, holder_comm=proc_comm(me),
             connect_tid=box["tid"], io_tid=box["io_tid"])
        wait_go("hold thread")
        c.close()
        sc.recv_until_eof()
        s.close()
        emit("result", pid=me, holder_pid=me, client=end_rec(ct, cc), server=end_rec(st, sc))
        return

    # pass or fork: someone else takes the client end and moves x out, y in
    if a.how == "pass":
        u0, u1 = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--name", a.name2,
                                  "fd-recv", "--unix", str(u1.fileno()), "--out", str(x),
                                  "--in", str(y)],
                                 pass_fds=[u1.fileno()], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL)
        u1.close()
        u0.settimeout(IO_TIMEOUT)
        socket.send_fds(u0, [b"F"], [c.fileno()])
        c.close()  # the receiver's copy is the only one now
        hpid = child.pid
        r_fd = u0.fileno()

        def say_close():
            u0.sendall(b"close\n")
    else:
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        hpid = os.fork()
        if hpid == 0:
            def child():
                set_comm(a.name2)
                s.close()
                os.close(r1)
                os.close(w2)
                c2 = Counted(c)
                c2.send_all(filler(x, 1))
                c2.recv_exact(y)
                os.write(w1, json.dumps({"sent": c2.sent, "recv": c2.recv,
                                         "pid": os.getpid()}).encode() + b"\n")
                if read_line_fd(r2, "fork: wait for the word") != b"close\n":
                    raise OSError(errno.EPIPE, "fork: the parent went away")
                c.close()
                os.write(w1, b"closed\n")
            child_main(child)
        c.close()
        os.close(w1)
        os.close(r2)
        r_fd = r1

        def say_close():
            os.write(w2, b"close\n")
    sc.recv_exact(x)
    sc.send_all(filler(y, 2))
    m = json.loads(read_line_fd(r_fd, "%s: the holder's counts" % a.how) or b"null")
    if not m:
        die("%s: the new holder died before reporting" % a.how)
    emit("moved", pid=me, holder_pid=hpid, holder_comm=proc_comm(hpid))
    wait_go("hold %s" % a.how)
    say_close()
    if read_line_fd(r_fd, "%s: the holder closes" % a.how) != b"closed\n":
        die("%s: the holder did not say it closed" % a.how)
    sc.recv_until_eof()
    s.close()
    rc = child.wait(IO_TIMEOUT) if a.how == "pass" else reap(hpid)
    emit("result", pid=me, holder_pid=hpid, holder_rc=rc,
         client=dict(ct, sent=pre_c[0] + m["sent"], recv=pre_c[1] + m["recv"]),
         server=end_rec(st, sc))


def tuple_of_rec(t):
    """The other end's 4-tuple."""
    return {"laddr": t["raddr"], "lport": t["rport"], "raddr": t["laddr"], "rport": t["lport"]}


def fd_recv(a):
    """hold --how pass, the receiving process: take a socket from the unix socket
    on fd --unix, move --out/--in bytes, report, close it when told."""
    set_pdeathsig()
    u = socket.socket(fileno=a.unix)
    u.settimeout(IO_TIMEOUT)
    _, fds, _, _ = socket.recv_fds(u, 16, 1)
    if len(fds) != 1:
        die("fd-recv: got %d descriptors" % len(fds))
    c = socket.socket(fileno=fds[0])
    c.settimeout(IO_TIMEOUT)
    cc = Counted(c)
    cc.send_all(filler(a.out, 1))
    cc.recv_exact(a.inn)
    u.sendall(json.dumps({"sent": cc.sent, "recv": cc.recv, "pid": os.getpid()}).encode() + b"\n")
    if read_line_fd(u.fileno(), "fd-recv: wait for the word") != b"close\n":
        die("fd-recv: the sender went away")
    c.close()
    u.sendall(b"closed\n")


def tcp_abandon(a):
    """A nonblocking connect() given up by the application: close() after --wait-ms
    while the SYNs still go unanswered."""
    emit("ready", pid=os.getpid())
    s = socket.socket(family_of(a.host), socket.SOCK_STREAM)
    s.setblocking(False)
    rec = {"t_open": time.monotonic()}
    err = s.connect_ex((a.host, a.port))
    if err != errno.EINPROGRESS:
        die("tcp-abandon: connect gave %s at once" % errno.errorcode.get(err, err))
    la = s.getsockname()
    rec.update(laddr=la[0], lport=la[1], raddr=a.host, rport=a.port)
    _, w, _ = select.select([], [s], [], a.wait_ms / 1000.0)
    if w:
        die("tcp-abandon: the connect ended before the abandon: SO_ERROR %d" %
            s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
    rec["pending"] = True
    rec["t_close"] = time.monotonic()
    s.close()
    emit("result", pid=os.getpid(), tid=threading.get_native_id(), conns=[rec])


# --- the store tests' traffic: run until stdin is closed (or --duration) -------


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


def store_burst(a):
    """The store tests' burst traffic (module docstring): every total a socket ever had is known."""
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


def store_churn(a):
    """The store tests' steady stream: --conns TCP pairs held open; every --period ms, --active random ones move data."""
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
    p = argparse.ArgumentParser(prog="ttgen")
    p.add_argument("--name", default="", help="process name (comm), at most 15 bytes")
    p.add_argument("--comm-hex", default="",
                   help="process name as hex bytes, any bytes (not UTF-8, control): overrides --name")
    p.add_argument("--wait-go", action="store_true",
                   help='print "waiting", start only after a line on stdin')
    p.add_argument("--canary-port", type=int, default=None,
                   help="hold a connected UDP pair, one end on this port (0: any)")
    sub = p.add_subparsers(dest="mode", required=True)

    q = sub.add_parser("tcp-server")
    q.add_argument("--bind", default="127.0.0.1")
    q.add_argument("--port", type=int, default=0)
    q.add_argument("--dual", action="store_true", help="on '::', accept IPv4 too")
    q.add_argument("--conns", type=int, required=True)
    q.set_defaults(fn=tcp_server)

    q = sub.add_parser("tcp-client")
    q.add_argument("--host", required=True)
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--bind", default="")
    q.add_argument("--conn", type=parse_conn, action="append", required=True,
                   help="OUT:IN:HOLD_MS, one per connection")
    q.add_argument("--parallel", action="store_true")
    q.add_argument("--rst", action="store_true", help="end with a reset (SO_LINGER 0)")
    q.add_argument("--slices", type=int, default=1, help="send OUT in this many parts")
    q.set_defaults(fn=tcp_client)

    q = sub.add_parser("tcp-refused")
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--port", type=int, required=True)
    q.set_defaults(fn=tcp_refused)

    q = sub.add_parser("tcp-timeout")
    q.add_argument("--host", required=True)
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--syncnt", type=int, default=1)
    q.set_defaults(fn=tcp_timeout)

    q = sub.add_parser("udp-server")
    q.add_argument("--bind", action="append", required=True)
    q.add_argument("--timeout", type=float, default=45.0)
    q.set_defaults(fn=udp_server)

    q = sub.add_parser("udp-client")
    q.add_argument("--host", required=True)
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--flow", type=parse_flow, action="append", required=True)
    q.add_argument("--bind", default="", help="local address of unconnected sockets")
    q.add_argument("--hold", type=int, default=0, help="ms to keep the sockets open at the end")
    q.add_argument("--phases", type=int, choices=(1, 2), default=1)
    q.set_defaults(fn=udp_client)

    q = sub.add_parser("pair")
    q.add_argument("--proto", choices=("tcp", "udp", "udpu"), default="tcp")
    q.add_argument("--before", default="1000:1000", help="X:Y bytes client->server, back")
    q.add_argument("--after", default="1000:1000")
    q.add_argument("--hold", type=int, default=0)
    q.set_defaults(fn=pair)

    q = sub.add_parser("tcp-idle-server")
    q.add_argument("--bind", default="127.0.0.1")
    q.add_argument("--dual", action="store_true", help="on '::', accept IPv4 too")
    q.add_argument("--conns", type=int, required=True)
    q.set_defaults(fn=tcp_idle_server)

    q = sub.add_parser("tcp-idle-client")
    q.add_argument("--host", required=True)
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--conn", type=parse_idle_conn, action="append", required=True,
                   help="BO:BI:AO:AI bytes before out/in, after out/in")
    q.add_argument("--hold", type=int, default=0)
    q.set_defaults(fn=tcp_idle_client)

    q = sub.add_parser("udp-late-connect")
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--first", type=int, default=100)
    q.add_argument("--count", type=int, default=200)
    q.add_argument("--out", type=int, default=1000)
    q.add_argument("--back", type=int, default=100)
    q.add_argument("--gap", type=int, default=300, help="ms between recvfrom and connect")
    q.add_argument("--hold", type=int, default=0)
    q.set_defaults(fn=udp_late_connect)

    q = sub.add_parser("udp-steps")
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--step", type=parse_step, action="append", required=True)
    q.add_argument("--gap", type=int, default=300, help="ms between steps")
    q.add_argument("--fixed-port", action="store_true",
                   help="bind a port by number (kept across a disconnect)")
    q.add_argument("--hold", type=int, default=0)
    q.set_defaults(fn=udp_steps)

    q = sub.add_parser("udp-gso")
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--count", type=int, default=40)
    q.add_argument("--size", type=int, default=4000)
    q.add_argument("--gso", type=int, default=1000)
    q.add_argument("--unconnected", action="store_true")
    q.add_argument("--cmsg", action="store_true", help="segment size per send, not per socket")
    q.add_argument("--hold", type=int, default=0)
    q.set_defaults(fn=udp_gso)

    q = sub.add_parser("tcp-churn")
    q.add_argument("--host", default="127.0.0.1")
    q.add_argument("--count", type=int, default=3000)
    q.add_argument("--threads", type=int, default=2)
    q.add_argument("--seconds", type=float, default=10.0)
    q.add_argument("--reply", type=int, default=30)
    q.set_defaults(fn=tcp_churn)

    q = sub.add_parser("tcp-edge")
    q.add_argument("--case", action="append", required=True,
                   choices=sorted(EDGE_CASES) + ["fastopen"])
    q.set_defaults(fn=tcp_edge)

    q = sub.add_parser("tcp-bursts")
    q.add_argument("--burst", type=parse_burst, action="append", required=True,
                   help="OUT:IN:SLICES, one per burst")
    q.add_argument("--gap-ms", type=int, default=100, help="pause between slices")
    q.set_defaults(fn=tcp_bursts)

    q = sub.add_parser("hold")
    q.add_argument("--how", choices=("pass", "fork", "exec", "thread"), required=True)
    q.add_argument("--name2", required=True, help="comm of the new holder (or I/O thread)")
    q.add_argument("--name3", default="", help="thread: comm of the connecting thread")
    q.add_argument("--out", type=int, default=5000, help="bytes the new holder sends")
    q.add_argument("--in", dest="inn", type=int, default=3000, help="and reads")
    q.set_defaults(fn=hold)

    q = sub.add_parser("fd-recv")
    q.add_argument("--unix", type=int, required=True)
    q.add_argument("--out", type=int, required=True)
    q.add_argument("--in", dest="inn", type=int, required=True)
    q.set_defaults(fn=fd_recv)

    q = sub.add_parser("tcp-abandon")
    q.add_argument("--host", required=True)
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--wait-ms", type=int, default=1500)
    q.set_defaults(fn=tcp_abandon)

    q = sub.add_parser("store-burst")
    q.add_argument("--seed", required=True)
    q.add_argument("--lanes", type=int, default=3)
    q.add_argument("--pause-min", type=float, default=5.0, help="ms between bursts")
    q.add_argument("--pause-max", type=float, default=40.0)
    q.add_argument("--duration", type=float, default=150.0, help="backstop, seconds")
    q.set_defaults(fn=store_burst)

    q = sub.add_parser("store-churn")
    q.add_argument("--seed", default="1")
    q.add_argument("--conns", type=int, default=200)
    q.add_argument("--active", type=int, default=20)
    q.add_argument("--period", type=float, default=10.0, help="ms")
    q.add_argument("--max-bytes", type=int, default=3000)
    q.add_argument("--reopen", type=int, default=0, help="pairs closed and reopened per second")
    q.add_argument("--duration", type=float, default=100.0, help="backstop, seconds")
    q.set_defaults(fn=store_churn)

    a = p.parse_args()
    if a.comm_hex:
        a.name = bytes.fromhex(a.comm_hex)
    global GEN_NAME
    GEN_NAME = a.name
    set_comm(a.name)
    try:
        canary = []
        if a.canary_port is not None:
            # a connected UDP pair made before the recorder starts: a row that
            # carries our pid and comm (and the chosen port) from its first tick
            for _ in range(2):
                canary.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            canary[0].bind(("127.0.0.1", a.canary_port))
            canary[1].bind(("127.0.0.1", 0))
            canary[0].connect(canary[1].getsockname())
            canary[1].connect(canary[0].getsockname())
        if a.wait_go:
            emit("waiting", pid=os.getpid(), canary=[c.getsockname()[1] for c in canary])
            r, _, _ = select.select([sys.stdin], [], [], IO_TIMEOUT * 2)
            if not r or not sys.stdin.readline():
                die("nobody said go")
        a.fn(a)
    except OSError as e:
        die("%s: %s (errno %s)" % (a.mode, e, errno.errorcode.get(e.errno, e.errno)))


if __name__ == "__main__":
    main()
