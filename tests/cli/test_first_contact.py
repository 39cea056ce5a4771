#!/usr/bin/python3
"""tcptop-analyze at first contact: it finds the store, helps, and guesses typos.

- `help` prints the usage; `help CMD` prints exactly what `CMD --help` does.
- A mistyped command or option gets one line with "did you mean", exit 2;
  an ambiguous prefix or a missing value one line too.
- Options in one spelling, as tcptop-record takes them: --opt=value, -n5,
  unique prefixes, options after the store, "--" before positional
  arguments: the same answer as the plain spelling.
- The option table (`help --options CMD`) is what each command's --help
  lists, option for option (the man page, completion and this front door are
  checked against it).
- Without DIR: $TCPTOP_STORE, else ./tcptop-data is read, giving the same
  answer as naming it; with neither, one line saying what to give, exit 2.
- As root: a store of group adm read by nobody, not a member: one line naming
  the group, exit 1; with the group added, it reads.

Usage: test_first_contact.py --analyzer PATH --store TESTDATA_STORE
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import ttharness as h  # noqa: E402
from ttharness import check  # noqa: E402

OPT = re.compile(r"(?<![\w-])(--?[a-zA-Z][a-zA-Z-]*)")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)


def options(ap):
    ap.add_argument("--analyzer", required=True)
    ap.add_argument("--store", required=True)


def main(t):
    a = t.args
    an = os.path.abspath(a.analyzer)
    # a copy: a reader of a WAL index may leave -wal/-shm beside it
    copy = t.tmpdir("fc-store")
    given = os.path.abspath(a.store)
    a.store = os.path.join(copy, "store")
    shutil.copytree(given, a.store)

    usage = run([an, "--help"]).stdout
    cmds = re.findall(r"^  ([a-z]+) ", usage.split("Commands:")[1], re.M)
    check("help" in cmds, "help is a command of the usage: %r" % cmds)
    p = run([an, "help"])
    check(p.returncode == 0 and p.stdout == usage, "help = --help")
    for c in cmds:
        if c == "help":
            continue
        hp, hc = run([an, c, "--help"]), run([an, "help", c])
        check(hc.returncode == 0 and hc.stdout == hp.stdout and hp.stdout,
              "help %s = %s --help" % (c, c))
        table = {line.rstrip("=") for line in run([an, "help", "--options", c]).stdout.split()}
        listed = set(OPT.findall(hp.stdout)) | {"-h", "--help"}
        check(table == listed, "%s: option table %s differs from --help %s" %
              (c, sorted(table - listed), sorted(listed - table)))

    for argv, want in ((["tpo"], "unknown command 'tpo' (did you mean top?)"),
                       (["timelien"], "did you mean timeline?"),
                       (["top", "--lats", "5m"], "top: unknown option '--lats' (did you mean --last?)"),
                       (["top", "--group-bu", "pid"], "(did you mean --group-by?)"),
                       (["sql", "--max-rwos", "5"], "(did you mean --max-rows?)"),
                       (["top", "--p", "1"], "top: option '--p' is ambiguous"),
                       (["top", "--last"], "top: option '--last' needs a value"),
                       (["help", "evnets"], "did you mean events?")):
        p = run([an] + argv)
        check(p.returncode == 2 and p.stderr.count("\n") == 1 and want in p.stderr,
              "%r: exit %d, stderr %r, want %r" % (argv, p.returncode, p.stderr, want))

    # one spelling for all: --opt=value, -n5, unique prefixes, options after
    # the store, "--" before positional arguments, as tcptop-record takes them
    st = os.path.abspath(a.store)
    want = run([an, "top", "--format", "json", "-n", "5", st])
    check(want.returncode == 0 and want.stdout.count("\n") == 5, "top -n 5: %r" % want.stderr)
    for argv in (["top", "--format=json", "-n5", st], ["top", st, "--form=json", "-n", "5"],
                 ["top", "--format", "json", "-n5", "--", st]):
        p = run([an] + argv)
        check(p.returncode == 0 and p.stdout == want.stdout,
              "%r: exit %d, same as --format json -n 5: %s" % (argv, p.returncode,
                                                               p.stdout == want.stdout))
    p = run([an, "sql", "--format=csv", st, "--", "-- a comment first\nSELECT 6*7"])
    check(p.returncode == 0 and p.stdout.strip().endswith("42"), "sql after --: %r %r" %
          (p.stdout, p.stderr))

    with tempfile.TemporaryDirectory(prefix="tt-first.") as tmp:
        os.chmod(tmp, 0o755)
        named = run([an, "info", "--utc", os.path.abspath(a.store)])
        check(named.returncode == 0, "info DIR: %r" % named.stderr)
        env = {k: v for k, v in os.environ.items() if k != "TCPTOP_STORE"}
        p = run([an, "info", "--utc"], cwd=tmp, env=env)
        check(p.returncode == 2 and "TCPTOP_STORE" in p.stderr and p.stderr.count("\n") == 1,
              "no store anywhere: %r" % p.stderr)
        p = run([an, "info", "--utc"], cwd=tmp, env=dict(env, TCPTOP_STORE=os.path.abspath(a.store)))
        check(p.returncode == 0 and p.stdout == named.stdout,
              "TCPTOP_STORE: exit %d %r" % (p.returncode, p.stderr))
        local = os.path.join(tmp, "tcptop-data")
        shutil.copytree(a.store, local)
        p = run([an, "info", "--utc"], cwd=tmp, env=env)
        check(p.returncode == 0 and p.stdout.replace("tcptop-data", "X") ==
              run([an, "info", "--utc", local]).stdout.replace(local, "X"),
              "./tcptop-data: exit %d %r" % (p.returncode, p.stderr))
        q = "SELECT count(*) FROM recordings"
        p, pn = run([an, "sql", q], cwd=tmp, env=env), run([an, "sql", local, q])
        check(p.returncode == 0 and p.stdout == pn.stdout, "sql without DIR: %r" % p.stderr)

        if os.geteuid() == 0 and shutil.which("setpriv"):
            import grp
            import pwd
            gid = grp.getgrnam("adm").gr_gid
            nobody = pwd.getpwnam("nobody")
            for root, dirs, files in os.walk(local):
                for n in dirs + files + ["."]:
                    path = os.path.join(root, n)
                    os.chown(path, 0, gid)
            os.chmod(local, 0o2750)
            for f in os.listdir(local):
                os.chmod(os.path.join(local, f), 0o640)
            base = ["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid]
            p = run(base + ["--clear-groups", an, "info", local])
            check(p.returncode == 1 and p.stderr.count("\n") == 1 and
                  "can be read by group adm" in p.stderr, "non-member: %r" % p.stderr)
            p = run(base + ["--groups=%d" % gid, an, "info", local])
            check(p.returncode == 0, "member of adm: exit %d %r" % (p.returncode, p.stderr))
        else:
            print("(not root: the group case is not run)")


if __name__ == "__main__":
    h.run("first_contact", main, options, root=False)
