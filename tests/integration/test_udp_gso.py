#!/usr/bin/python3
"""UDP generic segmentation offload: datagrams are counted as they are on the wire.

With UDP_SEGMENT (setsockopt(SOL_UDP, 103, gso_size), or per send as a control
message) one send() of 4,000 bytes leaves as four 1,000-byte datagrams, and
the receiver reads four. ttgen udp-gso sends and receives in lock step in one
process and counts both: the receiver's datagram count is the ground truth.
- connected sockets, UDP_SEGMENT per socket: 40 sends of 4,000 bytes with
  gso_size 1,000 = 160 datagrams, 160,000 bytes;
- unconnected sockets (sendto, recvfrom: per-peer rows), the same sizes;
- connected, gso_size per send (cmsg), 10 sends of 2,500 bytes = 30 datagrams
  (1,000 + 1,000 + 500 each).
The sender's row: bytes_out and packets_out = what went out on the wire
(packets_out 160, not 40 sends); the receiver's: bytes_in and packets_in the
same; nothing the other way.
"""
import os
import queue

import ttharness as h

CASES = (
    ("connected, per socket", 40, 4000, 1000, []),
    ("unconnected, per socket", 40, 4000, 1000, ["--unconnected"]),
    ("connected, per send (cmsg)", 10, 2500, 1000, ["--cmsg"]),
)


def main(t):
    me = os.getpid()
    rec = t.recorder()
    rec.start()
    results = []
    for i, (label, count, size, gso, extra) in enumerate(CASES):
        name = "ttgso%d-%d" % (i, me)
        g = t.gen("udp-gso", ["--count", count, "--size", size, "--gso", gso, "--hold", 600]
                  + extra, name)
        try:
            first = g.q.get(timeout=20)
        except queue.Empty:
            raise h.Failed("ttgen udp-gso: silent for 20s")
        if first and first.get("kind") == "unsupported":
            raise h.Skip("UDP_SEGMENT not supported here: %s" % first.get("why"))
        r = g.finish()
        wire = count * (-(-size // gso))
        t.eq("%s: datagrams the receiver read (generator)" % label, r["dgrams_in"], wire)
        t.eq("%s: bytes sent (generator)" % label, r["sent"], count * size)
        t.eq("%s: bytes received (generator)" % label, r["recv"], count * size)
        results.append((label, name, extra, r))
    rec.wait_ticks(2)
    rows = rec.stop()

    for label, name, extra, r in results:
        peer = "--unconnected" in extra
        t.check_conn(rows, "%s: sender" % label, "udp", r["tx"], r["sent"], 0, pid=r["pid"],
                     comm=name, family=4, udp_peer=peer, partial=False,
                     dgrams=(r["dgrams_in"], 0))
        t.check_conn(rows, "%s: receiver" % label, "udp", r["rx"], 0, r["recv"], pid=r["pid"],
                     comm=name, family=4, udp_peer=peer, partial=False,
                     dgrams=(0, r["dgrams_in"]))


if __name__ == "__main__":
    h.run("udp_gso", main)
