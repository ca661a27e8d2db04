#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh: mpconv against the relays operators use today (issue 6), on the namespace bed.
#
#   lan (benchcli) ── gw ══ access link(s) ══ cv ── srv (benchsrv)
#
#   phase veth:  two plain veths between gw and cv (offloads on, no emulator; every MPTCP
#                contender runs a subflow on each): the CPU-bound metrics 1 bulk throughput
#                (iperf3 -R) + relay CPU/GB, 2 connection rate + CPU/connection,
#                3 user-space memory per idle relayed connection (PSS/RSS, 0 vs --idle conns)
#   phase links: topo_hybrid A:rate=20mbit,delay=10 B:rate=30mbit,delay=20 (kernel-PM subflow
#                endpoint on B): 4 connect-to-first-byte latency in link-A round trips,
#                5 bonded goodput / (single-link A + single-link B, measured in the same round),
#                6 failover: link A (the initial subflow's) set down mid-download: longest gap
#                between two reads, bytes lost, content check
#
# Contenders (bench/lib-bench.sh): noproxy haproxy shadowsocks dante mpconv-pool mpconv-tfo.
# Every round starts each contender afresh, in a rotated order, so the machine's noise spreads
# over all of them; the summary (bench/summary.py) takes medians over rounds and, for ratios,
# the median of the per-round ratios.
#
# usage: bench/run.sh [-n ROUNDS] [-p veth,links] [-c CONTENDER,...] [-o RAW.tsv] [--record]
#   --record   append the dated section to bench/RESULTS.md (make bench does)
# env: MPCONV_BUILD (default build/release, set up and built here), IDLE_CONNS (5000),
#      BULK_SECONDS (4), RATE_SECONDS (4), RATE_THREADS (8), BOND_SECONDS (8),
#      FAILOVER_BYTES (30000000), MPCONV_GW_ARGS / MPCONV_CV_ARGS (extra daemon options, for
#      experiments: e.g. MPCONV_CV_ARGS="--socket-buffer 0")
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
ROUNDS=3
PHASES=veth,links
CONTENDERS=
OUT=
RECORD=0
CHILD=

while [ $# -gt 0 ]; do
	case $1 in
	-n) ROUNDS=$2; shift 2 ;;
	-p) PHASES=$2; shift 2 ;;
	-c) CONTENDERS=$2; shift 2 ;;
	-o) OUT=$2; shift 2 ;;
	--record) RECORD=1; shift ;;
	--child) CHILD=$2; OUT=$3; shift 3 ;;
	-h | --help) sed -n '3,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "unknown argument: $1" >&2; exit 2 ;;
	esac
done

export MPCONV_BUILD=${MPCONV_BUILD:-$TOP/build/release}
IDLE_CONNS=${IDLE_CONNS:-5000}
BULK_SECONDS=${BULK_SECONDS:-4}
RATE_SECONDS=${RATE_SECONDS:-4}
RATE_THREADS=${RATE_THREADS:-8}
BOND_SECONDS=${BOND_SECONDS:-8}
FAILOVER_BYTES=${FAILOVER_BYTES:-30000000}

# ---------------------------------------------------------------------------------------------
# Parent: dependencies, build, one child per phase, summary.

if [ -z "$CHILD" ]; then
	[ "$(id -u)" -eq 0 ] || { echo "run.sh: needs root (network namespaces)" >&2; exit 1; }
	bash "$TOP/scripts/install-deps.sh" --bench || exit 1
	if [ ! -f "$MPCONV_BUILD/build.ninja" ]; then
		CC=gcc meson setup "$MPCONV_BUILD" "$TOP" --buildtype=release >/dev/null || exit 1
	fi
	ninja -C "$MPCONV_BUILD" >/dev/null || exit 1
	[ -n "$OUT" ] || OUT=$(mktemp /tmp/mpconv-bench.XXXXXX.tsv)
	: >"$OUT"
	start=$SECONDS
	{
		echo "# date $(date -u +%Y-%m-%dT%H:%MZ) kernel $(uname -r) cc $(sysctl -n net.ipv4.tcp_congestion_control)" \
			"cpus $(nproc) load '$(cut -d' ' -f1-3 /proc/loadavg)'"
		echo "# versions haproxy $(dpkg-query -W -f='${Version}' haproxy)" \
			"shadowsocks-libev $(dpkg-query -W -f='${Version}' shadowsocks-libev)" \
			"dante-server $(dpkg-query -W -f='${Version}' dante-server)" \
			"mptcpd $(dpkg-query -W -f='${Version}' mptcpd)" \
			"mpconv $(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)"
		echo "# command bench/run.sh -n $ROUNDS -p $PHASES${CONTENDERS:+ -c $CONTENDERS}" \
			"IDLE_CONNS=$IDLE_CONNS BULK_SECONDS=$BULK_SECONDS RATE_SECONDS=$RATE_SECONDS" \
			"RATE_THREADS=$RATE_THREADS BOND_SECONDS=$BOND_SECONDS FAILOVER_BYTES=$FAILOVER_BYTES" \
			"${MPCONV_GW_ARGS:+MPCONV_GW_ARGS='$MPCONV_GW_ARGS' }${MPCONV_CV_ARGS:+MPCONV_CV_ARGS='$MPCONV_CV_ARGS'}"
	} >>"$OUT"
	for ph in ${PHASES//,/ }; do
		echo "== phase $ph ($((SECONDS - start)) s elapsed)"
		bash "$0" -n "$ROUNDS" ${CONTENDERS:+-c "$CONTENDERS"} --child "$ph" "$OUT" ||
			echo "phase $ph failed" >&2
	done
	echo "# elapsed $((SECONDS - start)) s" >>"$OUT"
	echo "== done in $((SECONDS - start)) s; raw results in $OUT"
	if [ "$RECORD" = 1 ]; then
		python3 "$HERE/summary.py" "$OUT" --markdown >>"$HERE/RESULTS.md" || exit 1
		echo "== appended to bench/RESULTS.md"
	fi
	python3 "$HERE/summary.py" "$OUT"
	exit $?
fi

# ---------------------------------------------------------------------------------------------
# Child: one phase, one bed.

# shellcheck disable=SC2034 # read by lib.sh
BED_TAP=0
# shellcheck source=lib-bench.sh
source "$HERE/lib-bench.sh"
require_bed
bench_tools
CONTENDERS=${CONTENDERS:-$BENCH_CONTENDERS}
CONTENDERS=${CONTENDERS//,/ }
T=$BED_TMP

# record METRIC CONTENDER ROUND VALUE [NOTE]: one raw result line.
record()
{
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$CHILD" "$1" "$2" "$3" "$4" "${5:-}" >>"$OUT"
	printf '  %-12s %-22s round %s: %s %s\n' "$2" "$1" "$3" "$4" "${5:-}"
}

# cli C CMD PORT ARGS...: benchcli CMD from lan to srv's PORT through contender C.
cli()
{
	local c=$1 cmd=$2 port=$3
	shift 3
	# shellcheck disable=SC2046 # word splitting wanted: host, port and proxy options
	n "$NS_LAN" timeout 120 "$BENCHCLI" "$cmd" $(target "$c" "$port") "$@"
}

# rotate LIST ROUND: LIST rotated left by ROUND-1 words.
rotate()
{
	local -a w
	local k i
	read -r -a w <<<"$1"
	k=$(($2 % ${#w[@]}))
	for ((i = 0; i < ${#w[@]}; i++)); do
		printf '%s ' "${w[$(((i + k) % ${#w[@]}))]}"
	done
}

start_or_skip()
{
	local c=$1 r=$2 ret
	nstat_reset "$NS_CV"
	relay_cgroup_enter
	contender_start "$c"
	ret=$?
	relay_cgroup_leave
	if [ "$ret" != 0 ]; then
		echo "  $c round $r: did not start" >&2
		dump_state "$NS_GW" "$NS_CV" >&2
		contender_stop "$c"
		return 1
	fi
	# one warm-up exchange: lazily allocated state exists before anything is measured
	cli "$c" latency 7003 --count 2 >/dev/null || echo "  $c round $r: warm-up failed" >&2
	return 0
}

# ---- phase veth: metrics 1-3 --------------------------------------------------------------

# iperf_bulk C: one iperf3 download (-R: srv sends, lan receives, as benchcli's bulk) of
# BULK_SECONDS through C: "mbps=M bytes=B retr=R". iperf3 speaks no SOCKS: dante gets benchcli.
iperf_bulk()
{
	# shellcheck disable=SC2046 # word splitting wanted: host and port
	set -- $(target "$1" "$IPERF_PORT")
	n "$NS_LAN" timeout 60 iperf3 -c "$1" -p "$2" -t "$BULK_SECONDS" -R -J 2>/dev/null |
		python3 -c 'import json, sys
d = json.load(sys.stdin)["end"]
print("mbps=%.1f bytes=%d retr=%d" % (d["sum_received"]["bits_per_second"] / 1e6,
      d["sum_received"]["bytes"], d["sum_sent"].get("retransmits", 0)))' 2>/dev/null
}

veth_bulk()
{
	local c=$1 r=$2 c0 c1 line cpu note
	c0=$(cpu_snapshot "$c")
	if [ "$c" = dante ]; then
		line=$(cli "$c" bulk 7002 --bytes 0 --seconds "$BULK_SECONDS")
		case $line in *verified=1*) ;; *) echo "  $c bulk round $r FAILED: $line" >&2; return 1 ;; esac
		note="client=benchcli max_gap_ms=$(kv max_gap_ms "$line")"
	else
		line=$(iperf_bulk "$c")
		[ -n "$(kv mbps "$line")" ] || { echo "  $c bulk round $r FAILED (iperf3)" >&2; return 1; }
		note="client=iperf3 retr=$(kv retr "$line")"
	fi
	c1=$(cpu_snapshot "$c")
	record bulk_mbps "$c" "$r" "$(kv mbps "$line")" "$(contender_mptcp) $note"
	[ "$c" = noproxy ] && return 0
	cpu=$(cpu_seconds "$c0" "$c1")
	record bulk_cpu_s_per_gb "$c" "$r" "$(awk -v c="$cpu" -v b="$(kv bytes "$line")" \
		'BEGIN { printf "%.3f", c / (b / 1e9) }')" "cpu=${cpu}s"
}

veth_rate()
{
	local c=$1 r=$2 c0 c1 line cpu
	c0=$(cpu_snapshot "$c")
	line=$(cli "$c" rate 7001 --seconds "$RATE_SECONDS" --threads "$RATE_THREADS")
	c1=$(cpu_snapshot "$c")
	[ -n "$(kv rate "$line")" ] || { echo "  $c rate round $r FAILED: $line" >&2; return 1; }
	record rate_cps "$c" "$r" "$(kv rate "$line")" "errors=$(kv errors "$line")"
	[ "$c" = noproxy ] && return 0
	cpu=$(cpu_seconds "$c0" "$c1")
	record rate_cpu_us_per_conn "$c" "$r" "$(awk -v c="$cpu" -v k="$(kv conns "$line")" \
		'BEGIN { printf "%.1f", k ? c / k * 1e6 : 0 }')" "cpu=${cpu}s"
}

_held() { grep -q '^held=' "$BED_TMP/hold.out"; }

# The relays start in a memory cgroup of their own (cgroup v1 with kmem accounting, as on this
# machine), so the kernel memory they own (socket objects and buffers, epoll items, pipes, files:
# charged to the cgroup that allocates them) is read from its accounting, apart from the
# client's and the server's. Without one, kernel_kib falls back to the machine-wide slab.
RELAY_CG= HOME_CG=
relay_cgroup_init()
{
	local rel
	rel=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
	HOME_CG=/sys/fs/cgroup/memory${rel%/}
	[ -f "$HOME_CG/memory.kmem.usage_in_bytes" ] || return 0
	mkdir -p "$HOME_CG/mpconv-bench-$$" && RELAY_CG=$HOME_CG/mpconv-bench-$$
}

# relay_cgroup_enter | relay_cgroup_leave: this shell (and what it starts meanwhile) in or out.
relay_cgroup_enter() { [ -z "$RELAY_CG" ] || echo "$BASHPID" >"$RELAY_CG/cgroup.procs"; }
relay_cgroup_leave() { [ -z "$RELAY_CG" ] || echo "$BASHPID" >"$HOME_CG/cgroup.procs"; }

# kernel_kib: the relays' kernel memory in KiB (see RELAY_CG), else the machine's slab plus TCP
# and MPTCP socket buffers (/proc/net/sockstat "mem" pages).
kernel_kib()
{
	local slab pages
	if [ -n "$RELAY_CG" ]; then
		echo $(($(cat "$RELAY_CG/memory.kmem.usage_in_bytes") / 1024))
		return
	fi
	slab=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
	pages=$(awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat)
	echo $((slab + ${pages:-0} * $(getconf PAGESIZE) / 1024))
}

veth_idle()
{
	local c=$1 r=$2 m0 m1 k0 k1 held line
	[ "$c" = noproxy ] && return 0
	sleep 0.5
	m0=$(mem_kib "$c")
	k0=$(kernel_kib)
	# shellcheck disable=SC2046 # word splitting wanted: host, port and proxy options
	bed_start "$NS_LAN" hold "$BENCHCLI" hold $(target "$c" 7003) --count "$IDLE_CONNS" \
		--threads 8
	if ! wait_for 120 _held; then
		echo "  $c idle round $r FAILED: hold did not finish" >&2
		bed_stop hold
		return 1
	fi
	sleep 1
	m1=$(mem_kib "$c")
	k1=$(kernel_kib)
	line=$(cat "$BED_TMP/hold.out")
	bed_stop hold
	held=$(kv held "$line")
	[ "${held:-0}" -gt 0 ] || { echo "  $c idle round $r FAILED: $line" >&2; return 1; }
	[ "$c" = noproxy ] && return 0
	record idle_kernel_kib_per_conn "$c" "$r" "$(awk -v a="$k0" -v b="$k1" -v k="$held" \
		'BEGIN { printf "%.2f", (b - a) / k }')" \
		"kernel=${k0}->${k1}KiB $([ -n "$RELAY_CG" ] && echo "(memory cgroup of the relays)" ||
			echo "(machine-wide slab + socket memory)")"
	record idle_held "$c" "$r" "$held" "errors=$(kv errors "$line") (benchcli stops after 20 failures in a row)"
	record idle_pss_kib_per_conn "$c" "$r" "$(awk -v a="${m0% *}" -v b="${m1% *}" -v k="$held" \
		'BEGIN { printf "%.2f", (b - a) / k }')" "held=$held errors=$(kv errors "$line") pss=${m0% *}->${m1% *}KiB"
	record idle_rss_kib_per_conn "$c" "$r" "$(awk -v a="${m0#* }" -v b="${m1#* }" -v k="$held" \
		'BEGIN { printf "%.2f", (b - a) / k }')" "rss=${m0#* }->${m1#* }KiB"
}

phase_veth()
{
	local r c
	topo_veth
	bench_sysctls
	bench_servers
	relay_cgroup_init
	echo "  topology: lan ── gw ══ veth A + veth B (no emulator, offloads on) ══ cv ── srv"
	for ((r = 1; r <= ROUNDS; r++)); do
		for c in $(rotate "$CONTENDERS" "$r"); do
			start_or_skip "$c" "$r" || continue
			veth_bulk "$c" "$r"
			veth_rate "$c" "$r"
			veth_idle "$c" "$r"
			contender_stop "$c"
		done
	done
	[ -z "$RELAY_CG" ] || rmdir "$RELAY_CG" 2>/dev/null
}

# ---- phase links: metrics 4-6 -------------------------------------------------------------

links_single()
{
	local r=$1 x line
	for x in A B; do
		line=$(n "$NS_GW" timeout 60 "$BENCHCLI" bulk "$(link_var $x CV4)" 7102 --bytes 0 \
			--seconds "$BOND_SECONDS" --bind "$(link_var $x GW4)")
		record "single_${x}_mbps" link "$r" "$(kv mbps "$line")"
	done
}

links_latency()
{
	local c=$1 r=$2 line
	line=$(cli "$c" latency 7003 --count 15)
	[ -n "$(kv median_ms "$line")" ] || { echo "  $c latency round $r FAILED: $line" >&2; return 1; }
	record first_byte_ms "$c" "$r" "$(kv median_ms "$line")" "samples=$(kv samples "$line")"
}

links_bond()
{
	local c=$1 r=$2 line sub
	line=$(cli "$c" bulk 7002 --bytes 0 --seconds "$BOND_SECONDS")
	case $line in *verified=1*) ;; *) echo "  $c bond round $r FAILED: $line" >&2; return 1 ;; esac
	sub=$(nstat_delta "$NS_CV" MPTcpExtMPJoinAckRx)
	record bonded_mbps "$c" "$r" "$(kv mbps "$line")" "$(contender_mptcp) joins=$sub"
}

links_failover()
{
	local c=$1 r=$2 pid line
	case $c in noproxy | dante) return 0 ;; esac
	cli "$c" bulk 7002 --bytes "$FAILOVER_BYTES" --timeout 15 >"$T/failover" 2>&1 &
	pid=$!
	sleep 2.5 # a schedule: both subflows carry data by then
	link_down A
	wait "$pid"
	link_up A --restore
	line=$(cat "$T/failover")
	record failover_gap_ms "$c" "$r" "$(kv max_gap_ms "$line")" "$line"
	record failover_lost_bytes "$c" "$r" "$(kv lost "$line")" "verified=$(kv verified "$line")"
	sleep 1
}

phase_links()
{
	local r c rtt
	topo_hybrid A:rate=20mbit,delay=10 B:rate=30mbit,delay=20 || bail topology
	mptcp_multilink || bail "MPTCP endpoints"
	bench_sysctls
	bench_servers
	bed_start "$NS_CV" benchsrv-cv "$BENCHSRV" -b 0.0.0.0 source:7102
	wait_listen "$NS_CV" 7102 || bail "benchsrv on cv"
	topo_describe | sed 's/^# /  /'
	for ((r = 1; r <= ROUNDS; r++)); do
		rtt=$(ping_rtt_ms "$NS_GW" "$(link_var A CV4)" 10 0.05)
		record rtt_a_ms link "$r" "$rtt"
		links_single "$r"
		for c in $(rotate "$CONTENDERS" "$r"); do
			start_or_skip "$c" "$r" || continue
			links_latency "$c" "$r"
			links_bond "$c" "$r"
			links_failover "$c" "$r"
			contender_stop "$c"
		done
	done
}

case $CHILD in
veth) phase_veth ;;
links) phase_links ;;
*) bail "unknown phase $CHILD" ;;
esac
