#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running recorder or a full test run.
# As root (or with sudo):
#   ./quickstart.sh record [tcptop-record options]   set up, build, record (live view)
#   ./quickstart.sh test                              set up, build with ASan+UBSan, run every test
#                                                     (and the fuzz targets, built with clang, briefly)
#   ./quickstart.sh package                           set up, build build-deb/tcptop_VERSION_ARCH.deb
#   ./quickstart.sh setup                             packages to build and run only
set -euo pipefail
cd "$(dirname "$0")"

# to build and run
PKGS=(build-essential cmake pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
      libsqlite3-dev libzstd-dev libcmocka-dev scdoc libcurl4-openssl-dev)
# the tests also need real peers: namespaces, nftables, a terminal, a browser;
# and what packaging is checked with: systemd-analyze, man, passwd (useradd), zsh, a
# Prometheus parser, debootstrap (a fresh Debian 12 for the .deb), ClickHouse (fleet tests:
# plain processes on loopback ports, docs/FLEET.md)
TEST_PKGS=(iproute2 nftables python3 util-linux libcap2-bin tmux chromium systemd man-db passwd zsh strace
           python3-prometheus-client debootstrap clickhouse-server clickhouse-client clang-format)

die() { echo "quickstart: $*" >&2; exit 1; }

setup() { # setup PACKAGE...
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "needs root to install: ${missing[*]}"
	echo "quickstart: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() { # build DIR [cmake args...]
	local dir=$1; shift
	cmake -S . -B "$dir" "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
setup)
	setup "${PKGS[@]}" ;;
record)
	setup "${PKGS[@]}"
	build build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	exec ./build/record/tcptop-record "$@" ;;
test)
	setup "${PKGS[@]}" "${TEST_PKGS[@]}"
	# every C file as the committed .clang-format lays it out (clang-format -i to fix)
	find bpf lib record analyze tests -name '*.[ch]' -print0 |
		xargs -0 clang-format --dry-run --Werror || die "C files not formatted (clang-format -i)"
	# The optimised build must compile too (-Werror sees more there), then every
	# test runs against the sanitized build: ASan+UBSan abort on the first error.
	build build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	build build-test -DCMAKE_BUILD_TYPE=Debug -DTT_SANITIZE=ON >/dev/null
	# the libFuzzer targets need clang: a build of their own, only they in it
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DTT_SANITIZE=ON \
		-DTT_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j"$(nproc)" --target fuzz >/dev/null
	rc=0
	(cd build-test && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure "$@") || rc=$?
	# a bounded smoke run of each target (tests/fuzz/README.md), label fuzz
	(cd build-fuzz && ctest --output-on-failure -L fuzz) || rc=$?
	exit $rc ;;
package)
	setup "${PKGS[@]}"
	# the paths a packager uses (debhelper's), no tests
	build build-deb -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
		-DCMAKE_INSTALL_SYSCONFDIR=/etc -DBUILD_TESTING=OFF >/dev/null
	(cd build-deb && rm -f ./*.deb && cpack -G DEB >/dev/null 2>&1)
	ls "$PWD"/build-deb/*.deb ;;
*)
	echo "usage: $0 record [OPTIONS] | test [CTEST OPTIONS] | package | setup" >&2
	exit 2 ;;
esac
