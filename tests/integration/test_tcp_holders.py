#!/usr/bin/python3
"""The process shown for a connection is a process that really holds the socket.

pid and comm are the holding process (its tgid, and its comm as
/proc/PID/comm shows it), found afresh every tick, whoever did the I/O last:

  pass    a socket passed over a unix socket (SCM_RIGHTS) to a new process,
          the sender closes its copy; the receiver moves 5,000 + 3,000 bytes
          (under 64 KiB) and holds it for several ticks
  fork    after fork() the parent closes its copy of the client end, the child
          (its own comm) moves a few bytes and holds it
  exec    a process holding a connection execs /bin/sleep, the socket
          inherited: same pid, comm "sleep"
  thread  one thread connects, another does the I/O, threads with comms of
          their own: the pid is the process's, the comm its main thread's

For each, every row of the client end sampled after a stage began (ticks
after Recorder.mark()) shows that stage's holder: before the move (the
generator), then after it (the new holder), at least 3 ticks of each, the
closed row included. The server end stays with the generator throughout.
Bytes are exact on both closed rows.
"""
import os

import ttharness as h

HOLD_TICKS = 3


def tup(e):
    return (e["laddr"], e["lport"], e["raddr"], e["rport"])


def stage(t, rec, label, ct, holder_pid, holder_comm):
    """Wait for HOLD_TICKS rows of the client end sampled from now on: (label, mark, pid, comm)."""
    m = rec.mark()
    ok = rec.wait_for(lambda rows: len([r for r in h.conn_rows(rows, "tcp", *ct)
                                        if r["ts"] > m]) >= HOLD_TICKS, 10)
    t.check(ok, "%s: fewer than %d rows of the client end within 10s" % (label, HOLD_TICKS))
    return {"label": label, "mark": m, "pid": holder_pid, "comm": holder_comm,
            "rows": [r for r in h.conn_rows(rec.snapshot(), "tcp", *ct) if r["ts"] > m]}


def scenario(t, rec, how, me):
    name = "tth%s%d" % (how[0], me)
    name2 = "ttn%s%d" % (how[0], me)
    args = ["--how", how, "--name2", name2, "--out", 5000, "--in", 3000]
    if how == "thread":
        args += ["--name3", "ttc%s%d" % (how[0], me)]
    g = t.gen("hold", args, name)
    before = g.expect("before")
    ct, st = tup(before["client"]), tup(before["server"])
    if how == "exec":
        t.eq("exec: comm before the exec (generator)", before["holder_comm"], name2[:15])
    else:
        t.eq("%s: comm of the generator (from /proc)" % how, before["holder_comm"], name[:15])
    stages = [stage(t, rec, "%s before" % how, ct, before["holder_pid"], before["holder_comm"])]
    g.say("go")
    moved = g.expect("moved")
    want_comm = {"pass": name2, "fork": name2, "exec": "sleep", "thread": name}[how][:15]
    t.eq("%s: comm of the holder after (from /proc)" % how, moved["holder_comm"], want_comm)
    stages.append(stage(t, rec, "%s after" % how, ct, moved["holder_pid"], moved["holder_comm"]))
    g.say("go")
    res = g.finish()
    return {"how": how, "name": name, "gen_pid": before["pid"], "ct": ct, "st": st,
            "stages": stages, "res": res}


def check(t, rows, sc):
    how, res = sc["how"], sc["res"]
    before, after = sc["stages"]
    # before the move: the rows printed before the test said go (nothing had moved yet);
    # after it: every row from the mark on, the closed row included
    for st, rs in ((before, before["rows"]),
                   (after, [r for r in h.conn_rows(rows, "tcp", *sc["ct"]) if r["ts"] > after["mark"]])):
        t.ge("%s: client rows" % st["label"], len(rs), HOLD_TICKS)
        t.eq("%s: client (pid, comm) of its rows" % st["label"],
             sorted({(r["pid"], r["comm"]) for r in rs}), [(st["pid"], st["comm"])])
    c, s = res["client"], res["server"]
    t.check_conn(rows, "%s client" % how, "tcp", c, sent=c["sent"], recv=c["recv"],
                 pid=after["pid"], comm=after["comm"], closed=True, partial=False)
    t.check_conn(rows, "%s server" % how, "tcp", s, sent=s["sent"], recv=s["recv"],
                 pid=sc["gen_pid"], comm=sc["name"][:15], closed=True, partial=False)
    srows = [r for r in h.conn_rows(rows, "tcp", *sc["st"]) if r["ts"] > before["mark"]]
    t.eq("%s server: (pid, comm) of its rows" % how, sorted({(r["pid"], r["comm"]) for r in srows}),
         [(sc["gen_pid"], sc["name"][:15])])
    t.eq("%s: generator moved (client sent, read) = (server read, sent)" % how,
         (c["sent"], c["recv"]), (s["recv"], s["sent"]))


def main(t):
    me = os.getpid()
    rec = t.recorder()
    rec.start()
    scs = [scenario(t, rec, how, me) for how in ("pass", "fork", "exec", "thread")]
    tuples = [sc[k] for sc in scs for k in ("ct", "st")]
    t.check(rec.wait_closed("tcp", tuples, timeout=10), "no closed row for every end within 10s")
    rows = rec.stop()
    for sc in scs:
        check(t, rows, sc)


if __name__ == "__main__":
    h.run("tcp_holders", main)
