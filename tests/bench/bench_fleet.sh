#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench_fleet.sh: what shipping to ClickHouse costs, and how fast the fleet
# answers (issue 12, docs/FLEET.md).
#
# It builds nothing: give it a build directory (or it uses $TCPTOP_BUILD, or
# build/) holding analyze/tcptop-analyze and tests/bench/synth_store. It starts
# two clickhouse-server processes (Debian's 18.16) as plain processes on
# loopback ports, with their files under --work, as two shards of a cluster
# with the Distributed tables (schema/clickhouse/distributed.sql) on shard 1,
# makes synthetic stores with synth_store (the recorder's own writer), and
# measures:
#
#   export   `tcptop-analyze export` of one store of --hours x --conns (24 h x
#            1,000 connections by default) into shard 1: wall and CPU time,
#            connection-ticks per second (wall)
#   disk     ClickHouse's bytes on disk for it (system.parts, active parts
#            after OPTIMIZE FINAL), per connection-tick, next to the local
#            store's (segments + index.db) per connection-tick
#   top      `top --group-by remote-host -n 10` over the whole span of --hosts
#            synthetic hosts (10 by default, each --fleet-hours x --fleet-conns,
#            exported alternately to shard 1 and shard 2), through the
#            Distributed tables, next to the local multi-store top over the
#            same stores: --runs rounds (21 by default), each running both,
#            in turn first (interleaved, so a change of the machine's load
#            hits both alike); median, min, max and interquartile range of
#            each, and whether the two answers were equal (json) in every round
#
# One command at the issue's scale: `tests/bench/bench_fleet.sh` (or
# `--scale full`): the export store is 24 h x 1,000 connections, the fleet 10
# hosts of 24 h x 1,000 connections, 21 rounds. `--scale small` is 1 h x 200
# connections, 5 hosts, 21 rounds (a few minutes); `--scale smoke` a few
# seconds (3 hosts of 3 minutes x 20 connections, 3 rounds: does it run,
# not a measurement). Options after --scale override its values.
#
# Preparing the full run: synthesis costs about 6 CPU-minutes (10 minutes of
# wall time on a busy machine) per 24 h x 1,000-connection store (see
# bench_analyze.sh) and the full run makes 11, one at a time: 1 to 2 hours,
# once (the stores are kept under --work and reused while their parameters
# match; --fresh to redo them; about 1 GB each, have 12 GB free). Each run
# then exports the 11 stores anew (8.6 M connection-ticks each, at the
# export rate the script prints; not measured yet at that size) before the
# 21 rounds of the two tops.
#
# ClickHouse's data is made anew each run. The script reports; it never fails
# on a number. Run it on a quiet machine.
#
# Usage: tests/bench/bench_fleet.sh [--scale full|small|smoke] [--build DIR]
#            [--work DIR] [--hours H] [--conns N] [--hosts N] [--fleet-hours H]
#            [--fleet-conns N] [--runs N] [--fresh]
# --fleet-conns is --conns unless given.
# Exit: 0 done, 1 runtime failure, 2 bad usage, 77 no clickhouse-server.
set -u

PROG=bench_fleet.sh
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${TCPTOP_BUILD:-$ROOT/build}
WORK=${TMPDIR:-/tmp}/tcptop-bench-fleet
HOURS=24
CONNS=1000
HOSTS=10
FLEET_HOURS=24
FLEET_CONNS=
RUNS=21
FRESH=0
SERVER=/usr/sbin/clickhouse-server

usage() {
	sed -n '3,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

die() { echo "$PROG: $*" >&2; exit 1; }
die_usage() { echo "$PROG: $1" >&2; echo "Try '$0 --help'." >&2; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--scale)
		case ${2:-} in
		full) HOURS=24 CONNS=1000 HOSTS=10 FLEET_HOURS=24 RUNS=21 ;;
		small) HOURS=1 CONNS=200 HOSTS=5 FLEET_HOURS=1 RUNS=21 ;;
		smoke) HOURS=0.05 CONNS=20 HOSTS=3 FLEET_HOURS=0.05 RUNS=3 ;;
		*) die_usage "--scale: full, small or smoke" ;;
		esac
		shift ;;
	--build) BUILD=${2:?}; shift ;;
	--work) WORK=${2:?}; shift ;;
	--hours) HOURS=${2:?}; shift ;;
	--conns) CONNS=${2:?}; shift ;;
	--hosts) HOSTS=${2:?}; shift ;;
	--fleet-hours) FLEET_HOURS=${2:?}; shift ;;
	--fleet-conns) FLEET_CONNS=${2:?}; shift ;;
	--runs) RUNS=${2:?}; shift ;;
	--fresh) FRESH=1 ;;
	*) die_usage "unknown option '$1'" ;;
	esac
	shift
done
FLEET_CONNS=${FLEET_CONNS:-$CONNS}
[[ $CONNS =~ ^[0-9]+$ && $FLEET_CONNS =~ ^[0-9]+$ && $HOSTS =~ ^[0-9]+$ && $RUNS =~ ^[1-9][0-9]*$ ]] ||
	die_usage "--conns, --fleet-conns, --hosts and --runs take whole numbers"
[[ $HOURS =~ ^[0-9.]+$ && $FLEET_HOURS =~ ^[0-9.]+$ ]] || die_usage "--hours: a number"
[ "$HOSTS" -ge 1 ] || die_usage "--hosts: at least 1"
if [ ! -x "$SERVER" ]; then
	echo "$PROG: $SERVER is not installed (apt-get install clickhouse-server); skipped" >&2
	exit 77
fi
ANA=$BUILD/analyze/tcptop-analyze
SYNTH=$BUILD/tests/bench/synth_store
[ -x "$ANA" ] && [ -x "$SYNTH" ] || die "no $ANA or $SYNTH (cmake --build $BUILD)"
mkdir -p "$WORK" || die "cannot create $WORK"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$WORK/ch1" "$WORK/ch2"
}
trap cleanup EXIT

# start_server N HTTP TCP TCP1 TCP2
start_server() {
	local d=$WORK/ch$1
	rm -rf "$d"
	mkdir -p "$d"
	cat >"$d/config.xml" <<EOF
<?xml version="1.0"?><yandex>
<logger><level>warning</level><log>$d/log</log><errorlog>$d/err.log</errorlog></logger>
<http_port>$2</http_port><tcp_port>$3</tcp_port><listen_host>127.0.0.1</listen_host>
<path>$d/data/</path><tmp_path>$d/tmp/</tmp_path><user_files_path>$d/uf/</user_files_path>
<format_schema_path>$d/fs/</format_schema_path>
<mark_cache_size>536870912</mark_cache_size><uncompressed_cache_size>536870912</uncompressed_cache_size>
<users_config>$d/users.xml</users_config><default_profile>default</default_profile>
<default_database>default</default_database><mlock_executable>false</mlock_executable>
<timezone>UTC</timezone>
<remote_servers><tt_fleet>
<shard><replica><host>127.0.0.1</host><port>$4</port></replica></shard>
<shard><replica><host>127.0.0.1</host><port>$5</port></replica></shard>
</tt_fleet></remote_servers></yandex>
EOF
	cat >"$d/users.xml" <<EOF
<?xml version="1.0"?><yandex><profiles><default></default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip></networks>
<profile>default</profile><quota>default</quota></default></users>
<quotas><default></default></quotas></yandex>
EOF
	"$SERVER" --config-file="$d/config.xml" >"$d/stdout" 2>&1 &
	PIDS+=($!)
	local i
	for i in $(seq 1 100); do
		q "$2" "SELECT 1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "clickhouse-server on port $2 did not start: $(tail -3 "$d/stdout")"
}

q() { # HTTP-PORT SQL [DB]
	curl -sS --fail-with-body "http://127.0.0.1:$1/?database=${3:-default}" --data-binary "$2"
}

# timed LABEL CMD...: runs it, prints "wall cpu" seconds (cpu: user + system of the child)
timed() {
	python3 - "$@" <<'EOF'
import resource, subprocess, sys, time
t = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out, err = p.communicate()
wall = time.monotonic() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
if p.returncode != 0:
    sys.stderr.write(err.decode())
    sys.exit(p.returncode)
sys.stdout.write("%.3f %.3f\n" % (wall, r.ru_utime + r.ru_stime))
sys.stdout.write(out.decode())
EOF
}

# store DIR HOST SEED HOURS CONNS: make it unless it is there with these parameters
store() {
	local want="host=$2 seed=$3 hours=$4 conns=$5"
	if [ "$FRESH" = 0 ] && [ -f "$1.params" ] && [ "$(cat "$1.params")" = "$want" ]; then
		return 0
	fi
	rm -rf "$1" "$1.params"
	"$SYNTH" "$1" --conns "$5" --hours "$4" --seed "$3" --host "$2" >"$1.summary" 2>/dev/null ||
		die "synth_store $1 failed"
	echo "$want" >"$1.params"
}

H1=$(free_port); T1=$(free_port); H2=$(free_port); T2=$(free_port)
start_server 1 "$H1" "$T1" "$T1" "$T2"
start_server 2 "$H2" "$T2" "$T1" "$T2"
for p in "$H1" "$H2"; do q "$p" "CREATE DATABASE bench" >/dev/null && q "$p" "CREATE DATABASE fleet" >/dev/null ||
	die "cannot create the databases"; done
echo "clickhouse-server $(q "$H1" "SELECT version()"): shards on 127.0.0.1:$H1 and :$H2"

# ---- export rate and bytes per connection-tick --------------------------------
echo "synthesizing the export store (${HOURS} h x $CONNS connections)..."
store "$WORK/one" one.example 1 "$HOURS" "$CONNS"
res=$(timed "$ANA" export "$WORK/one" --clickhouse "http://127.0.0.1:$H1/?database=bench") ||
	die "export failed"
read -r wall cpu <<<"$(head -1 <<<"$res")"
ticks=$(sed -n 's/.* \([0-9]*\) connection-ticks.*/\1/p' <<<"$res" | head -1)
echo "export: $ticks connection-ticks in ${wall} s wall, ${cpu} s CPU (the exporter):" \
	"$(awk -v n="$ticks" -v w="$wall" 'BEGIN {printf "%.0f", n / w}') connection-ticks/s"
for t in tt_ticks tt_events tt_conns tt_recordings tt_losses; do
	q "$H1" "OPTIMIZE TABLE $t FINAL" bench >/dev/null
done
chb=$(q "$H1" "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'bench' AND active")
chticks=$(q "$H1" "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'bench' AND active AND table = 'tt_ticks'")
localb=$(du -sb "$WORK/one" | cut -f1)
awk -v c="$chb" -v k="$chticks" -v l="$localb" -v n="$ticks" 'BEGIN {
	printf "disk: ClickHouse %d bytes (tt_ticks %d), %.1f bytes per connection-tick;" \
	       " local store %d bytes, %.1f bytes per connection-tick\n", c, k, c / n, l, l / n }'

# ---- fleet top through the Distributed tables vs local multi-store top --------
echo "synthesizing $HOSTS hosts (${FLEET_HOURS} h x $FLEET_CONNS connections each)..."
dirs=()
for i in $(seq 1 "$HOSTS"); do
	d=$WORK/host$(printf %02d "$i")
	store "$d" "host$(printf %02d "$i").example" $((100 + i)) "$FLEET_HOURS" "$FLEET_CONNS"
	dirs+=("$d")
	port=$H1
	[ $((i % 2)) = 0 ] && port=$H2
	"$ANA" export "$d" --clickhouse "http://127.0.0.1:$port/?database=fleet" >/dev/null ||
		die "export of $d failed"
done
python3 - "$ROOT/schema/clickhouse/distributed.sql" "$H1" <<'EOF' || die "cannot create the Distributed tables"
import sys, urllib.request
sql = open(sys.argv[1]).read().replace("CLUSTER", "tt_fleet")
for st in sql.split(";\n"):
    if any(l.strip() and not l.startswith("--") for l in st.splitlines()):
        urllib.request.urlopen("http://127.0.0.1:%s/?database=fleet" % sys.argv[2], st.encode()).read()
EOF
TOPQ=(top --group-by remote-host -n 10 --format json)
FURL="http://127.0.0.1:$H1/?database=fleet"
fw=(); lw=(); same=0
for r in $(seq 1 "$RUNS"); do
	# interleaved, each first in turn
	for side in $([ $((r % 2)) = 1 ] && echo "fleet local" || echo "local fleet"); do
		if [ "$side" = fleet ]; then
			res=$(timed "$ANA" "${TOPQ[@]}" --clickhouse "$FURL") || die "fleet top failed"
			fw+=("$(head -1 <<<"$res" | cut -d' ' -f1)")
			ftop=$(tail -n +2 <<<"$res")
		else
			res=$(timed "$ANA" "${TOPQ[@]}" "${dirs[@]}") || die "local top failed"
			lw+=("$(head -1 <<<"$res" | cut -d' ' -f1)")
			ltop=$(tail -n +2 <<<"$res")
		fi
	done
	[ "$ftop" = "$ltop" ] && same=$((same + 1))
done
# spread LABEL SECONDS...: median, min, max, interquartile range
spread() {
	local l=$1
	shift
	printf '%s\n' "$@" | sort -n | awk -v l="$l" '{a[NR] = $1}
		function q(p,  i, f) { i = 1 + (NR - 1) * p; f = int(i); return a[f] + (i - f) * (a[f + 1] - a[f]) }
		END { a[NR + 1] = a[NR]; printf "%s median %.3f s (min %.3f, max %.3f, IQR %.3f..%.3f, %d runs)\n",
			l, q(0.5), a[1], a[NR], q(0.25), q(0.75), NR }'
}
echo "top over $HOSTS hosts x ${FLEET_HOURS} h x $FLEET_CONNS connections, $RUNS interleaved rounds (wall):"
spread "  fleet (Distributed)  " "${fw[@]}"
spread "  local multi-store    " "${lw[@]}"
echo "  equal answers (json) in $same of $RUNS rounds"
