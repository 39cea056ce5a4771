#!/usr/bin/python3
"""The Debian package: built by CPack, installed with apt into a fresh Debian 12, recording there, purged clean.

1. Configure with the packager's paths (-DCMAKE_INSTALL_PREFIX=/usr
   -DCMAKE_INSTALL_SYSCONFDIR=/etc, no tests), build, `cpack -G DEB`:
   tcptop_VERSION_ARCH.deb with Depends on the libraries it links (found by
   dpkg-shlibdeps), passwd and init-system-helpers; /etc/default/tcptop a
   conffile; the unit, man pages, completion and docs inside.
2. A debootstrap --variant=minbase bookworm root (made once, cached under
   /var/cache/tcptop-test, copied fresh for each run), /proc, /sys and /dev
   mounted into it, the mirror the host's apt uses. `apt-get install
   ./tcptop_*.deb` there: the user and group tcptop exist, the unit is enabled
   (multi-user.target.wants), --version runs with that root's libbpf.
3. In the root: `tcptop-record -o /tmp/st -q -d 5s`, then as the service does
   it, `--user tcptop --group tcptop` into /var/lib/tcptop; `tcptop-analyze
   info` reads both.
4. `apt-get purge tcptop`: the package is gone, and so are its files, its
   conffile, the unit's enablement and /var/lib/tcptop.

Environment: TT_SOURCE_DIR; TT_DEB_CACHE (default /var/cache/tcptop-test).
"""
import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

import ttharness as h

CACHE = os.environ.get("TT_DEB_CACHE", "/var/cache/tcptop-test")
SUITE = "bookworm"


def run(cmd, timeout=600, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if p.returncode:
        raise h.Failed("%s: exit %d\n%s\n%s" % (" ".join(cmd), p.returncode, p.stdout[-2000:],
                                                p.stderr[-2000:]))
    return p


def mirror():
    """The Debian mirror this host's apt uses."""
    for path in glob.glob("/etc/apt/sources.list.d/*.sources"):
        text = open(path).read()
        for stanza in text.split("\n\n"):
            if re.search(r"^Suites:.*\b%s\b" % SUITE, stanza, re.M) and \
                    "security" not in stanza:
                m = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
                if m:
                    return m.group(1)
    if os.path.exists("/etc/apt/sources.list"):
        m = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+%s\s" % SUITE,
                      open("/etc/apt/sources.list").read(), re.M)
        if m:
            return m.group(1)
    return "http://deb.debian.org/debian"


def base_root():
    """The cached pristine minbase root, made on first use (a few minutes)."""
    os.makedirs(CACHE, exist_ok=True)
    base = os.path.join(CACHE, "%s-minbase" % SUITE)
    with open(os.path.join(CACHE, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isdir(base):
            new = base + ".new"
            shutil.rmtree(new, ignore_errors=True)
            url = mirror()
            print("debootstrap --variant=minbase %s from %s (cached in %s)" % (SUITE, url, base),
                  flush=True)
            run(["debootstrap", "--variant=minbase", SUITE, new, url], timeout=1500)
            os.rename(new, base)
    return base


def build_deb(src):
    bdir = os.path.join(CACHE, "build-deb-" + hashlib.sha1(src.encode()).hexdigest()[:10])
    run(["cmake", "-S", src, "-B", bdir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
         "-DCMAKE_INSTALL_PREFIX=/usr", "-DCMAKE_INSTALL_SYSCONFDIR=/etc", "-DBUILD_TESTING=OFF"])
    run(["cmake", "--build", bdir, "-j%d" % os.cpu_count()], timeout=1200)
    for old in glob.glob(os.path.join(bdir, "*.deb")):
        os.unlink(old)
    run(["cpack", "-G", "DEB"], cwd=bdir)
    debs = glob.glob(os.path.join(bdir, "*.deb"))
    if len(debs) != 1:
        raise h.Failed("cpack made %r" % debs)
    return debs[0]


def main(t):
    src = os.environ.get("TT_SOURCE_DIR")
    t.require(src, "TT_SOURCE_DIR must be set")
    for tool in ("debootstrap", "cpack", "dpkg-deb", "dpkg-shlibdeps", "chroot"):
        if not shutil.which(tool):
            raise h.Skip("no %s" % tool)

    # 1. the package
    deb = build_deb(src)
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    version = re.search(r"project\(tcptop VERSION (\S+)", open(os.path.join(src, "CMakeLists.txt"))
                        .read()).group(1)
    t.eq("package file name", os.path.basename(deb), "tcptop_%s_%s.deb" % (version, arch))
    info = run(["dpkg-deb", "-I", deb]).stdout
    depends = re.search(r"^ Depends: (.*)$", info, re.M)
    depends = depends.group(1) if depends else ""
    for d in ("libbpf1", "libsqlite3-0", "libzstd1", "zlib1g", "libc6", "passwd",
              "init-system-helpers"):
        t.check(re.search(r"(^|, )%s\b" % re.escape(d), depends), "Depends has %s: %r" % (d, depends))
    t.eq("Package", run(["dpkg-deb", "-f", deb, "Package"]).stdout.strip(), "tcptop")
    conffiles = subprocess.run(["sh", "-c", "dpkg-deb --ctrl-tarfile '%s' | tar -xO ./conffiles" % deb],
                               capture_output=True, text=True).stdout.split()
    t.eq("conffiles", conffiles, ["/etc/default/tcptop"])
    files = [line.split()[-1][1:] for line in run(["dpkg-deb", "-c", deb]).stdout.splitlines()
             if not line.startswith("d")]
    for f in ("/usr/sbin/tcptop-record", "/usr/bin/tcptop-analyze",
              "/usr/lib/systemd/system/tcptop-record.service", "/etc/default/tcptop",
              "/usr/share/man/man8/tcptop-record.8", "/usr/share/man/man1/tcptop-analyze.1",
              "/usr/share/man/man5/tcptop-store.5",
              "/usr/share/bash-completion/completions/tcptop-analyze",
              "/usr/share/zsh/vendor-completions/_tcptop"):
        t.check(f in files, "the package holds %s" % f)

    # 2. a fresh Debian 12
    base = base_root()
    tmp = tempfile.mkdtemp(prefix="ttdeb-", dir=CACHE)
    root = os.path.join(tmp, "root")
    mounts = []

    def teardown():
        for m in reversed(mounts):
            if subprocess.run(["umount", "-R", m], capture_output=True).returncode:
                subprocess.run(["umount", "-Rl", m], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)

    t.cleanup(teardown)
    run(["cp", "-a", base, root], timeout=600)
    archives = os.path.join(CACHE, "apt-archives")
    os.makedirs(os.path.join(archives, "partial"), exist_ok=True)
    for what, where, args in (("proc", "proc", ["-t", "proc", "proc"]),
                              ("sys", "sys", ["--rbind", "/sys"]),
                              ("dev", "dev", ["--rbind", "/dev"]),
                              ("apt", "var/cache/apt/archives", ["--bind", archives])):
        target = os.path.join(root, where)
        os.makedirs(target, exist_ok=True)
        run(["mount"] + args + [target])
        mounts.append(target)
        if what in ("sys", "dev"):
            run(["mount", "--make-rslave", target])
    shutil.copy("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
    with open(os.path.join(root, "etc/apt/sources.list"), "w") as f:
        f.write("deb %s %s main\n" % (mirror(), SUITE))
    shutil.copy(deb, os.path.join(root, "tmp"))

    def chroot(cmd, check=True, timeout=600):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
               "LANG": "C.UTF-8"}
        p = subprocess.run(["chroot", root] + cmd, capture_output=True, text=True,
                           timeout=timeout, env=env)
        if check and p.returncode:
            raise h.Failed("in the root: %s: exit %d\n%s\n%s" % (" ".join(cmd), p.returncode,
                                                                 p.stdout[-2000:],
                                                                 p.stderr[-2000:]))
        return p

    chroot(["apt-get", "update", "-qq"])
    chroot(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
            "/tmp/" + os.path.basename(deb)], timeout=900)
    st = chroot(["dpkg-query", "-W", "-f", "${Status} ${Version}", "tcptop"]).stdout
    t.eq("installed", st, "install ok installed %s" % version)
    t.check(chroot(["getent", "passwd", "tcptop"], check=False).returncode == 0,
            "postinst made the user tcptop")
    t.check(chroot(["getent", "group", "tcptop"], check=False).returncode == 0,
            "postinst made the group tcptop")
    wants = os.path.join(root, "etc/systemd/system/multi-user.target.wants/tcptop-record.service")
    t.check(os.path.islink(wants), "the unit is enabled (%s)" % wants)
    v = chroot(["tcptop-record", "--version"]).stdout
    print("in the root:\n" + v, flush=True)
    t.check("iter/tcp" in v and "libbpf 1." in v, "--version: %r" % v)

    # 3. it records there, and as the service's user
    p = chroot(["tcptop-record", "-o", "/tmp/st", "-q", "-d", "5s"], check=False, timeout=60)
    t.eq("tcptop-record -o /tmp/st -q -d 5s in the root (stderr %r)" % p.stderr, p.returncode, 0)
    p = chroot(["tcptop-record", "-o", "/var/lib/tcptop", "-q", "-d", "3s", "--user", "tcptop",
                "--group", "tcptop"], check=False, timeout=60)
    t.eq("as the service: --user tcptop --group tcptop (stderr %r)" % p.stderr, p.returncode, 0)
    for store in ("/tmp/st", "/var/lib/tcptop"):
        p = chroot(["tcptop-analyze", "info", store], check=False)
        t.check(p.returncode == 0 and "recordings" in p.stdout,
                "tcptop-analyze info %s: exit %d %r %r" % (store, p.returncode, p.stdout[:300],
                                                           p.stderr))
    t.eq("the service's store belongs to tcptop",
         chroot(["stat", "-c", "%U:%G", "/var/lib/tcptop/index.db"]).stdout.strip(),
         "tcptop:tcptop")

    # 4. purge
    chroot(["apt-get", "purge", "-y", "-qq", "tcptop"])
    p = chroot(["dpkg-query", "-W", "-f", "${Status}", "tcptop"], check=False)
    t.check(p.returncode != 0 or "not-installed" in p.stdout or p.stdout.startswith("unknown"),
            "purged: %r" % p.stdout)
    left = [f for f in files if os.path.lexists(root + f)]
    t.eq("package files left after purge", left, [])
    t.check(not os.path.lexists(wants), "the unit's enablement is gone")
    t.check(not os.path.exists(os.path.join(root, "var/lib/tcptop")), "/var/lib/tcptop is gone")


if __name__ == "__main__":
    h.run("deb", main)
