#!/usr/bin/python3
"""tcptop-analyze replay, watched as a person would: in tmux, at 200x50 and 80x24.

A store is recorded with a known connection (a generator process with its own
name sending known bytes in two phases, then holding the connection open).
Then:
- pacing, off a terminal: --speed 10 plays the recording in about a tenth of
  its length (a wide band: 0.3x to 3x of that, never a tight threshold);
- on a terminal (tmux, lib/view.c): the first screen shows the connection;
  space pauses; right steps one tick forward and left back to the same tick;
  g seeks to a time in the hold, where both ends show the generator's bytes;
  s and the column keys sort; / filters by name, by port, and an empty line
  clears; v groups by process (one line, CONNS 2, the sum of both ends'
  bytes), remote host, service port; ? shows the help, any key closes it;
  the window resized to 80x24 redraws with bytes and rates still whole, and
  a replay started at 80x24 shows them too;
- the end: g end and ] past the end show the last tick (END in the header,
  speed and position always there), every key still works there (s, v,
  space, right, [), the g prompt opens empty;
- Ctrl-Z in bash gives the shell its screen and prompt back, fg the view;
- q quits with exit 0 and the terminal back on the main screen; with
  NO_COLOR the screen has no color escapes, without it the header is drawn
  in reverse video.
"""
import json
import os
import re
import shutil
import subprocess
import time

import ttharness as h
from ttharness import fmt_bytes

HEAD = re.compile(r"^tcptop-analyze replay\s+(PAUSED\s+)?(\S+)\s+(\S+)/(\S+)(\s+END)?\s+"
                  r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})")


def header(s):
    """(paused, speed, position, end, time) of the screen's first line, or None."""
    m = HEAD.match(s.splitlines()[0] if s else "")
    if not m:
        return None
    return (bool(m.group(1)), m.group(2), m.group(3), bool(m.group(5)), m.group(6))


def at(s):
    hd = header(s)
    return hd[4] if hd else None


def rows_of(s, needle):
    """Table lines (below the column header) that contain needle."""
    lines = s.splitlines()
    head = next((i for i, ln in enumerate(lines) if "RX/s" in ln), None)
    if head is None:
        return []
    return [ln for ln in lines[head + 1:-1] if ln.strip() and needle in ln]


def by_local(s, local):
    """Rows whose LOCAL column (the 4th, at 200 columns) is local."""
    return [ln for ln in rows_of(s, local) if len(ln.split()) > 3 and ln.split()[3] == local]


def main(t):
    if not shutil.which("tmux"):
        raise h.Skip("tmux is not installed (apt-get install tmux)")
    me = os.getpid() % 100000
    store = t.tmpdir("rtty")
    ana = t.analyzer()
    name = "ttrt%d" % me

    rec = t.recorder(interval="250ms", extra=["-o", store, "--flush", "1s"])
    rec.start()
    g = t.gen("pair", ["--proto", "tcp", "--before", "40000:4000", "--after", "90000:9000",
                       "--hold", 3000], name)
    p1 = g.expect("phase1")
    time.sleep(1.5)
    g.say("go")
    res = g.finish()
    fin = time.time()
    time.sleep(3.0)
    rec.stop()
    # ground truth: both phases, each end (the recorder ran before the connection opened)
    cli_out = p1["client_sent"] + res["client_sent"]
    cli_in = p1["client_recv"] + res["client_recv"]
    srv_out = p1["server_sent"] + res["server_sent"]
    srv_in = p1["server_recv"] + res["server_recv"]
    t.eq("generator: the server read what the client sent", srv_in, cli_out)
    cli_local = "%s:%d" % (res["client"]["laddr"], res["client"]["lport"])
    srv_local = "%s:%d" % (res["server"]["laddr"], res["server"]["lport"])
    port = res["server"]["lport"]

    info = json.loads(subprocess.run([ana, "info", "--format", "json", store],
                                     capture_output=True, text=True, check=True).stdout)
    length = (info["end_ns"] - info["start_ns"]) / 1e9

    # pacing off a terminal
    t0 = time.monotonic()
    p = subprocess.run([ana, "replay", "--no-tty", "--speed", "10", "--format", "json", store],
                       capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    t.eq("replay --speed 10 exit", p.returncode, 0)
    want = length / 10
    t.check(0.3 * want <= took <= 3 * want + 0.5,
            "--speed 10 on %.1fs took %.2fs (expected about %.2fs)" % (length, took, want))

    # on a terminal, 200x50
    tm = h.Tmux(t, "%s replay --sort bytes --speed 1 %s" % (ana, store), 200, 50, tag="ttrp")
    s = tm.wait(lambda s: name in s)
    t.check(name in s, "the first screens show the generator's connection:\n%s" % s)
    hd = header(s)
    t.check(hd is not None and hd[1] == "1x", "speed and position in the header: %r" %
            s.splitlines()[:1])
    tm.keys("Space")
    s = tm.wait(lambda s: header(s) and header(s)[0])
    t.check(header(s) and header(s)[0], "space pauses: %r" % s.splitlines()[:1])
    at0 = at(s)
    time.sleep(0.6)
    t.eq("paused: the time stands still", at(tm.screen()), at0)
    tm.keys("Right")
    s = tm.wait(lambda s: at(s) not in (None, at0))
    at1 = at(s)
    t.check(at1 is not None and at1 > at0, "right steps forward: %s -> %s" % (at0, at1))
    tm.keys("Left")
    s = tm.wait(lambda s: at(s) == at0)
    t.eq("left steps back to the same tick", at(s), at0)

    # a time in the hold: both ends show the generator's bytes
    tm.keys("g")
    tm.type("@%.3f" % (fin - 1.5))  # in the 3 s hold: the totals are final
    tm.keys("Enter")
    s = tm.wait(lambda s: by_local(s, cli_local) and fmt_bytes(cli_out) in by_local(s, cli_local)[0])
    for label, local, out, inn in (("client", cli_local, cli_out, cli_in),
                                   ("server", srv_local, srv_out, srv_in)):
        r = by_local(s, local)
        if t.check(len(r) == 1, "one row for the %s end %s:\n%s" % (label, local, s)):
            t.check(fmt_bytes(out) in r[0] and fmt_bytes(inn) in r[0] and name in r[0],
                    "the %s row shows RX %s TX %s as the generator counted: %r"
                    % (label, fmt_bytes(inn), fmt_bytes(out), r[0]))
            t.check(r[0].find(fmt_bytes(inn)) < r[0].rfind(fmt_bytes(out)),
                    "RX (%s) before TX (%s) in %r" % (fmt_bytes(inn), fmt_bytes(out), r[0]))

    # sort
    tm.keys("s")
    s = tm.wait(lambda s: "sort: packets" in s)
    t.check("sort: packets" in s, "s cycles the sort from bytes to packets")
    tm.keys("t")
    s = tm.wait(lambda s: "sort: rtt" in s)
    t.check("sort: rtt" in s, "t sorts by RTT")
    # filter: a name, a port, nothing
    tm.keys("/")
    tm.type(name)
    tm.keys("Enter")
    s = tm.wait(lambda s: "filter: " + name in s)
    shown = rows_of(s, "")
    t.check(len(shown) == 2 and all(name in ln for ln in shown),
            "the name filter leaves the two %s rows: %r" % (name, shown))
    tm.keys("/")
    tm.type(str(port))
    tm.keys("Enter")
    s = tm.wait(lambda s: "filter: %d" % port in s)
    shown = rows_of(s, "")
    t.check(len(shown) == 2 and all(":%d " % port in ln for ln in shown),
            "the port filter leaves the rows with port %d: %r" % (port, shown))
    tm.keys("/", "Enter")
    s = tm.wait(lambda s: "filter: none" in s)
    t.check("filter: none" in s, "an empty filter line clears the filter")
    # group: by process, both ends in one line with the sum of their bytes
    tm.keys("v")
    s = tm.wait(lambda s: "group: process" in s)
    r = [ln for ln in s.splitlines() if ln.startswith(name + " ")]
    if t.check(len(r) == 1, "one process line for %s:\n%s" % (name, s)):
        cells = r[0].split()
        t.eq("the process line counts both ends", cells[1], "2")
        t.check(fmt_bytes(cli_in + srv_in) in r[0] and fmt_bytes(cli_out + srv_out) in r[0],
                "the process line sums both ends: RX %s TX %s: %r"
                % (fmt_bytes(cli_in + srv_in), fmt_bytes(cli_out + srv_out), r[0]))
    tm.keys("v")
    s = tm.wait(lambda s: "group: remote host" in s)
    t.check("REMOTE HOST" in s and "127.0.0.1" in s, "v groups by remote host:\n%s" % s)
    tm.keys("v")
    s = tm.wait(lambda s: "group: service port" in s)
    t.check("SERVICE" in s, "v groups by service port:\n%s" % s)
    tm.keys("v")
    s = tm.wait(lambda s: "group: connection" in s)
    t.check(rows_of(s, cli_local), "v comes back to connections:\n%s" % s)
    # help
    tm.keys("?")
    s = tm.wait(lambda s: "group rows" in s)
    t.check("group rows" in s, "? shows the help")
    tm.keys("b")
    s = tm.wait(lambda s: "group rows" not in s and "sort: bytes" in s)
    t.check("group rows" not in s and "sort: bytes" in s, "a key closes the help and acts")

    # resized to 80x24 mid-run: bytes and rates whole, nothing wider than the screen
    tm.keys("/")
    tm.type(name)
    tm.keys("Enter")
    tm.resize(80, 24)
    s = tm.wait(lambda s: len(s.splitlines()) <= 24 and any("RX/s" in ln for ln in s.splitlines())
                and rows_of(s, name) and fmt_bytes(cli_out) in " ".join(rows_of(s, name)))
    lines = s.splitlines()
    head = next((ln for ln in lines if "RX/s" in ln), "")
    t.check(all(c in head.split() for c in ("RX/s", "TX/s", "RX", "TX")),
            "at 80 columns the header has RX/s TX/s RX TX: %r" % head)
    t.check(max(len(ln) for ln in lines) <= 80, "nothing wider than 80 columns")
    for label, out, inn in (("client", cli_out, cli_in), ("server", srv_out, srv_in)):
        t.check(any(fmt_bytes(out) in ln and fmt_bytes(inn) in ln for ln in rows_of(s, name)),
                "at 80x24 the %s row still shows RX %s TX %s:\n%s"
                % (label, fmt_bytes(inn), fmt_bytes(out), s))
    tm.resize(200, 50)
    s = tm.wait(lambda s: "LOCAL" in s)
    t.check("LOCAL" in s and "STATE" in s, "back at 200 columns the wide columns return:\n%s" % s)

    # the end: g end, then ] past it; the last tick stays on screen and every key works
    tm.keys("g")
    s = tm.wait(lambda s: s.splitlines()[-1].rstrip().endswith(": _") if s.strip() else False)
    t.check("go to (" in s.splitlines()[-1] and s.splitlines()[-1].rstrip().endswith(": _"),
            "the g prompt opens empty: %r" % s.splitlines()[-1])
    tm.type("end")
    tm.keys("Enter")
    s = tm.wait(lambda s: header(s) and header(s)[3])
    hd = header(s)
    t.check(hd is not None and hd[3], "g end shows the last tick: %r" % s.splitlines()[:1])
    end_at = at(s)
    tm.keys("g")
    s = tm.wait(lambda s: "go to (" in s)
    t.check(s.splitlines()[-1].rstrip().endswith(": _"),
            "the g prompt opens empty again, not with 'end': %r" % s.splitlines()[-1])
    tm.keys("Escape")
    tm.keys("]")
    time.sleep(0.5)
    s = tm.screen()
    t.check(header(s) is not None and header(s)[3] and at(s) == end_at,
            "] past the end shows the last tick (%s): %r" % (end_at, s.splitlines()[:1]))
    tm.keys("s")
    s = tm.wait(lambda s: "sort: packets" in s)
    t.check("sort: packets" in s and at(s) == end_at, "s works at the end:\n%s" % s)
    tm.keys("v")
    s = tm.wait(lambda s: "group: process" in s)
    t.check("group: process" in s, "v works at the end")
    tm.keys("v", "v", "v")
    paused = header(s)[0] if header(s) else None
    tm.keys("Space")
    s = tm.wait(lambda s: header(s) and header(s)[0] != paused)
    t.check(header(s) is not None and header(s)[0] != paused and header(s)[3],
            "space works at the end (paused %s -> %s): %r" %
            (paused, header(s) and header(s)[0], s.splitlines()[:1]))
    tm.keys("Right")
    s = tm.wait(lambda s: "end of the recording" in s)
    t.check("end of the recording" in s, "right at the end says so:\n%s" % s)
    tm.keys("[")
    s = tm.wait(lambda s: header(s) and not header(s)[3])
    t.check(header(s) is not None and not header(s)[3] and at(s) < end_at,
            "[ at the end goes back: %r" % s.splitlines()[:1])

    # colors: the column header in reverse video
    e = subprocess.run(["tmux", "capture-pane", "-e", "-p", "-t", tm.name],
                       capture_output=True, text=True).stdout
    t.check("\x1b[7m" in e, "colors on a color terminal (reverse-video column header)")
    tm.keys("q")
    s = tm.wait(lambda s: "EXITED:" in s)
    t.check("EXITED:0" in s, "q quits with exit 0")
    t.check("tcptop-analyze replay" not in s, "the terminal is back on the main screen:\n%s" % s)
    tm.kill()

    # started at 80x24, with NO_COLOR: no color escapes at all; seeking into the hold
    # shows both ends' bytes whole at 80 columns
    tm = h.Tmux(t, "%s replay --speed 1 %s" % (ana, store), 80, 24,
                env=("TZ=UTC", "NO_COLOR=1"), tag="ttrn")
    tm.wait(lambda s: name in s)
    e = subprocess.run(["tmux", "capture-pane", "-e", "-p", "-t", tm.name],
                       capture_output=True, text=True).stdout
    t.check(name in e and "\x1b[" not in e, "NO_COLOR: no color escapes:\n%r" % e[:400])
    tm.keys("/")
    tm.type(name)
    tm.keys("Enter", "g")
    tm.type("@%.3f" % (fin - 1.5))
    tm.keys("Enter")
    s = tm.wait(lambda s: any(fmt_bytes(cli_out) in ln and fmt_bytes(cli_in) in ln
                              for ln in rows_of(s, name)))
    for label, out, inn in (("client", cli_out, cli_in), ("server", srv_out, srv_in)):
        t.check(any(fmt_bytes(out) in ln and fmt_bytes(inn) in ln for ln in rows_of(s, name)),
                "started at 80x24: the %s row shows RX %s TX %s:\n%s"
                % (label, fmt_bytes(inn), fmt_bytes(out), s))
    t.check(max(len(ln) for ln in s.splitlines()) <= 80, "started at 80x24: nothing wider")
    tm.keys("q")
    s = tm.wait(lambda s: "EXITED:" in s)
    t.check("EXITED:0" in s, "q quits with exit 0 (NO_COLOR)")
    tm.kill()

    # Ctrl-Z in a shell with job control: the shell's terminal back; fg: the view again
    tm = h.Tmux(t, "PS1='PROMPT$ ' bash --norc --noprofile -i", 100, 30, tag="ttrz")
    tm.wait(lambda s: "PROMPT$" in s)
    tm.type("%s replay --speed 1 %s" % (ana, store))
    tm.keys("Enter")
    s = tm.wait(lambda s: header(s) is not None)
    t.check(header(s) is not None and tm.alternate(),
            "the replay starts from bash, on the alternate screen:\n%s" % s)
    tm.keys("C-z")
    s = tm.wait(lambda s: "Stopped" in s)
    t.check("Stopped" in s and not tm.alternate() and header(s) is None and
            s.rstrip().endswith("PROMPT$"), "Ctrl-Z: the shell's screen and prompt back:\n%s" % s)
    tm.type("fg")
    tm.keys("Enter")
    s = tm.wait(lambda s: header(s) is not None)
    t.check(header(s) is not None and tm.alternate(), "fg: the view again:\n%s" % s)
    tm.keys("q")
    s = tm.wait(lambda s: header(s) is None and s.rstrip().endswith("PROMPT$"))
    tm.type("echo ok-$((40+2))")
    tm.keys("Enter")
    s = tm.wait(lambda s: "ok-42" in s)
    t.check("echo ok-$((40+2))" in s and "\nok-42" in s,
            "after q the shell works as before (echo, cooked mode):\n%s" % s)


if __name__ == "__main__":
    h.run("replay_tty", main)
