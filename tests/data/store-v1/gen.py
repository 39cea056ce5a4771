import socket, threading, time, json, os, sys
# known traffic: 3 TCP connections with exact sizes, one UDP exchange, one refused connect
truth = {"tcp": [], "udp": [], "refused": []}
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(16); port = srv.getsockname()[1]
def serve():
    for _ in range(3):
        c, _a = srv.accept()
        n = int.from_bytes(c.recv(8, socket.MSG_WAITALL), "big"); reply = int.from_bytes(c.recv(8, socket.MSG_WAITALL), "big")
        got = 0
        while got < n:
            d = c.recv(65536)
            if not d: break
            got += len(d)
        c.sendall(b"y" * reply); c.close()
th = threading.Thread(target=serve); th.start()
for i, (n, reply) in enumerate([(100000, 54321), (2000000, 1000), (777, 3333333)]):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(n.to_bytes(8, "big") + reply.to_bytes(8, "big"))
    for k in range(4):
        s.sendall(b"x" * (n // 4 + (n % 4 if k == 3 else 0))); time.sleep(0.4)
    got = 0
    while True:
        d = s.recv(65536)
        if not d: break
        got += len(d)
    truth["tcp"].append({"lport": s.getsockname()[1], "rport": port, "sent": n + 16, "recv": got})
    s.close(); time.sleep(0.3)
th.join()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); v.bind(("127.0.0.1", 0))
for k in range(10):
    u.sendto(b"q" * 100, v.getsockname()); v.recvfrom(2000); v.sendto(b"r" * 200, u.getsockname()); u.recvfrom(2000); time.sleep(0.2)
truth["udp"].append({"client_port": u.getsockname()[1], "server_port": v.getsockname()[1], "datagrams_each_way": 10, "client_sent": 1000, "client_recv": 2000})
c = socket.socket(); 
try: c.connect(("127.0.0.1", 1))
except OSError as e: truth["refused"].append({"lport": c.getsockname()[1], "rport": 1, "errno": e.errno})
c.close()
json.dump(truth, open(sys.argv[1], "w"), indent=1)
