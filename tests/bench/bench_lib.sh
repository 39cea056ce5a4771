# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# bench_lib.sh: what bench_overhead.sh, bench_walk.sh and bench_churn.sh share.
# Sourced, never run. Every function is safe under `set -euo pipefail`.
#
# The scripts report; none passes or fails on a number. Statistics are over
# interleaved rounds: median, quartiles (linear interpolation between order
# statistics), min and max. "NA" marks a run that failed and is left out.

BL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BL_ROOT=$(cd "$BL_HERE/../.." && pwd)
BL_CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
BL_T0=$(date +%s)

bl_elapsed() { echo $(($(date +%s) - BL_T0)); }
bl_warn() { echo "$PROG: $*" >&2; }

# Option parsing helpers of the scripts' own command lines.
die_usage() {
	echo "$PROG: $1" >&2
	echo "Try '$0 --help'." >&2
	exit 2
}
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
in_range() { is_uint "$1" && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

bl_need_root() { # what-for
	if [ "$(id -u)" -ne 0 ]; then
		echo "$PROG: needs root ($1); skipped" >&2
		exit 77
	fi
}

bl_need_tools() { # tool...
	local missing='' t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
	done
	if [ -n "$missing" ]; then
		echo "$PROG: missing tool(s):$missing (Debian: apt-get install -y sockperf iperf3" \
			"bpftrace bpftool jq iproute2 util-linux procps); skipped" >&2
		exit 77
	fi
}

# bl_find_build DIR-or-empty: sets BUILD (absolute). Order: the argument,
# $TCPTOP_BUILD, $BUILD, then build/ under the repository.
bl_find_build() {
	local b=${1:-${TCPTOP_BUILD:-${BUILD:-$BL_ROOT/build}}}
	if [ ! -d "$b" ]; then
		echo "$PROG: build directory '$b' not found (build: cmake -S $BL_ROOT -B $BL_ROOT/build" \
			"-DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build $BL_ROOT/build -j2)" >&2
		exit 77
	fi
	BUILD=$(cd "$b" && pwd)
}

bl_need_bin() { # path...
	local p
	for p in "$@"; do
		if [ ! -x "$p" ]; then
			echo "$PROG: $p: not built (cmake --build $BUILD)" >&2
			exit 77
		fi
	done
}

bl_machine_info() { # title
	local cpu mem commit
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	commit=$(git -C "$BL_ROOT" log -1 --format='%h %s' 2>/dev/null | cut -c1-72 || true)
	echo "== $1 =="
	echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "machine:  $(nproc) CPUs (nproc), ${cpu:-unknown CPU}, $mem RAM"
	echo "kernel:   Linux $(uname -r)"
	echo "source:   ${commit:-unknown} (build: $BUILD)"
	echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at start"
}

# Ask a process we started to stop (SIGINT, then SIGKILL after $2 s, default 10).
bl_stop_pid() { # pid [timeout_s]
	local pid=$1 i n=$((${2:-10} * 10))
	[ -n "$pid" ] || return 0
	kill -INT "$pid" 2>/dev/null || {
		wait "$pid" 2>/dev/null || true
		return 0
	}
	for ((i = 0; i < n; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 0
}

# CPU a process has used so far: "TICKS NS". TICKS = utime + stime from
# /proc/PID/stat, in clock ticks (1/CLK_TCK s, usually 10 ms); NS = the sum of
# every thread's on-CPU time from /proc/PID/task/*/schedstat, the same time
# with ns resolution. "NA NA" once the process is gone.
bl_cpu() { # pid
	local t s
	if [ -z "$1" ] || [ ! -r "/proc/$1/stat" ]; then
		echo "NA NA"
		return 0
	fi
	t=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }') || t=NA
	s=$(cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }') ||
		s=NA
	echo "${t:-NA} ${s:-NA}"
}

# Seconds of CPU between two bl_cpu readings: "TICK_S SCHED_S" (NA if either is).
bl_cpu_delta() { # "t0 s0" "t1 s1"
	awk -v a="$1" -v b="$2" -v hz="$BL_CLK_TCK" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		if (x[1] == "NA" || y[1] == "NA") t = "NA"; else t = sprintf("%.3f", (y[1] - x[1]) / hz)
		if (x[2] == "NA" || y[2] == "NA") s = "NA"; else s = sprintf("%.4f", (y[2] - x[2]) / 1e9)
		print t, s }'
}

# "MEDIAN Q1 Q3 MIN MAX N" of the numbers given (NA and empty ignored); all NA if none.
bl_stats() { # numbers...
	printf '%s\n' "$@" | { grep -Ev '^(NA|)$' || true; } | sort -g | awk '
		{ v[NR] = $1 }
		function q(p,   h, lo) {
			h = (NR - 1) * p + 1; lo = int(h)
			return lo >= NR ? v[NR] : v[lo] + (h - lo) * (v[lo + 1] - v[lo])
		}
		END {
			if (NR == 0) { print "NA NA NA NA NA 0"; exit }
			printf "%.10g %.10g %.10g %.10g %.10g %d\n", q(0.5), q(0.25), q(0.75), v[1], v[NR], NR
		}'
}

bl_ratio() { # a b -> a / b
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "NA" || b == "NA" || a == "" || b == "" || b + 0 == 0) print "NA"
		else printf "%.4f\n", a / b }'
}

# Numbers for people: "1234567.8" -> "1,234,568" (DIGITS decimals, default 0).
bl_num() { # value [digits]
	awk -v v="$1" -v d="${2:-0}" 'BEGIN {
		if (v == "NA" || v == "") { print "NA"; exit }
		s = sprintf("%." d "f", v); neg = (s ~ /^-/); if (neg) s = substr(s, 2)
		i = index(s, "."); ip = i ? substr(s, 1, i - 1) : s; fp = i ? substr(s, i) : ""
		o = ""; while (length(ip) > 3) { o = "," substr(ip, length(ip) - 2) o; ip = substr(ip, 1, length(ip) - 3) }
		print (neg ? "-" : "") ip o fp }'
}

# "median [q1–q3] (min–max)" of the numbers, each with DIGITS decimals.
bl_spread() { # digits numbers...
	local d=$1
	shift
	bl_stats "$@" | awk -v d="$d" '{
		if ($1 == "NA") { print "NA"; exit }
		f = "%." d "f"
		printf f " [" f "–" f "] (" f "–" f ")\n", $1, $2, $3, $4, $5 }'
}

bl_count_fds() { # pid target
	local n=0 f
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "$2" ] && n=$((n + 1))
	done
	echo "$n"
}

# Wait until PID holds at least one BPF link and the count has been steady for
# 0.5 s (every program attached), at most $2 s. 0 when attached.
bl_wait_links() { # pid [timeout_s]
	local pid=$1 i n prev=-1 same=0 max=$((${2:-20} * 10))
	for ((i = 0; i < max; i++)); do
		kill -0 "$pid" 2>/dev/null || return 1
		n=$(bl_count_fds "$pid" 'anon_inode:bpf_link')
		if [ "$n" -gt 0 ] && [ "$n" -eq "$prev" ]; then
			same=$((same + 1))
			[ "$same" -ge 5 ] && return 0
		else
			same=0
		fi
		prev=$n
		sleep 0.1
	done
	return 1
}

# BPF program ids a process holds (program fds and link fds alike).
bl_prog_ids() { # pid
	{ grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null || true; } | awk '{ print $2 }' | sort -un
}

# "ID TYPE NAME RUN_TIME_NS RUN_CNT" per program a process holds.
bl_prog_stats() { # pid
	local ids
	ids=$(bl_prog_ids "$1" | paste -sd, -)
	[ -n "$ids" ] || return 0
	bpftool prog show -j 2>/dev/null | jq -r --arg ids "[$ids]" '
		($ids | fromjson) as $o
		| .[] | select(.id | IN($o[]))
		| "\(.id) \(.type) \(.name // "?") \(.run_time_ns // 0) \(.run_cnt // 0)"' || true
}

# Tracing and packet programs held by processes other than those given: other
# people's recorders and tracers add their cost to whatever run they overlap.
bl_foreign_progs() { # pid...
	local ours='' p
	for p in "$@"; do
		[ -n "$p" ] && ours="$ours $(bl_prog_ids "$p" | paste -sd' ' -)"
	done
	ours=$(echo "$ours" | tr -s ' ' '\n' | { grep . || true; } | paste -sd, -)
	bpftool prog show -j 2>/dev/null | jq --arg ours "[${ours}]" '
		($ours | fromjson) as $o
		| [ .[] | select(.type == "tracing" or .type == "raw_tracepoint" or .type == "tracepoint"
			or .type == "kprobe" or .type == "perf_event" or .type == "cgroup_skb"
			or .type == "sched_cls" or .type == "xdp")
		    | select(.id | IN($o[]) | not) ] | length' 2>/dev/null || echo "?"
}

# Rotate a word list by K: bl_rotate 1 a b c -> "b c a".
bl_rotate() { # k words...
	local k=$1
	shift
	local n=$# i out=()
	local w=("$@")
	for ((i = 0; i < n; i++)); do
		out+=("${w[$(((i + k) % n))]}")
	done
	echo "${out[*]}"
}

# STR padded with spaces to WIDTH characters (printf pads bytes; the en dash of
# bl_spread is three bytes and one character).
bl_pad() { # str width
	local s=$1 nd b
	nd=$(printf '%s' "$s" | { grep -o '–' || true; } | wc -l)
	b=$(printf '%s' "$s" | LC_ALL=C wc -c)
	printf '%s%*s' "$s" $(($2 - b + 2 * nd > 0 ? $2 - b + 2 * nd : 0)) ''
}
