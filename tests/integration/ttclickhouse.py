"""ttclickhouse: a clickhouse-server (Debian's 18.16) for tests, as a plain process.

Its config, data and logs live in a directory of the test's; it listens on
loopback ports only; clusters name the TCP ports of their shards. Starts in a
fraction of a second. Stdlib only.
"""
import os
import subprocess
import time
import urllib.error
import urllib.request

SERVER = "/usr/sbin/clickhouse-server"


def available():
    return os.access(SERVER, os.X_OK)


def apply_sql(server, path, db, cluster="tt_fleet"):
    """Run a schema file (statements end with ';' at the end of a line) on server."""
    with open(path) as f:
        sql = f.read().replace("CLUSTER", cluster)
    for st in sql.split(";\n"):
        if any(l.strip() and not l.strip().startswith("--") for l in st.splitlines()):
            server.q(st, db)


class Server:
    """One clickhouse-server on loopback, its files under d."""

    def __init__(self, d, http, tcp, cluster_tcp, start=True):
        self.d, self.http = d, http
        os.makedirs(d)
        shards = "".join("<shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>"
                         % p for p in cluster_tcp)
        with open(os.path.join(d, "config.xml"), "w") as f:
            f.write("""<?xml version="1.0"?><yandex>
<logger><level>warning</level><log>{d}/log</log><errorlog>{d}/err.log</errorlog></logger>
<http_port>{http}</http_port><tcp_port>{tcp}</tcp_port><listen_host>127.0.0.1</listen_host>
<path>{d}/data/</path><tmp_path>{d}/tmp/</tmp_path><user_files_path>{d}/uf/</user_files_path>
<format_schema_path>{d}/fs/</format_schema_path>
<mark_cache_size>67108864</mark_cache_size><uncompressed_cache_size>67108864</uncompressed_cache_size>
<users_config>{d}/users.xml</users_config><default_profile>default</default_profile>
<default_database>default</default_database><mlock_executable>false</mlock_executable>
<timezone>UTC</timezone>
<remote_servers><tt_fleet>{shards}</tt_fleet></remote_servers>
</yandex>""".format(d=d, http=http, tcp=tcp, shards=shards))
        with open(os.path.join(d, "users.xml"), "w") as f:
            f.write("""<?xml version="1.0"?><yandex><profiles><default></default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip></networks>
<profile>default</profile><quota>default</quota></default></users>
<quotas><default></default></quotas></yandex>""")
        self.p = None
        if start:
            self.start()

    def start(self):
        d, http = self.d, self.http
        self.out = open(os.path.join(d, "stdout"), "a")
        self.p = subprocess.Popen([SERVER, "--config-file=" + os.path.join(d, "config.xml")],
                                  stdout=self.out, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                if self.q("SELECT 1").strip() == "1":
                    return
            except (OSError, urllib.error.URLError):
                pass
            if self.p.poll() is not None:
                break
            time.sleep(0.1)
        raise SystemExit("FAIL: clickhouse-server on %d did not start: %s" %
                         (http, open(os.path.join(d, "stdout")).read()[-2000:]))

    def url(self, db="fleet"):
        return "http://127.0.0.1:%d/?database=%s" % (self.http, db)

    def q(self, sql, db=None):
        u = "http://127.0.0.1:%d/" % self.http + ("?database=" + db if db else "")
        with urllib.request.urlopen(u, sql.encode(), timeout=60) as r:
            return r.read().decode()

    def stop(self):
        if self.p is None:
            return
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.out.close()
        self.p = None
