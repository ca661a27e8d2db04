#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# profile.sh: where mpconv's time and memory go, on bench/run.sh's veth bed (lan ── gw ══ veth ══
# cv ── srv) with mpconv in pool mode (or CONTENDER=haproxy|shadowsocks: any two-box contender of
# bench/lib-bench.sh, for comparison). The evidence behind the analysis in bench/RESULTS.md.
#
#   rate   syscalls per connection of gateway and converter (strace -c -f) during benchcli rate,
#          then a perf profile (cpu-clock, no hardware counters on this VM) of both daemons
#   bulk   the kernel's own ceiling on this veth: TCP and MPTCP end to end without a relay
#          (mpbulk gw -> cv), then the mpconv download with its longest gap and the MPTCP
#          counters that moved, and a perf profile of both daemons
#   idle   file descriptors (pipes among them) and kernel slab memory per idle relayed
#          connection (IDLE_CONNS through mpconv, 2000 by default)
#
# usage: bench/profile.sh [rate|bulk|idle]...   (default: all three; needs root, perf, strace)
# env: MPCONV_BUILD (default build/release, built by bench/run.sh), IDLE_CONNS, PERF=0 (skip perf),
#      CONTENDER (default mpconv-pool)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
export MPCONV_BUILD=${MPCONV_BUILD:-$TOP/build/release}
IDLE_CONNS=${IDLE_CONNS:-2000}
PERF=${PERF:-1}
# shellcheck disable=SC2034 # read by lib.sh
BED_TAP=0
# shellcheck source=lib-bench.sh
source "$HERE/lib-bench.sh"
require_bed
bench_tools
T=$BED_TMP
C=${CONTENDER:-mpconv-pool}

topo_veth
bench_sysctls
bench_servers
contender_start "$C" || { dump_state "$NS_GW" "$NS_CV" | tail -n 12; bail "$C did not start"; }
read -r GW_PID CV_PID <<<"$(relay_pids "$C" | tr '\n' ' ')"
[ -n "$GW_PID" ] && [ -n "$CV_PID" ] || bail "$C: want one relay process per box"
echo "$C: gateway-side pid $GW_PID, converter-side pid $CV_PID; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# perf_top NAME PID SECONDS: the top symbols (self time) of PID while the caller's load runs.
perf_top()
{
	[ "$PERF" = 1 ] || return 0
	perf record -q -e cpu-clock -F 2000 -g -p "$2" -o "$T/perf.$1" -- sleep "$3" >/dev/null 2>&1
	echo "-- perf $1 (cpu-clock samples, self):"
	perf report -q -i "$T/perf.$1" --no-children --sort symbol --stdio -g none 2>/dev/null |
		grep -v '^$' | head -n 25
}

# strace_counts NAME PID SECONDS: syscall counts of PID (all threads) for SECONDS.
strace_counts()
{
	timeout -s INT "$3" strace -c -f -q -p "$2" -o "$T/strace.$1" >/dev/null 2>&1
	echo "-- strace -c $1:"
	sed -n '1,25p' "$T/strace.$1"
}

# attached TOOL TAG LOAD...: runs TOOL (strace_counts or perf_top) on both relay processes for 4 s
# while LOAD runs in lan, then prints LOAD's line and both reports.
attached()
{
	local tool=$1 tag=$2 p1 p2 line
	shift 2
	$tool "gateway-$tag" "$GW_PID" 4 >"$T/a1" &
	p1=$!
	$tool "converter-$tag" "$CV_PID" 4 >"$T/a2" &
	p2=$!
	line=$(n "$NS_LAN" "$@")
	wait "$p1" "$p2" # never a bare wait: the bed's daemons are children too
	echo "$tag under $tool: $line"
	cat "$T/a1" "$T/a2"
}

prof_rate()
{
	echo "== rate: benchcli rate --seconds 3.5 --threads 8 through $C, strace attached"
	# shellcheck disable=SC2046 # word splitting wanted: host, port and proxy options
	attached strace_counts rate "$BENCHCLI" rate $(target "$C" 7001) --seconds 3.5 --threads 8
	echo "== rate: the same without strace, perf attached"
	# shellcheck disable=SC2046
	attached perf_top rate "$BENCHCLI" rate $(target "$C" 7001) --seconds 3.5 --threads 8
}

prof_bulk()
{
	local line r
	echo "== bulk: kernel ceiling on this veth, no relay (mpbulk gw -> cv, download 4 s)"
	bulk_server "$NS_CV" 5301 --tcp >/dev/null
	bulk_server "$NS_CV" 5302 >/dev/null
	echo "TCP:   $(bulk_client "$NS_GW" "$LINK_A_CV4" 5301 --tcp --download --seconds 4)"
	echo "MPTCP: $(bulk_client "$NS_GW" "$LINK_A_CV4" 5302 --download --seconds 4)"
	echo "== bulk: through $C (benchcli bulk --seconds 4), MPTCP counters on gw and cv"
	for r in 1 2 3; do
		nstat_reset "$NS_GW"
		nstat_reset "$NS_CV"
		# shellcheck disable=SC2046
		line=$(n "$NS_LAN" "$BENCHCLI" bulk $(target "$C" 7002) --bytes 0 --seconds 4)
		echo "run $r: $line"
		echo "  gw: $(_nstat "$NS_GW" -s | awk '/MPTcp|TCPRcvQDrop|TCPBacklog|Prune|Collapse/ { printf "%s=%s ", $1, $2 }')"
		echo "  cv: $(_nstat "$NS_CV" -s | awk '/MPTcp|TCPRcvQDrop|TCPBacklog|Prune|Collapse/ { printf "%s=%s ", $1, $2 }')"
	done
	# shellcheck disable=SC2046
	attached perf_top bulk "$BENCHCLI" bulk $(target "$C" 7002) --bytes 0 --seconds 4
}

_slab_kib()
{
	awk 'NR > 2 { s += $3 * $4 } END { printf "%d\n", s / 1024 }' /proc/slabinfo
}

_fds()
{
	local p=$1
	echo "fds=$(find "/proc/$p/fd" -mindepth 1 | wc -l) pipes=$(find "/proc/$p/fd" -mindepth 1 \
		-lname 'pipe:*' | wc -l)"
}

_held() { grep -q '^held=' "$BED_TMP/hold.out"; }

prof_idle()
{
	local s0 s1 line
	echo "== idle: $IDLE_CONNS connections through $C, each echoed one byte, then idle"
	echo "before: gateway $(_fds "$GW_PID"), converter $(_fds "$CV_PID")"
	s0=$(_slab_kib)
	# shellcheck disable=SC2046
	bed_start "$NS_LAN" hold "$BENCHCLI" hold $(target "$C" 7003) --count "$IDLE_CONNS" --threads 8
	wait_for 120 _held || bail "hold did not finish"
	sleep 1
	s1=$(_slab_kib)
	line=$(cat "$BED_TMP/hold.out")
	echo "$line"
	echo "during: gateway $(_fds "$GW_PID"), converter $(_fds "$CV_PID")"
	echo "slab (whole machine, all namespaces, noisy): $s0 -> $s1 KiB," \
		"$(awk -v a="$s0" -v b="$s1" -v k="$(kv held "$line")" 'BEGIN { printf "%.1f", (b - a) / k }') KiB per connection"
	bed_stop hold
}

[ $# -gt 0 ] || set -- rate bulk idle
for what in "$@"; do
	case $what in
	rate) prof_rate ;;
	bulk) prof_bulk ;;
	idle) prof_idle ;;
	*) bail "unknown: $what" ;;
	esac
done
contender_stop "$C"
