#!/usr/bin/python3
"""tcptop-record at first contact: it says where it records and what it keeps, and who it is.

- A bare recorder (no -o) in an empty directory, stdout a pipe: exactly one
  line on stderr, "recording into <cwd>/tcptop-data, keeping at most 1.00 GiB"
  (the default limit), and the store is there. --retain-size 0 says it keeps
  everything; --retain-age adds its age.
- The same on a terminal (a pty, 200 columns): the live screen's second line carries it.
- --version: version and git commit (the source tree's HEAD), the libbpf
  version pkg-config knows, and a yes/no for every hook; the hooks this
  recorder cannot do without are "yes" here (it records).
- A mistyped option: one line with "did you mean", exit 2.
"""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import tempfile
import termios
import time

import ttharness as h

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(t):
    rec = os.path.abspath(t.args.recorder)
    tmp = t.tmpdir("first")

    for extra, keeps in (([], "keeping at most 1.00 GiB"),
                         (["--retain-size", "0"], "keeping all of it (--retain-size 0)"),
                         (["--retain-size", "64M", "--retain-age", "2h"],
                          "keeping at most 64.0 MiB, nothing older than 2h00m")):
        d = tempfile.mkdtemp(dir=tmp)
        p = subprocess.run([rec, "-f", "json", "-d", "1s", "-i", "250ms"] + extra, cwd=d,
                           capture_output=True, text=True, timeout=60)
        if p.returncode == 77:
            raise h.Skip(p.stderr.strip())
        want = "tcptop-record: recording into %s/tcptop-data, %s\n" % (os.path.realpath(d), keeps)
        t.eq("%r: exit" % extra, p.returncode, 0)
        t.eq("%r: stderr" % extra, p.stderr, want)
        t.check(os.path.exists(os.path.join(d, "tcptop-data", "index.db")),
                "%r: the store is where it said" % extra)

    # a terminal: the live view's header says it, on its second line
    d = tempfile.mkdtemp(dir=tmp)
    pid, fd = pty.fork()
    if pid == 0:
        # wide enough for the whole line (at 80 columns the path is abbreviated in the middle)
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        os.chdir(d)
        os.execv(rec, [rec, "-d", "1500ms", "-i", "250ms"])
    out, deadline = b"", time.monotonic() + 30
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if os.waitpid(pid, os.WNOHANG)[0]:
            break
    else:
        os.kill(pid, signal.SIGKILL)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    text = out.decode("utf-8", "replace")
    t.check("\x1b[2;1H\x1b[2Krecording into %s/tcptop-data, keeping at most 1.00 GiB\x1b" %
            os.path.realpath(d) in text, "live header, second line: %r" % text[:400])

    # --version
    p = subprocess.run([rec, "--version"], capture_output=True, text=True, timeout=30)
    t.eq("--version exit", p.returncode, 0)
    lines = p.stdout.splitlines()
    m = re.fullmatch(r"tcptop-record (\S+) \(git (\S+)\)", lines[0] if lines else "")
    if t.check(m, "--version first line: %r" % p.stdout):
        head = subprocess.run(["git", "-C", SRC, "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True)
        if head.returncode == 0:
            t.eq("--version commit", m.group(2).replace("-dirty", ""), head.stdout.strip())
    libbpf = subprocess.run(["pkg-config", "--modversion", "libbpf"], capture_output=True,
                            text=True).stdout.strip()
    if libbpf:
        t.check("libbpf %s" % ".".join(libbpf.split(".")[:2]) in lines,
                "--version names libbpf %s: %r" % (libbpf, lines))
    hooks = dict(re.findall(r"^  (\S+)\s+(yes|no)\b", p.stdout, re.M))
    for needed in ("tp_btf/inet_sock_set_state", "tp_btf/tcp_destroy_sock", "iter/task_file",
                   "iter/tcp", "iter/udp"):
        t.eq("--version: %s" % needed, hooks.get(needed), "yes")
    for optional in ("tp_btf/tcp_send_reset", "tp_btf/tcp_receive_reset",
                     "tp_btf/tcp_retransmit_skb", "cgroup_skb"):
        t.check(hooks.get(optional) in ("yes", "no"), "--version says %s: %r" % (optional, hooks))

    p = subprocess.run([rec, "--retain-sise", "1G"], capture_output=True, text=True, timeout=30)
    t.eq("typo: exit", p.returncode, 2)
    t.eq("typo: stderr", p.stderr,
         "tcptop-record: unknown option '--retain-sise' (did you mean --retain-size?)\n")


if __name__ == "__main__":
    h.run("first_contact", main)
