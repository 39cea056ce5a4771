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
