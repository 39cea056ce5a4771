#!/usr/bin/python3
"""UDP sockets that change their connection: every datagram counted once, under its peer.

- late connect (the iperf3 -u server pattern, ttgen udp-late-connect): a server
  socket reads a client's first datagram unconnected (recvfrom), then
  connect()s to that client and they exchange 200 datagrams each way. Both
  ends: all bytes and datagrams, both phases, both ways.
- reconnect and disconnect (ttgen udp-steps, against three unconnected server
  sockets A, B, C): connect(A), send; connect(B), send; connect(AF_UNSPEC);
  sendto(C); sendto(A). A's bytes under A, B's under B, C's under C, and the
  sum over every row of the client's ports is what it sent and read, not a
  datagram twice. Once with a port chosen by the kernel (a disconnect unbinds
  it, the sendto()s leave from a new port) and once with a port bound by
  number (kept: A is talked to connected, then unconnected, from one port).
  The server sockets' per-peer rows are exact too.
- iperf3 -u over loopback, if installed: the recorder's payload bytes and
  datagrams of the two data sockets equal iperf3's own counts plus its 4-byte
  hello each way (iperf_udp.c: the client's first datagram, the server's
  reply once it has connect()ed).

A connection the recorder chooses to show as more than one row over time (a
per-peer row until the connect, a connected row after; or a flow closed as
idle and seen afresh) is summed over its lifetimes: rows are one lifetime while
they share open_ts, until a closed row. What is checked is the sum.
"""
import json
import os
import shutil
import subprocess
import time

import ttharness as h

STEPS = ("connect:A", "send:5:300:40", "connect:B", "send:7:500:60", "disconnect",
         "sendto:C:3:200:30", "sendto:A:2:100:20")
KEYS = ("bytes_out", "bytes_in", "packets_out", "packets_in")


def lifetimes(rs):
    """Rows of one tuple split into lifetimes: same open_ts, ended by a closed row."""
    lives, current = [], {}
    for r in rs:
        k = r.get("open_ts")
        life = current.get(k)
        if life is None:
            life = current[k] = []
            lives.append(life)
        life.append(r)
        if r["closed"]:
            del current[k]
    return lives


def flow_totals(t, rows, desc, tup, netns):
    """Totals of one UDP 4-tuple summed over its lifetimes; None if it has no row."""
    rs = h.conn_rows(rows, "udp", tup["laddr"], tup["lport"], tup["raddr"], tup["rport"], netns)
    if not rs:
        return None, []
    lives = lifetimes(rs)
    for life in lives:
        for a, b in zip(life, life[1:]):
            for k in KEYS:
                if not t.check(b[k] >= a[k], "%s: %s went backwards within a lifetime: %d then %d"
                               % (desc, k, a[k], b[k])):
                    break
    finals = [life[-1] for life in lives]
    return {k: sum(f[k] for f in finals) for k in KEYS}, finals


def check_flow(t, rows, label, tup, want, pid=None, comm=None, netns=None):
    """want: bytes_out, bytes_in, packets_out, packets_in (exact ints, or (lo, hi))."""
    desc = "%s (%s)" % (label, h.fmt_tuple("udp", tup["laddr"], tup["lport"], tup["raddr"],
                                            tup["rport"]))
    got, finals = flow_totals(t, rows, desc, tup, netns)
    if not t.check(got, "%s: no row at all" % desc):
        return
    parts = "; per lifetime: %s" % [tuple(f[k] for k in KEYS) for f in finals]
    for k in KEYS:
        w = want[k]
        if isinstance(w, tuple) and w[0] == w[1]:
            w = w[0]
        if isinstance(w, tuple):
            t.check(w[0] <= got[k] <= w[1], "%s: %s summed over lifetimes: got %d, want %d..%d%s"
                    % (desc, k, got[k], w[0], w[1], parts))
        else:
            t.check(got[k] == w, "%s: %s summed over lifetimes: got %d, want %d%s"
                    % (desc, k, got[k], w, parts))
    for f in finals:
        if pid is not None:
            t.eq("%s: pid" % desc, f["pid"], pid)
        if comm is not None:
            t.eq("%s: comm" % desc, f["comm"], comm)
        t.eq("%s: family" % desc, f["family"], 4)


def late_connect(t, rec, me):
    name = "ttulc%d" % me
    g = t.gen("udp-late-connect", ["--first", 100, "--count", 200, "--out", 1000, "--back", 100,
                                   "--gap", 300, "--hold", 600], name)
    r = g.finish()
    t.eq("late connect: server datagrams in (generator)", r["server_dgrams_in"], 201)
    t.eq("late connect: client bytes out (generator)", r["client_sent"], 100 + 200 * 1000)
    rec.wait_ticks(2)
    return lambda rows: [
        check_flow(t, rows, "late connect: server, unconnected then connected", r["server"],
                   {"bytes_out": r["server_sent"], "bytes_in": r["server_recv"],
                    "packets_out": r["server_dgrams_out"], "packets_in": r["server_dgrams_in"]},
                   pid=r["pid"], comm=name, netns=h.host_netns()),
        check_flow(t, rows, "late connect: client", r["client"],
                   {"bytes_out": r["client_sent"], "bytes_in": r["client_recv"],
                    "packets_out": r["client_dgrams_out"], "packets_in": r["client_dgrams_in"]},
                   pid=r["pid"], comm=name, netns=h.host_netns())]


def steps(t, rec, me):
    srv_name = "ttusv%d" % me
    srv = t.gen("udp-server", ["--bind", "127.0.0.1"] * 3, srv_name)
    ports = dict(zip("ABC", srv.expect("ready")["ports"]))
    script = []
    for s in STEPS:
        f = s.split(":")
        if len(f) > 1 and f[1] in ports:
            f[1] = str(ports[f[1]])
        script += ["--step", ":".join(f)]
    gens = {}
    for kind, extra in (("auto port", []), ("fixed port", ["--fixed-port"])):
        name = "ttust%s%d" % (kind[0], me)
        gens[kind] = (t.gen("udp-steps", ["--gap", 300, "--hold", 600] + extra + script, name),
                      name)
    res = {kind: (g.finish(), name) for kind, (g, name) in gens.items()}
    srv.close_stdin()
    peers = srv.finish()["peers"]
    rec.wait_ticks(2)
    host = h.host_netns()
    by_port = {v: k for k, v in ports.items()}

    def check(rows):
        for kind, (r, name) in res.items():
            flows = r["flows"]
            lports = sorted({f["lport"] for f in flows})
            if kind == "fixed port":
                t.eq("fixed port: local ports used (generator)", len(lports), 1)
            else:
                t.eq("auto port: local ports used, a new one after the disconnect (generator)",
                     len(lports), 2)
            for f in flows:
                label = "%s: client -> %s from port %d" % (kind, by_port[f["rport"]], f["lport"])
                check_flow(t, rows, label, f, {"bytes_out": f["sent"], "bytes_in": f["recv"],
                                               "packets_out": f["dgrams_out"],
                                               "packets_in": f["dgrams_in"]},
                           pid=r["pid"], comm=name, netns=host)
            # counted once: every row of the client's ports together is what it did
            # (rows shown without an owner, pid 0, count too)
            tot = {k: 0 for k in KEYS}
            tuples = {(x["laddr"], x["lport"], x["raddr"], x["rport"]) for x in rows
                      if x["proto"] == "udp" and x["lport"] in lports and
                      x["laddr"] == "127.0.0.1" and x["netns"] == host and
                      x["pid"] in (r["pid"], 0)}
            for tp in sorted(tuples):
                got, _ = flow_totals(t, rows, "%s %s" % (kind, tp),
                                     dict(zip(("laddr", "lport", "raddr", "rport"), tp)), host)
                for k in KEYS:
                    tot[k] += got[k]
            want = {"bytes_out": sum(f["sent"] for f in flows),
                    "bytes_in": sum(f["recv"] for f in flows),
                    "packets_out": sum(f["dgrams_out"] for f in flows),
                    "packets_in": sum(f["dgrams_in"] for f in flows)}
            t.eq("%s: every row of the client's ports %s together (each datagram once)"
                 % (kind, lports), tot, want)
            t.eq("%s: peers of the client's rows" % kind,
                 sorted({(tp[1], tp[2], tp[3]) for tp in tuples}),
                 sorted((f["lport"], "127.0.0.1", f["rport"]) for f in flows))
        for p in peers:
            label = "server %s <- client port %d" % (by_port[p["lport"]], p["rport"])
            check_flow(t, rows, label, p, {"bytes_out": p["sent"], "bytes_in": p["recv"],
                                           "packets_out": p["dgrams_out"],
                                           "packets_in": p["dgrams_in"]},
                       pid=srv.pid, comm=srv_name, netns=host)
        t.eq("server peers: one per (client port, server port) the clients used (generator)",
             sorted((p["rport"], p["lport"]) for p in peers),
             sorted((f["lport"], f["rport"]) for r, _ in res.values() for f in r["flows"]))

    return check


def tcp_listening(port):
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as f:
            for line in f.readlines()[1:]:
                w = line.split()
                if w[3] == "0A" and int(w[1].split(":")[1], 16) == port:
                    return True
    return False


def iperf3(t, rec):
    exe = shutil.which("iperf3")
    if not exe:
        print("NOTE: iperf3 is not installed: the iperf3 -u sub-case is not run", flush=True)
        return lambda rows: None
    port = h.free_port()
    srv = subprocess.Popen(h.pdeathsig("KILL") + [exe, "-s", "-1", "-B", "127.0.0.1", "-p",
                                                     str(port), "--json"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)

    def kill():
        if srv.poll() is None:
            srv.kill()
            srv.wait(5)

    t.cleanup(kill)
    deadline = time.monotonic() + 10
    while not tcp_listening(port):
        t.require(time.monotonic() < deadline and srv.poll() is None,
                  "iperf3 server not listening on %d: %s" % (port, srv.stderr.read()
                                                             if srv.poll() is not None else ""))
        time.sleep(0.05)
    cli = subprocess.Popen(h.pdeathsig("KILL") + [exe, "-u", "-c", "127.0.0.1", "-p", str(port),
                                                     "-b", "20M", "-l", "1200", "-t", "2",
                                                     "--json"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    t.cleanup(lambda: cli.poll() is None and (cli.kill(), cli.wait(5)))
    cout, cerr = cli.communicate(timeout=30)
    sout, serr = srv.communicate(timeout=15)
    t.require(cli.returncode == 0 and srv.returncode == 0,
              "iperf3 failed: client %s %s / server %s %s" %
              (cli.returncode, cerr.decode()[-300:], srv.returncode, serr.decode()[-300:]))
    c, s = json.loads(cout), json.loads(sout)
    rec.wait_ticks(3)
    sent, got = c["end"]["sum_sent"], s["end"]["sum_received"]
    conn = c["start"]["connected"][0]
    cport = conn["local_port"]
    t.eq("iperf3: server's view of the client port", s["start"]["connected"][0]["remote_port"],
         cport)
    t.ge("iperf3: datagrams sent (iperf3)", sent["packets"], 100)
    if (got["bytes"], got["packets"]) != (sent["bytes"], sent["packets"]):
        print("NOTE: iperf3's server read %d of the %d datagrams sent: the recorder's server "
              "side may lie between" % (got["packets"], sent["packets"]), flush=True)
    cli_tup = {"laddr": "127.0.0.1", "lport": cport, "raddr": "127.0.0.1", "rport": port}
    srv_tup = {"laddr": "127.0.0.1", "lport": port, "raddr": "127.0.0.1", "rport": cport}
    host = h.host_netns()
    hello = 4

    def check(rows):
        check_flow(t, rows, "iperf3 -u client", cli_tup,
                   {"bytes_out": sent["bytes"] + hello, "bytes_in": hello,
                    "packets_out": sent["packets"] + 1, "packets_in": 1},
                   pid=cli.pid, comm="iperf3", netns=host)
        # the server may not have read what arrived after the test ended: between
        # what iperf3 read and what was sent (equal, so exact, on a quiet machine)
        check_flow(t, rows, "iperf3 -u server", srv_tup,
                   {"bytes_out": hello, "bytes_in": (got["bytes"] + hello, sent["bytes"] + hello),
                    "packets_out": 1, "packets_in": (got["packets"] + 1, sent["packets"] + 1)},
                   pid=srv.pid, comm="iperf3", netns=host)

    return check


def main(t):
    me = os.getpid()
    rec = t.recorder()
    rec.start()
    checks = [late_connect(t, rec, me), steps(t, rec, me), iperf3(t, rec)]
    rows = rec.stop()
    for check in checks:
        check(rows)


if __name__ == "__main__":
    h.run("udp_connect", main)
