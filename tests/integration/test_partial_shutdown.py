#!/usr/bin/python3
"""A connection that shut down writing before the recorder started.

The client writes, then shutdown(SHUT_WR) before the recorder starts: its
FIN is already in the kernel's write_seq and its state FIN_WAIT2. After the
start the server sends a reply and closes, which moves the client socket on
to CLOSE while the client still holds it, and the client reads the reply.
The client's row is partial and must say 0 bytes out (the FIN queued before
the start is no byte, in FIN_WAIT2 and still in CLOSE) and exactly the reply
in; the server's row the mirror image.
"""
import socket
import time

import ttharness as h

BEFORE, REPLY = 7001, 5003


def main(t):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    cli = socket.create_connection(ls.getsockname(), timeout=10)
    srv, _ = ls.accept()
    t.cleanup(lambda: [s.close() for s in (cli, srv, ls)])
    cli.sendall(b"b" * BEFORE)
    got = 0
    while got < BEFORE:
        got += len(srv.recv(65536))
    c = {"laddr": "127.0.0.1", "lport": cli.getsockname()[1],
         "raddr": "127.0.0.1", "rport": cli.getpeername()[1]}
    s = {"laddr": c["raddr"], "lport": c["rport"], "raddr": c["laddr"], "rport": c["lport"]}
    cli.shutdown(socket.SHUT_WR)
    t.require(srv.recv(10) == b"", "the server did not see the client's FIN")

    rec = t.recorder()
    rec.start()
    rec.wait_ticks(2)
    srv.sendall(b"r" * REPLY)
    srv.close()
    time.sleep(0.3)  # the reply and the FIN arrive: the client goes to CLOSE, still held
    got = 0
    while True:
        d = cli.recv(65536)
        if not d:
            break
        got += len(d)
    t.eq("client read (generator)", got, REPLY)
    rec.wait_ticks(2)
    cli.close()
    rec.wait_closed("tcp", [tuple(c[k] for k in ("laddr", "lport", "raddr", "rport"))],
                    timeout=10)
    rows = rec.stop()
    t.check_conn(rows, "client (shut down before the start)", "tcp", c, 0, REPLY,
                 partial=True, closed=True, packets=False)
    t.check_conn(rows, "server", "tcp", s, REPLY, 0, partial=True, closed=True, packets=False)


if __name__ == "__main__":
    h.run("partial_shutdown", main)
