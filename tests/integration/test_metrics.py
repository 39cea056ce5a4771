#!/usr/bin/python3
"""--metrics-file: the recorder's health in OpenMetrics, replaced atomically every tick.

A recorder with a store and --metrics-file; K idle TCP connections on
loopback (2K sockets) while it runs. Read many times while it writes: every
read is a whole, valid OpenMetrics exposition (Debian's prometheus_client
parser when installed, else a strict line check) ending in "# EOF", and each
new tick is a new inode (renamed over, never rewritten in place). Counters only grow; ticks grow by one per tick. After the stop, the
last file is the last tick's: tcptop_connections equals that tick's rows,
the socket table holds at least our 2K sockets, losses are zero, blocks were
written, the last flush lies within the run, and the store size was measured
anew at each block. A path that cannot be written: one warning, the recording
goes on and ends 0.
"""
import os
import re
import socket
import subprocess
import time

import ttharness as h

K = 5
FAMILIES = ("tcptop_ticks", "tcptop_connections", "tcptop_kernel_sockets",
            "tcptop_kernel_sockets_max", "tcptop_kernel_peers", "tcptop_kernel_peers_max",
            "tcptop_ring_drops", "tcptop_socket_table_full", "tcptop_peer_table_full",
            "tcptop_cpu_seconds", "tcptop_start_time_seconds", "tcptop_store_bytes",
            "tcptop_blocks_written", "tcptop_last_flush_timestamp_seconds",
            "tcptop_unshipped_segments_removed")
SAMPLE = re.compile(r"^([a-z_]+) (-?[0-9.]+(?:e[+-]?[0-9]+)?)$")

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
except ImportError:
    text_string_to_metric_families = None


def parse(text):
    """{family: value}; raises ValueError unless text is a whole exposition."""
    if not text.endswith("# EOF\n"):
        raise ValueError("no '# EOF' at the end")
    out = {}
    if text_string_to_metric_families:
        for f in text_string_to_metric_families(text):
            out[f.name] = f.samples[0].value
        return out
    for line in text.splitlines()[:-1]:
        if line.startswith("# "):
            if not re.match(r"# (TYPE|HELP|UNIT) tcptop_\w+ .+", line):
                raise ValueError("bad comment %r" % line)
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("bad sample %r" % line)
        out[re.sub(r"_total$", "", m.group(1))] = float(m.group(2))
    return out


def main(t):
    tmp = t.tmpdir("metrics")
    path, store = os.path.join(tmp, "tcptop.prom"), os.path.join(tmp, "store")
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(K)
    t.cleanup(srv.close)
    t0 = time.time()
    rec = t.recorder(extra=["-o", store, "--flush", "400ms", "--metrics-file", path])
    rec.start()
    socks = []
    for _ in range(K):
        c = socket.create_connection(srv.getsockname())
        a, _ = srv.accept()
        socks += [c, a]
    t.cleanup(lambda: [s.close() for s in socks])

    reads, last, last_ino, bad, sizes, changes = 0, None, None, [], set(), 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                ino = os.fstat(f.fileno()).st_ino
                text = f.read()
        except FileNotFoundError:
            bad.append("the file was missing between two ticks")
            continue
        reads += 1
        try:
            m = parse(text)
        except ValueError as e:
            bad.append("read %d: %s" % (reads, e))
            continue
        if last and m["tcptop_ticks"] != last["tcptop_ticks"]:
            # a new tick is a new file renamed over the old one, never a rewrite
            # (the old file still holds its inode while the new one is made)
            changes += 1
            if ino == last_ino:
                bad.append("tick %d written into the same inode" % m["tcptop_ticks"])
        last_ino = ino
        if last:
            for k in ("tcptop_ticks", "tcptop_blocks_written", "tcptop_cpu_seconds"):
                if m[k] < last[k]:
                    bad.append("%s went down: %r then %r" % (k, last[k], m[k]))
        last = m
        sizes.add((m["tcptop_blocks_written"], m["tcptop_store_bytes"]))
        time.sleep(0.01)
    t.eq("bad reads among %d" % reads, bad[:5], [])
    t.ge("ticks seen change while reading", changes, 3)
    rows = rec.stop()
    t1 = time.time()

    final = parse(open(path).read())
    t.eq("families", sorted(final), sorted(FAMILIES))
    last_ts = max(r["ts"] for r in rows)
    t.eq("tcptop_connections = rows of the last tick", final["tcptop_connections"],
         len([r for r in rows if r["ts"] == last_ts]))
    t.ge("tcptop_ticks", final["tcptop_ticks"], len({r["ts"] for r in rows}))
    t.ge("tcptop_kernel_sockets (our %d idle sockets at least)" % (2 * K),
         final["tcptop_kernel_sockets"], 2 * K)
    t.eq("tcptop_kernel_sockets_max", final["tcptop_kernel_sockets_max"], 65536)
    t.eq("tcptop_kernel_peers_max", final["tcptop_kernel_peers_max"], 16384)
    for k in ("tcptop_ring_drops", "tcptop_socket_table_full", "tcptop_peer_table_full"):
        t.eq(k, final[k], 0)
    t.ge("tcptop_blocks_written", final["tcptop_blocks_written"], 1)
    t.check(t0 <= final["tcptop_last_flush_timestamp_seconds"] <= t1,
            "last flush %r within the run [%r, %r]" %
            (final["tcptop_last_flush_timestamp_seconds"], t0, t1))
    t.check(t0 - 1 <= final["tcptop_start_time_seconds"] <= t1, "start time within the run")
    # measured again at each block: as many sizes as block counts seen, all positive
    t.check(len({s for _, s in sizes}) == len({b for b, _ in sizes}) and
            all(s > 0 for _, s in sizes),
            "store bytes follow the blocks: %r" % sorted(sizes))
    t.check(final["tcptop_cpu_seconds"] > 0, "cpu seconds %r" % final["tcptop_cpu_seconds"])
    t.check(not os.path.exists(path + ".tmp"), "no temporary file left")

    p = subprocess.run([t.args.recorder, "--no-store", "-f", "json", "-d", "1s", "-i", "250ms",
                        "--metrics-file", os.path.join(tmp, "missing", "m.prom")],
                       capture_output=True, text=True, timeout=60)
    t.eq("unwritable metrics path: exit", p.returncode, 0)
    t.check(p.stderr.count("\n") == 1 and "--metrics-file" in p.stderr and "recording goes on" in
            p.stderr, "unwritable metrics path: one warning: %r" % p.stderr)
    t.check(p.stdout.count("\n") > 0, "and it recorded")


if __name__ == "__main__":
    h.run("metrics", main)
