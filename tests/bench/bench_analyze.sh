#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench_analyze.sh: how fast does tcptop-analyze answer over a day of recording?
#
# One command. It builds nothing: give it a build directory (or it finds
# build-bana/ or build/) holding analyze/tcptop-analyze and
# tests/bench/synth_store. It makes (or reuses) a synthetic store of a host
# with 1,000 connections recorded for 24 hours at 1 s ticks, written through
# the recorder's own writer by synth_store (tests/bench/synth_store.c), and
# measures, with several runs and the median reported:
#
#   top     `tcptop-analyze top DIR` over the whole day, one hour in the
#           middle and one minute in the middle (--from/--to as @unix times):
#           wall time, and the blocks read (--stats), which shows the index
#           picking the blocks a window needs. For the day and the hour also
#           a decode-only throughput: connection-ticks (one connection in one
#           tick's table) rebuilt and ranked per second.
#   replay  `tcptop-analyze replay --speed max --format json` over the same
#           hour: JSON rows printed per second (to /dev/null). A build whose
#           replay has no --from/--to gets a 1-hour store of its own (same
#           seed: the same stream as the day's first hour).
#   engine  the same hour through `top --port 1`: no connection matches, so
#           every block is decoded and every tick aggregated but nothing is
#           ranked or printed: the replay engine without a printer.
#   ceiling `zstd -d -c` over exactly the zstd payloads of the same frames
#           (extracted from the segments per docs/FORMAT.md): MB/s of
#           compressed input and of decompressed output. Replay, the engine
#           and the day's top are then given as a share of it (same bytes).
#
# The product's targets, to read the numbers against: a one-minute window in
# under 100 ms, the whole day in under 10 s, replay at no less than a third of
# raw decompression speed. The script reports; it never fails on a number.
#
# Time and space: synthesis costs 10 to 25 s per recorded hour of 1,000
# connections on a 2-core VM (the index grows: the day took 6 CPU-minutes and
# 10 minutes of wall time on a busy machine), once: the store is kept under
# --work and reused while its parameters match (--fresh to redo it). The day
# store is about 1.0 GB (segments 660 MB, index.db 340 MB), the payloads
# extracted for zstd another 660 MB while the script runs: have 2 GB free.
# The measurements then take about 4 minutes with --runs 5 (warm page cache).
# --hours 2 makes all of it a couple of minutes.
#
# Uses hyperfine when installed (apt-get install hyperfine), else a loop with
# date +%s%N. Needs python3 (payload extraction) and zstd (the ceiling; skipped
# with a note when missing).
#
# Usage: tests/bench/bench_analyze.sh [--build DIR] [--work DIR] [--hours H]
#            [--conns N] [--seed N] [--runs N] [--cold] [--no-hyperfine] [--fresh]
# Exit: 0 done, 1 runtime failure, 2 bad usage.
set -u

PROG=bench_analyze.sh
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${TCPTOP_BUILD:-}
WORK=${TMPDIR:-/tmp}/tcptop-bench-analyze
HOURS=24
CONNS=1000
SEED=1
RUNS=5
COLD=0
USE_HF=1
FRESH=0

usage() {
	cat <<EOF
Usage: $PROG [options]
  --build DIR       build directory (default: \$TCPTOP_BUILD, build-bana/, build/)
  --work DIR        where stores are made and kept (default: \${TMPDIR:-/tmp}/tcptop-bench-analyze)
  --hours H         recording length (default 24; e.g. 2 for a quick run)
  --conns N         connections open at any time (default 1000)
  --seed N          synthesis seed (default 1)
  --runs N          measured runs per command, median reported (default 5)
  --cold            drop the page cache before every run (root only)
  --no-hyperfine    time with a shell loop even if hyperfine is installed
  --fresh           synthesise the stores again even if they exist
EOF
}

die_usage() {
	echo "$PROG: $*" >&2
	usage >&2
	exit 2
}
die() {
	echo "$PROG: $*" >&2
	exit 1
}
log() { echo "$PROG: $*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--build) [ $# -ge 2 ] || die_usage "$1 needs a value"; BUILD=$2; shift 2 ;;
	--work) [ $# -ge 2 ] || die_usage "$1 needs a value"; WORK=$2; shift 2 ;;
	--hours) [ $# -ge 2 ] || die_usage "$1 needs a value"; HOURS=$2; shift 2 ;;
	--conns) [ $# -ge 2 ] || die_usage "$1 needs a value"; CONNS=$2; shift 2 ;;
	--seed) [ $# -ge 2 ] || die_usage "$1 needs a value"; SEED=$2; shift 2 ;;
	--runs) [ $# -ge 2 ] || die_usage "$1 needs a value"; RUNS=$2; shift 2 ;;
	--cold) COLD=1; shift ;;
	--no-hyperfine) USE_HF=0; shift ;;
	--fresh) FRESH=1; shift ;;
	*) die_usage "unknown argument '$1'" ;;
	esac
done
[[ $HOURS =~ ^[0-9]+$ ]] && [ "$HOURS" -ge 1 ] && [ "$HOURS" -le 168 ] ||
	die_usage "--hours: whole hours from 1 to 168"
[[ $CONNS =~ ^[0-9]+$ ]] && [ "$CONNS" -ge 1 ] || die_usage "--conns: a positive number"
[[ $SEED =~ ^[0-9]+$ ]] || die_usage "--seed: a number"
[[ $RUNS =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 1 ] || die_usage "--runs: a positive number"
if [ "$COLD" = 1 ] && [ "$(id -u)" != 0 ]; then
	die_usage "--cold needs root (it writes /proc/sys/vm/drop_caches)"
fi

if [ -z "$BUILD" ]; then
	for c in "$ROOT/build-bana" "$ROOT/build"; do
		if [ -x "$c/analyze/tcptop-analyze" ] && [ -x "$c/tests/bench/synth_store" ]; then
			BUILD=$c
			break
		fi
	done
fi
[ -n "$BUILD" ] || die "no build found: cmake -S $ROOT -B $ROOT/build-bana -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build $ROOT/build-bana -j2 (or pass --build)"
ANA=$BUILD/analyze/tcptop-analyze
SYNTH=$BUILD/tests/bench/synth_store
[ -x "$ANA" ] || die "$ANA: not built"
[ -x "$SYNTH" ] || die "$SYNTH: not built (the build's tests/bench target)"
command -v python3 >/dev/null || die "python3 is needed (payload extraction)"
HAVE_ZSTD=1
command -v zstd >/dev/null || HAVE_ZSTD=0
if [ "$USE_HF" = 1 ] && ! command -v hyperfine >/dev/null; then
	USE_HF=0
fi

mkdir -p "$WORK" || die "$WORK: cannot create"
TMP=$(mktemp -d "$WORK/run.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$TMP"' EXIT

# ---- stores -----------------------------------------------------------------

# "key=value ..." summary line -> value of one key
sumval() { # FILE KEY
	tr ' ' '\n' <"$1" | sed -n "s/^$2=//p" | head -n1
}

# What this build writes: the frames of a 36-tick store, hashed. A writer or
# aggregator that encodes differently (another keyframe order, another codec)
# changes it, and the stores are made again rather than measured stale.
fingerprint() {
	local d=$TMP/fingerprint f
	rm -rf "$d"
	"$SYNTH" "$d" --conns "$CONNS" --hours 0.01 --seed "$SEED" >/dev/null 2>&1 ||
		die "synth_store failed on a 36-tick store"
	for f in "$d"/*.tts; do tail -c +65 "$f"; done | cksum | cut -d' ' -f1
	rm -rf "$d"
}
FP=$(fingerprint)

# make_store NAME HOURS: $WORK/NAME (store) and $WORK/NAME.summary; reused when
# the summary exists, names the same parameters and the store is complete.
make_store() {
	local name=$1 hours=$2 dir=$WORK/$1 sum=$WORK/$1.summary want
	want="conns=$CONNS hours=$hours seed=$SEED writer=$FP"
	if [ "$FRESH" = 0 ] && [ -f "$sum" ] && [ -f "$dir/index.db" ] &&
		grep -qx "params $want" "$sum"; then
		log "reusing $dir ($want)"
		return 0
	fi
	rm -rf "$dir" "$sum"
	# about 70 MB per hour per 1,000 connections, store and extracted payloads
	local need_mb=$((hours * CONNS * 70 / 1000 + 50))
	local avail_mb
	avail_mb=$(df -Pm "$WORK" | awk 'NR==2 {print $4}')
	if [ -n "$avail_mb" ] && [ "$avail_mb" -lt "$need_mb" ]; then
		die "$WORK: $avail_mb MB free, the $hours h store and its payloads need about $need_mb MB (use --work or --hours)"
	fi
	log "synthesising $dir: $CONNS connections, $hours h, seed $SEED (about $((hours * CONNS * 20 / 1000 + 1)) s; needs ~$need_mb MB)"
	if ! "$SYNTH" "$dir" --conns "$CONNS" --hours "$hours" --seed "$SEED" >"$TMP/synth.out"; then
		rm -rf "$dir"
		die "synth_store failed"
	fi
	sed 's/^/  /' "$TMP/synth.out" | grep -v '^  summary' >&2
	{
		echo "params $want"
		grep '^summary ' "$TMP/synth.out"
	} >"$sum"
}

DAY=day-c$CONNS-h$HOURS-s$SEED
make_store "$DAY" "$HOURS"
DAYDIR=$WORK/$DAY
DAYSUM=$WORK/$DAY.summary

# replay: one hour. With a window option, the day's middle hour; else the hour store.
REPLAY_WINDOW=0
REPLAY_HELP=$("$ANA" replay --help 2>/dev/null)
if grep -q -- '--from' <<<"$REPLAY_HELP"; then
	REPLAY_WINDOW=1
fi
NO_TTY=()
if grep -q -- '--no-tty' <<<"$REPLAY_HELP"; then
	NO_TTY=(--no-tty)
fi
if [ "$REPLAY_WINDOW" = 0 ]; then
	if [ "$HOURS" = 1 ]; then
		HOUR=$DAY
	else
		HOUR=hour-c$CONNS-h1-s$SEED
		make_store "$HOUR" 1
	fi
	HOURDIR=$WORK/$HOUR
	HOURSUM=$WORK/$HOUR.summary
fi

# ---- timing -------------------------------------------------------------------

if [ "$COLD" = 1 ]; then
	printf '#!/bin/sh\nsync; echo 3 > /proc/sys/vm/drop_caches\n' >"$TMP/dropcaches"
	chmod +x "$TMP/dropcaches"
fi

# measure NAME CMD...: RUNS runs after one warm-up, stdout discarded; writes
# "median min max cpu" into $TMP/NAME.t (wall seconds; cpu: mean user+system)
measure() {
	local name=$1
	shift
	if [ "$USE_HF" = 1 ]; then
		local prep=()
		[ "$COLD" = 1 ] && prep=(--prepare "$TMP/dropcaches")
		if ! hyperfine -N --style none --output null --warmup 1 --runs "$RUNS" "${prep[@]}" \
			--export-json "$TMP/$name.json" -- "$(printf '%q ' "$@")" >/dev/null 2>"$TMP/$name.err"; then
			cat "$TMP/$name.err" >&2
			die "$name: command failed: $*"
		fi
		python3 - "$TMP/$name.json" >"$TMP/$name.t" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("%.6f %.6f %.6f %.6f" % (r["median"], r["min"], r["max"], r["user"] + r["system"]))
EOF
	else
		local i t0 t1 TIMEFORMAT='%U %S'
		"$@" >/dev/null 2>&1 || die "$name: command failed: $*"
		: >"$TMP/$name.cpu"
		: >"$TMP/$name.wall"
		for ((i = 0; i < RUNS; i++)); do
			[ "$COLD" = 1 ] && "$TMP/dropcaches"
			t0=$(date +%s%N)
			{ time "$@" >/dev/null 2>&1 || die "$name: command failed: $*"; } 2>>"$TMP/$name.cpu"
			t1=$(date +%s%N)
			echo $((t1 - t0)) >>"$TMP/$name.wall"
		done
		sort -n "$TMP/$name.wall" | awk -v cpu="$(awk '{ s += $1 + $2 } END { print NR ? s / NR : 0 }' "$TMP/$name.cpu")" '
			{ v[NR] = $1 }
			END {
				m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
				printf "%.6f %.6f %.6f %.6f\n", m / 1e9, v[1] / 1e9, v[NR] / 1e9, cpu
			}' >"$TMP/$name.t"
	fi
}
med() { awk '{print $1}' "$TMP/$1.t"; }
minmax() { awk '{printf "%.3f-%.3f", $2, $3}' "$TMP/$1.t"; }

# blocks read by a top over a window: "read/total"
blocks() { # ARGS...
	"$ANA" top --stats "$@" 2>&1 >/dev/null |
		sed -n 's/.*blocks read \([0-9]*\) of \([0-9]*\).*ticks \([0-9]*\).*/\1 \2 \3/p'
}

# ---- windows -------------------------------------------------------------------

S=$(sumval "$DAYSUM" start_unix)
E=$(sumval "$DAYSUM" end_unix)
MID=$(((S + E) / 2))
H_FROM=$((MID - 1800))
H_TO=$((MID + 1800))
[ "$H_FROM" -lt "$S" ] && H_FROM=$S
[ "$H_TO" -gt "$E" ] && H_TO=$E
M_FROM=$MID
M_TO=$((MID + 60))
CT_DAY=$(sumval "$DAYSUM" conn_ticks)
SEG_DAY=$(sumval "$DAYSUM" segment_bytes)
IDX_DAY=$(sumval "$DAYSUM" index_bytes)

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# the build's sources: a git checkout (commit, and whether it has local changes) or not
SRCDIR=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
if REV=$(git -C "${SRCDIR:-/nonexistent}" rev-parse --short HEAD 2>/dev/null); then
	git -C "$SRCDIR" diff --quiet HEAD -- 2>/dev/null || REV="$REV + local changes"
else
	REV="not a git checkout"
fi
SOURCE="sources ${SRCDIR:-?} ($REV)"
log "build $BUILD, $SOURCE, $RUNS runs each, $([ "$USE_HF" = 1 ] && echo hyperfine || echo 'date loop'), $([ "$COLD" = 1 ] && echo cold || echo warm) cache"

SPAN=$([ "$HOURS" = 24 ] && echo "whole day" || echo "whole ${HOURS} h")
log "top: $SPAN"
measure top_day "$ANA" top "$DAYDIR"
log "top: one hour"
measure top_hour "$ANA" top --from "@$H_FROM" --to "@$H_TO" "$DAYDIR"
log "top: one minute"
measure top_min "$ANA" top --from "@$M_FROM" --to "@$M_TO" "$DAYDIR"
read -r B_DAY B_TOT T_DAY <<<"$(blocks "$DAYDIR")"
read -r B_HOUR _ T_HOUR <<<"$(blocks --from "@$H_FROM" --to "@$H_TO" "$DAYDIR")"
read -r B_MIN _ T_MIN <<<"$(blocks --from "@$M_FROM" --to "@$M_TO" "$DAYDIR")"

# connection-ticks decoded for the hour: every replayed tick (the window's and
# the margin of its first and last block) holds about CONNS rows
CT_HOUR=$((T_HOUR * CONNS))

log "replay: one hour"
if [ "$REPLAY_WINDOW" = 1 ]; then
	RP_DIR=$DAYDIR
	RP_WIN=(--from "@$H_FROM" --to "@$H_TO")
else
	RP_DIR=$HOURDIR
	RP_WIN=()
fi
RP_ARGS=(replay "${NO_TTY[@]}" --speed max --format json "${RP_WIN[@]}" "$RP_DIR")
measure replay "$ANA" "${RP_ARGS[@]}"
RP_ROWS=$("$ANA" "${RP_ARGS[@]}" | wc -l)
RP_BYTES=$("$ANA" "${RP_ARGS[@]}" | wc -c)

# the replay engine without a printer: the same hour through top with a filter
# no connection matches (port 1), so every block is decoded and every tick
# aggregated, and every row dropped at the first test
log "decode + aggregate: one hour, nothing printed"
ENG_ARGS=(top --port 1 "${RP_WIN[@]}" "$RP_DIR")
"$ANA" "${ENG_ARGS[@]}" 2>/dev/null | grep -q "groups 0 " ||
	log "warning: connections on port 1 in $RP_DIR: the engine row also ranks them"
measure engine "$ANA" "${ENG_ARGS[@]}"

# ---- the ceiling: zstd -d over the frames' payloads ---------------------------------

# extract SEGDIR OUT [FROM_NS TO_NS]: the zstd payloads of every frame (of the
# window, by the frame's t_start/t_end and the segment's mono_to_wall) into
# OUT; prints "frames payload_bytes raw_bytes"
extract() {
	python3 - "$@" <<'EOF'
import glob, os, struct, sys
segdir, out = sys.argv[1], sys.argv[2]
lo = int(sys.argv[3]) if len(sys.argv) > 3 else None
hi = int(sys.argv[4]) if len(sys.argv) > 4 else None
frames = pay = raw = 0
with open(out, "wb") as o:
    for path in sorted(glob.glob(os.path.join(segdir, "*.tts"))):
        with open(path, "rb") as f:
            data = f.read()
        # file header (docs/FORMAT.md): magic, versions, header length at 12, m2w at 24
        if data[:8] != b"\x89TTSEG\r\n":
            sys.exit("%s: not a segment" % path)
        hlen, = struct.unpack_from("<H", data, 12)
        m2w, = struct.unpack_from("<q", data, 24)
        off = hlen
        while off + 48 <= len(data):
            magic, flen, _flags, plen, rlen, _n, _crc, t0, t1 = struct.unpack_from(
                "<IHHIIIIQQ", data, off)
            if magic != 0x425454F7 or off + flen + plen > len(data):
                break  # a torn tail: the analyzer skips it too
            if (lo is None or t1 + m2w >= lo) and (hi is None or t0 + m2w <= hi):
                o.write(data[off + flen:off + flen + plen])
                frames += 1
                pay += plen
                raw += rlen
            off += flen + plen
print(frames, pay, raw)
EOF
}

if [ "$REPLAY_WINDOW" = 1 ]; then
	read -r RP_FRAMES RP_PAY RP_RAW <<<"$(extract "$RP_DIR" "$WORK/replay.payloads" \
		"${H_FROM}000000000" "${H_TO}000000000")"
else
	read -r RP_FRAMES RP_PAY RP_RAW <<<"$(extract "$RP_DIR" "$WORK/replay.payloads")"
fi
read -r DAY_FRAMES DAY_PAY DAY_RAW <<<"$(extract "$DAYDIR" "$WORK/day.payloads")"
if [ "$HAVE_ZSTD" = 1 ]; then
	log "zstd -d: the replayed hour's payloads, then the day's"
	measure zstd_hour zstd -q -d -c "$WORK/replay.payloads"
	measure zstd_day zstd -q -d -c "$WORK/day.payloads"
	# the CLI must agree on the sizes: same bytes, same content
	Z_RAW=$(zstd -q -d -c "$WORK/replay.payloads" | wc -c)
	[ "$Z_RAW" = "$RP_RAW" ] || log "warning: zstd gave $Z_RAW bytes, the frame headers say $RP_RAW"
else
	log "zstd not installed (Debian: apt-get install zstd): no ceiling"
fi
rm -f "$WORK/replay.payloads" "$WORK/day.payloads"

# ---- report ---------------------------------------------------------------------

f() { awk -v x="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, x }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.6g", a / b; else print "-" }'; }
mbps() { awk -v a="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.1f", a / t / 1e6; else print "-" }'; }
cpu() { awk '{printf "%.3f", $4}' "$TMP/$1.t"; }
row() { printf '%-34s %9s %13s %8s %16s %18s\n' "$@"; }

T_TOP_DAY=$(med top_day)
T_TOP_HOUR=$(med top_hour)
T_TOP_MIN=$(med top_min)
T_RP=$(med replay)
T_ENG=$(med engine)
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)

echo "tcptop-analyze speed, $(date -u +%Y-%m-%d), $(nproc) CPUs ($CPU_MODEL), kernel $(uname -r)"
echo "build $BUILD, $SOURCE"
echo "median of $RUNS runs ($([ "$USE_HF" = 1 ] && echo hyperfine || echo date loop), $([ "$COLD" = 1 ] && echo cold || echo warm) page cache)"
echo "load average before / after: $LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg)"
echo "store $DAYDIR (writer fingerprint $FP): $CONNS connections, $HOURS h at 1 s ticks, $(sumval "$DAYSUM" conns_total) connections in all, $CT_DAY connection-ticks"
echo "  segments $(f "$(div "$SEG_DAY" 1e6)") MB in $B_TOT blocks, index.db $(f "$(div "$IDX_DAY" 1e6)") MB; synthesis took $(f "$(sumval "$DAYSUM" synth_s)") s"
echo
row "query" "median s" "min-max" "cpu s" "blocks read" "conn-ticks/s"
row "top, $SPAN" "$(f "$T_TOP_DAY" 3)" "$(minmax top_day)" "$(cpu top_day)" "$B_DAY of $B_TOT" "$(f "$(div "$CT_DAY" "$T_TOP_DAY")" 0)"
row "top, one hour" "$(f "$T_TOP_HOUR" 3)" "$(minmax top_hour)" "$(cpu top_hour)" "$B_HOUR of $B_TOT" "~$(f "$(div "$CT_HOUR" "$T_TOP_HOUR")" 0)"
row "top, one minute" "$(f "$T_TOP_MIN" 3)" "$(minmax top_min)" "$(cpu top_min)" "$B_MIN of $B_TOT" "-"
row "replay json, one hour" "$(f "$T_RP" 3)" "$(minmax replay)" "$(cpu replay)" "$RP_FRAMES" "$(f "$(div "$RP_ROWS" "$T_RP")" 0) rows"
row "decode+aggregate, one hour" "$(f "$T_ENG" 3)" "$(minmax engine)" "$(cpu engine)" "$RP_FRAMES" "~$(f "$(div "$RP_ROWS" "$T_ENG")" 0)"
echo
echo "  windows: hour @$H_FROM..@$H_TO ($T_HOUR ticks replayed), minute @$M_FROM..@$M_TO ($T_MIN ticks replayed)"
echo "  replay: $RP_ROWS JSON rows, $(f "$(div "$RP_BYTES" 1e6)") MB of output, $(mbps "$RP_BYTES" "$T_RP") MB/s$([ "$REPLAY_WINDOW" = 0 ] && echo "; store $HOURDIR (this replay has no --from/--to)")"
echo "  decode+aggregate: top --port 1 over the replayed hour (no row matches: nothing ranked or printed)"
if [ "$HAVE_ZSTD" = 1 ]; then
	T_ZH=$(med zstd_hour)
	T_ZD=$(med zstd_day)
	echo
	row "zstd -d (the ceiling)" "median s" "min-max" "cpu s" "payload MB" "in / out MB/s"
	row "the replayed hour's frames" "$(f "$T_ZH" 3)" "$(minmax zstd_hour)" "$(cpu zstd_hour)" "$(f "$(div "$RP_PAY" 1e6)")" "$(mbps "$RP_PAY" "$T_ZH") / $(mbps "$RP_RAW" "$T_ZH")"
	row "all frames ($SPAN)" "$(f "$T_ZD" 3)" "$(minmax zstd_day)" "$(cpu zstd_day)" "$(f "$(div "$DAY_PAY" 1e6)")" "$(mbps "$DAY_PAY" "$T_ZD") / $(mbps "$DAY_RAW" "$T_ZD")"
	echo
	echo "  as a share of zstd -d on the same bytes (payload MB/s):"
	echo "    replay json, one hour      $(mbps "$RP_PAY" "$T_RP") MB/s = $(f "$(div "$T_ZH" "$T_RP")" 3)"
	echo "    decode+aggregate, one hour $(mbps "$RP_PAY" "$T_ENG") MB/s = $(f "$(div "$T_ZH" "$T_ENG")" 3)"
	echo "    top, $SPAN$(printf '%*s' $((16 - ${#SPAN})) '') $(mbps "$DAY_PAY" "$T_TOP_DAY") MB/s = $(f "$(div "$T_ZD" "$T_TOP_DAY")" 3)"
fi
echo
met() { awk -v ok="$1" 'BEGIN { print ok ? "met" : "MISSED" }'; }
echo "targets:"
echo "  one minute < 0.1 s:           $(met "$(awk -v t="$T_TOP_MIN" 'BEGIN { print (t < 0.1) }')") ($(f "$T_TOP_MIN" 3) s)"
if [ "$HOURS" -ge 24 ]; then
	echo "  whole day < 10 s:             $(met "$(awk -v t="$T_TOP_DAY" 'BEGIN { print (t < 10) }')") ($(f "$T_TOP_DAY" 2) s)"
else
	echo "  whole day < 10 s:             not measured ($HOURS h store: $(f "$T_TOP_DAY" 2) s, ~$(f "$(awk -v t="$T_TOP_DAY" -v h="$HOURS" 'BEGIN{print t * 24 / h}')" 1) s for 24 h)"
fi
if [ "$HAVE_ZSTD" = 1 ]; then
	echo "  replay >= 1/3 of zstd -d:     $(met "$(awk -v a="$T_ZH" -v b="$T_RP" 'BEGIN { print (a / b >= 1 / 3) }')") ($(f "$(div "$T_ZH" "$T_RP")" 3) with JSON; $(f "$(div "$T_ZH" "$T_ENG")" 3) decode+aggregate only)"
else
	echo "  replay >= 1/3 of zstd -d:     not measured (no zstd)"
fi
