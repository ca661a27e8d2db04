#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# An overflow link carries traffic only while the primary is saturated; a quota makes a metered
# link backup-only once used up. Per-link bytes are the gateway's interface counters.
#
#   lan ──── gw (mpconvd gateway) ══ A 10 Mbit/s 5 ms (link a, primary, rate 10mbit) ══ cv ──── srv
#                                 ══ B 20 Mbit/s 10 ms (link b, role overflow)       ══
#
# 1. a download below A's rate (a server sending 4 Mbit/s) moves (almost) nothing over B;
# 2. one above it (unpaced) fills A, then B opens and carries megabytes;
# 3. after an idle period B stands by again: the next paced download leaves it alone;
# 4. a second gateway with link b a plain secondary with a 3M quota: a download uses b until the
#    quota is used up, then b carries nothing more (logged, `mpconvctl links` says quota-used)
#    until `mpconvctl reset-quota`.
source "$(dirname "$0")/lib.sh"
require_gateway
CTL=$MPCONV_BUILD/tools/mpconvctl
[ -x "$CTL" ] || skip_all "mpconvctl not built in $MPCONV_BUILD"

plan 10

BED_SRC_ROUTES=0
topo_hybrid A:rate=10mbit,delay=5 B:rate=20mbit,delay=10 || bail "topology"
mptcp_limits "$NS_CV" 8 8 || bail "limits"
bed_start "$NS_SRV" bulk "$MPBULK" server -p 5201 --tcp
# 4 s at 4 Mbit/s: 2,000,000 bytes
bed_start "$NS_SRV" paced python3 "$TESTSERVER" --mode paced:2000000:4000 "$SRV_ADDR4:5202"
start_converter
for port in 5201 5202; do wait_listen "$NS_SRV" "$port" || bail "server $port"; done
T=$BED_TMP
SOCK=$T/gw.sock
start_gateway --link "a dev wanA via 10.10.1.2 role primary rate 10mbit" \
	--link "b dev wanB via 10.10.2.2 role overflow" --probe-interval 0 --control-socket "$SOCK"

# rx bytes of the gateway's interface for link B (downloads arrive there)
b_rx() { n "$NS_GW" cat /sys/class/net/wanB/statistics/rx_bytes; }
a_rx() { n "$NS_GW" cat /sys/class/net/wanA/statistics/rx_bytes; }
# paced: the 4 Mbit/s server's 2,000,000 bytes, read to the end by a LAN client
paced() {
	n "$NS_LAN" timeout 20 python3 -c '
import socket, sys
s, got = socket.create_connection((sys.argv[1], 5202)), 0
while (chunk := s.recv(65536)):
    got += len(chunk)
print("got=%d" % got)' "$SRV_ADDR4" >"$T/dl" 2>&1
}
opened() { grep -c 'overflow: the primary links are saturated: overflow links carry traffic' "$T/gateway.err"; }
closed() { grep -c 'overflow: the primary links have room again: overflow links stand by' "$T/gateway.err"; }

# 1. below the primary's rate
b0=$(b_rx) a0=$(a_rx)
paced
b1=$(b_rx) a1=$(a_rx)
diag "paced: $(cat "$T/dl"); A rx $((a1 - a0)) B rx $((b1 - b0))"
check "a download below A's rate: A carries it, B under 200 kB, the overflow link never opened" \
	eval 'grep -q "^got=2000000$" "$T/dl" && [ $((a1 - a0)) -gt 2000000 ] && [ $((b1 - b0)) -lt 200000 ] && [ "$(opened)" = 0 ]'

# 2. above it
n "$NS_LAN" timeout 30 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 20M >"$T/dl" 2>&1
b2=$(b_rx) a2=$(a_rx)
diag "unpaced: $(cat "$T/dl"); A rx $((a2 - a1)) B rx $((b2 - b1))"
check "a download above A's rate fills both: B carries over 3 MB" \
	eval 'grep -q verified=1 "$T/dl" && [ $((b2 - b1)) -gt 3000000 ] && [ $((a2 - a1)) -gt 3000000 ]'
check "the gateway said the overflow link opened" test "$(opened)" = 1

# 3. idle, then below the rate again
check "after an idle period the overflow link stands by again" wait_for 8 eval '[ "$(closed)" = 1 ]'
"$CTL" -s "$SOCK" links -j >"$T/links.json"
b3=$(b_rx)
paced
b4=$(b_rx)
diag "paced again: $(cat "$T/dl"); B rx $((b4 - b3)); links: $(cat "$T/links.json")"
check "the next download below A's rate leaves B alone (under 200 kB), links says standby" \
	eval 'grep -q "^got=2000000$" "$T/dl" && [ $((b4 - b3)) -lt 200000 ] && [ "$(opened)" = 1 ] && grep -q "\"name\":\"b\",\"state\":\"standby\"" "$T/links.json"'
if bed_stop gateway; then ok "the gateway exits 0 on SIGTERM"; else not_ok "the gateway exits 0 on SIGTERM"; fi

# 4. a metered secondary link with a quota
start_gateway --name metered --link "a dev wanA via 10.10.1.2 role primary" \
	--link "b dev wanB via 10.10.2.2 quota 3M" --probe-interval 0 --control-socket "$SOCK"
n "$NS_LAN" timeout 30 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 16M >"$T/dl" 2>&1 &
dl=$!
check "the quota is used up and said so" wait_for 10 grep -q 'link b: its quota is used up' "$T/metered.err"
sleep 1 # the converter's queue on b drains
b5=$(b_rx)
sleep 2
b6=$(b_rx)
"$CTL" -s "$SOCK" links -j >"$T/links2.json"
wait "$dl"
diag "quota: $(cat "$T/dl"); B rx in 2 s after: $((b6 - b5)); links: $(cat "$T/links2.json")"
check "then b carries (almost) nothing: under 100 kB in 2 s of the download" \
	eval 'grep -q verified=1 "$T/dl" && [ $((b6 - b5)) -lt 100000 ]'
check "mpconvctl links shows b as quota-used" grep -q '"name":"b","state":"quota-used"' "$T/links2.json"
"$CTL" -s "$SOCK" reset-quota >/dev/null
"$CTL" -s "$SOCK" links -j >"$T/links3.json"
check "mpconvctl reset-quota: b is up again, said so" \
	eval 'grep -q "\"name\":\"b\",\"state\":\"up\"" "$T/links3.json" && grep -q "link b: a new quota period: used again" "$T/metered.err"'
