#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The gateway's fallback capture: nft REDIRECT (nat) + SO_ORIGINAL_DST instead of TPROXY, for
# IPv4 and IPv6 LAN hosts; native MPTCP still passes untouched; a connection made to the
# listener itself is refused, never carried on (the converter would dial the listener again);
# nothing left at exit.
#
#   lan ──── gw (mpconvd gateway --intercept-method redirect) ══ link A ══ cv ──── srv
source "$(dirname "$0")/lib.sh"
require_gateway

plan 9

topo_hybrid A:rate=100mbit,delay=2 || bail "topology"
bed_start "$NS_SRV" echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:7000" "[$SRV_ADDR6]:7000"
bed_start "$NS_SRV" native "$MPBULK" server -p 5301
start_converter
wait_listen "$NS_SRV" 7000 && wait_listen "$NS_SRV" 5301 || bail "servers"
start_gateway --intercept-method redirect

check "a nat redirect chain, no TPROXY rule, no policy routing" bash -c "
	ip netns exec '$NS_GW' nft list table inet mpconv | grep -q 'redirect to :5126' &&
	! ip netns exec '$NS_GW' nft list table inet mpconv | grep -q tproxy &&
	! ip -n '$NS_GW' rule | grep -q fwmark"
out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR4" 7000 $'four\n')
check "IPv4 LAN host through the converter ($out)" test "$out" = "four|END|"
out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR6" 7000 $'six\n')
check "IPv6 LAN host through the converter ($out)" test "$out" = "six|END|"
check "both bonded with their original destinations" bash -c "
	grep -q 'dest=10.0.2.2:7000 .*action=bond' '$BED_TMP/gateway.err' &&
	grep -q 'dest=\[fd00:2::2\]:7000 .*action=bond' '$BED_TMP/gateway.err'"
check "the converter relayed both" bash -c "
	grep -q 'dest=10.0.2.2:7000' '$BED_TMP/converter.err' &&
	grep -q 'dest=\[fd00:2::2\]:7000' '$BED_TMP/converter.err'"
line=$(n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5301 --bytes 1M 2>&1)
check "native MPTCP from the LAN passes end to end ($(kv mptcp "$line"))" \
	bash -c "grep -q 'mptcp=1 .*verified=1' <<<'$line' && ! grep -q 'dest=10.0.2.2:5301' '$BED_TMP/gateway.err'"
out=$(tcp_exchange "$NS_LAN" "$GW_LAN4" 5126 $'loop\n')
check "a connection to the listener itself is refused, not carried on ($out)" bash -c "
	wait_for() { for _ in \$(seq 50); do \"\$@\" && return 0; sleep 0.1; done; return 1; }
	wait_for grep -q 'original destination unknown' '$BED_TMP/gateway.err' &&
	! grep -q 'dest=$GW_LAN4:5126' '$BED_TMP/converter.err'"
if bed_stop gateway; then ok "gateway exits 0 on SIGTERM"; else not_ok "gateway exits 0 on SIGTERM"; fi
check "interception table removed" bash -c "! ip netns exec '$NS_GW' nft list table inet mpconv 2>/dev/null"
