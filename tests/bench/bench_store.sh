#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench_store.sh: how big is a store, and what does recording cost the recorder?
#
# Loopback TCP workloads, each for a fixed time into its own fresh store,
# with tcptop-record at its default settings (-i 1s, --flush 5s):
#   persist  1,000 connections held open, 100 bytes each every second
#   idle     1,000 connections held open, 100 bytes each every 10 s at random
#            phases: about 10 % of them move data in any tick
#   churn    300 short connections per second: connect, write 300 bytes, close
#   churn3k  the same at 3,000 connections per second
#   bulk     4 connections streaming, 8 MiB/s each (throttled, not saturating;
#            not run by default)
# The traffic comes from tests/bench/bench_store_gen.c (one process, one epoll
# loop), started before the recorder so the recording is the steady state.
#
# For each workload it reports:
#   - ALL-IN: what the store directory holds after the recorder's clean stop
#     (SIGINT): segments + index.db + index.db-wal + index.db-shm + any other
#     file; per recorded hour (the run extrapolated linearly: start-up and
#     stop included, so a short run overstates it), per live and per active
#     connection-tick, per loopback connection (both ends). Also a steady
#     rate: the store's logical size (segments + index.db's page_count x
#     page_size as a reader sees it, WAL included) sampled after the first
#     block and just before the stop, per hour. These are the issue 9 targets.
#   - nfdump beside it on the same traffic, in the same run (--no-nfdump to
#     skip): softflowd on lo (NetFlow v9, -t maxlife=60 -t expint=1: a record
#     per flow and direction at least every 60 s) exporting to nfcapd (1.7:
#     -w DIR -B 4194304, uncompressed). Its bytes are given for everything nfcapd wrote and for
#     the generator's flows alone (nfdump -R DIR 'port P' -w, uncompressed and
#     with -y, nfdump's LZ4 block compression, the same as nfcapd -y), per
#     hour and per connection; and the CPU of `nfdump -R DIR -s dstip/bytes
#     -n 10` next to `tcptop-analyze top --group-by remote-host -n 10` on the
#     same recording. softflowd and nfdump are installed with apt-get if
#     missing (Debian: nfdump, softflowd);
#   - connection-ticks: the recorded tick tables replayed through the
#     recorder's own aggregator (tests/bench/bench_store_scan.c): "live" sums,
#     over ticks, the connections alive in that tick (closed ones count in the
#     tick they closed); "active" counts only those whose bytes or packets
#     moved. On loopback both ends of a connection are local sockets, so one
#     connection is two rows (two connection-ticks), as on any host.
#   - segment bytes per live and per active connection-tick, for the whole
#     run and for the steady state (without the first block, which announces
#     every connection once). The recorder records every connection on the
#     machine, so on a shared machine the store also holds other processes'
#     connections: the headline numbers are for the generator's own
#     connections, its events re-encoded alone through the same codec and
#     the same keyframe logic (the re-encoding of the whole stream is checked
#     to give the store's size to the byte); the store as recorded is shown too.
#   - the index (index.db) separately, per connection-tick of the whole store,
#     and where its bytes are (per connection lifetime, per bucket row);
#     the compression ratio (raw event bytes / stored frame bytes);
#   - what if: the own stream re-encoded other ways (no keyframes, 10 s
#     blocks, keyframes in id order, a keyframe only every 30 or 60 s, no
#     RTT, one CONN per connection per tick): what each would save;
#   - the recorder's CPU (utime + stime from /proc/PID/stat, read before the
#     SIGINT): over its whole life (start-up and BPF loading included) and in
#     the steady state (from the end of the first block to the end), as % of
#     one core and CPU-seconds per recorded hour. It processes every
#     connection on the machine, neighbours' included;
#   - the generator's CPU and the whole machine's (from /proc/stat), and what
#     the rest of the machine used meanwhile (other processes: a busy
#     neighbour makes the numbers less trustworthy, and is flagged).
# It reports; it never passes or fails on a number. Exit 0 when every workload
# ran, 1 on a runtime failure, 2 on bad usage, 77 when not root or a tool is
# missing. Everything started is stopped on exit.
#
# Usage: tests/bench/bench_store.sh [-t SECONDS] [-w persist,idle,churn,churn3k,bulk]
#            [--build DIR] [--format json|text] [--keep DIR] [--idle-conns N]
#            [--churn-rate N] [--churn-fast-rate N] [--bulk-rate BYTES_PER_S]
#            [--no-nfdump] [--no-install] [--keyframe DUR]
set -u

PROG=bench_store
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

TIME=90
WORKLOADS=persist,idle,churn,churn3k
BUILD=${TCPTOP_BUILD:-}
FORMAT=json
KEEP=
IDLE_CONNS=1000
IDLE_SIZE=100
IDLE_PERIOD=10
CHURN_RATE=300
CHURN_FAST_RATE=3000
NFDUMP=1
INSTALL=1
NF_MAXLIFE=60 # softflowd -t maxlife: the issue's "nfdump, 60 s records"
CHURN_SIZE=300
BULK_CONNS=4
BULK_RATE=8388608
TICK_S=1 # the recorder's default -i; connection-ticks assume it
FLUSH_S=5 # and its default --flush
KEYFRAME= # --keyframe for the recorder; empty: its default (60s)

usage() {
	cat <<EOF
Usage: $0 [options]
Record loopback workloads with tcptop-record at its default settings, each
into a fresh store, with softflowd -> nfcapd recording the same traffic, and
report all-in store size (segments + index.db + WAL) per hour, per
connection-tick and per connection next to nfdump's, compression, and the
recorder's CPU.

  -t, --time S          seconds recorded per workload (default $TIME, 15..600)
  -w, --workloads LIST  comma-separated subset of persist,idle,churn,churn3k,bulk
                        (default $WORKLOADS)
      --build DIR       build directory with record/tcptop-record,
                        analyze/tcptop-analyze and tests/bench/bench_store_scan (default:
                        \$TCPTOP_BUILD, then build-bstore/, build-rel/, build/)
      --format FMT      the recorder's stdout format, json or text (default
                        $FORMAT; it goes to /dev/null, its cost is included)
      --keep DIR        keep the stores under DIR (must not exist)
      --idle-conns N    connections of the idle workload (default $IDLE_CONNS)
      --churn-rate N    connections per second of the churn workload (default $CHURN_RATE)
      --churn-fast-rate N  connections per second of churn3k (default $CHURN_FAST_RATE)
      --no-nfdump       do not run softflowd -> nfcapd beside the recorder
      --no-install      do not apt-get install nfdump/softflowd when missing (skip them)
      --bulk-rate B     bytes per second per bulk connection (default $BULK_RATE)
      --keyframe DUR    the recorder's --keyframe (default: the recorder's, 60s)
  -h, --help            this text

Needs root, cc, jq, sqlite3, python3 (exit 77 without). About (TIME + 15) seconds
per workload.
EOF
}

die_usage() {
	echo "$PROG: $1" >&2
	echo "Try '$0 --help'." >&2
	exit 2
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
in_range() { is_uint "$1" && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

while [ $# -gt 0 ]; do
	case $1 in
	-t | --time) [ $# -ge 2 ] || die_usage "$1 needs a value"; TIME=$2; shift 2 ;;
	-w | --workloads) [ $# -ge 2 ] || die_usage "$1 needs a value"; WORKLOADS=$2; shift 2 ;;
	--build) [ $# -ge 2 ] || die_usage "$1 needs a value"; BUILD=$2; shift 2 ;;
	--format) [ $# -ge 2 ] || die_usage "$1 needs a value"; FORMAT=$2; shift 2 ;;
	--keep) [ $# -ge 2 ] || die_usage "$1 needs a value"; KEEP=$2; shift 2 ;;
	--idle-conns) [ $# -ge 2 ] || die_usage "$1 needs a value"; IDLE_CONNS=$2; shift 2 ;;
	--churn-rate) [ $# -ge 2 ] || die_usage "$1 needs a value"; CHURN_RATE=$2; shift 2 ;;
	--churn-fast-rate) [ $# -ge 2 ] || die_usage "$1 needs a value"; CHURN_FAST_RATE=$2; shift 2 ;;
	--no-nfdump) NFDUMP=0; shift ;;
	--no-install) INSTALL=0; shift ;;
	--bulk-rate) [ $# -ge 2 ] || die_usage "$1 needs a value"; BULK_RATE=$2; shift 2 ;;
	--keyframe) [ $# -ge 2 ] || die_usage "$1 needs a value"; KEYFRAME=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) die_usage "unknown option '$1'" ;;
	esac
done
in_range "$TIME" 15 600 || die_usage "--time: want 15..600, got '$TIME'"
in_range "$IDLE_CONNS" 1 8000 || die_usage "--idle-conns: want 1..8000, got '$IDLE_CONNS'"
in_range "$CHURN_RATE" 1 20000 || die_usage "--churn-rate: want 1..20000, got '$CHURN_RATE'"
in_range "$CHURN_FAST_RATE" 1 20000 || die_usage "--churn-fast-rate: want 1..20000, got '$CHURN_FAST_RATE'"
in_range "$BULK_RATE" 1024 1073741824 || die_usage "--bulk-rate: want 1024..1073741824, got '$BULK_RATE'"
case $FORMAT in json | text) ;; *) die_usage "--format: want json or text, got '$FORMAT'" ;; esac
WL=()
IFS=, read -r -a _wl <<<"$WORKLOADS"
for w in "${_wl[@]}"; do
	case $w in
	persist | idle | churn | churn3k | bulk) WL+=("$w") ;;
	*) die_usage "--workloads: '$w' is not persist, idle, churn, churn3k or bulk" ;;
	esac
done
[ ${#WL[@]} -gt 0 ] || die_usage "--workloads: empty"
if [ -n "$KEEP" ] && [ -e "$KEEP" ]; then
	die_usage "--keep: $KEEP exists (give a new directory)"
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "$PROG: needs root (tcptop-record loads eBPF programs); skipped" >&2
	exit 77
fi
missing=
for t in cc jq sqlite3 awk python3; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
	echo "$PROG: missing tool(s):$missing (Debian: apt-get install gcc jq sqlite3 gawk python3); skipped" >&2
	exit 77
fi
if [ -z "$BUILD" ]; then
	for c in "$ROOT/build-bstore" "$ROOT/build-rel" "$ROOT/build"; do
		if [ -x "$c/record/tcptop-record" ] && [ -x "$c/analyze/tcptop-analyze" ] &&
			[ -x "$c/tests/bench/bench_store_scan" ]; then
			BUILD=$c
			break
		fi
	done
fi
RECORD=$BUILD/record/tcptop-record
ANALYZE=$BUILD/analyze/tcptop-analyze
if [ -z "$BUILD" ] || [ ! -x "$RECORD" ] || [ ! -x "$ANALYZE" ] ||
	[ ! -x "$BUILD/tests/bench/bench_store_scan" ]; then
	echo "$PROG: no build found (build one: cmake -S $ROOT -B $ROOT/build-bstore" \
		"-DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build $ROOT/build-bstore -j2, or pass --build); skipped" >&2
	exit 77
fi

# nfdump beside it: softflowd (pcap on lo) -> nfcapd. Debian 12 ships nfdump
# 1.7.1 (nfcapd -w DIR, -y for LZ4) and softflowd 1.1.0.
NF_NOTE=
if [ "$NFDUMP" = 1 ]; then
	if ! command -v nfcapd >/dev/null || ! command -v nfdump >/dev/null ||
		! command -v softflowd >/dev/null || ! command -v softflowctl >/dev/null; then
		if [ "$INSTALL" = 1 ] && command -v apt-get >/dev/null; then
			echo "$PROG: installing nfdump and softflowd (apt-get)" >&2
			{ DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nfdump softflowd ||
				{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
					--no-install-recommends nfdump softflowd; }; } >/dev/null 2>&1
		fi
	fi
	if ! command -v nfcapd >/dev/null || ! command -v softflowd >/dev/null ||
		! command -v softflowctl >/dev/null; then
		NF_NOTE="nfdump/softflowd not installed (apt-get install nfdump softflowd): not measured"
		echo "$PROG: $NF_NOTE" >&2
		NFDUMP=0
	fi
fi

# 1,000 idle connections are 2,000 descriptors in the generator (both ends).
NOFILE_NEED=$((2 * IDLE_CONNS + 4096 + 64))
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$NOFILE_NEED" ]; then
	if ! ulimit -Sn "$NOFILE_NEED" 2>/dev/null; then
		ulimit -Hn "$NOFILE_NEED" 2>/dev/null && ulimit -Sn "$NOFILE_NEED" 2>/dev/null
	fi
	if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$NOFILE_NEED" ]; then
		echo "$PROG: cannot raise the open-file limit to $NOFILE_NEED (ulimit -n is $(ulimit -Sn))" >&2
		exit 1
	fi
fi

TMP=$(mktemp -d /tmp/tt-bstore.XXXXXX) || exit 1
NFBASE=${KEEP:-$TMP} # softflowd/nfcapd's directories, kept with --keep
REC_PID=
GEN_PID=
SF_PID=
NF_PID=
T0=$(date +%s)
CLK_TCK=$(getconf CLK_TCK)

stop_pid() { # pid [signal]: ask, wait up to 10 s, then KILL. Only pids we started.
	local pid=$1 sig=${2:-INT}
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "$PROG: pid $pid did not stop within 10 s: killed" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
}

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	stop_pid "$REC_PID"
	stop_pid "$SF_PID" TERM
	stop_pid "$NF_PID" TERM
	stop_pid "$GEN_PID"
	REC_PID=
	SF_PID=
	NF_PID=
	GEN_PID=
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "$PROG: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

log() { echo "$@"; }
warn() { echo "$PROG: $*" >&2; }
elapsed() { echo $(($(date +%s) - T0)); }

# ---- helpers: the generator, and the store scanner of this build ---------------
GEN=$TMP/bench_store_gen
SCAN=$BUILD/tests/bench/bench_store_scan
if ! cc -O2 -Wall -o "$GEN" "$HERE/bench_store_gen.c" 2>"$TMP/cc.err"; then
	warn "building bench_store_gen failed: $(head -n3 "$TMP/cc.err")"
	exit 1
fi

# ---- measurement primitives -------------------------------------------------
cpu_ticks() { # pid -> utime+stime in clock ticks (threads included), or NA
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/"$1"/stat 2>/dev/null || echo NA
}
proc_age_ticks() { # pid -> clock ticks since the process started
	local start up
	start=$(awk '{ sub(/^.*\) /, ""); print $20 }' /proc/"$1"/stat 2>/dev/null) || return 1
	up=$(awk '{ print $1 }' /proc/uptime)
	awk -v s="$start" -v u="$up" -v hz="$CLK_TCK" 'BEGIN { printf "%d\n", u * hz - s }'
}
machine() { # "busy total" jiffies over all CPUs (busy = all but idle and iowait)
	awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}
now_s() { date +%s.%N; }
fdiv() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN {
	if (a == "NA" || b == "NA" || b + 0 == 0) print "NA"; else printf f "\n", a / b }'; }

# The store directory after a stop: "total segments index other" bytes, where
# index is index.db with its -wal, -shm (and -journal) and other is any other
# file (LOCK, or whatever the format adds).
allin() { # dir
	python3 - "$1" <<'EOF'
import os, sys
seg = idx = other = 0
for e in os.scandir(sys.argv[1]):
    if not e.is_file(follow_symlinks=False):
        continue
    n = e.stat().st_size
    if e.name.endswith(".tts"):
        seg += n
    elif e.name.startswith("index.db"):
        idx += n
    else:
        other += n
print(seg + idx + other, seg, idx, other)
EOF
}

# A live store's logical size: segments + the index as a reader sees it
# (page_count x page_size: the WAL's committed pages included, the WAL file's
# slack not), and the WAL file's size. Prints "logical wal_file" or "NA NA".
# The read transaction is a moment long: it delays a checkpoint, nothing else.
logical() { # dir
	python3 - "$1" 2>/dev/null <<'EOF' || echo "NA NA"
import os, sqlite3, sys
d = sys.argv[1]
seg = sum(e.stat().st_size for e in os.scandir(d) if e.name.endswith(".tts"))
db = sqlite3.connect("file:%s/index.db?mode=ro" % d, uri=True, timeout=5)
pc = db.execute("PRAGMA page_count").fetchone()[0]
ps = db.execute("PRAGMA page_size").fetchone()[0]
db.close()
try:
    wal = os.stat(os.path.join(d, "index.db-wal")).st_size
except OSError:
    wal = 0
print(seg + pc * ps, wal)
EOF
}

# CPU seconds (user + system, wait4's rusage) of a command: the median of N
# runs after a warm-up, stdout and stderr discarded; NA if it fails.
cpu_median() { # n cmd...
	python3 - "$@" 2>/dev/null <<'EOF' || echo NA
import os, statistics, sys
n, cmd = int(sys.argv[1]), sys.argv[2:]
v = []
for i in range(n + 1):
    pid = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
    _, st, ru = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(st) != 0:
        sys.exit(1)
    if i:
        v.append(ru.ru_utime + ru.ru_stime)
print("%.4f" % statistics.median(v))
EOF
}

free_udp_port() {
	python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# softflowd -> nfcapd on the loopback, every flow of lo (softflowd 1.1.0 on lo
# captures nothing once a pcap filter is given, so the generator's flows are
# picked out afterwards with nfdump's filter). 0 when both run.
nf_start() { # workload
	local w=$1 port d=$NFBASE/nf-$1
	mkdir -p "$d/flows" || return 1
	port=$(free_udp_port) || return 1
	# -B: the shutdown's burst of datagrams overflows the default socket buffer
	nfcapd -w "$d/flows" -p "$port" -b 127.0.0.1 -B 4194304 -P "$d/nfcapd.pid" >"$d/nfcapd.log" 2>&1 &
	NF_PID=$!
	sleep 0.3
	# expint=1: each flow is exported when it reaches maxlife (or its TCP timeout),
	# not in one burst a minute
	softflowd -d -i lo -n "127.0.0.1:$port" -v 9 -t maxlife=$NF_MAXLIFE -t expint=1 -m 65536 \
		-p "$d/softflowd.pid" -c "$d/softflowd.ctl" >"$d/softflowd.log" 2>&1 &
	SF_PID=$!
	for _ in $(seq 50); do
		[ -S "$d/softflowd.ctl" ] && break
		sleep 0.1
	done
	if ! kill -0 "$NF_PID" 2>/dev/null || ! kill -0 "$SF_PID" 2>/dev/null || [ ! -S "$d/softflowd.ctl" ]; then
		warn "$w: softflowd/nfcapd did not start: $(tail -n2 "$d/softflowd.log" "$d/nfcapd.log" | tr '\n' ' ')"
		stop_pid "$SF_PID" TERM
		stop_pid "$NF_PID" TERM
		SF_PID=
		NF_PID=
		return 1
	fi
	return 0
}

# softflowd: statistics, then a graceful shutdown (every open flow expired and
# exported); nfcapd: SIGTERM, which closes and renames its file.
nf_stop() { # workload
	local d=$NFBASE/nf-$1
	[ -n "$SF_PID" ] || return 0
	softflowctl -c "$d/softflowd.ctl" statistics >"$d/softflowd.stats" 2>&1
	softflowctl -c "$d/softflowd.ctl" shutdown >/dev/null 2>&1
	for _ in $(seq 50); do
		kill -0 "$SF_PID" 2>/dev/null || break
		sleep 0.1
	done
	stop_pid "$SF_PID" TERM
	SF_PID=
	sleep 1 # the last datagrams
	stop_pid "$NF_PID" TERM
	NF_PID=
}

# What nfcapd wrote: all of it, and the generator's flows alone written again
# by nfdump uncompressed and with LZ4 (-y, the block compression nfcapd -y
# uses); records, those received between the end of the first block and the
# stop (the steady rate), softflowd's losses, and the CPU of a top-10 query.
nf_eval() { # workload
	local w=$1 d=$NFBASE/nf-$1 f
	f=$d/flows
	R[$w,nf_files]=$(find "$f" -maxdepth 1 -type f | wc -l)
	R[$w,nf_bytes]=$(find "$f" -maxdepth 1 -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
	R[$w,nf_records]=$(nfdump -R "$f" -I 2>/dev/null | awk '$1 == "Flows:" { s += $2 } END { print s + 0 }')
	if nfdump -R "$f" -w "$d/own.nf" "port ${R[$w,port]}" >/dev/null 2>"$d/nfdump.err" &&
		nfdump -R "$f" -y -w "$d/own.lz4" "port ${R[$w,port]}" >/dev/null 2>>"$d/nfdump.err"; then
		R[$w,nf_own_bytes]=$(stat -c %s "$d/own.nf")
		R[$w,nf_own_lz4_bytes]=$(stat -c %s "$d/own.lz4")
		R[$w,nf_own_records]=$(nfdump -r "$d/own.nf" -I 2>/dev/null | awk '$1 == "Flows:" { print $2 }')
	else
		warn "$w: nfdump could not split out the generator's flows: $(head -n2 "$d/nfdump.err" | tr '\n' ' ')"
	fi
	R[$w,sf_pcap_drops]=$(awk -F': ' '/dropped by libpcap/ { print $2 }' "$d/softflowd.stats")
	R[$w,nf_seq_errors]=$(sed -n "s/.*Sequence Errors: \([0-9]*\).*/\1/p" "$d/nfcapd.log" | tail -n1)
	R[$w,sf_forced]=$(sed -n 's/^Flows expired: [0-9]* (\([0-9]*\) forced).*/\1/p' "$d/softflowd.stats")
	R[$w,q_nfdump]=$(cpu_median 3 nfdump -R "$f" -s dstip/bytes -n 10)
}

count_links() { # pid -> BPF links it holds
	local n=0 f
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "anon_inode:bpf_link" ] && n=$((n + 1))
	done
	echo "$n"
}

gen_args() {
	case $1 in
	bulk) echo "bulk -n $BULK_CONNS -r $BULK_RATE" ;;
	persist) echo "idle -n $IDLE_CONNS -s $IDLE_SIZE -P 1" ;;
	idle) echo "idle -n $IDLE_CONNS -s $IDLE_SIZE -P $IDLE_PERIOD" ;;
	churn) echo "churn -r $CHURN_RATE -s $CHURN_SIZE" ;;
	churn3k) echo "churn -r $CHURN_FAST_RATE -s $CHURN_SIZE" ;;
	esac
}
wl_desc() {
	case $1 in
	bulk) echo "$BULK_CONNS TCP connections streaming $((BULK_RATE / 1048576)) MiB/s each (64 KiB writes)" ;;
	persist) echo "$IDLE_CONNS TCP connections, $IDLE_SIZE bytes each every second" ;;
	idle) echo "$IDLE_CONNS TCP connections, $IDLE_SIZE bytes each every ${IDLE_PERIOD} s at random phases" ;;
	churn) echo "$CHURN_RATE TCP connections/s, each: connect, write $CHURN_SIZE bytes, close" ;;
	churn3k) echo "$CHURN_FAST_RATE TCP connections/s, each: connect, write $CHURN_SIZE bytes, close" ;;
	esac
}

declare -A R # R[workload,key] = value
# the re-encodings of bench_store_scan, in the order of the what-if table
RECODES="all_kf5 own_kf5 own_nokf5 own_kf10 own_kf5_sorted own_b5_kf30 own_b5_kf60 own_b5_kf60_sorted own_kf5_nortt own_kf5_coalesce"

run_workload() {
	local w=$1
	local store=$TMP/store-$w out=$TMP/gen-$w.out
	local t_start t_warm t_end c_warm c_end g0 g1 m0 m1 age ok info sq scan i k
	local rows own ict brows line kv port l0 l1 wal1 a
	[ -n "$KEEP" ] && store=$KEEP/$w

	# shellcheck disable=SC2046 # word splitting of the arguments is wanted
	"$GEN" $(gen_args "$w") >"$out" 2>"$TMP/gen-$w.err" &
	GEN_PID=$!
	ok=0
	for _ in $(seq 400); do
		grep -q '^ready' "$out" 2>/dev/null && { ok=1; break; }
		kill -0 "$GEN_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ "$ok" -ne 1 ]; then
		warn "$w: generator not ready: $(tail -n2 "$TMP/gen-$w.err" | tr '\n' ' ')"
		stop_pid "$GEN_PID"
		GEN_PID=
		return 1
	fi
	port=$(sed -n 's/^ready port=\([0-9]*\).*/\1/p' "$out" | head -n1)
	R[$w,port]=$port
	sleep 1 # let it settle into its rhythm

	R[$w,nf]=0
	if [ "$NFDUMP" = 1 ] && nf_start "$w"; then
		R[$w,nf]=1
	fi

	"$RECORD" -o "$store" -f "$FORMAT" ${KEYFRAME:+--keyframe "$KEYFRAME"} >/dev/null \
		2>"$TMP/rec-$w.err" &
	REC_PID=$!
	ok=0
	for _ in $(seq 200); do
		kill -0 "$REC_PID" 2>/dev/null || break
		if [ -f "$store/index.db" ] && [ "$(count_links "$REC_PID")" -ge 7 ]; then
			ok=1
			break
		fi
		sleep 0.05
	done
	if [ "$ok" -ne 1 ]; then
		warn "$w: tcptop-record did not start: $(tail -n2 "$TMP/rec-$w.err" | tr '\n' ' ')"
		stop_pid "$REC_PID"
		nf_stop "$w"
		stop_pid "$GEN_PID"
		REC_PID=
		GEN_PID=
		return 1
	fi
	t_start=$(now_s)
	g0=$(cpu_ticks "$GEN_PID")
	read -r -a m0 <<<"$(machine)"

	# steady state: from the end of the first block (FLUSH_S + a tick of margin)
	sleep $((FLUSH_S + 1))
	t_warm=$(now_s)
	c_warm=$(cpu_ticks "$REC_PID")
	read -r l0 _ <<<"$(logical "$store")"
	sleep "$(awk -v t="$TIME" -v a="$t_start" -v b="$(now_s)" 'BEGIN { d = t - (b - a); printf "%.3f\n", (d > 0 ? d : 0) }')"
	t_end=$(now_s)
	c_end=$(cpu_ticks "$REC_PID")
	age=$(proc_age_ticks "$REC_PID")
	g1=$(cpu_ticks "$GEN_PID")
	read -r -a m1 <<<"$(machine)"
	read -r l1 wal1 <<<"$(logical "$store")"
	R[$w,load]=$(cut -d' ' -f1-3 /proc/loadavg)
	# the store's growth between the end of the first block and the stop, per hour
	R[$w,live_wal_bytes]=$wal1
	R[$w,steady_allin_mb_h]=$(awk -v a="$l0" -v b="$l1" -v t0="$t_warm" -v t1="$t_end" 'BEGIN {
		if (a == "NA" || b == "NA" || t1 <= t0) print "NA"; else printf "%.2f\n", (b - a) / 1e6 * 3600 / (t1 - t0) }')
	R[$w,steady_allin_bps]=$(awk -v a="$l0" -v b="$l1" -v t0="$t_warm" -v t1="$t_end" 'BEGIN {
		if (a == "NA" || b == "NA" || t1 <= t0) print "NA"; else printf "%.1f\n", (b - a) / (t1 - t0) }')

	stop_pid "$REC_PID"
	R[$w,rec_rc]=$?
	REC_PID=
	[ "${R[$w,nf]}" = 1 ] && nf_stop "$w"
	stop_pid "$GEN_PID"
	GEN_PID=
	R[$w,gen_done]=$(grep '^done' "$out" | cut -d' ' -f2-)
	if grep -q . "$TMP/rec-$w.err"; then
		R[$w,rec_err]=$(head -n3 "$TMP/rec-$w.err" | tr '\n' ' ')
	fi

	read -r a R[$w,allin_seg] R[$w,allin_idx] R[$w,allin_other] <<<"$(allin "$store")"
	R[$w,allin]=$a
	R[$w,rec_t0]=$t_start
	R[$w,rec_warm]=$t_warm
	R[$w,rec_end]=$t_end
	[ "${R[$w,nf]}" = 1 ] && nf_eval "$w"
	R[$w,q_tcptop]=$(cpu_median 3 "$ANALYZE" top --group-by remote-host -n 10 "$store")

	info=$("$ANALYZE" info --format json "$store" 2>"$TMP/info-$w.err")
	if [ -z "$info" ]; then
		warn "$w: tcptop-analyze info failed: $(head -n2 "$TMP/info-$w.err" | tr '\n' ' ')"
		return 1
	fi
	for k in segment_bytes index_bytes raw_bytes compression_ratio blocks connections \
		ring_drops socks_full peers_full; do
		R[$w,$k]=$(jq -r ".$k" <<<"$info")
	done
	R[$w,rec_s]=$(jq -r '.recordings[0] | (.end_ns - .start_ns) / 1e8 | round / 10' <<<"$info")

	# the index: rows, and the connection-ticks it implies (first to last seen, 1 s ticks)
	sq=$(sqlite3 -readonly -separator ' ' "$store/index.db" "
		SELECT count(*), coalesce(sum(comm = 'bench_store_gen'), 0),
		       coalesce(sum(round((last_seen_ns - first_seen_ns) / ($TICK_S * 1e9) + 0.45) + 1), 0)
		FROM connections;
		SELECT count(*) FROM buckets;" | tr '\n' ' ')
	read -r rows own ict brows <<<"$sq"
	R[$w,rows]=$rows
	R[$w,own_rows]=$own
	R[$w,index_conn_ticks]=$ict
	R[$w,bucket_rows]=$brows
	# where the index's bytes are: per table and index (SQLite's dbstat), and in two parts
	R[$w,index_pages]=$(sqlite3 -readonly -separator '=' "$store/index.db" \
		"SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC" 2>/dev/null |
		tr '\n' ' ')
	R[$w,idx_conn_bytes]=0
	R[$w,idx_bucket_bytes]=0
	for kv in ${R[$w,index_pages]}; do
		case ${kv%%=*} in
		connections | connections_* | sqlite_autoindex_connections_*)
			R[$w,idx_conn_bytes]=$((R[$w,idx_conn_bytes] + ${kv#*=})) ;;
		buckets | buckets_*) R[$w,idx_bucket_bytes]=$((R[$w,idx_bucket_bytes] + ${kv#*=})) ;;
		esac
	done

	scan=$("$SCAN" --comm bench_store_gen --reencode "$store" 2>"$TMP/scan-$w.err")
	if [ -z "$scan" ]; then
		warn "$w: bench_store_scan failed: $(head -n2 "$TMP/scan-$w.err" | tr '\n' ' ')"
		return 1
	fi
	for k in ticks live_ticks active_ticks own_live_ticks own_active_ticks own_conns max_live \
		steady_bytes steady_ticks steady_live_ticks steady_active_ticks steady_own_live_ticks \
		steady_own_active_ticks sample_no_traffic; do
		R[$w,$k]=$(grep -o "\b$k=[0-9]*" <<<"$scan" | head -n1 | cut -d= -f2)
	done
	for k in conn sample state reset close; do
		R[$w,ev_$k]=$(grep -o "\bev_$k=[0-9]*" <<<"$scan" | cut -d= -f2)
		R[$w,kf_$k]=$(grep -o "\bkf_$k=[0-9]*" <<<"$scan" | cut -d= -f2)
	done
	for i in $RECODES; do
		line=$(grep "^reencode name=$i " <<<"$scan")
		for k in file_bytes steady_bytes raw_bytes steady_active_ticks; do
			R[$w,$i,$k]=$(grep -o "\b$k=[0-9]*" <<<"$line" | cut -d= -f2)
		done
		R[$w,$i]=${R[$w,$i,file_bytes]}
		R[$w,${i}_steady]=${R[$w,$i,steady_bytes]}
		R[$w,${i}_raw]=${R[$w,$i,raw_bytes]}
	done
	R[$w,sample_state_only]=$(grep -o '\bsample_state_only=[0-9]*' <<<"$scan" | cut -d= -f2)
	R[$w,coalesce_diffs]=$(grep -o '\bcoalesce_table_diffs=[0-9]*' <<<"$scan" | cut -d= -f2)
	if [ "${R[$w,all_kf5]}" != "${R[$w,segment_bytes]}" ]; then
		warn "$w: re-encoding gives ${R[$w,all_kf5]} bytes, the store holds ${R[$w,segment_bytes]}:" \
			"the offline estimates do not model this recorder exactly"
	fi

	# CPU: recorder over its life and in the steady state; generator and machine over the run
	R[$w,rec_cpu_s]=$(fdiv "$c_end" "$CLK_TCK" %.2f)
	R[$w,rec_pct]=$(awk -v c="$c_end" -v a="$age" 'BEGIN { printf "%.2f\n", (a > 0 ? 100 * c / a : 0) }')
	R[$w,rec_pct_steady]=$(awk -v c0="$c_warm" -v c1="$c_end" -v t0="$t_warm" -v t1="$t_end" -v hz="$CLK_TCK" \
		'BEGIN { printf "%.2f\n", 100 * (c1 - c0) / hz / (t1 - t0) }')
	R[$w,rec_cpu_s_per_h]=$(awk -v p="${R[$w,rec_pct_steady]}" 'BEGIN { printf "%.0f\n", p * 36 }')
	R[$w,gen_pct]=$(awk -v c0="$g0" -v c1="$g1" -v t0="$t_start" -v t1="$t_end" -v hz="$CLK_TCK" \
		'BEGIN { printf "%.2f\n", 100 * (c1 - c0) / hz / (t1 - t0) }')
	R[$w,machine_pct]=$(awk -v b0="${m0[0]}" -v b1="${m1[0]}" -v a0="${m0[1]}" -v a1="${m1[1]}" \
		'BEGIN { printf "%.1f\n", (a1 > a0 ? 100 * (b1 - b0) / (a1 - a0) : 0) }')
	# everything else, in cores: machine busy minus recorder and generator
	R[$w,other_cores]=$(awk -v m="${R[$w,machine_pct]}" -v n="$(nproc)" -v g="${R[$w,gen_pct]}" \
		-v rp="${R[$w,rec_pct_steady]}" 'BEGIN { o = m * n / 100 - g / 100 - rp / 100; printf "%.2f\n", (o < 0 ? 0 : o) }')
	R[$w,duration]=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.1f\n", b - a }')
	return 0
}

# ---------------------------------------------------------------------------
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
log "tcptop store benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
log "machine: $(nproc) CPUs, Linux $(uname -r), ${CPU_MODEL:-unknown CPU}"
log "build: $BUILD ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
log "recorder: tcptop-record -o STORE -f $FORMAT > /dev/null (defaults: -i ${TICK_S}s, --flush ${FLUSH_S}s)"
log "plan: ${WL[*]}, ${TIME} s each; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$KEEP" ] && mkdir -p "$KEEP" && log "stores kept under $KEEP"
log ""

FAILED=0
for w in "${WL[@]}"; do
	log "[$(printf '%4s' "$(elapsed)")s] $w: $(wl_desc "$w")"
	if run_workload "$w"; then
		R[$w,ok]=1
		log "        recorded ${R[$w,rec_s]} s, ${R[$w,blocks]} blocks, ${R[$w,rows]} connection rows" \
			"(${R[$w,own_rows]} of the generator), recorder CPU ${R[$w,rec_pct_steady]} % steady," \
			"machine ${R[$w,machine_pct]} % busy"
		[ -n "${R[$w,rec_err]:-}" ] && log "        recorder said: ${R[$w,rec_err]}"
	else
		R[$w,ok]=0
		FAILED=1
	fi
done

# ---------------------------------------------------------------------------
b_per() { fdiv "$1" "$2" %.2f; }
log ""
log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); total $(elapsed) s"
log ""
# per-unit figures of the all-in store and of nfdump, into R[w,...]
for w in "${WL[@]}"; do
	[ "${R[$w,ok]}" = 1 ] || continue
	R[$w,allin_mb_h]=$(awk -v a="${R[$w,allin]}" -v s="${R[$w,rec_s]}" 'BEGIN { printf "%.2f\n", a / 1e6 * 3600 / s }')
	R[$w,allin_b_live]=$(b_per "${R[$w,allin]}" "${R[$w,live_ticks]}")
	R[$w,allin_b_act]=$(b_per "${R[$w,allin]}" "${R[$w,active_ticks]}")
	# steady: growth per second over active connection-ticks per tick after the first block
	R[$w,steady_allin_b_act]=$(awk -v r="${R[$w,steady_allin_bps]}" -v a="${R[$w,steady_active_ticks]}" \
		-v t="${R[$w,steady_ticks]}" -v ts="$TICK_S" 'BEGIN {
		if (r == "NA" || a + 0 == 0 || t + 0 == 0) print "NA"; else printf "%.2f\n", r * ts / (a / t) }')
	# loopback connections: what the generator opened, over the recorded span for
	# churn (the store's socket rows / 2 overcount: a socket met by the iterator
	# and then by its owner can hold two ids)
	R[$w,conns]=$(awk -v d="${R[$w,gen_done]:-}" -v s="${R[$w,rec_s]}" -v w="$w" 'BEGIN {
		n = split(d, f, " "); for (i = 1; i <= n; i++) { split(f[i], kv, "="); g[kv[1]] = kv[2] }
		if (g["opened"] == "" || g["seconds"] + 0 == 0) { print "NA"; exit }
		if (w ~ /^churn/) printf "%d\n", g["opened"] * s / g["seconds"]; else print g["opened"] }')
	R[$w,allin_b_conn]=$(b_per "${R[$w,allin]}" "${R[$w,conns]}")
	R[$w,steady_allin_b_conn]=$(awk -v r="${R[$w,steady_allin_bps]}" -v c="${R[$w,conns]}" -v s="${R[$w,rec_s]}" 'BEGIN {
		if (r == "NA" || c + 0 == 0) print "NA"; else printf "%.1f\n", r / (c / s) }')
	[ "${R[$w,nf]}" = 1 ] || continue
	R[$w,nf_mb_h]=$(awk -v a="${R[$w,nf_bytes]}" -v s="${R[$w,rec_s]}" 'BEGIN { printf "%.2f\n", a / 1e6 * 3600 / s }')
	R[$w,nf_own_mb_h]=$(awk -v a="${R[$w,nf_own_bytes]:-NA}" -v s="${R[$w,rec_s]}" 'BEGIN {
		if (a == "NA") print "NA"; else printf "%.2f\n", a / 1e6 * 3600 / s }')
	R[$w,nf_own_lz4_mb_h]=$(awk -v a="${R[$w,nf_own_lz4_bytes]:-NA}" -v s="${R[$w,rec_s]}" 'BEGIN {
		if (a == "NA") print "NA"; else printf "%.2f\n", a / 1e6 * 3600 / s }')
	R[$w,nf_b_rec]=$(b_per "${R[$w,nf_own_bytes]:-NA}" "${R[$w,nf_own_records]:-NA}")
	R[$w,nf_lz4_b_rec]=$(b_per "${R[$w,nf_own_lz4_bytes]:-NA}" "${R[$w,nf_own_records]:-NA}")
	# held connections: a steady hour holds one record per direction and maxlife
	case $w in
	persist | idle) a=$IDLE_CONNS ;;
	bulk) a=$BULK_CONNS ;;
	*) a=0 ;;
	esac
	R[$w,nf_steady_mb_h]=$(awk -v n="$a" -v b="${R[$w,nf_b_rec]}" -v m="$NF_MAXLIFE" 'BEGIN {
		if (n == 0 || b == "NA") print "NA"; else printf "%.2f\n", 2 * n * 3600 / m * b / 1e6 }')
	# a connection is two flow records (one per direction) unless maxlife split it
	R[$w,nf_conns]=$(awk -v r="${R[$w,nf_own_records]:-0}" 'BEGIN { printf "%d\n", r / 2 }')
	R[$w,nf_b_conn]=$(b_per "${R[$w,nf_own_bytes]:-NA}" "${R[$w,nf_conns]}")
	R[$w,nf_lz4_b_conn]=$(b_per "${R[$w,nf_own_lz4_bytes]:-NA}" "${R[$w,nf_conns]}")
done

log "== ALL-IN: the store directory after a clean stop (segments + index.db + WAL + shm + other) =="
printf '%-8s %6s %11s %10s %10s %8s %8s %9s %8s %8s %8s %9s %9s %6s\n' workload rec_s allin segments \
	"index+wal" MB/h st_MB/h B/live_ct B/act_ct st_B/act conns B/conn st_B/conn own%
for w in "${WL[@]}"; do
	[ "${R[$w,ok]}" = 1 ] || continue
	printf '%-8s %6s %11s %10s %10s %8s %8s %9s %8s %8s %8s %9s %9s %6s\n' "$w" "${R[$w,rec_s]}" \
		"${R[$w,allin]}" "${R[$w,allin_seg]}" "${R[$w,allin_idx]}" "${R[$w,allin_mb_h]}" \
		"${R[$w,steady_allin_mb_h]}" "${R[$w,allin_b_live]}" "${R[$w,allin_b_act]}" \
		"${R[$w,steady_allin_b_act]}" "${R[$w,conns]}" "${R[$w,allin_b_conn]}" "${R[$w,steady_allin_b_conn]}" \
		"$(awk -v o="${R[$w,own_live_ticks]}" -v a="${R[$w,live_ticks]}" 'BEGIN {
			if (a + 0 == 0) print "NA"; else printf "%.1f\n", 100 * o / a }')"
done
log "  allin: every file of the store after SIGINT (index+wal: index.db, -wal, -shm; other files"
log "  such as LOCK are in allin only); MB/h: allin x 3600 / recorded seconds, i.e. the run"
log "  extrapolated linearly, start-up (the first block announces every connection) and the index's"
log "  fixed pages included: it overstates an hour, the more so the shorter the run;"
log "  st_MB/h: the steady rate, the logical store (segments + index pages as a reader sees them,"
log "  WAL included) from the end of the first block to the stop, per hour; B/live_ct, B/act_ct:"
log "  allin per live / active connection-tick of the whole store (neighbours' connections in both);"
log "  st_B/act: the steady rate per active connection-tick; conns: the generator's loopback"
log "  connections (both ends each), for churn those it opened during the recorded seconds;"
log "  B/conn: allin per such connection, st_B/conn: the steady rate per connection opened;"
log "  own%: the generator's share of the store's live connection-ticks. All-in cannot be split:"
log "  other processes' connections (a shared machine) are in it, so below ~95 % it overstates"
log "  the workload's cost; rerun on a quiet machine."
log ""
if [ "$NFDUMP" = 1 ]; then
	log "== nfdump beside it: softflowd -i lo -v 9 -t maxlife=$NF_MAXLIFE -> nfcapd -w DIR (1.7, uncompressed), same traffic =="
	printf '%-8s %9s %10s %8s %10s %9s %8s %8s %8s %8s %8s %8s %8s %7s\n' workload records \
		nfcapd_B own_recs own_B own_lz4_B MB/h lz4_MB/h 60s_MB/h B/rec B/conn lz4B/con conns drops
	for w in "${WL[@]}"; do
		[ "${R[$w,ok]}" = 1 ] && [ "${R[$w,nf]}" = 1 ] || continue
		printf '%-8s %9s %10s %8s %10s %9s %8s %8s %8s %8s %8s %8s %8s %7s\n' "$w" "${R[$w,nf_records]}" \
			"${R[$w,nf_bytes]}" "${R[$w,nf_own_records]:-NA}" "${R[$w,nf_own_bytes]:-NA}" \
			"${R[$w,nf_own_lz4_bytes]:-NA}" "${R[$w,nf_own_mb_h]}" "${R[$w,nf_own_lz4_mb_h]}" \
			"${R[$w,nf_steady_mb_h]}" "${R[$w,nf_b_rec]}" "${R[$w,nf_b_conn]}" "${R[$w,nf_lz4_b_conn]}" \
			"${R[$w,nf_conns]}" "${R[$w,sf_pcap_drops]:-NA}+${R[$w,nf_seq_errors]:-NA}"
	done
	log "  records, nfcapd_B: every flow of lo that nfcapd wrote (other processes' loopback traffic"
	log "  too); own_*: the generator's flows alone (nfdump -R DIR 'port P' -w FILE, and with -y: LZ4,"
	log "  the block compression of nfcapd -y); MB/h, lz4_MB/h: own bytes x 3600 / the recorder's"
	log "  recorded seconds (softflowd ran from just before the recorder to just after, and its"
	log "  shutdown exported every open flow: a persistent flow's last, partial, record is in);"
	log "  60s_MB/h (held connections only): what a steady hour of them holds, one record per"
	log "  direction per $NF_MAXLIFE s (maxlife), x B/rec: a model, since a short run cannot show it"
	log "  (a record leaves softflowd $NF_MAXLIFE s after its flow began); conns: own records / 2 (a"
	log "  record per direction); drops: softflowd's pcap drops + nfcapd's sequence errors (lost"
	log "  export datagrams): nonzero means records are missing."
	log ""
fi
log "== Against the targets of issue 9 (all-in; tcptop | nfdump own flows raw / LZ4) =="
for w in "${WL[@]}"; do
	[ "${R[$w,ok]}" = 1 ] || continue
	nfp() { [ "${R[$w,nf]}" = 1 ] && printf ' | nfdump %s / %s' "$1" "$2"; }
	case $w in
	persist) log "  persist, <= 14 MB per hour: ${R[$w,allin_mb_h]} (steady ${R[$w,steady_allin_mb_h]})$(nfp "${R[$w,nf_own_mb_h]:-NA}" "${R[$w,nf_own_lz4_mb_h]:-NA}") MB/h$([ "${R[$w,nf]}" = 1 ] && echo " (a steady hour of 60 s records: ${R[$w,nf_steady_mb_h]})")" ;;
	idle) log "  idle, <= 8 B per active connection-tick: ${R[$w,allin_b_act]} (steady ${R[$w,steady_allin_b_act]}); MB/h ${R[$w,allin_mb_h]}$(nfp "${R[$w,nf_own_mb_h]:-NA}" "${R[$w,nf_own_lz4_mb_h]:-NA}") MB/h" ;;
	churn | churn3k) log "  $w, <= 120 B per loopback connection: ${R[$w,allin_b_conn]} (steady ${R[$w,steady_allin_b_conn]})$(nfp "${R[$w,nf_b_conn]:-NA}" "${R[$w,nf_lz4_b_conn]:-NA}") B per connection" ;;
	bulk) log "  bulk (no target): ${R[$w,allin_mb_h]} MB/h$(nfp "${R[$w,nf_own_mb_h]:-NA}" "${R[$w,nf_own_lz4_mb_h]:-NA}") MB/h" ;;
	esac
done
log "  top-10 remote hosts over the recording, CPU s (median of 3): tcptop-analyze top --group-by remote-host -n 10 | nfdump -R DIR -s dstip/bytes -n 10"
for w in "${WL[@]}"; do
	[ "${R[$w,ok]}" = 1 ] || continue
	log "    $w: ${R[$w,q_tcptop]}$([ "${R[$w,nf]}" = 1 ] && printf ' | %s' "${R[$w,q_nfdump]}")"
done
[ -n "$NF_NOTE" ] && log "  $NF_NOTE"
log ""
log "== Store size: the workload's own connections (bytes per connection-tick) =="
log "   (its stream re-encoded alone, exactly as tcptop-record writes it: other processes'"
log "   connections on a shared machine left out; index.db cannot be split and is for the whole store)"
printf '%-6s %6s %6s %9s %9s %10s %9s %9s %9s %9s %9s %6s\n' workload ticks conns live_ct active_ct \
	seg_bytes seg/live seg/act st_seg/act idx/live idx/act ratio
for w in "${WL[@]}"; do
	[ "${R[$w,ok]}" = 1 ] || continue
	printf '%-6s %6s %6s %9s %9s %10s %9s %9s %9s %9s %9s %6s\n' "$w" "${R[$w,ticks]}" \
		"${R[$w,own_conns]}" "${R[$w,own_live_ticks]}" "${R[$w,own_active_ticks]}" \
		"${R[$w,own_kf5]}" "$(b_per "${R[$w,own_kf5]}" "${R[$w,own_live_ticks]}")" \
		"$(b_per "${R[$w,own_kf5]}" "${R[$w,own_active_ticks]}")" \
		"$(b_per "${R[$w,own_kf5_steady]}" "${R[$w,steady_own_active_ticks]}")" \
		"$(b_per "${R[$w,index_bytes]}" "${R[$w,live_ticks]}")" \
		"$(b_per "${R[$w,index_bytes]}" "${R[$w,active_ticks]}")" \
		"$(fdiv "${R[$w,own_kf5_raw]}" "${R[$w,own_kf5]}" %.2f)"
done
log "  conns: connection rows (a loopback connection is two: both ends are local sockets)"
log "  live_ct / active_ct: connection-ticks, i.e. rows of the 1 s tick tables, all / those whose"
log "  bytes or packets moved; seg/live, seg/act: segment bytes per live / active connection-tick;"
log "  st_seg/act: the same without the first block (start-up); idx/live, idx/act: index.db bytes"
log "  per connection-tick of the whole store; ratio: raw event bytes / stored frame bytes."
log ""
log "== The index (index.db, whole store): where its bytes are =="
printf '%-6s %10s %8s %12s %10s %8s %12s %10s %10s\n' workload index_bytes conn_rows conn_part B/conn \
	buckets bucket_part B/bucket "bkt/act_ct"
for w in "${WL[@]}"; do
	[ "${R[$w,ok]}" = 1 ] || continue
	printf '%-6s %10s %8s %12s %10s %8s %12s %10s %10s\n' "$w" "${R[$w,index_bytes]}" "${R[$w,rows]}" \
		"${R[$w,idx_conn_bytes]}" "$(b_per "${R[$w,idx_conn_bytes]}" "${R[$w,rows]}")" \
		"${R[$w,bucket_rows]}" "${R[$w,idx_bucket_bytes]}" \
		"$(b_per "${R[$w,idx_bucket_bytes]}" "${R[$w,bucket_rows]}")" \
		"$(b_per "${R[$w,idx_bucket_bytes]}" "${R[$w,active_ticks]}")"
done
log "  conn_part: the connections table and its five indexes (one row per connection lifetime,"
log "  rewritten in place while it lives: a cost per connection, not per tick); bucket_part: buckets"
log "  and buckets_time (a row per connection and 10 s bucket with traffic: this part grows with"
log "  time); bkt/act_ct: bucket bytes per active connection-tick of the whole store."
log ""
log "== The stores as recorded (every connection on the machine, neighbours included) =="
printf '%-6s %6s %8s %10s %10s %9s %9s %10s %9s %6s\n' workload rows gen_rows live_ct active_ct \
	seg_bytes seg/live seg/act idx_bytes ratio
for w in "${WL[@]}"; do
	[ "${R[$w,ok]}" = 1 ] || continue
	printf '%-6s %6s %8s %10s %10s %9s %9s %10s %9s %6s\n' "$w" "${R[$w,rows]}" "${R[$w,own_rows]}" \
		"${R[$w,live_ticks]}" "${R[$w,active_ticks]}" "${R[$w,segment_bytes]}" \
		"$(b_per "${R[$w,segment_bytes]}" "${R[$w,live_ticks]}")" \
		"$(b_per "${R[$w,segment_bytes]}" "${R[$w,active_ticks]}")" \
		"${R[$w,index_bytes]}" "${R[$w,compression_ratio]}"
done
log "  rows: connections in index.db, gen_rows: those of the generator; ratio: from tcptop-analyze info."
log ""
log "== What if: the own stream re-encoded other ways (steady state: segment bytes per active connection-tick) =="
printf '%-6s %7s %7s %7s %7s %7s %7s %7s %7s %7s\n' workload now no-kf blk10s kf-sort kf/30s kf/60s "60s+srt" no-rtt coalesc
for w in "${WL[@]}"; do
	[ "${R[$w,ok]}" = 1 ] || continue
	line=$(printf '%-6s' "$w")
	for i in own_kf5 own_nokf5 own_kf10 own_kf5_sorted own_b5_kf30 own_b5_kf60 own_b5_kf60_sorted \
		own_kf5_nortt own_kf5_coalesce; do
		line="$line $(printf '%7s' "$(b_per "${R[$w,$i,steady_bytes]}" "${R[$w,$i,steady_active_ticks]}")")"
	done
	echo "$line"
done
log "  now: as recorded (5 s blocks, each opening with a keyframe of every connection); no-kf: no"
log "  keyframes (blocks not decodable alone: the floor); blk10s: 10 s blocks (--flush 10s);"
log "  kf-sort: keyframe connections in id order (no format change); kf/30s, kf/60s: 5 s blocks but"
log "  a keyframe only every 30 / 60 s (a reader starts at the last keyframe before its window);"
log "  60s+srt: both; no-rtt: srtt/rttvar not stored (what RTT costs); coalesc: per tick one CONN"
log "  per connection with its final identity, and no SAMPLE for a state change alone (same tick"
log "  tables: checked, $(for w in "${WL[@]}"; do [ "${R[$w,ok]}" = 1 ] && printf '%s ' "${R[$w,coalesce_diffs]}"; done | sed 's/ $//' | tr ' ' '/') differing rows)."
log "  Steady = after the first block; a run of TIME s holds TIME/60 keyframes at kf/60s."
log ""
log "== CPU (% of one core; steady = after the first block) =="
printf '%-6s %10s %10s %12s %14s %10s %10s %12s\n' workload rec_total rec_steady rec_cpu_s \
	"rec_s/rec_hour" gen machine "other_cores"
for w in "${WL[@]}"; do
	[ "${R[$w,ok]}" = 1 ] || continue
	printf '%-6s %9s%% %9s%% %12s %14s %9s%% %9s%% %12s\n' "$w" "${R[$w,rec_pct]}" \
		"${R[$w,rec_pct_steady]}" "${R[$w,rec_cpu_s]}" "${R[$w,rec_cpu_s_per_h]}" \
		"${R[$w,gen_pct]}" "${R[$w,machine_pct]}" "${R[$w,other_cores]}"
done
log "  rec_total: recorder utime+stime / its age (start-up and BPF loading included);"
log "  rec_steady: the same from the end of the first block; rec_s/rec_hour: CPU-seconds per"
log "  recorded hour at the steady rate; gen: the generator (its eBPF program time included);"
log "  machine: all CPUs busy (100 = all $(nproc)); other_cores: the rest of the machine, in cores."
for w in "${WL[@]}"; do
	[ "${R[$w,ok]}" = 1 ] || continue
	if awk -v o="${R[$w,other_cores]}" 'BEGIN { exit !(o > 0.25) }'; then
		log "  NOTE: $w ran next to ${R[$w,other_cores]} cores of other work: rerun on a quiet machine to confirm."
	fi
	if [ $((R[$w,rows] - R[$w,own_rows])) -gt $((R[$w,rows] / 20)) ]; then
		log "  NOTE: $w: the store also holds $((R[$w,rows] - R[$w,own_rows])) connections of other processes:" \
			"left out of the own-connection numbers, included in the recorder's CPU and the index."
	fi
	if [ "${R[$w,ring_drops]}" != 0 ] || [ "${R[$w,socks_full]}" != 0 ]; then
		log "  NOTE: $w: the recorder lost events (ring_drops ${R[$w,ring_drops]}, socks_full ${R[$w,socks_full]})."
	fi
done
log ""
log "== Summary (machine-readable) =="
for w in "${WL[@]}"; do
	[ "${R[$w,ok]}" = 1 ] || continue
	echo "RESULT workload=$w time_s=$TIME recorded_s=${R[$w,rec_s]} format=$FORMAT" \
		"ticks=${R[$w,ticks]} own_conns=${R[$w,own_conns]}" \
		"own_live_conn_ticks=${R[$w,own_live_ticks]} own_active_conn_ticks=${R[$w,own_active_ticks]}" \
		"own_segment_bytes=${R[$w,own_kf5]}" \
		"seg_b_per_live_tick=$(b_per "${R[$w,own_kf5]}" "${R[$w,own_live_ticks]}")" \
		"seg_b_per_active_tick=$(b_per "${R[$w,own_kf5]}" "${R[$w,own_active_ticks]}")" \
		"steady_seg_b_per_live_tick=$(b_per "${R[$w,own_kf5_steady]}" "${R[$w,steady_own_live_ticks]}")" \
		"steady_seg_b_per_active_tick=$(b_per "${R[$w,own_kf5_steady]}" "${R[$w,steady_own_active_ticks]}")" \
		"own_compression_ratio=$(fdiv "${R[$w,own_kf5_raw]}" "${R[$w,own_kf5]}" %.2f)" \
		"$(for i in $RECODES; do
			[ "$i" = all_kf5 ] && continue
			printf 'steady_b_per_active_%s=%s ' "${i#own_}" \
				"$(b_per "${R[$w,$i,steady_bytes]}" "${R[$w,$i,steady_active_ticks]}")"
		done | sed 's/ $//')" \
		"store_rows=${R[$w,rows]} store_gen_rows=${R[$w,own_rows]} bucket_rows=${R[$w,bucket_rows]}" \
		"live_conn_ticks=${R[$w,live_ticks]} active_conn_ticks=${R[$w,active_ticks]}" \
		"index_conn_ticks=${R[$w,index_conn_ticks]} max_live=${R[$w,max_live]} blocks=${R[$w,blocks]}" \
		"segment_bytes=${R[$w,segment_bytes]} index_bytes=${R[$w,index_bytes]}" \
		"index_conn_part_bytes=${R[$w,idx_conn_bytes]} index_bucket_part_bytes=${R[$w,idx_bucket_bytes]}" \
		"store_seg_b_per_live_tick=$(b_per "${R[$w,segment_bytes]}" "${R[$w,live_ticks]}")" \
		"store_seg_b_per_active_tick=$(b_per "${R[$w,segment_bytes]}" "${R[$w,active_ticks]}")" \
		"idx_b_per_live_tick=$(b_per "${R[$w,index_bytes]}" "${R[$w,live_ticks]}")" \
		"idx_b_per_active_tick=$(b_per "${R[$w,index_bytes]}" "${R[$w,active_ticks]}")" \
		"raw_bytes=${R[$w,raw_bytes]} compression_ratio=${R[$w,compression_ratio]}" \
		"ev_conn=${R[$w,ev_conn]} kf_conn=${R[$w,kf_conn]} ev_sample=${R[$w,ev_sample]}" \
		"kf_sample=${R[$w,kf_sample]} ev_state=${R[$w,ev_state]} ev_reset=${R[$w,ev_reset]}" \
		"ev_close=${R[$w,ev_close]} sample_no_traffic=${R[$w,sample_no_traffic]}" \
		"sample_state_only=${R[$w,sample_state_only]} coalesce_table_diffs=${R[$w,coalesce_diffs]}" \
		"rec_cpu_s=${R[$w,rec_cpu_s]} rec_cpu_pct=${R[$w,rec_pct]} rec_cpu_pct_steady=${R[$w,rec_pct_steady]}" \
		"rec_cpu_s_per_hour=${R[$w,rec_cpu_s_per_h]} gen_cpu_pct=${R[$w,gen_pct]}" \
		"machine_busy_pct=${R[$w,machine_pct]} other_cores=${R[$w,other_cores]}" \
		"ring_drops=${R[$w,ring_drops]} socks_full=${R[$w,socks_full]}"
	echo "RESULT_ALLIN workload=$w recorded_s=${R[$w,rec_s]} allin_bytes=${R[$w,allin]}" \
		"allin_segment_bytes=${R[$w,allin_seg]} allin_index_bytes=${R[$w,allin_idx]}" \
		"allin_other_bytes=${R[$w,allin_other]} allin_mb_per_hour=${R[$w,allin_mb_h]}" \
		"steady_allin_mb_per_hour=${R[$w,steady_allin_mb_h]} allin_b_per_live_tick=${R[$w,allin_b_live]}" \
		"allin_b_per_active_tick=${R[$w,allin_b_act]} steady_allin_b_per_active_tick=${R[$w,steady_allin_b_act]}" \
		"conns=${R[$w,conns]} allin_b_per_conn=${R[$w,allin_b_conn]} steady_allin_b_per_conn=${R[$w,steady_allin_b_conn]}" \
		"live_wal_bytes=${R[$w,live_wal_bytes]} top_cpu_s=${R[$w,q_tcptop]}"
	if [ "${R[$w,nf]}" = 1 ]; then
		echo "RESULT_NFDUMP workload=$w maxlife_s=$NF_MAXLIFE records=${R[$w,nf_records]} files=${R[$w,nf_files]}" \
			"bytes=${R[$w,nf_bytes]} mb_per_hour=${R[$w,nf_mb_h]} own_records=${R[$w,nf_own_records]:-NA}" \
			"own_bytes=${R[$w,nf_own_bytes]:-NA} own_lz4_bytes=${R[$w,nf_own_lz4_bytes]:-NA}" \
			"own_mb_per_hour=${R[$w,nf_own_mb_h]} own_lz4_mb_per_hour=${R[$w,nf_own_lz4_mb_h]}" \
			"steady_model_own_mb_per_hour=${R[$w,nf_steady_mb_h]} own_b_per_record=${R[$w,nf_b_rec]}" \
			"own_lz4_b_per_record=${R[$w,nf_lz4_b_rec]} own_conns=${R[$w,nf_conns]}" \
			"own_b_per_conn=${R[$w,nf_b_conn]} own_lz4_b_per_conn=${R[$w,nf_lz4_b_conn]}" \
			"pcap_drops=${R[$w,sf_pcap_drops]:-NA} nfcapd_seq_errors=${R[$w,nf_seq_errors]:-NA}" \
			"forced_expiries=${R[$w,sf_forced]:-NA}" \
			"top_cpu_s=${R[$w,q_nfdump]}"
	fi
	echo "RESULT_GEN workload=$w ${R[$w,gen_done]:-}"
	echo "RESULT_INDEX workload=$w ${R[$w,index_pages]:-}"
done

[ "$FAILED" -eq 0 ] || exit 1
exit 0
