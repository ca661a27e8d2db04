#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The gateway end to end (dual proxy): a LAN host that knows nothing of MPTCP reaches a server
# through mpconvd gateway (TPROXY capture, policy, pooled MPTCP upstream) and mpconvd converter.
#
#   lan ──── gw (mpconvd gateway) ══ link A (20 Mbit/s, 5 ms) ══ cv (mpconvd converter) ──── srv
#                                 ══ link B (30 Mbit/s, 10 ms) ══
#
# Checks bytes (verified both ways) and mechanism: the upstream MPTCP connection came from the
# pool, carried 2 subflows, the converter relayed it; policy block and direct observed; the
# interception table is gone after SIGTERM.
source "$(dirname "$0")/lib.sh"
require_gateway

plan 20

topo_hybrid A:rate=20mbit,delay=5 B:rate=30mbit,delay=10 || bail "topology"
mptcp_multilink || bail "MPTCP endpoints"
bed_sysctl "$NS_CV" net.ipv4.tcp_fastopen=3 || bail "sysctl"

bed_start "$NS_SRV" bulk "$MPBULK" server -p 5201 --tcp
bed_start "$NS_SRV" bulk2 "$MPBULK" server -p 5202 --tcp
bed_start "$NS_SRV" echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:7000" "$SRV_ADDR4:7001" \
	"[$SRV_ADDR6]:7000"
start_converter
wait_listen "$NS_SRV" 5201 && wait_listen "$NS_SRV" 7001 || bail "servers"
start_gateway --pool-min 2 --rule "block port 25 name no-smtp" --rule "direct port 7001 name local" \
	--rule "bond port 5202 rate 8mbit name capped"
check "the gateway installed its interception table" bash -c "ip netns exec '$NS_GW' nft list table inet mpconv >/dev/null"
# The pool fills (idle pooled connections have one subflow each: the second joins once data
# flows, see 13-kernel-behaviours).
check "the pool filled: 2 MPTCP connections to the converter, before any LAN client" wait_upstreams 2

T=$BED_TMP
# 3-7: a 20 MB download from the LAN host, plain TCP on the LAN side.
n "$NS_LAN" timeout 120 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 20M \
	>"$T/down" 2>&1 &
client=$!
# (one connection's subflows: the idle pooled ones have one each, so all of them would count 2
# on a single path too)
sub=$(max_conn_subflows_while "$client" "$NS_GW" "( dport = :5124 )")
wait "$client"
diag "download: $(cat "$T/down")"
check "LAN download through gateway and converter is byte-exact" grep -q 'verified=1' "$T/down"
wait_for 5 grep -q 'dest=10.0.2.2:5201' "$BED_TMP/gateway.err"
gline=$(grep 'dest=10.0.2.2:5201' "$BED_TMP/gateway.err" | head -n 1)
diag "$gline"
check "the gateway bonded it with a pooled upstream connection" grep -q 'action=bond .*pool=1' <<<"$gline"
check "the converter relayed it" grep -q 'dest=10.0.2.2:5201' "$BED_TMP/converter.err"
check "subflows of its upstream MPTCP connection during the transfer: $sub (want >= 2)" \
	test "${sub:-0}" -ge 2
mbps=$(kv mbps "$(cat "$T/down")")
diag "bonded download goodput $mbps Mbit/s (links: 20 + 30 Mbit/s)"
check "goodput above the faster single link alone (30 Mbit/s): $mbps" fcmp "${mbps:-0}" ">" 30

# 8: upload.
line=$(n "$NS_LAN" timeout 120 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --bytes 10M 2>&1)
diag "upload: $line"
check "LAN upload through the gateway is byte-exact" grep -q 'verified=1' <<<"$line"

# 9-10: an echo both ways over IPv4 and IPv6 (half-close relayed).
out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR4" 7000 $'hello\n')
check "IPv4 echo through the gateway, half-close relayed ($out)" test "$out" = "hello|END|"
out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR6" 7000 $'six\n')
check "IPv6 LAN host to IPv6 server through the gateway ($out)" test "$out" = "six|END|"

# 11-14: policy. "direct port 7001" bypasses the converter; "block port 25" resets.
out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR4" 7001 $'direct\n')
check "direct rule: served without the converter ($out)" test "$out" = "direct|END|"
check "direct rule: the converter never saw port 7001" \
	bash -c "! grep -q 'dest=10.0.2.2:7001' '$BED_TMP/converter.err'"
out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR4" 25 x)
check "block rule: the LAN connection is reset ($out)" test "$out" = reset
check "block rule: logged with its rule name" grep -q 'rule=no-smtp .*reason="blocked by policy"' \
	"$BED_TMP/gateway.err"

# A rule's rate: the LAN connection is paced (downloads; this kernel refuses pacing on MPTCP
# sockets, so uploads are not capped).
wait_listen "$NS_SRV" 5202 || bail "server 5202"
line=$(n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5202 --tcp --download --bytes 6M 2>&1)
diag "capped download: $line"
check "rate 8mbit: the download is paced to it ($(kv mbps "$line") Mbit/s, byte-exact)" \
	bash -c "grep -q 'verified=1' <<<'$line' && awk -v m='$(kv mbps "$line")' 'BEGIN { exit !(m > 0 && m <= 8 * 1.15) }'"

# Native MPTCP from a LAN host is never touched: it reaches an MPTCP server end to end.
bed_start "$NS_SRV" native "$MPBULK" server -p 5301
wait_listen "$NS_SRV" 5301 || bail "native MPTCP server"
line=$(n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5301 --bytes 2M 2>&1)
diag "native: $line"
check "native MPTCP from the LAN passes end to end (mptcp=1, verified)" \
	grep -q 'mptcp=1 .*verified=1' <<<"$line"
check "and the gateway never saw it" bash -c "! grep -q 'dest=10.0.2.2:5301' '$BED_TMP/gateway.err'"

# SIGTERM removes the interception table and exits 0.
if bed_stop gateway; then ok "gateway exits 0 on SIGTERM"; else not_ok "gateway exits 0 on SIGTERM"; fi
check "interception table removed" bash -c "! ip netns exec '$NS_GW' nft list table inet mpconv 2>/dev/null"
diag "$(grep 'totals:' "$BED_TMP/gateway.err")"
check "totals show pool hits" grep -q 'totals: .*pool_hits=[1-9]' "$BED_TMP/gateway.err"
