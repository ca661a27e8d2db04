#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The gateway when the converter is down or refuses: the configured behaviour happens
# (converter-down = closed resets the LAN client, = direct, the default, serves it around the
# converter), an Error TLV from the converter resets the LAN client, and the gateway stays up and
# exits clean. With several converters, the next one takes over a refused connection (after one
# retry); the refusing converter is backed off only after failures in a row (1 s first); a path
# that strips MPTCP is detected (fallback counted) and forgiven once it is repaired.
#
#   lan ──── gw (two gateways, ports 5126 and 5127) ══ link A ══ cv ──── srv
source "$(dirname "$0")/lib.sh"
require_gateway

plan 18

topo_hybrid A:rate=100mbit,delay=2 || bail "topology"
bed_start "$NS_SRV" echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:7000" "$SRV_ADDR4:7009"
wait_listen "$NS_SRV" 7000 || bail "echo server"

# echo_via_lan PORT: one exchange from the LAN host (see tcp_exchange in lib.sh).
echo_via_lan() {
	tcp_exchange "$NS_LAN" "$SRV_ADDR4" "$1" $'hi\n'
}

# 1-2: no converter running; converter-down = closed resets the LAN client.
start_gateway --name gw-closed --connect-timeout 1s --converter-down closed
out=$(echo_via_lan 7000)
check "converter down, converter-down=closed: the LAN client is reset ($out)" test "$out" = reset
check "the gateway warned and logged the session's reason" \
	grep -Eq 'converter unusable: .*are reset|no converter took .* is reset' "$BED_TMP/gw-closed.err"
bed_stop gw-closed

# 3-4: converter-down = direct (the default): the LAN client is served around the converter.
start_gateway --name gw-direct --connect-timeout 1s
out=$(echo_via_lan 7000)
check "converter down, converter-down=direct: served direct ($out)" test "$out" = "hi|END|"
bed_stop gw-direct # its totals line is written at exit
check "and counted as a fallback" grep -q 'fallbacks=1' "$BED_TMP/gw-direct.err"

# 5-7: the converter refuses this destination (deny-destination): Error TLV -> LAN reset.
start_converter --deny-destination 10.0.2.2/32
start_gateway --name gw
out=$(echo_via_lan 7009)
check "converter refuses (Not Authorized): the LAN client is reset ($out)" test "$out" = reset
check "the gateway logged the converter's error code 32" \
	wait_for 3 grep -q 'converter_error=32' "$BED_TMP/gw.err"
# 8-9: the gateway is still up and still serves, then exits cleanly.
kill -0 "$(bed_pid gw)" 2>/dev/null
check "the gateway is still running" test $? -eq 0
if bed_stop gw; then ok "gateway exits 0 on SIGTERM"; else not_ok "gateway exits 0 on SIGTERM"; fi
check "no interception table left behind" bash -c "! ip netns exec '$NS_GW' nft list table inet mpconv 2>/dev/null"

# 10-13: two converters; the first refuses for lack of resources (Error 64: one session per
# client there, and one is held open): the refused connection is retried once, then the second
# one serves; after 3 refusals in a row the first is backed off (1 s, not 30 s: RFC 8803's wait
# is the cap) and the next connection goes to the second one without asking the first again.
bed_stop converter
n "$NS_CV" ip addr add 10.99.0.2/32 dev lo
start_converter --name cv-small --listen 10.99.0.2:5124 --allow 10.10.0.0/16 \
	--max-sessions-per-client 1
start_converter
start_gateway --name gw2 --converter 10.99.0.2 --converter "$CV_ADDR4" --mode plain
n "$NS_LAN" timeout 40 python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7000), timeout=5); s.sendall(b"hold\n"); s.recv(10)
time.sleep(30)' "$SRV_ADDR4" mpconv-holder &
holder=$!
wait_for 10 bash -c "ip netns exec '$NS_CV' ss -tnH state established | grep -q '10.0.2.2:7000'"
out=$(echo_via_lan 7000)
check "first converter refuses (64): the second one serves ($out)" test "$out" = "hi|END|"
out=$(echo_via_lan 7000)
check "the next connection is served too ($out)" test "$out" = "hi|END|"
check "after 3 refusals in a row the gateway backs the first one off for 1 s" \
	grep -q 'converter 0: 3 failures in a row (last: Resource Exceeded): not asked for 1000 ms' \
	"$BED_TMP/gw2.err"
check "the second connection's retry went to the second converter (one switch after two refusals in all)" \
	test "$(grep -c 'trying the next one' "$BED_TMP/gw2.err")" = 1
ip netns pids "$NS_LAN" | xargs -r kill # the holder (this run's only process in lan)
wait "$holder" 2>/dev/null
bed_stop gw2

# 14-15: the first converter is unreachable (nothing listens there): the second one serves.
start_gateway --name gw3 --converter 10.99.0.3 --converter "$CV_ADDR4" --connect-timeout 2s
n "$NS_CV" ip addr add 10.99.0.3/32 dev lo
out=$(echo_via_lan 7000)
check "first converter unreachable: the second one serves ($out)" test "$out" = "hi|END|"
check "logged as unreachable, served by converter 1" \
	bash -c "grep -q 'converter 0: cannot connect to the converter; trying the next one' '$BED_TMP/gw3.err' && grep -q 'dest=10.0.2.2:7000 .*converter=1 ' '$BED_TMP/gw3.err'"
bed_stop gw3

# 16-18: a path that drops MPTCP SYNs: the connection falls back to plain TCP (after the
# kernel's SYN retries, ~3 s: connect-timeout must be longer than that; the default, 2 s, sends
# such connections per converter-down instead), the gateway counts and logs it; once the path is
# repaired, MPTCP is used again at once (the gateway set net.mptcp.blackhole_timeout=0).
n "$NS_CV" nft -f - <<'EOF_NFT'
table inet strip {
	chain in {
		type filter hook input priority 0
		tcp flags syn tcp option mptcp exists drop
	}
}
EOF_NFT
start_gateway --name gw4 --mode plain --connect-timeout 5s
out=$(echo_via_lan 7000)
check "MPTCP stripped on the path: still served, over plain TCP ($out)" test "$out" = "hi|END|"
check "the gateway logged the fallback" grep -q 'fell back to plain TCP' "$BED_TMP/gw4.err"
n "$NS_CV" nft delete table inet strip
before=$(n "$NS_GW" nstat -az MPTcpExtMPCapableSYNTX | awk '/MPCapableSYNTX/ { print $2 }')
out=$(echo_via_lan 7000)
after=$(n "$NS_GW" nstat -az MPTcpExtMPCapableSYNTX | awk '/MPCapableSYNTX/ { print $2 }')
bed_stop gw4
check "path repaired: the next connection is MPTCP again ($out, MP_CAPABLE SYNs $before -> $after, fallbacks counted: $(grep -o 'mptcp_fallbacks=[0-9]*' "$BED_TMP/gw4.err"))" \
	bash -c "[ '$out' = 'hi|END|' ] && [ '${after:-0}' -gt '${before:-0}' ] && grep -q 'mptcp_fallbacks=1 ' '$BED_TMP/gw4.err'"
