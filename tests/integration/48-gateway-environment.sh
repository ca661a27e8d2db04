#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The gateway on hosts as they come (issue 13, items 4 and 5): a LAN behind a bridge with
# br_netfilter on (Docker, most CPE builds), and a host with IPv6 disabled.
#
#   lan ──── [lan0 ⊂ br0] gw (mpconvd gateway --lan br0) ══ link A ══ cv ──── srv
#
# 1. br0 bridges lan0 with net.bridge.bridge-nf-call-iptables = 1 (per namespace, on by default
#    when br_netfilter is built in): TPROXY alone silently drops every captured SYN (the socket it
#    assigns is dropped when the frame re-enters IP on br0). The gateway must notice, say so with
#    the fix, and capture anyway (REDIRECT): IPv4 and IPv6 exchanges work.
# 2. net.ipv6.conf.all.disable_ipv6 = 1: the gateway starts, captures IPv4, and stops leaving no
#    table, rule or route behind; a start that fails later (a busy metrics address) leaves
#    nothing behind either.
source "$(dirname "$0")/lib.sh"
require_gateway

plan 12

topo_hybrid A:rate=100mbit,delay=1 || bail "topology"
bed_start "$NS_SRV" echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:7000" "[$SRV_ADDR6]:7000"
wait_listen "$NS_SRV" 7000 || bail "echo server"
start_converter --allow fd00:10::/32

# nothing_left: no table inet mpconv, no fwmark rule (pref 0x6d70 = 28016), no route in table
# 28016, either family.
nothing_left()
{
	local left
	left=$(ip netns exec "$NS_GW" nft list table inet mpconv 2>/dev/null
		ip -n "$NS_GW" rule | grep '^28016:'
		ip -n "$NS_GW" -6 rule 2>/dev/null | grep '^28016:'
		ip -n "$NS_GW" route show table 28016 2>/dev/null
		ip -n "$NS_GW" -6 route show table 28016 2>/dev/null)
	[ -z "$left" ] || { echo "left behind:"; echo "$left"; return 1; }
}

# ---- 1. a bridged LAN with br_netfilter on
[ -e "/proc/sys/net/bridge/bridge-nf-call-iptables" ] || modprobe br_netfilter 2>/dev/null
n "$NS_GW" ip link add br0 type bridge
n "$NS_GW" ip addr flush dev lan0
n "$NS_GW" ip link set lan0 master br0
n "$NS_GW" ip addr add "$GW_LAN4/24" dev br0
n "$NS_GW" ip addr add "$GW_LAN6/64" dev br0 nodad
n "$NS_GW" ip link set br0 up
brnf=$(ip netns exec "$NS_GW" cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)
if [ "$brnf" != 1 ]; then
	for i in 1 2 3 4 5; do
		skip "bridged LAN check $i" "br_netfilter is not available here (bridge-nf-call-iptables='$brnf')"
	done
else
	ok "br0 bridges lan0 and bridge-nf-call-iptables = 1 in the gateway's namespace"
	wait_for 5 nq "$NS_LAN" ping -c 1 -W 1 "$GW_LAN4" || bail "no ping across the bridge"
	start_gateway --name gw-bridge --lan br0 --connect-timeout 2s
	out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR4" 7000 $'bridged\n')
	check "IPv4 from a host behind the bridge is captured and served ($out)" test "$out" = "bridged|END|"
	out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR6" 7000 $'six\n')
	check "IPv6 too ($out)" test "$out" = "six|END|"
	check "the gateway said why and named the fix (bridge-nf-call-iptables)" \
		grep -q 'bridge-nf-call-iptables.*=0' "$BED_TMP/gw-bridge.err"
	if bed_stop gw-bridge; then ok "exits 0 on SIGTERM"; else not_ok "exits 0 on SIGTERM"; fi
fi
# back to a plain LAN interface for what follows
n "$NS_GW" ip link del br0
n "$NS_GW" ip addr add "$GW_LAN4/24" dev lan0
n "$NS_GW" ip addr add "$GW_LAN6/64" dev lan0 nodad
n "$NS_GW" ip link set lan0 up

# ---- 2. IPv6 disabled
n "$NS_GW" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
bed_start "$NS_GW" gw-v4 "$MPCONVD" gateway --converter "$CV_ADDR4" --lan lan0 --connect-timeout 2s
if wait_listen "$NS_GW" 5126 5 && sleep 0.5 && kill -0 "$(bed_pid gw-v4)" 2>/dev/null; then
	ok "with IPv6 disabled the gateway starts"
else
	not_ok "with IPv6 disabled the gateway starts"
	diag "$(bed_log gw-v4 | tail -n 5)"
fi
check "and says it intercepts IPv4 only" grep -q 'intercepting IPv4 only' "$BED_TMP/gw-v4.err"
out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR4" 7000 $'four\n')
check "IPv4 is captured and served ($out)" test "$out" = "four|END|"
if bed_stop gw-v4; then ok "it exits 0 on SIGTERM"; else not_ok "it exits 0 on SIGTERM"; fi
check "after it stops: no table, fwmark rule or local route left" nothing_left

# A start that fails after the capture was installed (the metrics address is taken).
bed_start "$NS_GW" squatter python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 9126)); s.listen(); time.sleep(60)'
wait_listen "$NS_GW" 127.0.0.1:9126 5 || bail "squatter"
rc=0
n "$NS_GW" timeout 20 "$MPCONVD" gateway --converter "$CV_ADDR4" --lan lan0 \
	--metrics-listen 127.0.0.1:9126 >"$BED_TMP/gw-fail.log" 2>&1 || rc=$?
diag "$(tail -n 3 "$BED_TMP/gw-fail.log")"
check "a start that fails (metrics address taken) exits non-zero ($rc)" test "$rc" -ne 0 -a "$rc" -ne 124
check "and leaves no table, fwmark rule or local route behind" nothing_left
bed_stop squatter || true # (killed by our TERM: 143)
