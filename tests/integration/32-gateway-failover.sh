#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Failover through the gateway: an access link dies in the middle of a LAN download; the
# transfer must complete byte-exact over the other link. Both ways a link dies: silently
# (blackholed in the emulator, routes intact) and administratively (interface down, which also
# deletes its routes). Before each cut the download must be running on both links (its upstream
# connection has a subflow on each, and each link carried part of it): on a single path there
# is no failover to test, so that fails too. Subflows here come from the kernel path manager
# (endpoints set by the bed); re-creating a subflow when the link returns needs the daemon's own
# path manager (33-gateway-links), so it is not asserted here.
#
#   lan ──── gw (gateway) ══ link A (20 Mbit/s, 5 ms) ══ cv (converter) ──── srv
#                         ══ link B (30 Mbit/s, 10 ms) ══
source "$(dirname "$0")/lib.sh"
require_gateway

plan 10

topo_hybrid A:rate=20mbit,delay=5 B:rate=30mbit,delay=10 || bail "topology"
mptcp_multilink || bail "MPTCP endpoints"
bed_start "$NS_SRV" bulk "$MPBULK" server -p 5201 --tcp
start_converter
wait_listen "$NS_SRV" 5201 || bail "server"
start_gateway
wait_upstreams 2 || { dump_state "$NS_GW"; bail "the gateway's pool never filled"; }
T=$BED_TMP

rx_bytes() { nq "$NS_GW" cat "/sys/class/net/$(link_var "$1" IF_GW)/statistics/rx_bytes"; }
# both_links: the download's upstream connection has a subflow on each link (the pooled idle
# connections have one each, so count one connection's, not all of them).
both_links() { [ "$(conn_subflows "$NS_GW" '( dport = :5124 )')" -ge 2 ]; }

# download_while CUT RESTORE: a 25 MB LAN download; CUT runs 1.5 s after it is on both links (or
# gave up waiting for that), RESTORE at the end. Sets SUBS (the download connection's subflows
# just before the cut), ON_A and ON_B (bytes each link received until then), MID (1 when the
# download was still running at the cut).
download_while() {
	local a0 b0 client
	a0=$(rx_bytes A)
	b0=$(rx_bytes B)
	n "$NS_LAN" timeout 120 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 25M \
		--timeout 20 >"$T/dl" 2>&1 &
	client=$!
	wait_for 10 both_links
	sleep 1.5 # let the transfer run on both links before one dies (a schedule, not a wait)
	SUBS=$(conn_subflows "$NS_GW" '( dport = :5124 )')
	ON_A=$(($(rx_bytes A) - a0))
	ON_B=$(($(rx_bytes B) - b0))
	MID=0
	kill -0 "$client" 2>/dev/null && MID=1
	eval "$1"
	wait "$client"
	eval "$2"
	diag "$(cat "$T/dl")"
}

# survived: the download was cut mid-transfer and still completed byte-exact.
survived() {
	[ "$MID" = 1 ] || { echo "the download had ended before the cut"; return 1; }
	grep -q 'verified=1' "$T/dl"
}

# 1-5: link B silently blackholed mid-transfer.
download_while "link_cut B" "link_restore B"
check "before the cut: 2 subflows on the download's upstream connection ($SUBS)" test "$SUBS" -ge 2
check "before the cut: both links carried it (A $ON_A bytes, B $ON_B bytes)" \
	test "$ON_A" -ge 500000 -a "$ON_B" -ge 500000
check "link B blackholed mid-download: transfer completes byte-exact" survived
check "all 25 MB arrived" grep -q 'bytes=25000000 ' "$T/dl"
check "the gateway is still serving" kill -0 "$(bed_pid gateway)"

# 6-10: link A (the initial subflow's link) taken down administratively mid-transfer; its routes
# go with it, so the bed restores them afterwards.
download_while "link_down A" "link_up A --restore"
check "before the cut: 2 subflows on the download's upstream connection ($SUBS)" test "$SUBS" -ge 2
check "before the cut: both links carried it (A $ON_A bytes, B $ON_B bytes)" \
	test "$ON_A" -ge 500000 -a "$ON_B" -ge 500000
check "link A down mid-download: transfer completes byte-exact" survived
check "all 25 MB arrived" grep -q 'bytes=25000000 ' "$T/dl"
if bed_stop gateway; then ok "gateway exits 0 on SIGTERM"; else not_ok "gateway exits 0 on SIGTERM"; fi
