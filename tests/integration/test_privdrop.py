#!/usr/bin/python3
"""--user: once attached, the recorder runs as that user with no capability, and still counts exactly.

The recorder starts as root with `--user nobody -o STORE`. While it runs,
/proc/PID/status must show uid and gid nobody's in all four slots, empty
effective, permitted, inheritable, ambient and bounding capability sets and
no_new_privs. Then, with nothing privileged left, four TCP connections made
after the drop must come out with exactly the bytes the generator sent and
read (the per-tick work - iterator walks, map reads, the ring buffer - runs
on file descriptors opened before the drop and needs no capability). The
store is created by root for nobody, every file in it is nobody's, and the
recording says that no discovery walk ran after the start (the one thing a
drop costs: setns needs CAP_SYS_ADMIN).
An unknown user is one line and exit 2 before anything is loaded.
"""
import os
import pwd
import re
import sqlite3
import subprocess
import tempfile

import ttharness as h

K = 4


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.split()
    return out


def main(t):
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        raise h.Skip("no user nobody")
    base = tempfile.mkdtemp(prefix="ttpriv-")
    os.chmod(base, 0o755)  # nobody must reach the store inside
    t.cleanup(lambda: subprocess.run(["rm", "-rf", base]))
    store = os.path.join(base, "store")

    me = os.getpid()
    srv_name, cli_name = "ttsrv%d" % me, "ttcli%d" % me
    srv = t.gen("tcp-server", ["--bind", "127.0.0.1", "--conns", K], srv_name)
    port = srv.expect("ready")["port"]

    rec = t.recorder(extra=["--user", "nobody", "-o", store, "--flush", "500ms"])
    rec.start()
    st = status(rec.proc.pid)
    t.note("recorder status: %r" % {k: st.get(k) for k in ("Uid", "Gid", "Groups", "CapInh",
                                                            "CapPrm", "CapEff", "CapBnd",
                                                            "CapAmb", "NoNewPrivs")})
    print("recorder /proc/%d/status after the drop:" % rec.proc.pid)
    for k in ("Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"):
        print("  %s:\t%s" % (k, "\t".join(st.get(k, []))))
    t.eq("Uid (real, effective, saved, fs)", st.get("Uid"), [str(nobody.pw_uid)] * 4)
    t.eq("Gid (real, effective, saved, fs)", st.get("Gid"), [str(nobody.pw_gid)] * 4)
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        t.eq(k, st.get(k), ["0000000000000000"])
    t.eq("NoNewPrivs", st.get("NoNewPrivs"), ["1"])

    # everything from here is counted by a process that can do nothing privileged
    args = ["--host", "127.0.0.1", "--port", port, "--parallel"]
    for k in range(1, K + 1):
        args += ["--conn", "%d:%d:%d" % (54321 * k + k, 4321 * k, 200)]
    cli = t.gen("tcp-client", args, cli_name)
    cli.expect("ready")
    cres = cli.finish()
    sres = srv.finish()
    for c in cres["conns"] + sres["conns"]:
        t.require(c and c["ok"], "generator connection failed: %r" % c)
    tuples = [(c["laddr"], c["lport"], c["raddr"], c["rport"])
              for c in cres["conns"] + sres["conns"]]
    rec.wait_closed("tcp", tuples, timeout=10)
    rows = rec.stop()
    for k, c in enumerate(cres["conns"], 1):
        t.eq("client %d sent (generator)" % k, c["sent"], 54321 * k + k)
        t.check_conn(rows, "client %d" % k, "tcp", c, sent=c["sent"], recv=c["recv"],
                     pid=cres["pid"], comm=cli_name, closed=True)
    for k, s in enumerate(sres["conns"], 1):
        t.check_conn(rows, "server %d" % k, "tcp", s, sent=s["sent"], recv=s["recv"],
                     pid=sres["pid"], comm=srv_name, closed=True)
    t.check(not re.search(r"Operation not permitted|Permission denied|error",
                          rec.stderr_text()), "recorder stderr: %r" % rec.stderr_text())

    t.eq("store directory owner", os.stat(store).st_uid, nobody.pw_uid)
    files = os.listdir(store)
    t.check("index.db" in files and any(f.endswith(".tts") for f in files),
            "segments and index.db were written: %r" % files)
    for f in files:
        t.eq("%s owner" % f, os.stat(os.path.join(store, f)).st_uid, nobody.pw_uid)
    # what the capture gave up is kept with the recording
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(store, "index.db"), uri=True)
    opts = [r[0] for r in db.execute("SELECT options FROM recordings")]
    db.close()
    t.check(len(opts) == 1 and "--user nobody" in opts[0] and
            "privileges given up" in opts[0], "recording options: %r" % opts)

    bad = subprocess.run([t.args.recorder, "--user", "no-such-user-tt", "--no-store", "-f", "json",
                          "-d", "1s"], capture_output=True, text=True, timeout=30)
    t.eq("unknown user: exit", bad.returncode, 2)
    t.check(bad.stderr.count("\n") == 1 and "no user 'no-such-user-tt'" in bad.stderr,
            "unknown user: one line naming it: %r" % bad.stderr)


if __name__ == "__main__":
    h.run("privdrop", main)
