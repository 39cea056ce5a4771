#!/usr/bin/python3
"""tcptop-record.service: it lints, and its ExecStart records real traffic with exactly the unit's user and capabilities.

1. `cmake --install` into a temporary root; `systemd-analyze verify --root`
   on the installed unit must pass without a single message.
2. The unit's [Service] section is read as systemd would: User, Group,
   AmbientCapabilities, CapabilityBoundingSet, NoNewPrivileges, UMask,
   Environment then EnvironmentFile (the installed defaults file) expand
   $TCPTOP_OPTS in ExecStart; StateDirectory is made as systemd makes it
   (owned by User:Group, StateDirectoryMode) in a temporary place. The user is
   created if missing (and removed again).
3. ExecStart runs under setpriv with exactly that user, group, ambient and
   bounding set, no_new_privs, that umask. Before it starts, a connection in
   another network namespace is open and idle; once running (the recorder has
   dropped every capability: /proc shows it), that connection and fresh ones
   on loopback move known bytes and close. SIGTERM (systemd's stop) must end
   it with exit 0. The store must hold each connection with exactly the
   generator's bytes (the namespaced one partial, found by the start-up walk
   with the unit's CAP_SYS_ADMIN/CAP_SYS_PTRACE), retention from the defaults
   file in the recorded options, a 2750 directory and 0640 files of the
   unit's group, and a member of that group (nobody + the group) can run
   tcptop-analyze info on it.

Environment: TT_BUILD_DIR (to install from), TT_ANALYZER.
"""
import grp
import os
import pwd
import re
import shlex
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import time

import ttharness as h

BEFORE, AFTER = (3001, 7003), (123457, 65539)  # in-namespace client: (out, in)
K = 3


def parse_unit(path):
    """[Service] as key -> list of values (in order)."""
    sec, out = None, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                sec = line
                continue
            if sec == "[Service]":
                k, _, v = line.partition("=")
                out.setdefault(k.strip(), []).append(v.strip())
    return out


def env_assignments(text):
    """KEY=VALUE words as systemd's Environment=/EnvironmentFile= read them (the quoting we use)."""
    env = {}
    for word in shlex.split(text, comments=True):
        k, _, v = word.partition("=")
        env[k] = v
    return env


def caps_arg(caps):
    return ",".join(["-all"] + ["+" + c.lower().replace("cap_", "") for c in caps])


def main(t):
    build, analyzer = os.environ.get("TT_BUILD_DIR"), os.environ.get("TT_ANALYZER")
    t.require(build and analyzer, "TT_BUILD_DIR and TT_ANALYZER must be set")
    for tool in ("systemd-analyze", "setpriv", "useradd"):
        if not shutil.which(tool):
            raise h.Skip("no %s" % tool)
    tmp = tempfile.mkdtemp(prefix="ttsvc-")
    os.chmod(tmp, 0o755)
    t.cleanup(lambda: subprocess.run(["rm", "-rf", tmp]))
    root = os.path.join(tmp, "root")
    p = subprocess.run(["cmake", "--install", build], env=dict(os.environ, DESTDIR=root),
                       capture_output=True, text=True)
    t.require(p.returncode == 0, "cmake --install: %s" % p.stderr)
    units = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
             if f == "tcptop-record.service"]
    t.require(len(units) == 1, "installed units: %r" % units)
    unit = units[0]

    # 1. lint, with systemd's own units beside it (the targets it refers to)
    for d in ("/usr/lib/systemd/system", "/lib/systemd/system"):
        if os.path.isdir(d) and not os.path.exists(root + d):
            shutil.copytree(d, root + d, symlinks=True)
    man = [os.path.join(d, "share", "man") for d, dirs, _ in os.walk(root) if "share" in dirs]
    man = [m for m in man if os.path.isdir(m)]
    env = dict(os.environ, MANPATH=":".join(man)) if man else os.environ
    # Documentation=man:... is checked with man(1) against the installed pages
    p = subprocess.run(["systemd-analyze", "verify", "--root=" + root] +
                       ([] if man and shutil.which("man") else ["--man=no"]) + [unit],
                       capture_output=True, text=True, env=env)
    t.eq("systemd-analyze verify: exit (output %r)" % (p.stdout + p.stderr), p.returncode, 0)
    t.eq("systemd-analyze verify: messages", (p.stdout + p.stderr).strip(), "")

    # 2. the unit as systemd reads it
    u = parse_unit(unit)
    user, group = u["User"][-1], u["Group"][-1]
    ambient = " ".join(u["AmbientCapabilities"]).split()
    bounding = " ".join(u["CapabilityBoundingSet"]).split()
    t.require(ambient and set(ambient) <= set(bounding), "caps: %r %r" % (ambient, bounding))
    env = {}
    for e in u.get("Environment", []):
        env.update(env_assignments(e))
    for ef in u.get("EnvironmentFile", []):
        optional = ef.startswith("-")
        path = root + ef.lstrip("-")
        t.require(os.path.exists(path) or optional, "EnvironmentFile %s missing" % path)
        t.require(os.path.exists(path), "the defaults file is installed: %s" % path)
        with open(path) as f:
            env.update(env_assignments(f.read()))
    execstart = u["ExecStart"][-1]
    words = []
    for w in shlex.split(execstart):
        m = re.fullmatch(r"\$(\w+)", w)
        if m:
            words += env.get(m.group(1), "").split()
        else:
            words.append(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), w))
    words[0] = root + words[0]
    t.require(os.access(words[0], os.X_OK), "ExecStart binary %s" % words[0])
    state = "/var/lib/" + u["StateDirectory"][-1]
    t.require(state in words, "ExecStart records into the StateDirectory: %r" % words)
    t.check("--retain-size" in words or "--retain-age" in words,
            "retention is on by default: %r" % words)

    created = False
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", state, "--shell", "/usr/sbin/nologin", user], check=True)
        created = True
        t.cleanup(lambda: subprocess.run(["userdel", user]))
        t.cleanup(lambda: subprocess.run(["groupdel", group], stderr=subprocess.DEVNULL))
    pw, gr = pwd.getpwnam(user), grp.getgrnam(group)
    t.note("user %s %s" % (user, "created for the test" if created else "existed"))
    store = os.path.join(tmp, "state", u["StateDirectory"][-1])
    os.makedirs(store)
    os.chmod(os.path.dirname(store), 0o755)
    os.chown(store, pw.pw_uid, gr.gr_gid)
    os.chmod(store, int(u.get("StateDirectoryMode", ["0755"])[-1], 8))
    words = [store if w == state else w for w in words]

    # an idle connection in another namespace, from before the start
    me = os.getpid()
    ns = t.netns("s")
    srv = t.gen("tcp-idle-server", ["--bind", "127.0.0.1", "--conns", 1], "ttsvs%d" % me,
                netns=ns)
    port = srv.expect("ready")["port"]
    nscli = t.gen("tcp-idle-client", ["--host", "127.0.0.1", "--port", port, "--hold", 100,
                                      "--conn", "%d:%d:%d:%d" % (BEFORE + AFTER)],
                  "ttsvc%d" % me, netns=ns)
    nscli.expect("phase1")

    # 3. ExecStart, as the unit runs it
    cmd = ["setpriv", "--pdeathsig", "TERM", "--reuid=%d" % pw.pw_uid,
           "--regid=%d" % gr.gr_gid, "--init-groups", "--inh-caps=" + caps_arg(ambient),
           "--ambient-caps=" + caps_arg(ambient), "--bounding-set=" + caps_arg(bounding)]
    if u.get("NoNewPrivileges", ["no"])[-1] in ("yes", "true", "1"):
        cmd.append("--no-new-privs")
    print("ExecStart as the unit runs it:\n  " + shlex.join(cmd + ["--"] + words), flush=True)
    old = os.umask(int(u.get("UMask", ["0022"])[-1], 8))
    try:
        svc = subprocess.Popen(cmd + ["--"] + words, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        os.umask(old)
    t.cleanup(lambda: svc.poll() is None and svc.kill())
    # running, attached and unprivileged: the index exists and every capability is gone
    deadline, st = time.monotonic() + 20, {}
    while time.monotonic() < deadline and svc.poll() is None:
        try:
            with open("/proc/%d/status" % svc.pid) as f:
                st = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        except OSError:
            pass
        if st.get("CapEff") == "0000000000000000" and os.path.exists(
                os.path.join(store, "index.db")):
            break
        time.sleep(0.1)
    if svc.poll() is not None:
        raise h.Failed("the service exited %s: %s" % (svc.returncode, svc.stderr.read()))
    print("running service /proc/%d/status: Uid %s CapEff %s CapBnd %s" %
          (svc.pid, st.get("Uid"), st.get("CapEff"), st.get("CapBnd")), flush=True)
    t.eq("service Uid", st.get("Uid", "").split(), [str(pw.pw_uid)] * 4)
    t.eq("service CapEff after start", st.get("CapEff"), "0000000000000000")
    time.sleep(1.5)  # a tick or two: the idle connection has been seen, partial

    nscli.say("go")
    cli_srv = t.gen("tcp-server", ["--bind", "127.0.0.1", "--conns", K], "ttsvl%d" % me)
    lport = cli_srv.expect("ready")["port"]
    args = ["--host", "127.0.0.1", "--port", lport, "--parallel"]
    for k in range(1, K + 1):
        args += ["--conn", "%d:%d:%d" % (20011 * k, 3011 * k, 100)]
    cli = t.gen("tcp-client", args, "ttsvk%d" % me)
    cli.expect("ready")
    cres, nres = cli.finish(), nscli.finish()
    cli_srv.finish()
    srv.finish()
    time.sleep(2.5)  # the closes are in a tick (1 s) before the stop
    svc.terminate()
    try:
        rc = svc.wait(30)
    except subprocess.TimeoutExpired:
        svc.kill()
        rc = "timeout"
    err = svc.stderr.read()
    t.eq("service exit on SIGTERM (stderr %r)" % err, rc, 0)

    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(store, "index.db"), uri=True)
    rows = db.execute("SELECT laddr, lport, raddr, rport, netns, partial, bytes_out, bytes_in,"
                      " close_reason FROM connections WHERE proto = 'tcp'").fetchall()
    opts = [r[0] for r in db.execute("SELECT options FROM recordings")]
    db.close()

    def find(c, netns=None):
        for r in rows:
            if (r[0], r[1], r[2], r[3]) == (c["laddr"], c["lport"], c["raddr"], c["rport"]) and \
                    (netns is None or r[4] == netns):
                return r
        return None

    for k, c in enumerate(cres["conns"], 1):
        r = find(c)
        if t.check(r, "loopback client %d in the store (%d tcp rows)" % (k, len(rows))):
            t.eq("loopback client %d bytes out/in" % k, (r[6], r[7]), (c["sent"], c["recv"]))
            t.eq("loopback client %d closed" % k, r[8], "normal")
    for c in nres["conns"]:
        t.eq("namespaced client: generator after-bytes", (c["sent"], c["recv"]), AFTER)
        r = find(c, ns.inode)
        if t.check(r, "namespaced client in the store under netns %d" % ns.inode):
            t.eq("namespaced client: partial", r[5], 1)
            t.eq("namespaced client: bytes out/in after the start", (r[6], r[7]), AFTER)
    t.check(len(opts) == 1 and "--retain-size" in opts[0] and "--user " + user in opts[0],
            "recorded options: %r" % opts)

    st = os.stat(store)
    t.eq("store mode", oct(stat.S_IMODE(st.st_mode)), oct(0o2750))
    t.eq("store group", st.st_gid, gr.gr_gid)
    for f in os.listdir(store):
        fs = os.stat(os.path.join(store, f))
        t.eq("%s mode" % f, oct(stat.S_IMODE(fs.st_mode)), oct(0o640))
        t.eq("%s owner:group" % f, (fs.st_uid, fs.st_gid), (pw.pw_uid, gr.gr_gid))
    # a member of the group reads it; somebody else does not
    nobody = pwd.getpwnam("nobody")
    for groups, want in ((str(gr.gr_gid), 0), ("", 1)):
        p = subprocess.run(["setpriv", "--reuid=%d" % nobody.pw_uid,
                            "--regid=%d" % nobody.pw_gid] +
                           (["--groups=" + groups] if groups else ["--clear-groups"]) +
                           ["--inh-caps=-all", "--bounding-set=-all", "--", analyzer, "info",
                            store], capture_output=True, text=True, timeout=60)
        t.eq("tcptop-analyze info as nobody%s: exit (stderr %r)" %
             (" in group " + group if groups else "", p.stderr), p.returncode, want)


if __name__ == "__main__":
    h.run("service", main)
