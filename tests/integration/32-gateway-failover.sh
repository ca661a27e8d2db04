#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Failover through the gateway: an access link dies in the middle of a LAN download; the
# transfer must complete byte-exact over the other link. Both ways a link dies: silently
# (blackholed in the emulator, routes intact) and administratively (interface down, which also
# deletes its routes). Subflows here come from the kernel path manager (endpoints set by the
# bed); re-creating a subflow when the link returns needs the daemon's own path manager
# (issue 4, next step), so it is not asserted here.
#
#   lan ──── gw (gateway) ══ link A (20 Mbit/s, 5 ms) ══ cv (converter) ──── srv
#                         ══ link B (30 Mbit/s, 10 ms) ══
source "$(dirname "$0")/lib.sh"
require_bed

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
[ -x "$MPCONVD" ] || skip_all "mpconvd not built in $MPCONV_BUILD"
command -v nft >/dev/null || skip_all "nft not installed"

plan 6

topo_hybrid A:rate=20mbit,delay=5 B:rate=30mbit,delay=10 || bail "topology"
mptcp_multilink || bail "MPTCP endpoints"
bed_start "$NS_SRV" bulk "$MPBULK" server -p 5201 --tcp
bed_start "$NS_CV" converter "$MPCONVD" converter --listen "$CV_ADDR4:5124" --allow 10.10.0.0/16
wait_listen "$NS_SRV" 5201 && wait_listen "$NS_CV" 5124 || bail "servers"
bed_start "$NS_GW" gateway "$MPCONVD" gateway --converter "$CV_ADDR4" --lan "$LAN_IF_GW"
wait_listen "$NS_GW" 5126 || bail "gateway"
wait_for 5 test "$(ip netns exec "$NS_GW" ss -MnH state established '( dport = :5124 )' | wc -l)" -ge 2
T=$BED_TMP

# download_while CUT RESTORE: a 25 MB LAN download; CUT runs after 1.5 s, RESTORE at the end.
download_while() {
	n "$NS_LAN" timeout 120 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 25M \
		--timeout 20 >"$T/dl" 2>&1 &
	local client=$!
	wait_for 10 test "$(count_subflows "$NS_GW" "( dport = :5124 )")" -ge 2
	sleep 1.5 # let the transfer run on both links before one dies (a schedule, not a wait)
	eval "$1"
	wait "$client"
	eval "$2"
	diag "$(cat "$T/dl")"
}

# 1-3: link B silently blackholed mid-transfer.
download_while "link_cut B" "link_restore B"
check "link B blackholed mid-download: transfer completes byte-exact" grep -q 'verified=1' "$T/dl"
check "all 25 MB arrived" grep -q 'bytes=25000000 ' "$T/dl"
check "the gateway is still serving" kill -0 "$(bed_pid gateway)"

# 4-6: link A (the initial subflow's link) taken down administratively mid-transfer; its routes
# go with it, so the bed restores them afterwards.
wait_for 10 test "$(count_subflows "$NS_GW" "( dport = :5124 )")" -ge 2
download_while "link_down A" "link_up A --restore"
check "link A down mid-download: transfer completes byte-exact" grep -q 'verified=1' "$T/dl"
check "all 25 MB arrived" grep -q 'bytes=25000000 ' "$T/dl"
if bed_stop gateway; then ok "gateway exits 0 on SIGTERM"; else not_ok "gateway exits 0 on SIGTERM"; fi
