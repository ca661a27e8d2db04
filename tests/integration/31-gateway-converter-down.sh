#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The gateway when the converter is down or refuses: the configured behaviour happens
# (converter-down = closed resets the LAN client, = direct serves it around the converter), an
# Error TLV from the converter resets the LAN client, and the gateway stays up and exits clean.
#
#   lan ──── gw (two gateways, ports 5126 and 5127) ══ link A ══ cv ──── srv
source "$(dirname "$0")/lib.sh"
require_bed

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
TESTSERVER=$BED_TOP/tests/tools/testserver.py
[ -x "$MPCONVD" ] || skip_all "mpconvd not built in $MPCONV_BUILD"
command -v nft >/dev/null || skip_all "nft not installed"

plan 9

topo_hybrid A:rate=100mbit,delay=2 || bail "topology"
bed_start "$NS_SRV" echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:7000" "$SRV_ADDR4:7009"
wait_listen "$NS_SRV" 7000 || bail "echo server"

# echo_via_lan PORT: one exchange from the LAN host (see tcp_exchange in lib.sh).
echo_via_lan() {
	tcp_exchange "$NS_LAN" "$SRV_ADDR4" "$1" $'hi\n'
}

# 1-2: no converter running; converter-down = closed (the default) resets the LAN client.
bed_start "$NS_GW" gw-closed "$MPCONVD" gateway --converter "$CV_ADDR4" --lan "$LAN_IF_GW" \
	--connect-timeout 1s
wait_listen "$NS_GW" 5126 || bail "gateway"
out=$(echo_via_lan 7000)
check "converter down, converter-down=closed: the LAN client is reset ($out)" test "$out" = reset
check "the gateway warned once and logged the session's reason" \
	grep -q 'converter unusable: .*are reset' "$BED_TMP/gw-closed.err"
bed_stop gw-closed

# 3-4: converter-down = direct: the LAN client is served around the converter.
bed_start "$NS_GW" gw-direct "$MPCONVD" gateway --converter "$CV_ADDR4" --lan "$LAN_IF_GW" \
	--connect-timeout 1s --converter-down direct
wait_listen "$NS_GW" 5126 || bail "gateway"
out=$(echo_via_lan 7000)
check "converter down, converter-down=direct: served direct ($out)" test "$out" = "hi|END|"
bed_stop gw-direct # its totals line is written at exit
check "and counted as a fallback" grep -q 'fallbacks=1' "$BED_TMP/gw-direct.err"

# 5-7: the converter refuses this destination (deny-destination): Error TLV -> LAN reset.
bed_start "$NS_CV" converter "$MPCONVD" converter --listen "$CV_ADDR4:5124" --allow 10.10.0.0/16 \
	--deny-destination 10.0.2.2/32
wait_listen "$NS_CV" 5124 || bail "converter"
bed_start "$NS_GW" gw "$MPCONVD" gateway --converter "$CV_ADDR4" --lan "$LAN_IF_GW"
wait_listen "$NS_GW" 5126 || bail "gateway"
out=$(echo_via_lan 7009)
check "converter refuses (Not Authorized): the LAN client is reset ($out)" test "$out" = reset
check "the gateway logged the converter's error code 32" \
	wait_for 3 grep -q 'converter_error=32' "$BED_TMP/gw.err"
# 8-9: the gateway is still up and still serves, then exits cleanly.
kill -0 "$(bed_pid gw)" 2>/dev/null
check "the gateway is still running" test $? -eq 0
if bed_stop gw; then ok "gateway exits 0 on SIGTERM"; else not_ok "gateway exits 0 on SIGTERM"; fi
check "no interception table left behind" bash -c "! ip netns exec '$NS_GW' nft list table inet mpconv 2>/dev/null"
