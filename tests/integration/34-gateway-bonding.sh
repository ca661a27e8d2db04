#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What the hybrid-access customer pays for, measured in one run on the issue's links:
#
#   lan ──── gw (mpconvd gateway, links a, b) ══ A 20 Mbit/s 10 ms ══ cv (converter) ──── srv
#                                             ══ B 30 Mbit/s 40 ms ══
#
# - bonding: download and upload goodput through gateway + converter >= 0.9 of the sum of the
#   two single links measured with TCP over each link alone (direct:a, direct:b rules, same
#   run), with 2 subflows and no fallback counter moving on either side; median of 3;
# - set-up latency: connect-to-first-byte through the gateway in pool mode within 10 % of a
#   direct connection over the same path (link a); the Convert message rides with the LAN
#   client's first bytes on a pre-established connection, so it needs no extra round trip.
# Ratios and round trips, not seconds: the links set the pace, not the machine.
source "$(dirname "$0")/lib.sh"
require_gateway

FIRSTBYTE=$BED_TOP/tests/tools/firstbyte.py

plan 10

BED_SRC_ROUTES=0
topo_hybrid A:rate=20mbit,delay=10 B:rate=30mbit,delay=40 || bail "topology"
topo_describe
mptcp_limits "$NS_CV" 8 8 || bail "limits"

for port in 5201 5301 5302; do bed_start "$NS_SRV" "bulk$port" "$MPBULK" server -p "$port" --tcp; done
bed_start "$NS_SRV" echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:7000" "$SRV_ADDR4:7301"
start_converter
for port in 5201 5301 5302 7000 7301; do wait_listen "$NS_SRV" "$port" || bail "server $port"; done
start_gateway --link "a dev wanA via 10.10.1.2 role primary" --link "b dev wanB via 10.10.2.2" \
	--rule "direct:a port 5301 name single-a" --rule "direct:a port 7301 name first-byte-a" \
	--rule "direct:b port 5302 name single-b"
T=$BED_TMP

# mbps PORT DIRECTION BYTES: one LAN transfer's goodput (empty on failure).
mbps()
{
	local line
	line=$(n "$NS_LAN" timeout 120 "$MPBULK" client "$SRV_ADDR4" "$1" --tcp $2 --bytes "$3" 2>&1)
	grep -q 'verified=1' <<<"$line" || { diag "transfer failed: $line"; return 1; }
	kv mbps "$line"
}

median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

for dir in download upload; do
	flag=; [ "$dir" = download ] && flag=--download
	a=$(mbps 5301 "$flag" 20M)
	b=$(mbps 5302 "$flag" 20M)
	nstat_reset "$NS_GW"
	nstat_reset "$NS_CV"
	: >"$T/subs"
	runs=()
	for i in 1 2 3; do
		n "$NS_LAN" timeout 120 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp $flag \
			--bytes "$([ "$dir" = download ] && echo 60M || echo 40M)" >"$T/bond" 2>&1 &
		pid=$!
		while kill -0 "$pid" 2>/dev/null; do
			conn_subflows "$NS_GW" '( dport = :5124 )' >>"$T/subs"
			sleep 0.3
		done
		wait "$pid"
		grep -q 'verified=1' "$T/bond" || diag "bonded $dir $i failed: $(cat "$T/bond")"
		runs+=("$(kv mbps "$(cat "$T/bond")")")
	done
	sum=$(awk -v a="${a:-0}" -v b="${b:-0}" 'BEGIN { printf "%.2f", a + b }')
	med=$(median3 "${runs[@]}")
	frac=$(awk -v m="${med:-0}" -v s="$sum" 'BEGIN { printf "%.3f", (s > 0 ? m / s : 0) }')
	diag "$dir: link a alone $a Mbit/s, link b alone $b, sum $sum; bonded ${runs[*]} (median $med) = $frac of the sum"
	check "$dir: bonded goodput >= 0.9 of the single-link sum ($frac)" fcmp "$frac" ">=" 0.9
	check "$dir: 2 subflows carried it" grep -qx 2 "$T/subs"
	check "$dir: no fallback counter moved on the gateway" assert_no_fallback "$NS_GW"
	# (its downstream to this plain-TCP server falls back by design: SYNACK counter ignored)
	check "$dir: nor on the converter's client side" assert_no_fallback "$NS_CV" \
		MPTcpExtMPCapableFallbackSYNACK
done

# Set-up latency: 15 connections each, the first byte back from an echo server.
direct=$(n "$NS_LAN" python3 "$FIRSTBYTE" "$SRV_ADDR4" 7301 15)
pooled=$(n "$NS_LAN" python3 "$FIRSTBYTE" "$SRV_ADDR4" 7000 15)
rtt=$(ping_rtt_ms "$NS_GW" 10.10.1.2 10)
diag "first byte, direct over link a: $direct"
diag "first byte, pool mode through gateway + converter: $pooled"
dm=$(kv median_ms "$direct")
pm=$(kv median_ms "$pooled")
diag "link a round trip ${rtt} ms: direct $(awk -v x="$dm" -v r="$rtt" 'BEGIN { printf "%.2f", x / r }') RTT, pool $(awk -v x="$pm" -v r="$rtt" 'BEGIN { printf "%.2f", x / r }') RTT"
check "pool mode set-up latency within 10 % of direct (${pm} vs ${dm} ms)" \
	fcmp "${pm:-999}" "<=" "$(awk -v d="${dm:-0}" 'BEGIN { print d * 1.1 }')"
check "the pooled sessions went through the converter" \
	grep -q 'dest=10.0.2.2:7000 .*action=bond .*pool=1' "$T/gateway.err"
