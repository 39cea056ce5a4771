#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench_walk.sh: what does the recorder's per-tick walk cost, as sockets and
# network namespaces grow?
#
# Each tick the recorder walks every open file of every task (iter/task_file)
# and every TCP socket of its namespace (iter/tcp). That work is CPU of the
# recorder's own process (an iterator runs in the read() that drives it), so
# utime + stime of that process, idle traffic aside, is the walk's cost.
#
# Cases (idle loopback TCP connections held by tests/bench/fdhold, both ends in
# the same process, nothing sent):
#   base        no extra sockets: the recorder's fixed cost per tick
#   fdsN        N sockets (N/2 connections) in the root namespace
#   nsK         K network namespaces, each with its own fdhold holding
#               --ns-conns connections (2 sockets each) on its loopback
# Variants of the recorder, both with --interval (default 1s):
#   nostore     tcptop-record -q --no-store   (the walk and aggregation only;
#               where this recorder refuses -q with --no-store, it falls back to
#               --format json --no-store > /dev/null and says so)
#   store       tcptop-record -q -o DIR
# Per measurement: start the recorder, wait for its programs to attach, let
# --warmup seconds pass (start-up and the first walk, which finds everything),
# then read its CPU, wait --duration seconds, read it again.
# Rounds are interleaved (case order rotated each round, variant order
# alternated); the namespaces are created once, before the first round, and
# stay (empty when a case does not use them) until the end.
#
# It reports; it never passes or fails on a number. Exit 0 when every
# measurement was made, 1 if some failed, 2 on bad usage, 77 when not root or a
# tool is missing.
set -euo pipefail

PROG=bench_walk
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/bench/bench_lib.sh
. "$HERE/bench_lib.sh"

ROUNDS=${ROUNDS:-5}
DUR=${DUR:-20}
WARMUP=3
INTERVAL=1s
CASES="base fds1000 fds10000 fds100000 ns1 ns20 ns100"
NS_CONNS=100
VARIANTS="nostore store"
BUILD_ARG=

usage() {
	cat <<EOF
Usage: $0 [options] [BUILD_DIR]
CPU of tcptop-record per tick with many idle sockets and many network
namespaces. Reports only: no pass/fail on numbers.

  -r, --rounds N      interleaved rounds (default \$ROUNDS or 5: a round of the
                      default cases takes about 6 minutes; 1..100)
  -d, --duration S    seconds measured per recorder run (default \$DUR or 20)
      --warmup S      seconds skipped after attach (default $WARMUP)
  -i, --interval DUR  recorder tick, Ns or Nms (default $INTERVAL)
  -c, --cases LIST    comma-separated; base, fdsN (N sockets, even, >= 2) and
                      nsK (K namespaces) (default ${CASES// /,})
      --ns-conns C    connections per namespace in the nsK cases (default $NS_CONNS)
      --variants LIST nostore, store or both (default nostore,store)
  -h, --help          this text
BUILD_DIR (or \$TCPTOP_BUILD) holds record/tcptop-record and
tests/bench/fdhold (default: build/ in the repository).

Needs root, ip (iproute2), bpftool. fdhold splits its sockets over processes
when RLIMIT_NOFILE cannot be raised (no CAP_SYS_RESOURCE).
EOF
}


while [ $# -gt 0 ]; do
	case $1 in
	-r | --rounds) [ $# -ge 2 ] || die_usage "$1 needs a value"; ROUNDS=$2; shift 2 ;;
	-d | --duration) [ $# -ge 2 ] || die_usage "$1 needs a value"; DUR=$2; shift 2 ;;
	--warmup) [ $# -ge 2 ] || die_usage "$1 needs a value"; WARMUP=$2; shift 2 ;;
	-i | --interval) [ $# -ge 2 ] || die_usage "$1 needs a value"; INTERVAL=$2; shift 2 ;;
	-c | --cases) [ $# -ge 2 ] || die_usage "$1 needs a value"; CASES=${2//,/ }; shift 2 ;;
	--ns-conns) [ $# -ge 2 ] || die_usage "$1 needs a value"; NS_CONNS=$2; shift 2 ;;
	--variants) [ $# -ge 2 ] || die_usage "$1 needs a value"
		case $2 in
		nostore | store) VARIANTS=$2 ;;
		nostore,store | store,nostore | both) VARIANTS="nostore store" ;;
		*) die_usage "--variants: want nostore, store or both, got '$2'" ;;
		esac
		shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) die_usage "unknown option '$1'" ;;
	*) [ -z "$BUILD_ARG" ] || die_usage "one build directory only"; BUILD_ARG=$1; shift ;;
	esac
done
in_range "$ROUNDS" 1 100 || die_usage "rounds: want 1..100, got '$ROUNDS'"
in_range "$DUR" 2 3600 || die_usage "duration: want 2..3600, got '$DUR'"
in_range "$WARMUP" 0 600 || die_usage "--warmup: want 0..600, got '$WARMUP'"
in_range "$NS_CONNS" 1 100000 || die_usage "--ns-conns: want 1..100000, got '$NS_CONNS'"
if [[ $INTERVAL =~ ^([0-9]+)ms$ ]]; then
	TICK_S=$(awk -v v="${BASH_REMATCH[1]}" 'BEGIN { print v / 1000 }')
elif [[ $INTERVAL =~ ^([0-9]+)s$ ]]; then
	TICK_S=${BASH_REMATCH[1]}
else
	die_usage "--interval: want Ns or Nms, got '$INTERVAL'"
fi
awk -v t="$TICK_S" 'BEGIN { exit !(t >= 0.01) }' || die_usage "--interval: at least 10ms"
NS_MAX=0
for c in $CASES; do
	case $c in
	base) ;;
	fds*)
		if ! in_range "${c#fds}" 2 2000000 || [ $((${c#fds} % 2)) -ne 0 ]; then
			die_usage "case '$c': want fdsN with N even, 2..2000000"
		fi
		;;
	ns*) in_range "${c#ns}" 1 1000 || die_usage "case '$c': want nsK with K 1..1000"
		[ "${c#ns}" -le "$NS_MAX" ] || NS_MAX=${c#ns} ;;
	*) die_usage "unknown case '$c'" ;;
	esac
done

bl_need_root "loads eBPF programs, creates network namespaces"
bl_need_tools ip bpftool jq timeout
bl_find_build "$BUILD_ARG"
RECORD=$BUILD/record/tcptop-record
FDHOLD=$BUILD/tests/bench/fdhold
bl_need_bin "$RECORD" "$FDHOLD"

TMP=$(mktemp -d /tmp/tt-bench-walk.XXXXXX)
REC_PID=''
HOLD_PIDS=()
NAMESPACES=()
NS_PREFIX="ttwalk$$-"
FAILED=0

stop_holders() {
	local p
	for p in "${HOLD_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${HOLD_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	HOLD_PIDS=()
}

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	local ns
	bl_stop_pid "$REC_PID" 10
	REC_PID=''
	stop_holders
	for ns in "${NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	NAMESPACES=()
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "$PROG: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE # stdout gone (e.g. piped into head): still clean up

# Start the holders of a case; 0 once every one has printed "ready".
start_case() { # case
	local c=$1 i n f ok
	HOLD_PIDS=()
	rm -f "$TMP"/hold.*
	case $c in
	base) return 0 ;;
	fds*)
		"$FDHOLD" "${c#fds}" >"$TMP/hold.0" 2>"$TMP/hold.err" &
		HOLD_PIDS+=($!)
		;;
	ns*)
		for ((i = 0; i < ${c#ns}; i++)); do
			ip netns exec "${NAMESPACES[$i]}" "$FDHOLD" $((2 * NS_CONNS)) >"$TMP/hold.$i" \
				2>>"$TMP/hold.err" &
			HOLD_PIDS+=($!)
		done
		;;
	esac
	n=${#HOLD_PIDS[@]}
	for ((i = 0; i < 1200; i++)); do
		ok=0
		for f in "$TMP"/hold.[0-9]*; do
			[ -e "$f" ] && grep -q '^ready' "$f" && ok=$((ok + 1))
		done
		[ "$ok" -eq "$n" ] && return 0
		for f in "${HOLD_PIDS[@]}"; do
			kill -0 "$f" 2>/dev/null || break 2
		done
		sleep 0.1
	done
	bl_warn "case $c: holders not ready: $(tail -n2 "$TMP/hold.err" | tr '\n' ' ')"
	stop_holders
	return 1
}

# /proc/sys/fs/file-nr: file handles allocated on the host; /proc/net/sockstat:
# TCP sockets allocated on the host (every namespace) and TIME_WAIT in ours.
host_files() { cut -f1 /proc/sys/fs/file-nr; }
host_tcp() { awk '$1 == "TCP:" { for (i = 2; i < NF; i += 2) if ($i == "alloc") print $(i + 1) }' \
	/proc/net/sockstat; }

# One measurement. Sets CPU_S SCHED_S WALL_S, or NA.
measure() { # variant
	local c0 c1 t0 t1
	CPU_S=NA
	SCHED_S=NA
	WALL_S=NA
	rm -rf "$TMP/store"
	case $1 in
	nostore)
		if [ "$NOSTORE_Q" -eq 1 ]; then
			"$RECORD" -q --no-store --interval "$INTERVAL" >/dev/null 2>"$TMP/rec.err" &
		else
			"$RECORD" --format json --no-store --interval "$INTERVAL" >/dev/null 2>"$TMP/rec.err" &
		fi
		;;
	store) "$RECORD" -q -o "$TMP/store" --interval "$INTERVAL" >/dev/null 2>"$TMP/rec.err" & ;;
	esac
	REC_PID=$!
	if ! bl_wait_links "$REC_PID" 60; then
		bl_warn "recorder ($1) did not attach: $(tail -n2 "$TMP/rec.err" | tr '\n' ' ')"
		bl_stop_pid "$REC_PID" 10
		REC_PID=''
		return 1
	fi
	sleep "$WARMUP"
	c0=$(bl_cpu "$REC_PID")
	t0=$(date +%s%N)
	sleep "$DUR"
	c1=$(bl_cpu "$REC_PID")
	t1=$(date +%s%N)
	if ! kill -0 "$REC_PID" 2>/dev/null; then
		bl_warn "recorder ($1) exited during the run: $(tail -n2 "$TMP/rec.err" | tr '\n' ' ')"
		REC_PID=''
		return 1
	fi
	bl_stop_pid "$REC_PID" 30
	REC_PID=''
	read -r CPU_S SCHED_S <<<"$(bl_cpu_delta "$c0" "$c1")"
	WALL_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	rm -rf "$TMP/store"
	return 0
}

case_desc() {
	case $1 in
	base) echo "no extra sockets" ;;
	fds*) echo "$(bl_num "${1#fds}") sockets, root namespace" ;;
	ns*) echo "${1#ns} namespace$([ "${1#ns}" -eq 1 ] || echo s) x $(bl_num $((2 * NS_CONNS))) sockets" ;;
	esac
}
case_sockets() {
	case $1 in
	base) echo 0 ;;
	fds*) echo "${1#fds}" ;;
	ns*) echo $((${1#ns} * 2 * NS_CONNS)) ;;
	esac
}

# ---------------------------------------------------------------------------
bl_machine_info "tcptop per-tick walk benchmark (tests/bench/bench_walk.sh)"

# Does this recorder accept -q with --no-store (nothing shown, nothing stored)?
NOSTORE_Q=1
rc=0
timeout 30 "$RECORD" -q --no-store --duration 1s >/dev/null 2>"$TMP/probe.err" || rc=$?
if [ "$rc" -eq 2 ]; then
	NOSTORE_Q=0
elif [ "$rc" -ne 0 ]; then
	bl_warn "tcptop-record -q --no-store: exit $rc: $(tail -n1 "$TMP/probe.err")"
	[ "$rc" -eq 77 ] && exit 77
	exit 1
fi
var_desc() {
	case $1 in
	nostore)
		if [ "$NOSTORE_Q" -eq 1 ]; then
			echo "tcptop-record -q --no-store --interval $INTERVAL"
		else
			echo "tcptop-record --format json --no-store --interval $INTERVAL > /dev/null"
		fi
		;;
	store) echo "tcptop-record -q -o DIR --interval $INTERVAL" ;;
	esac
}

echo "plan:     ROUNDS=$ROUNDS rounds (default 5, not 21: a round of the default cases takes"
echo "          about 6 minutes) x cases {$CASES} (order rotated each round)"
echo "          x variants {$VARIANTS}; per recorder run ${WARMUP} s warm-up, then ${DUR} s measured"
for v in $VARIANTS; do
	echo "          $v = $(var_desc "$v")"
done
if [ "$NOSTORE_Q" -eq 0 ] && [[ " $VARIANTS " == *" nostore "* ]]; then
	echo "NOTE:     this tcptop-record refuses -q with --no-store ($(tail -n1 "$TMP/probe.err" |
		sed 's/^tcptop-record: //')); nostore streams JSON to /dev/null instead, which"
	echo "          adds the cost of formatting every connection every tick"
fi
echo "          CPU = utime + stime of the recorder's process (the iterators run in it)"
echo "limits:   RLIMIT_NOFILE $(ulimit -Sn)/$(ulimit -Hn), fs.nr_open $(cat /proc/sys/fs/nr_open)," \
	"ip_local_port_range $(tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range)"

if [ "$NS_MAX" -gt 0 ]; then
	t0=$(date +%s)
	for ((i = 0; i < NS_MAX; i++)); do
		ns="$NS_PREFIX$i"
		ip netns add "$ns"
		NAMESPACES+=("$ns")
		ip -n "$ns" link set lo up
	done
	echo "netns:    $NS_MAX namespaces ${NS_PREFIX}0..$((NS_MAX - 1)) created in" \
		"$(($(date +%s) - t0)) s, loopback up; they stay until the end"
fi
echo ""

read -ra CASE_LIST <<<"$CASES"
read -ra VAR_LIST <<<"$VARIANTS"
declare -A CPU SCHED WALL

for ((r = 1; r <= ROUNDS; r++)); do
	read -ra order <<<"$(bl_rotate $(((r - 1) % ${#CASE_LIST[@]})) "${CASE_LIST[@]}")"
	if [ $((r % 2)) -eq 0 ]; then
		vorder=$(printf '%s\n' "${VAR_LIST[@]}" | tac | paste -sd' ' -)
	else
		vorder=${VAR_LIST[*]}
	fi
	for c in "${order[@]}"; do
		t0=$(date +%s%N)
		if ! start_case "$c"; then
			FAILED=1
			continue
		fi
		setup=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
		for v in $vorder; do
			files=$(host_files)
			tcps=$(host_tcp)
			if measure "$v"; then
				CPU[$c,$v,$r]=$CPU_S
				SCHED[$c,$v,$r]=$SCHED_S
				WALL[$c,$v,$r]=$WALL_S
			else
				FAILED=1
			fi
			printf '[%5ss] round %d/%d  %-10s %-7s CPU %7s s (sched %8s s) over %7s s = %7s ms/tick  host: %s files, %s TCP sockets  (holders up in %s s)\n' \
				"$(bl_elapsed)" "$r" "$ROUNDS" "$c" "$v" "$CPU_S" "$SCHED_S" "$WALL_S" \
				"$(awk -v c="$CPU_S" -v w="$WALL_S" -v t="$TICK_S" 'BEGIN {
					if (c == "NA") print "NA"; else printf "%.3f", 1000 * c / (w / t) }')" \
				"$(bl_num "$files")" "$(bl_num "$tcps")" "$setup"
		done
		stop_holders
		sleep 1 # let the resets of the holders' sockets settle
	done
done

# ---------------------------------------------------------------------------
echo ""
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) at end; total $(bl_elapsed) s"
echo ""
echo "== Results: median over $ROUNDS rounds; spread as [quartiles] (min–max) =="
echo "   ms/tick = recorder CPU (utime+stime) / ticks in the measured window; % core ="
echo "   CPU / wall time; CPU s/h = CPU seconds per hour of recording; extra = paired"
echo "   difference to base of the same round and variant, ms per tick per 1,000 sockets;"
echo "   schedstat = the same CPU time with ns resolution (/proc/PID/task/*/schedstat;"
echo "   utime + stime come in clock ticks of $((1000 / BL_CLK_TCK)) ms)"
declare -A SUM
for v in $VARIANTS; do
	echo ""
	echo "$v: $(var_desc "$v")"
	printf '  %-10s %-34s %s %s %s %9s %s\n' case "what" "$(bl_pad "ms/tick" 36)" \
		"$(bl_pad "% of one core" 36)" "$(bl_pad "ms/tick by schedstat" 36)" "CPU s/h" \
		"extra ms/tick per 1k sockets"
	for c in $CASES; do
		ms=()
		sms=()
		pc=()
		ex=()
		for ((r = 1; r <= ROUNDS; r++)); do
			cpu=${CPU[$c,$v,$r]:-NA}
			wall=${WALL[$c,$v,$r]:-NA}
			ms+=("$(awk -v c="$cpu" -v w="$wall" -v t="$TICK_S" 'BEGIN {
				if (c == "NA" || w == "NA") print "NA"; else printf "%.4f", 1000 * c / (w / t) }')")
			sms+=("$(awk -v c="${SCHED[$c,$v,$r]:-NA}" -v w="$wall" -v t="$TICK_S" 'BEGIN {
				if (c == "NA" || w == "NA") print "NA"; else printf "%.4f", 1000 * c / (w / t) }')")
			pc+=("$(awk -v c="$cpu" -v w="$wall" 'BEGIN {
				if (c == "NA" || w == "NA") print "NA"; else printf "%.4f", 100 * c / w }')")
			bc=${CPU[base,$v,$r]:-NA}
			bw=${WALL[base,$v,$r]:-NA}
			ex+=("$(awk -v c="$cpu" -v w="$wall" -v b="$bc" -v bw="$bw" -v t="$TICK_S" \
				-v n="$(case_sockets "$c")" 'BEGIN {
				if (c == "NA" || w == "NA" || b == "NA" || bw == "NA" || n == 0) print "NA"
				else printf "%.5f", (1000 * c / (w / t) - 1000 * b / (bw / t)) / (n / 1000) }')")
		done
		read -r pmed _ _ _ _ _ <<<"$(bl_stats "${pc[@]}")"
		msd=$(bl_spread 3 "${ms[@]}")
		smsd=$(bl_spread 3 "${sms[@]}")
		pcd=$(bl_spread 3 "${pc[@]}")
		exd=-
		[ "$c" = base ] || exd=$(bl_spread 4 "${ex[@]}")
		cph=$(awk -v p="$pmed" 'BEGIN { if (p == "NA") print "NA"; else printf "%.1f", p * 36 }')
		printf '  %-10s %-34s %s %s %s %9s %s\n' "$c" "$(case_desc "$c")" "$(bl_pad "$msd" 36)" \
			"$(bl_pad "$pcd" 36)" "$(bl_pad "$smsd" 36)" "$cph" "$exd"
		SUM[$c,$v]="$msd|$pcd|$cph|$exd|$smsd"
	done
done

echo ""
echo "== Summary (markdown, for docs/PERFORMANCE.md) =="
echo ""
echo "$ROUNDS rounds, ${DUR} s measured per run, tick $INTERVAL, $(nproc) CPUs, Linux $(uname -r)," \
	"$(date -u '+%Y-%m-%d'). Median [quartiles] (min–max)."
[ "$NOSTORE_Q" -eq 1 ] || [[ " $VARIANTS " != *" nostore "* ]] || echo "nostore: --format json --no-store > /dev/null (this recorder refuses -q --no-store)."
echo ""
echo "| case | sockets | variant | CPU ms per tick | % of one core | CPU s per hour | extra ms per tick per 1,000 sockets | ms per tick by schedstat |"
echo "| --- | ---: | --- | --- | --- | ---: | --- | --- |"
for c in $CASES; do
	for v in $VARIANTS; do
		IFS='|' read -r msd pcd cph exd smsd <<<"${SUM[$c,$v]}"
		echo "| $c ($(case_desc "$c")) | $(bl_num "$(case_sockets "$c")") | $v | $msd | $pcd | $cph | $exd | $smsd |"
	done
done

exit "$FAILED"
