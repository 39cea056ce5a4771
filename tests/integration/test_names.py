#!/usr/bin/python3
"""Process names are whatever bytes a process set: every output reads them back
exactly, and none lets them reach a terminal raw (docs/architecture.md, "Text in
outputs").

Seven generators each hold a TCP pair under a name set with prctl(PR_SET_NAME):
UTF-8 (café, 日本), a quote, a backslash, a control byte, a lone 0xff byte, and
a terminal attack (`ESC ]0;PWNED BEL ESC [2J`: retitle and clear the screen).
- JSON (tcptop-record --format json, top, events and sql --format json), read
  with python's json: each name equals the name that was set, a byte that is
  not UTF-8 as the documented \\xNN (python's "backslashreplace");
- tables (top, events, sql, replay, tcptop-record --format text): no ESC or BEL
  byte anywhere in stdout, and the attack's name shown escaped.
The café generator starts in a cgroup named like a docker container's:
top --group-by cgroup shows its path and the container id next to the number.
Each pair's two ends (one connect()ed, one accepted, both seen opening) group
under the server's port with --group-by service-port, whichever port is lower.
"""
import json
import os
import subprocess
import time

import ttharness as h

NAMES = [
    "café".encode(),
    "日本".encode(),
    b'q"uote',
    b"back\\slash",
    b"ctl\x01byte",
    b"ff\xffbyte",
    b"\x1b]0;PWNED\x07\x1b[2J",
]
ATTACK = NAMES[-1]


def want(name):
    """The documented reading: valid UTF-8 as it is, any other byte as \\xNN."""
    return name.decode("utf-8", "backslashreplace")


def run(t, cmd):
    p = subprocess.run([str(a) for a in cmd], capture_output=True, timeout=60)
    t.require(p.returncode == 0, "%s: exit %d: %s" % (" ".join(map(str, cmd[1:])), p.returncode,
                                                      p.stderr.decode(errors="replace").strip()))
    return p.stdout


def json_lines(t, what, out):
    """Every line parsed as JSON; the bytes must be UTF-8 (RFC 8259)."""
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as e:
        t.check(False, "%s: output is not UTF-8: %s" % (what, e))
        return []
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError as e:
            t.check(False, "%s: not JSON (%s): %r" % (what, e, line[:200]))
    return rows


def check_names(t, what, rows, pids):
    """Each generator's pid has rows, and every one names it as it was set."""
    for name, pid in pids.items():
        got = {r["comm"] for r in rows if r.get("pid") == pid}
        if t.check(got, "%s: rows for pid %d (%r)" % (what, pid, name)):
            t.eq("%s: comm of pid %d" % (what, pid), got, {want(name)})


def check_terminal(t, what, out, pid_of_attack):
    t.check(b"\x1b" not in out and b"\x07" not in out,
            "%s: no ESC or BEL byte reaches the terminal: %r" %
            (what, [l for l in out.splitlines() if b"\x1b" in l or b"\x07" in l][:3]))
    t.check(want_text(ATTACK).encode() in out,
            "%s: the attack's name is shown escaped (%s)" % (what, want_text(ATTACK)))


def want_text(name):
    """How text outputs show a name: control bytes as \\xNN too."""
    return "".join(c if c.isprintable() else "\\x%02x" % ord(c) for c in want(name))


def main(t):
    store = t.tmpdir("names")
    ana = t.analyzer()

    mnt = h.cgroup2_mount()
    t.require(mnt, "a cgroup v2 hierarchy")
    container = "%064x" % (0x7e57 * 10**40 + os.getpid())
    cg_rel = "/ttnames-%d/docker-%s.scope" % (os.getpid(), container)
    os.makedirs(mnt + cg_rel)
    t.cleanup(lambda: [os.rmdir(mnt + p) for p in (cg_rel, os.path.dirname(cg_rel))])

    rec = t.recorder(interval="200ms", extra=["-o", store, "--flush", "1s"])
    rec.start()
    gens = [t.gen("pair", ["--proto", "tcp", "--before", "3000:300", "--after", "4000:400",
                           "--hold", 300], "ttnames", pre=["--comm-hex", n.hex()],
                  cgroup=mnt + cg_rel if i == 0 else None)
            for i, n in enumerate(NAMES)]
    pids = {}
    for n, g in zip(NAMES, gens):
        pids[n] = g.expect("phase1")["pid"]
    # the live text view, while the attack holds its connection
    text = run(t, [t.args.recorder, "-f", "text", "--no-store", "-i", "200ms", "-d", "1500ms",
                   "--pid", pids[ATTACK]])
    for g in gens:
        g.say("go")
    res = [g.finish() for g in gens]
    tuples = [tuple(r[e][x] for x in ("laddr", "lport", "raddr", "rport"))
              for r in res for e in ("client", "server")]
    rec.wait_closed("tcp", tuples, timeout=10)
    time.sleep(1.5)
    rec.stop()

    t.eq("tcptop-record --format json: lines that are not JSON", rec.bad_lines, [])
    check_names(t, "tcptop-record --format json", rec.snapshot(), pids)
    check_terminal(t, "tcptop-record --format text", text, pids[ATTACK])

    top = json_lines(t, "top", run(t, [ana, "top", "-n", 1000, "--format", "json", store]))
    check_names(t, "top --format json", top, pids)
    ev = json_lines(t, "events", run(t, [ana, "events", "--format", "json", store]))
    check_names(t, "events --format json", ev, pids)
    sql = "SELECT DISTINCT pid, comm FROM connections WHERE pid IN (%s)" % ",".join(
        str(p) for p in pids.values())
    check_names(t, "sql --format json",
                json_lines(t, "sql", run(t, [ana, "sql", "--format", "json", store, sql])), pids)
    # CSV is text: the same escapes, quoted where it must be
    csv = run(t, [ana, "top", "-n", 1000, "--format", "csv", store])
    t.check(b"\x1b" not in csv and b"\x01" not in csv and b"\xff" not in csv,
            "top --format csv: no control or invalid byte raw")
    t.check(b'"q""uote"' in csv, "top --format csv: a quote doubled in a quoted field")

    for n, r in zip(NAMES, res):
        server = r["server"]["lport"]
        sp = json_lines(t, "service-port", run(t, [ana, "top", "--group-by", "service-port",
                                                   "--pid", r["pid"], "--format", "json", store]))
        t.eq("service-port of %r's pair (ports %d, %d)" % (n, server, r["client"]["lport"]),
             [(x["service_port"], x["conns"]) for x in sp], [(server, 2)])

    cg_id = os.stat(mnt + cg_rel).st_ino
    cgs = {r["cgroup"]: r for r in json_lines(t, "top --group-by cgroup", run(
        t, [ana, "top", "-n", 1000, "--group-by", "cgroup", "--format", "json", store]))}
    if t.check(cg_id in cgs, "top --group-by cgroup: a row for cgroup %d" % cg_id):
        t.eq("top --group-by cgroup: its path", cgs[cg_id]["cgroup_path"], cg_rel)
        t.eq("top --group-by cgroup: its container", cgs[cg_id]["container"], container[:12])

    pid = ["--pid", pids[ATTACK]]
    for what, cmd in (("top", [ana, "top", "-n", 1000, store]),
                      ("events", [ana, "events", store] + pid),
                      ("sql", [ana, "sql", store, sql]),
                      ("replay", [ana, "replay", "--no-tty", "--speed", "max", store] + pid)):
        check_terminal(t, what + " (table)", run(t, cmd), pids[ATTACK])


if __name__ == "__main__":
    h.run("names", main)
