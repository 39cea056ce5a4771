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

Stdlib only: it runs with Debian's /usr/bin/python3, inside network namespaces
(`ip netns exec NS python3 ttgen.py ...` execs, so the pid stays the same).
"""
import argparse
import ctypes
import errno
import json
import os
import select
import socket
import struct
import sys
import threading
import time

PR_SET_NAME = 15
IO_TIMEOUT = 15.0  # seconds any single blocking call may take
TCP_HDR = 24  # b"TTG %09d %09d\n": total bytes the client sends, reply size
UDP_HDR = 14  # b"TTU %09d\n": reply size
CHUNK = 16384

_libc = ctypes.CDLL(None, use_errno=True)


def set_comm(name):
    """comm is per thread: call it in every thread that does I/O."""
    if name:
        _libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


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
                       tid=threading.get_native_id())
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


def main():
    p = argparse.ArgumentParser(prog="ttgen")
    p.add_argument("--name", default="", help="process name (comm), at most 15 bytes")
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

    a = p.parse_args()
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
