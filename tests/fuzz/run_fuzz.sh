#!/bin/sh
# run_fuzz.sh TARGET SEEDS RUNS [libFuzzer options...]: run a libFuzzer target
# on a private copy of its seed corpus (libFuzzer adds what it finds to the
# first corpus directory: the repository's stays as committed) for RUNS inputs.
# Exit 0, or the target's exit (a crash, a leak, a timeout) with its report.
set -eu
target=$1 seeds=$2 runs=$3
shift 3
work=$(mktemp -d "${TMPDIR:-/tmp}/tt-fuzz-run-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/"
cd "$work"
export TMPDIR="$work" # the targets make their files under it
"$target" -runs="$runs" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
	-print_final_stats=1 "$@" "$work/corpus"
