#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench_churn.sh: does the recorder see every connection when 10,000 open and
# close every second, and what does that cost?
#
# tests/bench/churn opens, uses and closes loopback TCP connections at a paced
# rate (default 10,000 per second for 30 s, 100 bytes each way) and counts
# exactly how many it completed. Every connection has its own 4-tuple within a
# run (127.1.x.y:port -> 127.2.0.1:listener), so a recording can count
# distinct connections by address; each has two ends (sockets), both local.
# Configurations, each round in a rotated order:
#   untraced   the generator alone: its own CPU per connection is the baseline
#   rec-json   tcptop-record --format json --no-store --events, stdout filtered
#              on the fly (close events and tick rows with "closed":true of the
#              generator's addresses; nothing else is kept)
#   rec-store  tcptop-record -q -o DIR, then
#              tcptop-analyze events DIR --type close --format json
#              and tcptop-analyze info --format json DIR for the loss counters
# Per run: connections completed (generator) against distinct closed ends
# recorded (2 per connection), how many of those carried exactly the bytes
# sent, the losses the recorder reported, the recorder's CPU (utime + stime)
# and the generator's (getrusage: the kernel's work for the connections, the
# BPF programs on their hooks included, is mostly there).
#
# It reports; it never passes or fails on a number. Exit 0 when every run was
# made, 1 if some failed, 2 on bad usage, 77 when not root or a tool is missing.
set -euo pipefail

PROG=bench_churn
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/bench/bench_lib.sh
. "$HERE/bench_lib.sh"

ROUNDS=${ROUNDS:-21}
DUR=${DUR:-30}
RATE=10000
BYTES=100
THREADS=1
TAIL=3
ALL_CONFIGS="untraced rec-json rec-store"
CONFIGS=$ALL_CONFIGS
BUILD_ARG=

usage() {
	cat <<EOF
Usage: $0 [options] [BUILD_DIR]
Connections opened by a paced generator against connections the recorder
recorded, its loss counters, and CPU. Reports only: no pass/fail on numbers.

  -r, --rounds N      interleaved rounds (default \$ROUNDS or 21; 1..200)
  -d, --duration S    seconds of churn per run (default \$DUR or 30)
  -R, --rate N        connections per second (default $RATE)
  -b, --bytes N       bytes each way per connection (default $BYTES)
  -j, --threads N     generator threads (default $THREADS; 2 if one cannot keep the rate)
      --tail S        seconds the recorder runs after the generator ends (default $TAIL)
  -c, --configs LIST  comma-separated subset of: ${ALL_CONFIGS// /,}
  -h, --help          this text
BUILD_DIR (or \$TCPTOP_BUILD) holds record/tcptop-record,
analyze/tcptop-analyze and tests/bench/churn (default: build/ in the repository).

Needs root, jq, mkfifo. Default run: about 40 minutes (21 rounds of three
30 s runs plus the analysis of each store).
EOF
}


while [ $# -gt 0 ]; do
	case $1 in
	-r | --rounds) [ $# -ge 2 ] || die_usage "$1 needs a value"; ROUNDS=$2; shift 2 ;;
	-d | --duration) [ $# -ge 2 ] || die_usage "$1 needs a value"; DUR=$2; shift 2 ;;
	-R | --rate) [ $# -ge 2 ] || die_usage "$1 needs a value"; RATE=$2; shift 2 ;;
	-b | --bytes) [ $# -ge 2 ] || die_usage "$1 needs a value"; BYTES=$2; shift 2 ;;
	-j | --threads) [ $# -ge 2 ] || die_usage "$1 needs a value"; THREADS=$2; shift 2 ;;
	--tail) [ $# -ge 2 ] || die_usage "$1 needs a value"; TAIL=$2; shift 2 ;;
	-c | --configs) [ $# -ge 2 ] || die_usage "$1 needs a value"
		CONFIGS=
		for c in ${2//,/ }; do
			[[ " $ALL_CONFIGS " == *" $c "* ]] || die_usage "--configs: unknown '$c'"
			CONFIGS="$CONFIGS $c"
		done
		CONFIGS=${CONFIGS# }
		[ -n "$CONFIGS" ] || die_usage "--configs: empty"
		shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) die_usage "unknown option '$1'" ;;
	*) [ -z "$BUILD_ARG" ] || die_usage "one build directory only"; BUILD_ARG=$1; shift ;;
	esac
done
in_range "$ROUNDS" 1 200 || die_usage "rounds: want 1..200, got '$ROUNDS'"
in_range "$DUR" 1 3600 || die_usage "duration: want 1..3600, got '$DUR'"
in_range "$RATE" 1 1000000 || die_usage "--rate: want 1..1000000, got '$RATE'"
in_range "$BYTES" 0 65536 || die_usage "--bytes: want 0..65536, got '$BYTES'"
in_range "$THREADS" 1 16 || die_usage "--threads: want 1..16, got '$THREADS'"
in_range "$TAIL" 1 60 || die_usage "--tail: want 1..60, got '$TAIL'"

bl_need_root "loads eBPF programs"
bl_need_tools jq mkfifo bpftool timeout
bl_find_build "$BUILD_ARG"
RECORD=$BUILD/record/tcptop-record
ANALYZE=$BUILD/analyze/tcptop-analyze
CHURN=$BUILD/tests/bench/churn
bl_need_bin "$RECORD" "$ANALYZE" "$CHURN"

TMP=$(mktemp -d /tmp/tt-bench-churn.XXXXXX)
REC_PID=''
GEN_PID=''
FILTER_PID=''
FAILED=0

# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	bl_stop_pid "$GEN_PID" 5
	bl_stop_pid "$REC_PID" 30
	if [ -n "$FILTER_PID" ]; then
		kill "$FILTER_PID" 2>/dev/null || true
		wait "$FILTER_PID" 2>/dev/null || true
	fi
	GEN_PID=''
	REC_PID=''
	FILTER_PID=''
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "$PROG: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE # stdout gone (e.g. piped into head): still clean up

# Counts the generator's closed connections in JSON lines: close events
# ("event":"close", from the recorder's --events or from tcptop-analyze events)
# and tick rows with "closed":true. A connection's client end is
# 127.1.x.y:p -> 127.2.0.1:L, its server end the reverse, L one of the ports
# the generator wrote to PORTS (read at the first candidate line: the file is
# there before the first connection). Distinct ends by 4-tuple; "exact" = the
# end's bytes_in and bytes_out both equal BYTES. The last loss line (if the
# stream has any) goes to LOSSOUT.
cat >"$TMP/count.awk" <<'EOF'
function str(k,   m) {
	if (!match($0, "\"" k "\":\"[^\"]*\"")) return ""
	m = substr($0, RSTART, RLENGTH); sub("^\"" k "\":\"", "", m); sub("\"$", "", m); return m
}
function num(k,   m) {
	if (!match($0, "\"" k "\":[0-9]+")) return -1
	m = substr($0, RSTART, RLENGTH); sub("^\"" k "\":", "", m); return m + 0
}
BEGIN { np = 0 }
index($0, "\"event\":\"loss\"") { nloss++; print > LOSSOUT; next }
{
	ev = index($0, "\"event\":\"close\"") > 0
	row = !ev && index($0, "\"closed\":true") > 0
	if (!ev && !row) next
	if (index($0, "127.2.0.1") == 0) next
	if (!np) {
		while ((getline l < PORTS) > 0) { n = split(l, a, " "); for (i = 1; i <= n; i++) port[a[i]] = 1 }
		close(PORTS); np = 1
	}
	la = str("laddr"); ra = str("raddr"); lp = num("lport"); rp = num("rport")
	if (la ~ /^127\.1\./ && ra == "127.2.0.1" && (rp in port)) end = "client"
	else if (la == "127.2.0.1" && (lp in port) && ra ~ /^127\.1\./) end = "server"
	else next
	key = la ":" lp ">" ra ":" rp
	if (ev) {
		lines[end]++
		if (key in seen) { dups++; next }
		seen[key] = 1; distinct[end]++
		if (num("bytes_in") == BYTES && num("bytes_out") == BYTES) exact[end]++
	} else if (!(key in rseen)) {
		rseen[key] = 1; rdistinct[end]++
	}
}
END {
	printf "ev_client=%d ev_server=%d distinct_client=%d distinct_server=%d exact_client=%d exact_server=%d dups=%d rows_client=%d rows_server=%d loss_lines=%d\n",
		lines["client"], lines["server"], distinct["client"], distinct["server"],
		exact["client"], exact["server"], dups, rdistinct["client"], rdistinct["server"], nloss
}
EOF

kv() { # "k=v k=v ..." key -> v (NA if absent)
	local x
	for x in $1; do
		[ "${x%%=*}" = "$2" ] && { echo "${x#*=}"; return 0; }
	done
	echo NA
}

tw_count() { awk '$1 == "TCP:" { for (i = 2; i < NF; i += 2) if ($i == "tw") print $(i + 1) }' \
	/proc/net/sockstat; }

# One run. Sets R_* (NA where not applicable), read back through ${!name}.
# shellcheck disable=SC2034
run_one() { # config round
	local c=$1 r=$2 c0 c1 t0 t1 gen info
	R_DONE=NA R_RATE=NA R_FAILED=NA R_GENUS=NA R_REC=NA R_EXACT=NA R_ROWS=NA R_DUPS=NA
	R_LOSS=NA R_CPU=NA R_SCHED=NA R_PCT=NA R_MSK=NA R_NOTE=''
	rm -rf "$TMP/store" "$TMP/ports" "$TMP/loss.jsonl" "$TMP/count.out"
	REC_PID=''
	FILTER_PID=''
	case $c in
	rec-json)
		rm -f "$TMP/fifo"
		mkfifo "$TMP/fifo"
		LC_ALL=C grep -F -e '"event":"close"' -e '"closed":true' -e '"event":"loss"' \
			<"$TMP/fifo" | awk -v PORTS="$TMP/ports" -v BYTES="$BYTES" \
			-v LOSSOUT="$TMP/loss.jsonl" -f "$TMP/count.awk" >"$TMP/count.out" &
		FILTER_PID=$!
		"$RECORD" --format json --no-store --events >"$TMP/fifo" 2>"$TMP/rec.err" &
		REC_PID=$!
		;;
	rec-store)
		"$RECORD" -q -o "$TMP/store" >/dev/null 2>"$TMP/rec.err" &
		REC_PID=$!
		;;
	esac
	if [ -n "$REC_PID" ]; then
		if ! bl_wait_links "$REC_PID" 30; then
			bl_warn "$c did not attach (round $r): $(tail -n2 "$TMP/rec.err" | tr '\n' ' ')"
			bl_stop_pid "$REC_PID" 10
			REC_PID=''
			[ -z "$FILTER_PID" ] || wait "$FILTER_PID" 2>/dev/null || true
			FILTER_PID=''
			return 1
		fi
		sleep 1.5 # past the first tick: start-up walks are not churn
	fi
	c0=$(bl_cpu "$REC_PID")
	t0=$(date +%s%N)
	"$CHURN" -r "$RATE" -d "$DUR" -b "$BYTES" -j "$THREADS" -P "$TMP/ports" >"$TMP/gen.json" \
		2>"$TMP/gen.err" &
	GEN_PID=$!
	wait "$GEN_PID" || { bl_warn "churn failed: $(tail -n1 "$TMP/gen.err")"; GEN_PID=''; return 1; }
	GEN_PID=''
	if [ -n "$REC_PID" ]; then
		sleep "$TAIL" # the closes of the last tick reach the recorder's next tick
		c1=$(bl_cpu "$REC_PID")
		t1=$(date +%s%N)
		if ! kill -0 "$REC_PID" 2>/dev/null; then
			R_NOTE="recorder exited early: $(tail -n1 "$TMP/rec.err")"
			FAILED=1
		fi
		bl_stop_pid "$REC_PID" 60
		REC_PID=''
		read -r R_CPU R_SCHED <<<"$(bl_cpu_delta "$c0" "$c1")"
		R_PCT=$(awk -v c="$R_CPU" -v a="$t0" -v b="$t1" 'BEGIN {
			if (c == "NA") print "NA"; else printf "%.3f", 100 * c / ((b - a) / 1e9) }')
	fi
	gen=$(cat "$TMP/gen.json")
	R_DONE=$(jq -r '.completed' <<<"$gen")
	R_FAILED=$(jq -r '.failed' <<<"$gen")
	R_RATE=$(jq -r '.rate' <<<"$gen")
	R_GENUS=$(jq -r 'if .completed > 0 then (.cpu_user_s + .cpu_sys_s) * 1e6 / .completed
		else "NA" end' <<<"$gen")
	[ "$R_FAILED" = 0 ] || R_NOTE="$R_NOTE generator failures: $(jq -c '.failed_by_step' <<<"$gen")"
	[ "$R_CPU" = NA ] || R_MSK=$(awk -v c="$R_CPU" -v n="$R_DONE" 'BEGIN {
		if (n > 0) printf "%.3f", 1e6 * c / n; else print "NA" }')
	case $c in
	rec-json)
		wait "$FILTER_PID" || true
		FILTER_PID=''
		rm -f "$TMP/fifo"
		;;
	rec-store)
		if ! "$ANALYZE" events "$TMP/store" --type close --format json 2>"$TMP/an.err" |
			LC_ALL=C grep -F '"event":"close"' |
			awk -v PORTS="$TMP/ports" -v BYTES="$BYTES" -v LOSSOUT="$TMP/loss.jsonl" \
				-f "$TMP/count.awk" >"$TMP/count.out"; then
			bl_warn "tcptop-analyze events: $(tail -n1 "$TMP/an.err")"
			FAILED=1
		fi
		info=$("$ANALYZE" info --format json "$TMP/store" 2>/dev/null || echo '{}')
		R_LOSS=$(jq -r '"ring_drops=\(.ring_drops // "NA") socks_full=\(.socks_full // "NA") peers_full=\(.peers_full // "NA")"' <<<"$info")
		R_LOSS="$R_LOSS loss_events=$("$ANALYZE" events "$TMP/store" --type loss --format json \
			2>/dev/null | grep -c . || true)"
		;;
	esac
	if [ "$c" != untraced ]; then
		local cnt
		cnt=$(cat "$TMP/count.out" 2>/dev/null || echo '')
		if [ -z "$cnt" ]; then
			R_NOTE="$R_NOTE no count (filter failed)"
			FAILED=1
			rm -rf "$TMP/store"
			return 0
		fi
		R_REC=$(($(kv "$cnt" distinct_client) + $(kv "$cnt" distinct_server)))
		R_EXACT=$(($(kv "$cnt" exact_client) + $(kv "$cnt" exact_server)))
		R_DUPS=$(kv "$cnt" dups)
		if [ "$c" = rec-json ]; then
			R_ROWS=$(($(kv "$cnt" rows_client) + $(kv "$cnt" rows_server)))
			R_LOSS="loss_lines=$(kv "$cnt" loss_lines)"
			if [ -s "$TMP/loss.jsonl" ]; then
				R_LOSS="$R_LOSS last: $(tail -n1 "$TMP/loss.jsonl" | tr -d ' ')"
			fi
		fi
		if grep -qiE 'loss|lost|drop|full' "$TMP/rec.err" 2>/dev/null; then
			R_NOTE="$R_NOTE recorder stderr: $(grep -iE 'loss|lost|drop|full' "$TMP/rec.err" |
				tail -n1)"
		fi
	fi
	rm -rf "$TMP/store"
	return 0
}

cfg_desc() {
	case $1 in
	untraced) echo "the generator alone" ;;
	rec-json) echo "tcptop-record --format json --no-store --events (close events counted)" ;;
	rec-store) echo "tcptop-record -q -o DIR; tcptop-analyze events --type close" ;;
	esac
}

# ---------------------------------------------------------------------------
bl_machine_info "tcptop connection churn benchmark (tests/bench/bench_churn.sh)"
echo "plan:     $ROUNDS rounds x {$CONFIGS} (order rotated each round); $(bl_num "$RATE")" \
	"connections/s for $DUR s, $BYTES bytes each way, $THREADS generator thread(s);"
echo "          recorder stopped $TAIL s after the generator; expected per run: $(bl_num $((RATE * DUR)))" \
	"connections = $(bl_num $((2 * RATE * DUR))) closed ends"
echo "          TIME_WAIT: net.ipv4.tcp_max_tw_buckets $(sysctl -n net.ipv4.tcp_max_tw_buckets)," \
	"tcp_tw_reuse $(sysctl -n net.ipv4.tcp_tw_reuse); each run leaves up to that many for 60 s"
echo ""

declare -A V # V[field,config,round]
read -ra CFG_LIST <<<"$CONFIGS"
FIELDS="DONE RATE FAILED GENUS REC EXACT ROWS DUPS LOSS CPU SCHED PCT MSK TW"
for ((r = 1; r <= ROUNDS; r++)); do
	read -ra order <<<"$(bl_rotate $(((r - 1) % ${#CFG_LIST[@]})) "${CFG_LIST[@]}")"
	for c in "${order[@]}"; do
		tw=$(tw_count)
		if ! run_one "$c" "$r"; then
			FAILED=1
			continue
		fi
		# shellcheck disable=SC2034 # read through ${!v}
		R_TW=$tw
		for f in $FIELDS; do
			v="R_$f"
			V[$f,$c,$r]=${!v}
		done
		miss=NA
		[ "$R_REC" = NA ] || miss=$((2 * R_DONE - R_REC))
		printf '[%5ss] round %d/%d  %-9s done %s (%s/s, failed %s)  recorded ends %s (missing %s, bytes exact %s, dups %s%s)  rec CPU %s s = %s %%  gen %s us/conn  TW at start %s  %s %s\n' \
			"$(bl_elapsed)" "$r" "$ROUNDS" "$c" "$(bl_num "$R_DONE")" "$(bl_num "$R_RATE")" \
			"$R_FAILED" "$(bl_num "$R_REC")" "$(bl_num "$miss")" "$(bl_num "$R_EXACT")" "$R_DUPS" \
			"$([ "$R_ROWS" = NA ] || echo ", closed rows $(bl_num "$R_ROWS")")" "$R_CPU" "$R_PCT" \
			"$(bl_num "$R_GENUS" 2)" "$(bl_num "$tw")" "$R_LOSS" "$R_NOTE"
	done
done

# ---------------------------------------------------------------------------
echo ""
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) at end; total $(bl_elapsed) s"
echo ""
echo "== Results: median over $ROUNDS rounds; spread as [quartiles] (min–max) =="
echo "   recorded = distinct closed ends (client and server sockets) of the generator's"
echo "   connections / (2 x connections completed); exact = ends whose bytes in and out"
echo "   were both $BYTES; rec CPU = the recorder's utime+stime from 1.5 s after attach to $TAIL s"
echo "   after the generator's end; gen = the generator's CPU per connection (user+sys),"
echo "   ratio paired to the untraced run of the same round"
declare -A SUM
for c in $CONFIGS; do
	done_=()
	frac=()
	exact=()
	rows=()
	miss=()
	pct=()
	msk=()
	genus=()
	genr=()
	loss=()
	for ((r = 1; r <= ROUNDS; r++)); do
		d=${V[DONE,$c,$r]:-NA}
		rec=${V[REC,$c,$r]:-NA}
		done_+=("$d")
		frac+=("$(bl_ratio "$rec" "$(awk -v d="$d" 'BEGIN { print d == "NA" ? "NA" : 2 * d }')")")
		exact+=("$(bl_ratio "${V[EXACT,$c,$r]:-NA}" "$rec")")
		rows+=("$(bl_ratio "${V[ROWS,$c,$r]:-NA}" "$(awk -v d="$d" 'BEGIN { print d == "NA" ? "NA" : 2 * d }')")")
		miss+=("$(awk -v d="$d" -v x="$rec" 'BEGIN { print (d == "NA" || x == "NA") ? "NA" : 2 * d - x }')")
		pct+=("${V[PCT,$c,$r]:-NA}")
		msk+=("${V[MSK,$c,$r]:-NA}")
		genus+=("${V[GENUS,$c,$r]:-NA}")
		genr+=("$(bl_ratio "${V[GENUS,$c,$r]:-NA}" "${V[GENUS,untraced,$r]:-NA}")")
		[ -z "${V[LOSS,$c,$r]:-}" ] || loss+=("round $r: ${V[LOSS,$c,$r]}")
	done
	echo ""
	echo "$c: $(cfg_desc "$c")"
	echo "  connections completed      $(bl_spread 0 "${done_[@]}")"
	echo "  generator CPU us/conn      $(bl_spread 2 "${genus[@]}")"
	[ "$c" = untraced ] || echo "  ... ratio to untraced      $(bl_spread 3 "${genr[@]}")"
	SUM[$c]="$(bl_spread 0 "${done_[@]}")|$(bl_spread 2 "${genus[@]}")|$(bl_spread 3 "${genr[@]}")"
	if [ "$c" != untraced ]; then
		echo "  recorded / expected ends   $(bl_spread 5 "${frac[@]}")"
		echo "  missing ends               $(bl_spread 0 "${miss[@]}")"
		echo "  bytes exact / recorded     $(bl_spread 5 "${exact[@]}")"
		[ "$c" != rec-json ] || echo "  closed rows / expected     $(bl_spread 5 "${rows[@]}")"
		echo "  recorder CPU % of a core   $(bl_spread 2 "${pct[@]}")"
		echo "  recorder CPU ms / 1k conn  $(bl_spread 2 "${msk[@]}")"
		echo "  losses reported, per round:"
		printf '    %s\n' "${loss[@]:-none}"
		SUM[$c]="${SUM[$c]}|$(bl_spread 5 "${frac[@]}")|$(bl_spread 0 "${miss[@]}")|$(bl_spread 5 "${exact[@]}")|$(bl_spread 2 "${pct[@]}")|$(bl_spread 2 "${msk[@]}")"
	fi
done

echo ""
echo "== Summary (markdown, for docs/PERFORMANCE.md) =="
echo ""
echo "$ROUNDS rounds, $(bl_num "$RATE") connections/s for $DUR s, $BYTES bytes each way, $(nproc) CPUs," \
	"Linux $(uname -r), $(date -u '+%Y-%m-%d'). Median [quartiles] (min–max)."
echo ""
echo "| configuration | connections completed | recorded / expected ends | missing ends | bytes exact | recorder CPU % of a core | recorder CPU ms per 1,000 conn. | generator CPU µs per conn. | generator CPU vs untraced |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for c in $CONFIGS; do
	IFS='|' read -r d g gr f m e p k <<<"${SUM[$c]}"
	if [ "$c" = untraced ]; then
		echo "| $c | $d | - | - | - | - | - | $g | 1 |"
	else
		echo "| $c | $d | $f | $m | $e | $p | $k | $g | $gr |"
	fi
done

exit "$FAILED"
