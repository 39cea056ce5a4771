#!/usr/bin/python3
"""tcptop-analyze replay, watched as a person would: in tmux.

A store is recorded with a known connection (a generator process with its own
name sending known bytes in two phases). Then:
- pacing, off a terminal: --speed 10 plays the recording in about a tenth of
  its length (a wide band: 0.3x to 3x of that, never a tight threshold);
- on a terminal (tmux): the first screen shows the connection; space pauses;
  right steps one tick forward and left back to the same tick (same time, same
  numbers); the rows at a tick equal `replay --format json` at that tick;
  g seeks to a time; s cycles the sort key; / filters by process name; q quits
  with exit 0 and the terminal back on the main screen.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import ttharness as h

WHEN = re.compile(r"tcptop-analyze replay\s+\[([^\]]*)\].*?(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})")


def analyzer(t):
    path = os.path.normpath(os.path.join(os.path.dirname(t.args.recorder), "..", "analyze",
                                         "tcptop-analyze"))
    t.require(os.access(path, os.X_OK), "tcptop-analyze next to the recorder: %s" % path)
    return path


class Tmux:
    def __init__(self, t, cmd):
        self.name = "ttrp%d" % os.getpid()
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", "200", "-y", "50",
                        "env", "TZ=UTC", "sh", "-c", cmd + "; echo EXITED:$?; sleep 60"],
                       check=True)
        t.cleanup(lambda: subprocess.run(["tmux", "kill-session", "-t", self.name],
                                         capture_output=True))

    def screen(self):
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True).stdout

    def keys(self, *k):
        subprocess.run(["tmux", "send-keys", "-t", self.name] + list(k), check=True)

    def wait(self, pred, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.1)
        return self.screen()


def header(s):
    m = WHEN.search(s)
    return (m.group(1), m.group(2)) if m else (None, None)


def fmt_bytes(v):
    """lib/format.c tt_fmt_bytes, independently: 3 significant digits, binary units."""
    if v < 1024:
        return "%d B" % v
    units = ["KiB", "MiB", "GiB", "TiB"]
    x, u = v / 1024.0, 0
    while x >= 1024 and u < 3:
        x, u = x / 1024.0, u + 1
    return ("%.2f %s" if x < 10 else "%.1f %s" if x < 100 else "%.0f %s") % (x, units[u])


def main(t):
    if not shutil.which("tmux"):
        raise h.Skip("tmux is not installed (apt-get install tmux)")
    me = os.getpid() % 100000
    store = tempfile.mkdtemp(prefix="ttrtty-")
    t.cleanup(lambda: subprocess.run(["rm", "-rf", store]))
    ana = analyzer(t)
    name = "ttrt%d" % me

    rec = t.recorder(interval="250ms", extra=["-o", store, "--flush", "1s"])
    rec.start()
    g = t.gen("pair", ["--proto", "tcp", "--before", "40000:4000", "--after", "90000:9000",
                       "--hold", 1500], name)
    g.expect("phase1")
    time.sleep(1.5)
    g.say("go")
    g.finish()
    time.sleep(3.0)
    rec.stop()

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
    ticks = {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        if r["comm"] == name:
            ticks.setdefault("%.3f" % r["ts"], []).append(r)

    # on a terminal
    tm = Tmux(t, "%s replay --sort bytes --speed 1 %s" % (ana, store))
    s = tm.wait(lambda s: name in s)
    t.check(name in s, "the first screens show the generator's connection:\n%s" % s)
    tm.keys("Space")
    s = tm.wait(lambda s: "PAUSED" in s)
    state, at0 = header(s)
    t.check(state is not None and "PAUSED" in state, "space pauses: header %r" % state)
    tm.keys("Right")
    s = tm.wait(lambda s: header(s)[1] not in (None, at0))
    at1 = header(s)[1]
    t.check(at1 is not None and at1 > at0, "right steps forward: %s -> %s" % (at0, at1))
    tm.keys("Left")
    s = tm.wait(lambda s: header(s)[1] == at0)
    t.eq("left steps back to the same tick", header(s)[1], at0)

    # the rows at a tick are the replay's rows at that tick
    tm.keys("g")
    tm.keys("start+3s", "Enter")
    s = tm.wait(lambda s: header(s)[1] not in (None, at0))
    at = header(s)[1]
    if t.check(name in s, "after g start+3s the connection is on screen:\n%s" % s):
        secs = time.mktime(time.strptime(at[:19], "%Y-%m-%d %H:%M:%S")) - time.timezone
        key = "%.3f" % (secs + int(at[20:]) / 1000.0)
        rows = ticks.get(key)
        if t.check(rows is not None, "replay --format json has a tick at %s" % key):
            for r in rows:
                local = "%s:%d" % (r["laddr"], r["lport"])
                line = next((ln for ln in s.splitlines()
                             if len(ln.split()) > 3 and ln.split()[3] == local), None)
                if t.check(line is not None, "a screen row for %s" % local):
                    cells = re.split(r"\s{2,}", line.strip())
                    want = [fmt_bytes(r["bytes_in"]), fmt_bytes(r["bytes_out"])]
                    t.check(" ".join(want) in " ".join(cells),
                            "row %s shows RX %s TX %s as replay --format json has them: %r"
                            % (local, want[0], want[1], line.strip()))
    tm.keys("s")
    s = tm.wait(lambda s: "sort: packets" in s)
    t.check("sort: packets" in s, "s cycles the sort from bytes to packets")
    tm.keys("/")
    tm.keys(name, "Enter")
    s = tm.wait(lambda s: "filter: " + name in s)
    shown = [ln for ln in s.splitlines() if re.match(r"\s*\d+ \S+\s+(tcp|udp)\s", ln)]
    t.check(shown and all(name in ln for ln in shown),
            "the filter leaves only %s rows: %r" % (name, shown))
    tm.keys("q")
    s = tm.wait(lambda s: "EXITED:" in s)
    t.check("EXITED:0" in s, "q quits with exit 0")
    t.check("tcptop-analyze replay" not in s, "the terminal is back on the main screen:\n%s" % s)


if __name__ == "__main__":
    h.run("replay_tty", main)
