#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench_overhead.sh: what does tcptop-record cost the traffic it watches?
#
# iperf3 over loopback, two workloads:
#   small  TCP, small writes (-l 64 by default): one sock_send_length and one
#          sock_recv_length per 64 bytes, the worst case for the hot path
#   bulk   TCP, iperf3's default 128 KiB writes
# and three variants, interleaved A B C A B C ... so that drift on a shared
# machine hits all of them alike:
#   A  untraced
#   B  tcptop-record -f json -i 1s > /dev/null attached
#   C  tests/bench/bench_overhead.bt (bpftrace, same tracepoints, per-socket sums)
# Two numbers per run: throughput (Mbit/s received) and CPU per byte (iperf3's
# own user+sys time of client and server, per KiB moved). The second one is
# less sensitive to other load on the machine: time a process spends waiting
# for a CPU is not counted. Plus the CPU used by the recorder's (or
# bpftrace's) own process during the run.
# Then one extra run per workload and tool with kernel.bpf_stats_enabled=1 for
# the per-program cost (ns per event). Those runs are separate because the
# stats themselves cost two clock reads per program run and would tilt B.
#
# It reports; it never passes or fails on a number. Exit 0 when all runs were
# made, 1 on a runtime failure, 2 on bad usage, 77 when not root or a tool is
# missing. Nothing is installed; everything started is stopped on exit.
set -u

PROG=bench_overhead
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BT_SCRIPT="$HERE/bench_overhead.bt"

ROUNDS=3
TIME=5          # seconds per iperf3 run; the first one is warm-up (-O 1)
SMALL_LEN=64
BUDGET=280      # seconds; runs that would overshoot are skipped, and said so
PIN=1
WORKLOADS="small bulk"
RECORD=${TCPTOP_RECORD:-}

usage() {
	cat <<EOF
Usage: $0 [options]
Measure the throughput and CPU cost of tcptop-record (and of an equivalent
bpftrace script) on loopback iperf3 traffic, and the per-event cost of each
BPF program. Reports only: no pass/fail on numbers.

  -r, --rounds N      rounds of A B C per workload (default $ROUNDS, 1..50)
  -t, --time S        seconds per iperf3 run, first second is warm-up (default $TIME, 2..30)
  -l, --small-len B   write size of the small-message workload (default $SMALL_LEN)
  -w, --workload W    small, bulk or both (default both)
      --record PATH   tcptop-record binary (default: \$TCPTOP_RECORD, then
                      build-bench/ and build/ under the repository)
      --budget S      start no run that would end after S seconds (default $BUDGET)
      --no-pin        do not pin iperf3 server and client to CPUs 0 and 1
  -h, --help          this text

Needs root, iperf3, bpftrace, bpftool, jq, taskset, unshare (exit 77 without).
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
	-r | --rounds) [ $# -ge 2 ] || die_usage "$1 needs a value"; ROUNDS=$2; shift 2 ;;
	-t | --time) [ $# -ge 2 ] || die_usage "$1 needs a value"; TIME=$2; shift 2 ;;
	-l | --small-len) [ $# -ge 2 ] || die_usage "$1 needs a value"; SMALL_LEN=$2; shift 2 ;;
	-w | --workload) [ $# -ge 2 ] || die_usage "$1 needs a value"
		case $2 in
		small | bulk) WORKLOADS=$2 ;;
		both) WORKLOADS="small bulk" ;;
		*) die_usage "--workload: want small, bulk or both, got '$2'" ;;
		esac
		shift 2 ;;
	--record) [ $# -ge 2 ] || die_usage "$1 needs a value"; RECORD=$2; shift 2 ;;
	--budget) [ $# -ge 2 ] || die_usage "$1 needs a value"; BUDGET=$2; shift 2 ;;
	--no-pin) PIN=0; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die_usage "unknown option '$1'" ;;
	esac
done
in_range "$ROUNDS" 1 50 || die_usage "--rounds: want 1..50, got '$ROUNDS'"
in_range "$TIME" 2 30 || die_usage "--time: want 2..30, got '$TIME'"
in_range "$SMALL_LEN" 1 1048576 || die_usage "--small-len: want 1..1048576, got '$SMALL_LEN'"
in_range "$BUDGET" 10 3600 || die_usage "--budget: want 10..3600, got '$BUDGET'"

if [ "$(id -u)" -ne 0 ]; then
	echo "$PROG: needs root (loads eBPF programs, sets kernel.bpf_stats_enabled); skipped" >&2
	exit 77
fi
missing=
for t in iperf3 bpftrace bpftool jq taskset unshare mount timeout sysctl; do
	command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
	echo "$PROG: missing tool(s):$missing (Debian: apt-get install iperf3 bpftrace" \
		"bpftool jq util-linux procps); skipped" >&2
	exit 77
fi
if [ -z "$RECORD" ]; then
	for c in "$ROOT/build-bench/record/tcptop-record" "$ROOT/build/record/tcptop-record"; do
		if [ -x "$c" ]; then
			RECORD=$c
			break
		fi
	done
fi
if [ -z "$RECORD" ] || [ ! -x "$RECORD" ]; then
	echo "$PROG: tcptop-record not found (build it: cmake -S $ROOT -B $ROOT/build-bench" \
		"-DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build $ROOT/build-bench -j2," \
		"or pass --record PATH); skipped" >&2
	exit 77
fi
[ -r "$BT_SCRIPT" ] || { echo "$PROG: $BT_SCRIPT: not readable" >&2; exit 1; }
if [ ! -w /proc/sys/kernel/bpf_stats_enabled ]; then
	echo "$PROG: kernel.bpf_stats_enabled not available; skipped" >&2
	exit 77
fi

NCPU=$(nproc)
if [ "$PIN" -eq 1 ] && [ "$NCPU" -ge 2 ]; then
	PIN_SRV="taskset -c 0"
	PIN_CLI="taskset -c 1"
else
	PIN=0
	PIN_SRV=
	PIN_CLI=
fi

TMP=$(mktemp -d /tmp/tt-bench.XXXXXX) || exit 1
SRV_PID=
REC_PID=
BT_PID=
CLI_PID=
PORT=
STATS_ORIG=$(cat /proc/sys/kernel/bpf_stats_enabled)
STATS_TOUCHED=0
T0=$(date +%s)

log() { echo "$@"; }
warn() { echo "$PROG: $*" >&2; }
elapsed() { echo $(($(date +%s) - T0)); }

# Ask a process we started to stop, give it 5 s, then kill it.
stop_pid() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill -INT "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	stop_pid "$CLI_PID"
	stop_pid "$BT_PID"
	stop_pid "$REC_PID"
	stop_pid "$SRV_PID"
	CLI_PID=''
	BT_PID=''
	REC_PID=''
	SRV_PID=''
	if [ "$STATS_TOUCHED" -eq 1 ]; then
		sysctl -q -w kernel.bpf_stats_enabled="$STATS_ORIG" >/dev/null
		STATS_TOUCHED=0
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "$PROG: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# BPF program ids held open by a process (prog fds and link fds alike).
prog_ids_of() {
	grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -un
}

count_fds() { # pid, readlink target
	local n=0 f
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "$2" ] && n=$((n + 1))
	done
	echo "$n"
}

# Tracing and socket programs of other processes (another test's recorder or
# tracer): they add their own cost to whatever run they overlap.
foreign_progs() {
	local ours
	ours=$({
		[ -n "$REC_PID" ] && prog_ids_of "$REC_PID"
		[ -n "$BT_PID" ] && prog_ids_of "$BT_PID"
	} | paste -sd, -)
	bpftool prog show -j 2>/dev/null | jq --arg ours "[${ours}]" '
		($ours | fromjson) as $o
		| [ .[] | select(.type == "tracing" or .type == "raw_tracepoint" or .type == "tracepoint"
			or .type == "kprobe" or .type == "perf_event" or .type == "cgroup_skb"
			or .type == "sched_cls" or .type == "xdp")
		    | select(.id | IN($o[]) | not) ] | length' 2>/dev/null || echo "?"
}

# Before a run, give other tracers up to QUIET_WAIT seconds to go away, within
# QUIET_TOTAL seconds per benchmark and the budget.
QUIET_WAIT=5
QUIET_TOTAL=30
WAITED=0
RUN_COST=$((TIME + 4)) # one run plus attach and detach, for the budget
wait_quiet() {
	local t=0 f
	f=$(foreign_progs)
	while [ "$f" != 0 ] && [ "$t" -lt "$QUIET_WAIT" ] && [ "$WAITED" -lt "$QUIET_TOTAL" ] &&
		[ $(($(elapsed) + RUN_COST + 1)) -le "$BUDGET" ]; do
		sleep 1
		t=$((t + 1))
		WAITED=$((WAITED + 1))
		f=$(foreign_progs)
	done
}

start_server() {
	local port
	for _ in 1 2 3 4 5; do
		port=$((20000 + (RANDOM % 20000)))
		$PIN_SRV iperf3 -s -B 127.0.0.1 -p "$port" >"$TMP/server.log" 2>&1 &
		SRV_PID=$!
		sleep 0.5
		if kill -0 "$SRV_PID" 2>/dev/null; then
			PORT=$port
			return 0
		fi
		wait "$SRV_PID" 2>/dev/null
		SRV_PID=
	done
	warn "iperf3 server does not start: $(tail -n1 "$TMP/server.log")"
	return 1
}

start_recorder() {
	"$RECORD" -f json -i 1s >/dev/null 2>"$TMP/record.err" &
	REC_PID=$!
	# attached = its 7 tp_btf links and 2 cgroup_skb links exist
	for _ in $(seq 100); do
		kill -0 "$REC_PID" 2>/dev/null || break
		if [ "$(count_fds "$REC_PID" 'anon_inode:bpf_link')" -ge 9 ]; then
			sleep 0.5
			return 0
		fi
		sleep 0.1
	done
	warn "tcptop-record did not attach: $(tail -n2 "$TMP/record.err" | tr '\n' ' ')"
	stop_pid "$REC_PID"
	REC_PID=
	return 1
}

stop_recorder() {
	stop_pid "$REC_PID"
	REC_PID=
}

start_bpftrace() {
	local nprobes
	nprobes=$(grep -cE '^(tracepoint|interval):' "$BT_SCRIPT")
	if [ -d /sys/kernel/tracing/events/sock ]; then
		bpftrace "$BT_SCRIPT" >"$TMP/bt.out" 2>"$TMP/bt.err" &
	else
		# Classic tracepoints need tracefs, which is not mounted at boot here.
		# Mount it only in bpftrace's own mount namespace: the host's mount
		# table stays as it was, and nothing is left to unmount.
		# shellcheck disable=SC2016 # $1 is expanded by the inner sh
		unshare -m --propagation private sh -c \
			'mount -t tracefs nodev /sys/kernel/tracing && exec bpftrace "$1"' sh "$BT_SCRIPT" \
			>"$TMP/bt.out" 2>"$TMP/bt.err" &
	fi
	BT_PID=$!
	for _ in $(seq 200); do
		kill -0 "$BT_PID" 2>/dev/null || break
		if [ "$(count_fds "$BT_PID" 'anon_inode:bpf-prog')" -ge "$nprobes" ] &&
			grep -q '^Attaching' "$TMP/bt.out" 2>/dev/null; then
			sleep 1 # the last probe attaches right after its program loads
			return 0
		fi
		sleep 0.1
	done
	warn "bpftrace did not attach: $(grep -v RLIMIT_MEMLOCK "$TMP/bt.err" | tail -n2 | tr '\n' ' ')"
	stop_pid "$BT_PID"
	BT_PID=
	return 1
}

stop_bpftrace() {
	stop_pid "$BT_PID"
	BT_PID=
}

# One iperf3 client run, in the background so that the EXIT trap can stop it.
# Sets MBPS_R and CPUKB_R ("NA" on failure). CPUKB_R: (client + server CPU
# utilisation as iperf3 measures it with getrusage) / bytes per second
# received, in ns of CPU per KiB moved.
run_client() { # extra iperf3 args...
	local out="$TMP/client.json" res
	MBPS_R=NA
	CPUKB_R=NA
	for _ in 1 2; do
		# shellcheck disable=SC2086 # PIN_CLI is a command prefix or empty
		timeout $((TIME + 20)) $PIN_CLI iperf3 -c 127.0.0.1 -p "$PORT" -t $((TIME - 1)) -O 1 \
			"$@" -J >"$out" 2>"$TMP/client.err" &
		CLI_PID=$!
		wait "$CLI_PID"
		CLI_PID=
		res=$(jq -r '
			.end.sum_received.bits_per_second as $bps
			| .end.cpu_utilization_percent as $c
			| if $bps == null or $bps <= 0 then empty
			  else "\($bps) \(($c.host_total // 0) + ($c.remote_total // 0))" end' \
			"$out" 2>/dev/null)
		if [ -n "$res" ]; then
			read -r MBPS_R CPUKB_R < <(echo "$res" | awk '{
				printf "%.1f %.1f\n", $1 / 1e6, ($2 / 100) * 1e9 / ($1 / 8 / 1024) }')
			return 0
		fi
		# "the server is busy" right after the previous test: wait, retry once
		sleep 1
	done
	warn "iperf3 client failed: $(jq -r '.error // empty' "$out" 2>/dev/null)$(tail -n1 "$TMP/client.err")"
}

# CPU time (user + system, in clock ticks) a process has used so far
proc_ticks() {
	if [ -z "$1" ] || [ ! -r "/proc/$1/stat" ]; then
		echo NA
		return
	fi
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

median() { # numbers as arguments, NA ignored
	printf '%s\n' "$@" | grep -v '^NA$' | sort -g | awk '
		{ v[NR] = $1 }
		END {
			if (NR == 0) { print "NA"; exit }
			if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2]
			else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
		}'
}

pct() { # a b -> 100*a/b
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "NA" || b == "NA" || b + 0 == 0) print "NA"; else printf "%.1f\n", 100 * a / b }'
}

# "id name run_time_ns run_cnt" for each program a process holds
prog_stats() { # pid
	local ids
	ids=$(prog_ids_of "$1" | paste -sd, -)
	[ -n "$ids" ] || return 0
	bpftool prog show -j 2>/dev/null | jq -r --arg ids "[$ids]" '
		($ids | fromjson) as $o
		| .[] | select(.id | IN($o[]))
		| "\(.id) \(.name) \(.run_time_ns // 0) \(.run_cnt // 0)"'
}

wl_args() {
	case $1 in
	small) echo "-l $SMALL_LEN" ;;
	bulk) echo "" ;;
	esac
}
wl_desc() {
	case $1 in
	small) echo "iperf3 TCP, ${SMALL_LEN}-byte writes" ;;
	bulk) echo "iperf3 TCP, default 128 KiB writes" ;;
	esac
}
variant_name() {
	case $1 in
	A) echo "untraced" ;;
	B) echo "tcptop-record" ;;
	C) echo "bpftrace" ;;
	esac
}

# ---------------------------------------------------------------------------
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
log "tcptop overhead benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
log "machine: $NCPU CPUs, Linux $(uname -r), ${CPU_MODEL:-unknown CPU}"
log "recorder: $RECORD"
log "$(bpftrace --version 2>/dev/null), $(iperf3 --version 2>/dev/null | head -n1)"
log "plan: $ROUNDS rounds of A (untraced) B (tcptop-record) C (bpftrace) for {$WORKLOADS}," \
	"$TIME s per run (1 s warm-up); pinning: $([ "$PIN" -eq 1 ] &&
		echo 'server on CPU 0, client on CPU 1' || echo off)"
log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
log ""

start_server || exit 1

declare -A MBPS    # MBPS[workload,variant,round]
declare -A CPUKB   # CPUKB[workload,variant,round]: CPU ns per KiB
declare -A FOREIGN # FOREIGN[workload,variant,round]: other tracing programs present
declare -A TOOLCPU # TOOLCPU[workload,variant,round]: the tool's own process, % of one CPU
SKIPPED=0
FAILED=0

for r in $(seq "$ROUNDS"); do
	for w in $WORKLOADS; do
		for v in A B C; do
			if [ $(($(elapsed) + RUN_COST)) -gt "$BUDGET" ]; then
				SKIPPED=$((SKIPPED + 1))
				continue
			fi
			wait_quiet
			case $v in
			B) start_recorder || { FAILED=1; continue; } ;;
			C) start_bpftrace || { FAILED=1; continue; } ;;
			esac
			f=$(foreign_progs)
			case $v in
			A) tpid= ;;
			B) tpid=$REC_PID ;;
			C) tpid=$BT_PID ;;
			esac
			k0=$(proc_ticks "$tpid")
			t_start=$(date +%s%N)
			# shellcheck disable=SC2046 # the args are words
			run_client $(wl_args "$w")
			mbps=$MBPS_R
			cpukb=$CPUKB_R
			t_end=$(date +%s%N)
			k1=$(proc_ticks "$tpid")
			tcpu=$(awk -v a="$k0" -v b="$k1" -v hz="$CLK_TCK" -v w="$((t_end - t_start))" 'BEGIN {
				if (a == "NA" || b == "NA") print "NA"; else printf "%.1f\n", 100 * (b - a) / hz / (w / 1e9) }')
			case $v in
			B) stop_recorder ;;
			C) stop_bpftrace ;;
			esac
			MBPS[$w,$v,$r]=$mbps
			CPUKB[$w,$v,$r]=$cpukb
			FOREIGN[$w,$v,$r]=$f
			TOOLCPU[$w,$v,$r]=$tcpu
			printf '[%4ss] round %d/%d  %-5s %s %-13s %10s Mbit/s  %9s CPU ns/KiB  tool CPU %4s %%  (other tracers: %s)\n' \
				"$(elapsed)" "$r" "$ROUNDS" "$w" "$v" "$(variant_name "$v")" "$mbps" "$cpukb" "$tcpu" "$f"
		done
	done
done

# ---------------------------------------------------------------------------
# Per-program cost: one run per workload and tool with bpf_stats_enabled=1.
declare -A COST # COST[workload,tool]: lines "name ns_per_event events_per_s cpu_pct run_cnt"
declare -A STATS_MBPS
stats_run() { # workload tool
	local w=$1 tool=$2 pid before after t_start t_end mbps cpukb
	if [ $(($(elapsed) + RUN_COST)) -gt "$BUDGET" ]; then
		SKIPPED=$((SKIPPED + 1))
		return 0
	fi
	wait_quiet
	case $tool in
	tcptop) start_recorder || { FAILED=1; return 0; }; pid=$REC_PID ;;
	bpftrace) start_bpftrace || { FAILED=1; return 0; }; pid=$BT_PID ;;
	esac
	before=$(prog_stats "$pid")
	t_start=$(date +%s%N)
	# shellcheck disable=SC2046 # the args are words
	run_client $(wl_args "$w")
	mbps=$MBPS_R
	cpukb=$CPUKB_R
	t_end=$(date +%s%N)
	after=$(prog_stats "$pid")
	case $tool in
	tcptop) stop_recorder ;;
	bpftrace) stop_bpftrace ;;
	esac
	STATS_MBPS[$w,$tool]=$mbps
	COST[$w,$tool]=$(awk -v wall="$((t_end - t_start))" '
		NR == FNR { t0[$1] = $3; c0[$1] = $4; next }
		{
			name = $2
			if (name == "1") name = "interval" # bpftrace names its interval probe so
			dt = $3 - t0[$1]; dc = $4 - c0[$1]
			if (dc > 0)
				printf "%s %.1f %.0f %.2f %d\n", name, dt / dc, dc / (wall / 1e9), 100 * dt / wall, dc
			else
				printf "%s NA 0 0.00 0\n", name
		}' <(echo "$before") <(echo "$after"))
	printf '[%4ss] stats  %-5s %-8s %10s Mbit/s  %9s CPU ns/KiB  (bpf_stats_enabled=1)\n' \
		"$(elapsed)" "$w" "$tool" "$mbps" "$cpukb"
}

STATS_TOUCHED=1
sysctl -q -w kernel.bpf_stats_enabled=1 >/dev/null
for w in $WORKLOADS; do
	stats_run "$w" tcptop
	stats_run "$w" bpftrace
done
sysctl -q -w kernel.bpf_stats_enabled="$STATS_ORIG" >/dev/null
STATS_TOUCHED=0

stop_pid "$SRV_PID"
SRV_PID=

# ---------------------------------------------------------------------------
log ""
log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); total $(elapsed) s"
[ "$SKIPPED" -gt 0 ] && log "NOTE: $SKIPPED run(s) skipped to stay within the ${BUDGET} s budget"
[ "$WAITED" -gt 0 ] && log "NOTE: waited $WAITED s in total for other tracers to detach"
log ""
log "== Throughput and CPU cost: median over rounds =="
log "   Mbit/s received (higher is better); CPU ns/KiB = iperf3 client+server CPU time"
log "   per KiB moved (lower is better); tool CPU = the recorder's or bpftrace's own process"
log "   (user space, % of one CPU); other tracers = BPF tracing/socket programs of other"
log "   processes present during each run (they tax every variant they overlap)"
declare -A MED MEDC PAIRED TMED
for w in $WORKLOADS; do
	log ""
	log "$w: $(wl_desc "$w")"
	for v in A B C; do
		vals=()
		cvals=()
		tvals=()
		fr=()
		for r in $(seq "$ROUNDS"); do
			vals+=("${MBPS[$w,$v,$r]:-NA}")
			cvals+=("${CPUKB[$w,$v,$r]:-NA}")
			tvals+=("${TOOLCPU[$w,$v,$r]:-NA}")
			fr+=("${FOREIGN[$w,$v,$r]:--}")
		done
		MED[$w,$v]=$(median "${vals[@]}")
		MEDC[$w,$v]=$(median "${cvals[@]}")
		tmed=-
		[ "$v" = A ] || tmed=$(median "${tvals[@]}")
		TMED[$w,$v]=$tmed
		printf '  %s %-13s %10s Mbit/s %9s CPU ns/KiB  tool CPU %4s %%   runs: %s   other tracers: %s\n' \
			"$v" "$(variant_name "$v")" "${MED[$w,$v]}" "${MEDC[$w,$v]}" "$tmed" "${vals[*]}" "${fr[*]}"
	done
	pb=()
	for r in $(seq "$ROUNDS"); do
		pb+=("$(pct "${MBPS[$w,B,$r]:-NA}" "${MBPS[$w,A,$r]:-NA}")")
	done
	PAIRED[$w]=$(median "${pb[@]}")
	printf '  throughput  B/A %6s %%   C/A %6s %%   B/C %6s %%   (B/A per round: %s, median %s %%)\n' \
		"$(pct "${MED[$w,B]}" "${MED[$w,A]}")" "$(pct "${MED[$w,C]}" "${MED[$w,A]}")" \
		"$(pct "${MED[$w,B]}" "${MED[$w,C]}")" "${pb[*]}" "${PAIRED[$w]}"
	printf '  CPU per KiB B/A %6s %%   C/A %6s %%   B/C %6s %%\n' \
		"$(pct "${MEDC[$w,B]}" "${MEDC[$w,A]}")" "$(pct "${MEDC[$w,C]}" "${MEDC[$w,A]}")" \
		"$(pct "${MEDC[$w,B]}" "${MEDC[$w,C]}")"
done

log ""
log "== Per-event cost (one run per tool with kernel.bpf_stats_enabled=1) =="
log "   ns/event = run_time_ns / run_cnt over the run, as the kernel measures it (the"
log "   measurement adds its own clock reads); cpu% = program time / wall time, 100 = one core"
for w in $WORKLOADS; do
	for tool in tcptop bpftrace; do
		[ -n "${COST[$w,$tool]:-}" ] || continue
		log ""
		log "$w, $tool (${STATS_MBPS[$w,$tool]} Mbit/s during this run):"
		printf '  %-18s %10s %12s %8s\n' program ns/event events/s cpu%
		echo "${COST[$w,$tool]}" | while read -r name ns eps cpu _; do
			printf '  %-18s %10s %12s %8s\n' "$name" "$ns" "$eps" "$cpu"
		done
	done
done

log ""
log "== Summary (machine-readable) =="
for w in $WORKLOADS; do
	echo "RESULT workload=$w args=\"$(wl_args "$w")\" rounds=$ROUNDS time_s=$TIME" \
		"a_mbps=${MED[$w,A]} b_mbps=${MED[$w,B]} c_mbps=${MED[$w,C]}" \
		"b_over_a_pct=$(pct "${MED[$w,B]}" "${MED[$w,A]}")" \
		"c_over_a_pct=$(pct "${MED[$w,C]}" "${MED[$w,A]}")" \
		"b_over_c_pct=$(pct "${MED[$w,B]}" "${MED[$w,C]}")" \
		"paired_b_over_a_pct=${PAIRED[$w]}" \
		"a_cpu_ns_per_kib=${MEDC[$w,A]} b_cpu_ns_per_kib=${MEDC[$w,B]} c_cpu_ns_per_kib=${MEDC[$w,C]}" \
		"b_tool_cpu_pct=${TMED[$w,B]} c_tool_cpu_pct=${TMED[$w,C]}"
done
for w in $WORKLOADS; do
	for tool in tcptop bpftrace; do
		[ -n "${COST[$w,$tool]:-}" ] || continue
		echo "${COST[$w,$tool]}" | while read -r name ns eps cpu runs; do
			echo "RESULT_PROG workload=$w tool=$tool prog=$name ns_per_event=$ns" \
				"events_per_s=$eps cpu_pct=$cpu run_cnt=$runs"
		done
	done
done

[ "$FAILED" -eq 0 ] || exit 1
exit 0
