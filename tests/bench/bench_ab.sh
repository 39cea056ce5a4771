#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench_ab.sh: the same tcptop-analyze command with two builds, side by side.
#
# What a change to the analyzer costs, measured the only way that means
# anything on a shared machine: both builds in one run, interleaved (each goes
# first in turn, so a change of the machine's load hits both alike), --runs
# rounds after a warm-up of each. Reported per build: median, min, max and
# interquartile range of CPU seconds (user + system of the child, from
# wait4's rusage) and of wall seconds; then the ratio of the medians
# (B / A), and whether the two builds printed the same bytes in every round
# (stdout; stderr is shown once if the two differ there).
#
# Example: the rollups audit (lib/store/audit.c) against the commit before it,
# top over a synthetic day (tests/bench/bench_analyze.sh makes one):
#
#   git worktree add /tmp/base c3bfc9d && cmake -S /tmp/base -B /tmp/base/build \
#       -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build /tmp/base/build -j2
#   tests/bench/bench_ab.sh --a /tmp/base/build --b build -- \
#       top --group-by remote-host -n 10 /tmp/tcptop-bench/day
#
# The script reports; it never fails on a number. Run it on a quiet machine.
#
# Usage: tests/bench/bench_ab.sh --a BUILD --b BUILD [--runs N] -- ARGS...
# Exit: 0 done, 1 a command failed, 2 bad usage.
set -u

PROG=bench_ab.sh
RUNS=21
A=
B=

usage() {
	sed -n '3,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

die_usage() { echo "$PROG: $1" >&2; echo "Try '$0 --help'." >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--a) A=${2:?}; shift ;;
	--b) B=${2:?}; shift ;;
	--runs) RUNS=${2:?}; shift ;;
	--) shift; break ;;
	*) die_usage "unknown option '$1'" ;;
	esac
	shift
done
[ -n "$A" ] && [ -n "$B" ] || die_usage "--a and --b: two build directories"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die_usage "--runs: a whole number"
[ $# -gt 0 ] || die_usage "no tcptop-analyze arguments after --"
for d in "$A" "$B"; do
	[ -x "$d/analyze/tcptop-analyze" ] || die_usage "no $d/analyze/tcptop-analyze"
done

python3 - "$RUNS" "$A/analyze/tcptop-analyze" "$B/analyze/tcptop-analyze" "$@" <<'EOF'
import os, statistics, sys, time

runs, a, b, args = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]


def once(exe):
    """(cpu s, wall s, stdout, stderr) of one run."""
    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    t = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.dup2(w_out, 1)
        os.dup2(w_err, 2)
        os.execv(exe, [exe] + args)
    os.close(w_out)
    os.close(w_err)
    out = b"".join(iter(lambda: os.read(r_out, 1 << 20), b""))
    err = b"".join(iter(lambda: os.read(r_err, 1 << 20), b""))
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t
    os.close(r_out)
    os.close(r_err)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        sys.stderr.write("bench_ab.sh: %s failed (%s): %s" % (exe, status, err.decode()[-500:]))
        sys.exit(1)
    return ru.ru_utime + ru.ru_stime, wall, out, err


def spread(label, v):
    v = sorted(v)
    q = statistics.quantiles(v, n=4) if len(v) > 1 else [v[0]] * 3
    print("  %-4s median %.4f s (min %.4f, max %.4f, IQR %.4f..%.4f)" %
          (label, statistics.median(v), v[0], v[-1], q[0], q[2]))


print("tcptop-analyze %s" % " ".join(args))
print("A = %s\nB = %s" % (a, b))
once(a)
once(b)  # warm-up: page cache, both
cpu = {a: [], b: []}
wall = {a: [], b: []}
same, errs = 0, None
for r in range(runs):
    res = {}
    for exe in ((a, b) if r % 2 == 0 else (b, a)):
        res[exe] = once(exe)
        cpu[exe].append(res[exe][0])
        wall[exe].append(res[exe][1])
    same += res[a][2] == res[b][2]
    if res[a][3] != res[b][3] and errs is None:
        errs = (res[a][3].decode(errors="replace"), res[b][3].decode(errors="replace"))
print("%d interleaved rounds" % runs)
for what, d in (("CPU", cpu), ("wall", wall)):
    print(what + ":")
    spread("A", d[a])
    spread("B", d[b])
    print("  B / A of the medians: %.3f" % (statistics.median(d[b]) / statistics.median(d[a])))
print("same stdout in %d of %d rounds" % (same, runs))
if errs:
    print("stderr differs, A: %r\n                B: %r" % (errs[0][-300:], errs[1][-300:]))
EOF
