#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench_overhead.sh: what does tcptop-record cost the traffic it watches?
#
# Two loopback TCP workloads, both pinned (server on CPU 0, client on CPU 1):
#   small  sockperf throughput mode, 64-byte messages (TCP_NODELAY: a segment
#          per message), the worst case for anything that runs per packet
#   bulk   iperf3, its default 128 KiB writes
# Five configurations, each round in a rotated order so that drift on a shared
# machine hits all of them alike:
#   untraced   nothing attached
#   floor      bench_floor: empty programs on exactly the recorder's hooks
#              (cgroup_skb ingress and egress on the cgroup2 root, tp_btf on
#              inet_sock_set_state, tcp_destroy_sock, tcp_send_reset,
#              tcp_receive_reset, tcp_retransmit_skb): the price of the hooks
#   rec-store  tcptop-record -q -o DIR (records, prints nothing)
#   rec-json   tcptop-record --format json --no-store > /dev/null
#   bpftrace   bench_overhead.bt: per-message tracepoints, per-socket sums
# Per run: throughput, and the tool's own CPU (utime + stime of its process;
# the programs run in the context of the traffic and are not in it).
# Ratios are paired: each configuration against the untraced run of the same
# round, and the recorder against floor and bpftrace of the same round.
# Then one extra run per workload with kernel.bpf_stats_enabled=1 for
# run_cnt and run_time_ns of each of the recorder's programs (and the floor's);
# separate, because the stats add two clock reads per program run.
#
# It reports; it never passes or fails on a number. Exit 0 when every run was
# made, 1 if some failed, 2 on bad usage, 77 when not root or a tool is missing.
set -euo pipefail

PROG=bench_overhead
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/bench/bench_lib.sh
. "$HERE/bench_lib.sh"
BT_SCRIPT="$HERE/bench_overhead.bt"

ROUNDS=${ROUNDS:-21}
SECS=${SECS:-3}
MSG=64
WORKLOADS="small bulk"
ALL_CONFIGS="untraced floor rec-store rec-json bpftrace"
CONFIGS=$ALL_CONFIGS
PIN=1
STATS=1
BUILD_ARG=

usage() {
	cat <<EOF
Usage: $0 [options] [BUILD_DIR]
Throughput of loopback TCP traffic untraced, under empty programs on the
recorder's hooks (floor), under tcptop-record (storing, and streaming JSON) and
under an equivalent bpftrace script; the tools' own CPU; bpf_stats per program.
Reports only: no pass/fail on numbers.

  -r, --rounds N      interleaved rounds (default \$ROUNDS or 21; 1..200)
  -t, --time S        seconds per workload run (default \$SECS or 3; 1..60;
                      iperf3 runs one more second, not counted)
  -m, --msg-size B    sockperf message size (default $MSG)
  -w, --workload W    small, bulk or both (default both)
  -c, --configs LIST  comma-separated subset of: ${ALL_CONFIGS// /,}
                      (untraced is always run: the ratios need it)
      --no-stats      skip the bpf_stats run
      --no-pin        do not pin servers to CPU 0 and clients to CPU 1
  -h, --help          this text
BUILD_DIR (or \$TCPTOP_BUILD) holds record/tcptop-record and
tests/bench/bench_floor (default: build/ in the repository).

Needs root, sockperf, iperf3, bpftrace, bpftool, jq, taskset, unshare.
Default run: about 20 minutes.
EOF
}


while [ $# -gt 0 ]; do
	case $1 in
	-r | --rounds) [ $# -ge 2 ] || die_usage "$1 needs a value"; ROUNDS=$2; shift 2 ;;
	-t | --time) [ $# -ge 2 ] || die_usage "$1 needs a value"; SECS=$2; shift 2 ;;
	-m | --msg-size) [ $# -ge 2 ] || die_usage "$1 needs a value"; MSG=$2; shift 2 ;;
	-w | --workload) [ $# -ge 2 ] || die_usage "$1 needs a value"
		case $2 in
		small | bulk) WORKLOADS=$2 ;;
		both) WORKLOADS="small bulk" ;;
		*) die_usage "--workload: want small, bulk or both, got '$2'" ;;
		esac
		shift 2 ;;
	-c | --configs) [ $# -ge 2 ] || die_usage "$1 needs a value"
		CONFIGS=untraced
		for c in ${2//,/ }; do
			[[ " $ALL_CONFIGS " == *" $c "* ]] || die_usage "--configs: unknown '$c'"
			[ "$c" = untraced ] || CONFIGS="$CONFIGS $c"
		done
		shift 2 ;;
	--no-stats) STATS=0; shift ;;
	--no-pin) PIN=0; shift ;;
	-h | --help) usage; exit 0 ;;
	-*) die_usage "unknown option '$1'" ;;
	*) [ -z "$BUILD_ARG" ] || die_usage "one build directory only"; BUILD_ARG=$1; shift ;;
	esac
done
in_range "$ROUNDS" 1 200 || die_usage "rounds: want 1..200, got '$ROUNDS'"
in_range "$SECS" 1 60 || die_usage "time: want 1..60, got '$SECS'"
in_range "$MSG" 1 65536 || die_usage "--msg-size: want 1..65536, got '$MSG'"

bl_need_root "loads eBPF programs, sets kernel.bpf_stats_enabled"
bl_need_tools sockperf iperf3 bpftrace bpftool jq taskset unshare mount timeout sysctl
bl_find_build "$BUILD_ARG"
RECORD=$BUILD/record/tcptop-record
FLOOR=$BUILD/tests/bench/bench_floor
bl_need_bin "$RECORD" "$FLOOR"
[ -r "$BT_SCRIPT" ] || { echo "$PROG: $BT_SCRIPT: not readable" >&2; exit 1; }
if [ ! -w /proc/sys/kernel/bpf_stats_enabled ]; then
	echo "$PROG: kernel.bpf_stats_enabled not available; skipped" >&2
	exit 77
fi

if [ "$PIN" -eq 1 ] && [ "$(nproc)" -ge 2 ]; then
	PIN_SRV=(taskset -c 0)
	PIN_CLI=(taskset -c 1)
else
	PIN=0
	PIN_SRV=()
	PIN_CLI=()
fi

TMP=$(mktemp -d /tmp/tt-bench-overhead.XXXXXX)
SP_PID=''
IP_PID=''
TOOL_PID=''
CLI_PID=''
SP_PORT=''
IP_PORT=''
STATS_ORIG=$(cat /proc/sys/kernel/bpf_stats_enabled)
STATS_TOUCHED=0
FAILED=0

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	bl_stop_pid "$CLI_PID" 5
	bl_stop_pid "$TOOL_PID" 10
	bl_stop_pid "$SP_PID" 5
	bl_stop_pid "$IP_PID" 5
	CLI_PID=''
	TOOL_PID=''
	SP_PID=''
	IP_PID=''
	if [ "$STATS_TOUCHED" -eq 1 ]; then
		sysctl -q -w kernel.bpf_stats_enabled="$STATS_ORIG" >/dev/null || true
		STATS_TOUCHED=0
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "$PROG: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE # stdout gone (e.g. piped into head): still clean up

free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		if ! ss -Htan "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
}

start_servers() {
	local i
	SP_PORT=$(free_port)
	"${PIN_SRV[@]}" sockperf sr --tcp -i 127.0.0.1 -p "$SP_PORT" >"$TMP/sockperf-sr.log" 2>&1 &
	SP_PID=$!
	IP_PORT=$(free_port)
	"${PIN_SRV[@]}" iperf3 -s -B 127.0.0.1 -p "$IP_PORT" >"$TMP/iperf3-s.log" 2>&1 &
	IP_PID=$!
	for ((i = 0; i < 50; i++)); do
		if ss -Htln "sport = :$SP_PORT" | grep -q . && ss -Htln "sport = :$IP_PORT" | grep -q .; then
			return 0
		fi
		if ! kill -0 "$SP_PID" 2>/dev/null || ! kill -0 "$IP_PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	bl_warn "servers do not start: $(tail -n1 "$TMP/sockperf-sr.log") $(tail -n1 "$TMP/iperf3-s.log")"
	return 1
}

# Start the tool of a configuration in the background; TOOL_PID (empty for
# untraced). 0 once it is attached.
start_tool() { # config run-id
	local i nprobes
	TOOL_PID=''
	case $1 in
	untraced) return 0 ;;
	floor)
		"$FLOOR" >"$TMP/tool.out" 2>"$TMP/tool.err" &
		TOOL_PID=$!
		for ((i = 0; i < 100; i++)); do
			grep -q '^attached' "$TMP/tool.out" 2>/dev/null && return 0
			kill -0 "$TOOL_PID" 2>/dev/null || break
			sleep 0.1
		done
		;;
	rec-store)
		rm -rf "$TMP/store"
		"$RECORD" -q -o "$TMP/store" >"$TMP/tool.out" 2>"$TMP/tool.err" &
		TOOL_PID=$!
		bl_wait_links "$TOOL_PID" 20 && return 0
		;;
	rec-json)
		"$RECORD" --format json --no-store >/dev/null 2>"$TMP/tool.err" &
		TOOL_PID=$!
		bl_wait_links "$TOOL_PID" 20 && return 0
		;;
	bpftrace)
		nprobes=$(grep -cE '^(tracepoint|interval):' "$BT_SCRIPT")
		if [ -d /sys/kernel/tracing/events/sock ]; then
			bpftrace "$BT_SCRIPT" >"$TMP/tool.out" 2>"$TMP/tool.err" &
		else
			# Classic tracepoints need tracefs, not mounted at boot here. Mount
			# it in bpftrace's own mount namespace: the host's mount table
			# stays as it was. unshare and sh exec: the pid is bpftrace's.
			# shellcheck disable=SC2016 # $1 is expanded by the inner sh
			unshare -m --propagation private sh -c \
				'mount -t tracefs nodev /sys/kernel/tracing && exec bpftrace "$1"' sh \
				"$BT_SCRIPT" >"$TMP/tool.out" 2>"$TMP/tool.err" &
		fi
		TOOL_PID=$!
		for ((i = 0; i < 300; i++)); do
			kill -0 "$TOOL_PID" 2>/dev/null || break
			if [ "$(bl_count_fds "$TOOL_PID" 'anon_inode:bpf-prog')" -ge "$nprobes" ] &&
				grep -q '^Attaching' "$TMP/tool.out" 2>/dev/null; then
				sleep 1 # the last probe attaches right after its program loads
				return 0
			fi
			sleep 0.1
		done
		;;
	esac
	bl_warn "$1 did not attach (run $2): $({ grep -v RLIMIT_MEMLOCK "$TMP/tool.err" || true; } |
		tail -n2 | tr '\n' ' ')"
	bl_stop_pid "$TOOL_PID"
	TOOL_PID=''
	return 1
}

stop_tool() {
	bl_stop_pid "$TOOL_PID" 10
	TOOL_PID=''
	rm -rf "$TMP/store"
}

# One workload run, client in the background so that the EXIT trap can stop it.
# Sets RESULT: messages/s (small) or Mbit/s received (bulk), NA on failure.
run_workload() { # workload
	local cout=$TMP/client.out rc
	RESULT=NA
	case $1 in
	small)
		timeout $((SECS + 30)) "${PIN_CLI[@]}" sockperf tp --tcp -i 127.0.0.1 -p "$SP_PORT" \
			-m "$MSG" -t "$SECS" >"$cout" 2>&1 &
		CLI_PID=$!
		rc=0
		wait "$CLI_PID" || rc=$?
		CLI_PID=''
		RESULT=$(sed -n 's/.*Summary: Message Rate is \([0-9.]*\) .*/\1/p' "$cout" | tail -n1)
		;;
	bulk)
		timeout $((SECS + 30)) "${PIN_CLI[@]}" iperf3 -c 127.0.0.1 -p "$IP_PORT" -t "$SECS" \
			-O 1 -J >"$cout" 2>&1 &
		CLI_PID=$!
		rc=0
		wait "$CLI_PID" || rc=$?
		CLI_PID=''
		RESULT=$(jq -r '.end.sum_received.bits_per_second // empty | . / 1e6' "$cout" \
			2>/dev/null || true)
		;;
	esac
	if [ -z "$RESULT" ]; then
		RESULT=NA
		bl_warn "$1 client failed (exit $rc): $(tail -n2 "$cout" | tr '\n' ' ')"
		FAILED=1
		# iperf3 answers "the server is busy" just after a failed test
		sleep 1
	fi
}

wl_unit() { [ "$1" = small ] && echo "msg/s" || echo "Mbit/s"; }
wl_digits() { [ "$1" = small ] && echo 0 || echo 1; }
wl_desc() {
	case $1 in
	small) echo "sockperf tp --tcp -m $MSG, ${SECS} s per run (messages per second sent)" ;;
	bulk) echo "iperf3 TCP, 128 KiB writes, ${SECS} s per run after 1 s warm-up (Mbit/s received)" ;;
	esac
}
cfg_desc() {
	case $1 in
	untraced) echo "nothing attached" ;;
	floor) echo "bench_floor: empty cgroup_skb in/egress + 5 empty tp_btf" ;;
	rec-store) echo "tcptop-record -q -o DIR" ;;
	rec-json) echo "tcptop-record --format json --no-store > /dev/null" ;;
	bpftrace) echo "bpftrace bench_overhead.bt (per-message tracepoints)" ;;
	esac
}

# ---------------------------------------------------------------------------
bl_machine_info "tcptop overhead benchmark (tests/bench/bench_overhead.sh)"
echo "tools:    $(sockperf --version 2>&1 | head -n1), $(iperf3 --version 2>/dev/null | head -n1 |
	cut -d' ' -f1-2), $(bpftrace --version 2>/dev/null)"
echo "plan:     $ROUNDS rounds x {$CONFIGS} (order rotated each round) x {$WORKLOADS};" \
	"$SECS s per run; pinning: $([ "$PIN" -eq 1 ] && echo 'servers CPU 0, clients CPU 1' ||
		echo off)"
echo "          tool CPU = utime + stime of the tool's process during the run (the"
echo "          programs run in the traffic's context and are not in it)"
echo ""

start_servers
ACTIVE_WL=$WORKLOADS

declare -A VAL     # VAL[workload,config,round]
declare -A TCPU    # TCPU[workload,config,round]: tool CPU s, utime+stime
declare -A TSCHED  # TSCHED[workload,config,round]: tool CPU s, schedstat
declare -A FOREIGN # FOREIGN[config,round]
read -ra CFG_LIST <<<"$CONFIGS"
read -ra WL_LIST <<<"$ACTIVE_WL"

for ((r = 1; r <= ROUNDS; r++)); do
	read -ra order <<<"$(bl_rotate $(((r - 1) % ${#CFG_LIST[@]})) "${CFG_LIST[@]}")"
	if [ $((r % 2)) -eq 0 ]; then
		wl_order=$(printf '%s\n' "${WL_LIST[@]}" | tac | paste -sd' ' -)
	else
		wl_order=${WL_LIST[*]}
	fi
	for c in "${order[@]}"; do
		if ! start_tool "$c" "$r"; then
			FAILED=1
			continue
		fi
		FOREIGN[$c,$r]=$(bl_foreign_progs "$TOOL_PID")
		for w in $wl_order; do
			c0=$(bl_cpu "$TOOL_PID")
			run_workload "$w"
			c1=$(bl_cpu "$TOOL_PID")
			read -r tcpu tsched <<<"$(bl_cpu_delta "$c0" "$c1")"
			[ -n "$TOOL_PID" ] || { tcpu=-; tsched=-; }
			VAL[$w,$c,$r]=$RESULT
			TCPU[$w,$c,$r]=$tcpu
			TSCHED[$w,$c,$r]=$tsched
			printf '[%5ss] round %2d/%d  %-9s %-5s %14s %-6s  tool CPU %6s s (sched %7s s)  other tracers: %s\n' \
				"$(bl_elapsed)" "$r" "$ROUNDS" "$c" "$w" "$(bl_num "$RESULT" "$(wl_digits "$w")")" "$(wl_unit "$w")" \
				"$tcpu" "$tsched" "${FOREIGN[$c,$r]}"
		done
		if [ -n "$TOOL_PID" ] && ! kill -0 "$TOOL_PID" 2>/dev/null; then
			bl_warn "$c exited during the run: $(tail -n2 "$TMP/tool.err" | tr '\n' ' ')"
			FAILED=1
		fi
		stop_tool
	done
done

# ---------------------------------------------------------------------------
# bpf_stats: one run per workload for the recorder (-q -o) and the floor.
declare -A PSTATS # PSTATS[workload,config]: lines "id type name dtime dcnt wall_ns"
if [ "$STATS" -eq 1 ]; then
	STATS_TOUCHED=1
	sysctl -q -w kernel.bpf_stats_enabled=1 >/dev/null
	for c in rec-store floor; do
		start_tool "$c" stats || { FAILED=1; continue; }
		for w in $ACTIVE_WL; do
			before=$(bl_prog_stats "$TOOL_PID")
			t0=$(date +%s%N)
			run_workload "$w"
			t1=$(date +%s%N)
			after=$(bl_prog_stats "$TOOL_PID")
			PSTATS[$w,$c]=$(awk -v wall=$((t1 - t0)) '
				NR == FNR { t[$1] = $4; n[$1] = $5; next }
				{ printf "%s %s %s %.0f %.0f %.0f\n", $1, $2, $3, $4 - t[$1], $5 - n[$1], wall }' \
				<(echo "$before") <(echo "$after"))
			printf '[%5ss] stats     %-9s %-5s %14s %-6s  (kernel.bpf_stats_enabled=1)\n' \
				"$(bl_elapsed)" "$c" "$w" "$(bl_num "$RESULT" "$(wl_digits "$w")")" "$(wl_unit "$w")"
		done
		stop_tool
	done
	sysctl -q -w kernel.bpf_stats_enabled="$STATS_ORIG" >/dev/null
	STATS_TOUCHED=0
fi

bl_stop_pid "$SP_PID" 5
bl_stop_pid "$IP_PID" 5
SP_PID=''
IP_PID=''

# ---------------------------------------------------------------------------
echo ""
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) at end; total $(bl_elapsed) s"
echo ""
echo "== Results: median over $ROUNDS rounds; spread as [quartiles] (min–max) =="
echo "   ratio = this configuration / untraced of the same round (paired), then the median"
echo "   of those per-round ratios; tool CPU = seconds of CPU of the tool's process per run"

declare -A SUMLINE
for w in $ACTIVE_WL; do
	d=$(wl_digits "$w")
	echo ""
	echo "$w: $(wl_desc "$w")"
	printf '  %-10s %12s %s   %s %s %s\n' config "median" "$(bl_pad "(min–max) $(wl_unit "$w")" 23)" \
		"$(bl_pad "tool CPU s per run (utime+stime)" 36)" \
		"$(bl_pad "tool on-CPU s per run (schedstat)" 36)" "ratio to untraced"
	for c in $CONFIGS; do
		vals=()
		ratios=()
		cpus=()
		scheds=()
		for ((r = 1; r <= ROUNDS; r++)); do
			vals+=("${VAL[$w,$c,$r]:-NA}")
			ratios+=("$(bl_ratio "${VAL[$w,$c,$r]:-NA}" "${VAL[$w,untraced,$r]:-NA}")")
			cpus+=("${TCPU[$w,$c,$r]:-NA}")
			scheds+=("${TSCHED[$w,$c,$r]:-NA}")
		done
		read -r med _ _ mn mx n <<<"$(bl_stats "${vals[@]}")"
		if [ "$c" = untraced ]; then
			rs='1'
			cs='-'
			ss='-'
		else
			rs=$(bl_spread 3 "${ratios[@]}")
			cs=$(bl_spread 3 "${cpus[@]}")
			ss=$(bl_spread 3 "${scheds[@]}")
		fi
		printf '  %-10s %12s %s   %s %s %s\n' "$c" "$(bl_num "$med" "$d")" \
			"$(bl_pad "($(bl_num "$mn" "$d")–$(bl_num "$mx" "$d"))" 23)" "$(bl_pad "$cs" 36)" \
			"$(bl_pad "$ss" 36)" "$rs"
		SUMLINE[$w,$c]="$(bl_num "$med" "$d")|$rs|$cs|$ss|$n"
	done
	for pair in rec-store/floor rec-json/floor rec-store/bpftrace rec-json/bpftrace floor/bpftrace; do
		a=${pair%/*}
		b=${pair#*/}
		[[ " $CONFIGS " == *" $a "* && " $CONFIGS " == *" $b "* ]] || continue
		ratios=()
		for ((r = 1; r <= ROUNDS; r++)); do
			ratios+=("$(bl_ratio "${VAL[$w,$a,$r]:-NA}" "${VAL[$w,$b,$r]:-NA}")")
		done
		SUMLINE[$w,$pair]=$(bl_spread 3 "${ratios[@]}")
		printf '  %-20s %s\n' "$a / $b:" "${SUMLINE[$w,$pair]}"
	done
	fr=()
	for ((r = 1; r <= ROUNDS; r++)); do
		for c in $CONFIGS; do fr+=("${FOREIGN[$c,$r]:-NA}"); done
	done
	echo "  other processes' tracing/packet BPF programs during the runs: $(bl_spread 0 "${fr[@]}")"
done

if [ "$STATS" -eq 1 ]; then
	echo ""
	echo "== BPF programs, one run each with kernel.bpf_stats_enabled=1 =="
	echo "   run_cnt and run_time_ns over the run, as the kernel counts them (the stats add"
	echo "   their own clock reads); ns/run = run_time_ns / run_cnt; cpu% = run_time / wall"
	for w in $ACTIVE_WL; do
		for c in rec-store floor; do
			[ -n "${PSTATS[$w,$c]:-}" ] || continue
			echo ""
			echo "$w, $c ($(cfg_desc "$c")):"
			printf '  %-24s %-12s %14s %16s %9s %7s\n' program type run_cnt run_time_ns ns/run cpu%
			while read -r _ type name dt dc wall; do
				printf '  %-24s %-12s %14s %16s %9s %7s\n' "$name" "$type" "$(bl_num "$dc")" \
					"$(bl_num "$dt")" \
					"$(awk -v t="$dt" -v n="$dc" 'BEGIN { if (n > 0) printf "%.1f", t / n; else print "-" }')" \
					"$(awk -v t="$dt" -v w="$wall" 'BEGIN { printf "%.2f", 100 * t / w }')"
			done <<<"${PSTATS[$w,$c]}"
		done
	done
fi

echo ""
echo "== Summary (markdown, for docs/PERFORMANCE.md) =="
echo ""
echo "$ROUNDS rounds, $SECS s per run, $(nproc) CPUs, Linux $(uname -r), $(date -u '+%Y-%m-%d')." \
	"Ratios: paired per round, median [quartiles] (min–max)."
echo ""
echo "| workload | configuration | median | ratio to untraced | tool CPU s per run (utime+stime) | tool on-CPU s per run (schedstat) |"
echo "| --- | --- | ---: | --- | --- | --- |"
for w in $ACTIVE_WL; do
	for c in $CONFIGS; do
		IFS='|' read -r med rs cs ss _ <<<"${SUMLINE[$w,$c]}"
		echo "| $w | $c | $med $(wl_unit "$w") | $rs | $cs | $ss |"
	done
done
echo ""
echo "| workload | comparison | ratio (paired per round) |"
echo "| --- | --- | --- |"
for w in $ACTIVE_WL; do
	for pair in rec-store/floor rec-json/floor rec-store/bpftrace rec-json/bpftrace floor/bpftrace; do
		[ -n "${SUMLINE[$w,$pair]:-}" ] || continue
		echo "| $w | ${pair/\// / } | ${SUMLINE[$w,$pair]} |"
	done
done
if [ "$STATS" -eq 1 ]; then
	echo ""
	echo "| workload | configuration | program | run_cnt | run_time_ns | ns/run |"
	echo "| --- | --- | --- | ---: | ---: | ---: |"
	for w in $ACTIVE_WL; do
		for c in rec-store floor; do
			[ -n "${PSTATS[$w,$c]:-}" ] || continue
			while read -r _ _ name dt dc _; do
				echo "| $w | $c | $name | $(bl_num "$dc") | $(bl_num "$dt") |" \
					"$(awk -v t="$dt" -v n="$dc" 'BEGIN { if (n > 0) printf "%.1f", t / n; else print "-" }') |"
			done <<<"${PSTATS[$w,$c]}"
		done
	done
fi

exit "$FAILED"
