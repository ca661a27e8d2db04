# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034 # topology variables are for bench/run.sh
#
# lib-bench.sh: what bench/run.sh adds to the namespace bed (tests/integration/lib.sh, sourced
# first): a topology without link emulator, the contenders (start, stop, how a client reaches a
# server through each, which processes are the relay), and CPU and memory readings.
#
# Contenders (C below), each run as its users run it, one at a time, in the bed's namespaces:
#   noproxy      kernel forwarding lan -> gw -> cv -> srv (plain TCP, single path)
#   haproxy      haproxy (mode tcp, splice-auto) on gw and on cv, MPTCP between them (mptcpize);
#                the client connects to gw's haproxy, a fixed port per service
#   shadowsocks  ss-redir on gw (nft REDIRECT of the LAN's TCP) and ss-server on cv, --mptcp and
#                mptcpize (--mptcp alone sets an out-of-tree kernel's option, not upstream MPTCP)
#   dante        danted on cv (SOCKS5, single box); the client speaks SOCKS5 across the links
#   mpconv-pool  mpconvd gateway (TPROXY capture, --mode pool) on gw + mpconvd converter on cv
#   mpconv-tfo   the same with --mode tfo
#
# Services on srv: benchsrv rr 7001 (1 KiB request/reply), source 7002 (bulk), echo 7003, and
# iperf3 on 5201 (the bulk client the veth phase measures with). Every contender reaches the same
# ports: the gateway destroys the TIME_WAIT sockets its transparent connections left when it
# stops (issue 14), so noproxy right after an mpconv row forwards the same 4-tuples normally.
#
# Sourcing this file sources tests/integration/lib.sh first (its cleanup trap included).

# shellcheck source=../tests/integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tests/integration/lib.sh"

BENCH_CONTENDERS="noproxy haproxy shadowsocks dante mpconv-pool mpconv-tfo"
BENCH_PORTS="7001 7002 7003 5201"
IPERF_PORT=5201
SS_PORT=8388
SS_REDIR_PORT=1081
SOCKS_PORT=1080
HZ=$(getconf CLK_TCK)

# bench_tools: MPCONVD, BENCHCLI, BENCHSRV from $MPCONV_BUILD (bench/run.sh builds them), and the
# highest file-descriptor limit this shell may have (20000 in some containers, even for root).
bench_tools()
{
	MPCONVD=$MPCONV_BUILD/src/mpconvd
	BENCHCLI=$MPCONV_BUILD/bench/benchcli
	BENCHSRV=$MPCONV_BUILD/bench/benchsrv
	[ -x "$MPCONVD" ] && [ -x "$BENCHCLI" ] && [ -x "$BENCHSRV" ] ||
		bail "mpconvd, benchcli, benchsrv not built in $MPCONV_BUILD (bench/run.sh builds them)"
	ulimit -n "$(ulimit -Hn)"
}

# bench_servers: benchsrv on srv with every service port, ready.
bench_servers()
{
	bed_start "$NS_SRV" benchsrv "$BENCHSRV" -b "$SRV_ADDR4" rr:7001 source:7002 echo:7003
	bed_start "$NS_SRV" iperf3 iperf3 -s -B "$SRV_ADDR4" -p "$IPERF_PORT"
	wait_listen "$NS_SRV" 7003 && wait_listen "$NS_SRV" "$IPERF_PORT" ||
		bail "benchsrv or iperf3 did not start"
}

# topo_veth: lan ── gw ══ two plain veths A and B (offloads on, no linkemu, no tbf) ══ cv ── srv,
# with the addresses, routes, per-source tables and variables of topo_hybrid, and a kernel-PM
# subflow endpoint on B, so every MPTCP contender runs two subflows as it would on a CPE.
# Two links, not one: on this kernel one MPTCP subflow across an unshaped veth stalls ~200 ms
# at a time on the MPTCP retransmit timer (docs/linux-mptcp.md, "single-subflow stalls";
# tests/integration/13 shows it), so a one-link bench measures the stalls, not the relays.
topo_veth()
{
	local x i
	BED_MODE=hybrid
	NS_LAN=$(ns_name lan) NS_GW=$(ns_name gw) NS_CV=$(ns_name cv) NS_SRV=$(ns_name srv)
	NS_HOST=$NS_GW
	LINKS="A B"
	LAN_IF=eth0 LAN_IF_GW=lan0 LAN_ADDR4=10.0.1.2 GW_LAN4=10.0.1.1
	SRV_IF=eth0 SRV_IF_CV=srv0 SRV_ADDR4=10.0.2.2 CV_SRV4=10.0.2.1
	for ns in "$NS_LAN" "$NS_GW" "$NS_CV" "$NS_SRV"; do
		ns_add "$ns" || bail "namespace $ns"
	done
	_bx ip -n "$NS_CV" addr add "$CV_ADDR4/32" dev lo
	_veth "$NS_LAN" eth0 "$NS_GW" lan0 10.0.1.2/24 10.0.1.1/24 fd00:1::2/64 fd00:1::1/64
	i=0
	for x in $LINKS; do
		i=$((i + 1))
		printf -v "LINK_${x}_INDEX" '%s' "$i"
		printf -v "LINK_${x}_IF_GW" '%s' "wan$x"
		printf -v "LINK_${x}_IF_CV" '%s' "acc$x"
		printf -v "LINK_${x}_GW4" '%s' "10.10.$i.1"
		printf -v "LINK_${x}_CV4" '%s' "10.10.$i.2"
		printf -v "LINK_${x}_GW6" '%s' "fd00:10:$i::1"
		printf -v "LINK_${x}_CV6" '%s' "fd00:10:$i::2"
		printf -v "LINK_${x}_TABLE" '%s' "$((100 + i))"
		_veth "$NS_GW" "wan$x" "$NS_CV" "acc$x" "10.10.$i.1/24" "10.10.$i.2/24" \
			"fd00:10:$i::1/64" "fd00:10:$i::2/64"
		_bx ip -n "$NS_GW" rule add from "10.10.$i.1" lookup $((100 + i)) pref $((100 + i))
		_bx ip -n "$NS_GW" route add "10.10.$i.0/24" dev "wan$x" src "10.10.$i.1" table $((100 + i))
		_bx ip -n "$NS_GW" route add default via "10.10.$i.2" dev "wan$x" table $((100 + i))
	done
	_veth "$NS_CV" srv0 "$NS_SRV" eth0 10.0.2.1/24 10.0.2.2/24 fd00:2::1/64 fd00:2::2/64
	_bx ip -n "$NS_LAN" route add default via 10.0.1.1
	_bx ip -n "$NS_GW" route add default via 10.10.1.2
	_bx ip -n "$NS_CV" route add 10.0.1.0/24 via 10.10.1.1
	_bx ip -n "$NS_SRV" route add default via 10.0.2.1
	_forwarding "$NS_GW"
	_forwarding "$NS_CV"
	mptcp_multilink || bail "MPTCP endpoints"
	wait_for 5 _topo_ping "$NS_LAN" "$SRV_ADDR4" || bail "no ping lan -> srv"
	wait_for 5 _topo_ping "$NS_GW" 10.10.2.2 || bail "no ping across link B"
}

# bench_sysctls: what every run needs in every namespace: many short connections from one client
# address (wide port range, TIME_WAIT reuse; from 20000 on, above every listening port here: a
# relay's outgoing connection that took 5126 or 1081 and was still closing when the contender
# stopped kept the next contender from listening there), TFO for the converter's listener and the gateway's
# tfo mode, and large accept queues.
bench_sysctls()
{
	local ns
	for ns in "$NS_LAN" "$NS_GW" "$NS_CV" "$NS_SRV"; do
		bed_sysctl "$ns" net.ipv4.ip_local_port_range="20000 65535" net.ipv4.tcp_tw_reuse=1 \
			net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192 \
			net.ipv4.tcp_fastopen=3 || bail "sysctls in $ns"
	done
}

# daemon_pids NS COMM...: pids of the processes in NS whose comm is one of COMM.
daemon_pids()
{
	local ns=$1 p comm c
	shift
	for p in $(ip netns pids "$ns" 2>/dev/null); do
		comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
		for c in "$@"; do
			[ "$comm" = "$c" ] && echo "$p"
		done
	done
}

# relay_pids C: the relay processes of contender C (both boxes), one per line; none for noproxy.
relay_pids()
{
	case $1 in
	haproxy) daemon_pids "$NS_GW" haproxy; daemon_pids "$NS_CV" haproxy ;;
	shadowsocks) daemon_pids "$NS_GW" ss-redir; daemon_pids "$NS_CV" ss-server ;;
	dante) daemon_pids "$NS_CV" danted ;;
	mpconv-*) daemon_pids "$NS_GW" mpconvd; daemon_pids "$NS_CV" mpconvd ;;
	esac
}

# cpu_snapshot C: "pid:ticks" words (utime+stime, all threads) of C's relay processes.
cpu_snapshot()
{
	local p f
	for p in $(relay_pids "$1"); do
		read -r -a f <"/proc/$p/stat" 2>/dev/null || continue
		printf '%s:%s ' "$p" $((f[13] + f[14]))
	done
	echo
}

# cpu_seconds BEFORE AFTER: CPU seconds between two snapshots (a process new in AFTER counts all
# of its ticks: dante forks children as load grows).
cpu_seconds()
{
	awk -v a="$1" -v b="$2" -v hz="$HZ" 'BEGIN {
		n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], y, ":"); t0[y[1]] = y[2] }
		n = split(b, x, " "); for (i = 1; i <= n; i++) { split(x[i], y, ":"); s += y[2] - t0[y[1]] }
		printf "%.3f\n", s / hz }'
}

# mem_kib C: "PSS RSS" in KiB, summed over C's relay processes.
mem_kib()
{
	local p pss=0 rss=0 v
	for p in $(relay_pids "$1"); do
		v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
		pss=$((pss + ${v:-0}))
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		rss=$((rss + ${v:-0}))
	done
	echo "$pss $rss"
}

# target C PORT: benchcli's "HOST PORT [--socks5 PROXY]" to reach srv's PORT through C.
target()
{
	case $1 in
	haproxy) echo "$GW_LAN4 $(($2 + 1000))" ;;
	dante) echo "$SRV_ADDR4 $2 --socks5 $CV_ADDR4:$SOCKS_PORT" ;;
	*) echo "$SRV_ADDR4 $2" ;;
	esac
}

# _haproxy_conf ADDR OFFSET TO TO_OFFSET: one "listen" per service port P: ADDR:P+OFFSET to TO:P+TO_OFFSET.
_haproxy_conf()
{
	local listen=$1 off=$2 to=$3 to_off=$4 port
	cat <<EOF
global
	maxconn 7900
	log stderr format short local0 err
defaults
	mode tcp
	option splice-auto
	timeout connect 10s
	timeout client 10m
	timeout server 10m
EOF
	for port in $BENCH_PORTS; do
		printf 'listen p%s\n\tbind %s:%s\n\tserver s %s:%s\n' "$port" "$listen" \
			$((port + off)) "$to" $((port + to_off))
	done
}

_dante_conf()
{
	cat <<EOF
logoutput: stderr
internal: $CV_ADDR4 port = $SOCKS_PORT
external: $CV_SRV4
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect }
EOF
}

# contender_start C: starts C's daemons and waits until they serve (0) or fails (1).
contender_start()
{
	local T=$BED_TMP
	case $1 in
	noproxy) return 0 ;;
	haproxy)
		_haproxy_conf "$GW_LAN4" 1000 "$CV_ADDR4" 2000 >"$T/haproxy-gw.cfg"
		_haproxy_conf "$CV_ADDR4" 2000 "$SRV_ADDR4" 0 >"$T/haproxy-cv.cfg"
		bed_start "$NS_CV" haproxy-cv mptcpize run haproxy -db -f "$T/haproxy-cv.cfg"
		bed_start "$NS_GW" haproxy-gw mptcpize run haproxy -db -f "$T/haproxy-gw.cfg"
		wait_listen "$NS_CV" 9003 && wait_listen "$NS_GW" 8003
		;;
	shadowsocks)
		local ss=(-k bench-password -m chacha20-ietf-poly1305 --mptcp --no-delay)
		bed_start "$NS_CV" ss-server mptcpize run ss-server -s "$CV_ADDR4" -p "$SS_PORT" "${ss[@]}"
		bed_start "$NS_GW" ss-redir mptcpize run ss-redir -s "$CV_ADDR4" -p "$SS_PORT" \
			-b 0.0.0.0 -l "$SS_REDIR_PORT" "${ss[@]}"
		n "$NS_GW" nft -f - <<EOF || return 1
table ip bench_ss {
	chain pre {
		type nat hook prerouting priority dstnat;
		iifname "$LAN_IF_GW" ip daddr $SRV_ADDR4 meta l4proto tcp redirect to :$SS_REDIR_PORT
	}
}
EOF
		wait_listen "$NS_CV" "$SS_PORT" && wait_listen "$NS_GW" "$SS_REDIR_PORT"
		;;
	dante)
		_dante_conf >"$T/danted.conf"
		bed_start "$NS_CV" danted danted -f "$T/danted.conf" -p "$T/danted.pid"
		wait_listen "$NS_CV" "$SOCKS_PORT"
		;;
	mpconv-pool | mpconv-tfo)
		# shellcheck disable=SC2086 # word splitting wanted: extra options
		bed_start "$NS_CV" converter "$MPCONVD" converter --listen "$CV_ADDR4:5124" \
			--allow 10.10.0.0/16 --max-sessions 100000 --max-sessions-per-client 100000 \
			--max-pending-per-client 10000 --max-idle-per-client 10000 --log-level warning \
			${MPCONV_CV_ARGS:-}
		wait_listen "$NS_CV" 5124 || return 1
		# One LAN host holds the idle phase's 5,000 connections: a household's per-host cap is
		# not what is measured here (the converter's limits are raised above for the same reason).
		# shellcheck disable=SC2086 # word splitting wanted: extra options
		bed_start "$NS_GW" gateway "$MPCONVD" gateway --converter "$CV_ADDR4" \
			--lan "$LAN_IF_GW" --mode "${1#mpconv-}" --log-level warning \
			--max-sessions-per-host 0 ${MPCONV_GW_ARGS:-}
		wait_listen "$NS_GW" 5126 || return 1
		[ "$1" = mpconv-tfo ] && return 0
		wait_for 5 _pool_filled
		;;
	*) return 1 ;;
	esac
}

_pool_filled()
{
	[ "$(ip netns exec "$NS_GW" ss -MnH state established '( dport = :5124 )' | wc -l)" -ge 2 ]
}

# contender_stop C
contender_stop()
{
	case $1 in
	haproxy) bed_stop haproxy-gw; bed_stop haproxy-cv ;;
	shadowsocks)
		n "$NS_GW" nft delete table ip bench_ss 2>/dev/null
		bed_stop ss-redir; bed_stop ss-server ;;
	dante) bed_stop danted ;;
	mpconv-*) bed_stop gateway; bed_stop converter ;;
	esac
	return 0
}

# contender_mptcp C: "mptcp=1" when C's relay connections across the links negotiated MPTCP
# (counted on cv: MPCapable SYNs received since the last nstat_reset of cv), else "mptcp=0".
contender_mptcp()
{
	local v
	v=$(nstat_delta "$NS_CV" MPTcpExtMPCapableSYNRX)
	echo "mptcp=$([ "${v:-0}" -gt 0 ] && echo 1 || echo 0)"
}
