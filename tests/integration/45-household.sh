#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A household behind one gateway, both daemons in their default configuration (issue 13, item
# 1 and the fair per-host limits): several LAN hosts at once, browser-like bursts (100 parallel
# short request/response connections, repeated) from an IPv4 and an IPv6 host, idle keep-alive
# connections, a long download. Zero failed connections, no converter backed off, no converter
# limit met. Then a greedy LAN host holding more connections than its fair share
# (max-sessions-per-host, 512): it meets the gateway's cap alone, another host's burst still
# gets through. Before issue 13 the converter's per-client limits (32 idle) refused the
# household's bursts, and one refusal reset every LAN connection for 30 s.
#
#   lan (hosts .2 .3 .4 .5, fd00:1::2..5) ──── gw ══ link A (50 Mbit/s, 5 ms)  ══ cv ──── srv
#                                                  ══ link B (50 Mbit/s, 10 ms) ══
source "$(dirname "$0")/lib.sh"
require_gateway

plan 10

TOOLS=$BED_TOP/tests/tools
topo_hybrid A:rate=50mbit,delay=5 B:rate=50mbit,delay=10 || bail "topology"
mptcp_multilink || bail "MPTCP endpoints"
lan_hosts 3
bed_start "$NS_SRV" echo python3 "$TOOLS/testserver.py" --mode echo "$SRV_ADDR4:7000" \
	"[$SRV_ADDR6]:7000"
bed_start "$NS_SRV" bulk "$MPBULK" server -p 5201 --tcp
wait_listen "$NS_SRV" 7000 && wait_listen "$NS_SRV" 5201 || bail "servers"
start_converter
start_gateway
wait_upstreams 2 || { dump_state "$NS_GW"; bail "the gateway's pool never filled"; }
T=$BED_TMP

# household MODE DEST ARGS...: household.py from the lan namespace (see tests/tools).
household() {
	local mode=$1 dest=$2
	shift 2
	nq "$NS_LAN" timeout 120 python3 "$TOOLS/household.py" "$mode" "$dest" 7000 "$@"
}

# 1-5: everything at once, from four hosts.
nq "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 40M \
	--bind "${LAN_HOSTS4[0]}" --timeout 20 >"$T/dl" 2>&1 &
dl=$!
household hold "$SRV_ADDR4" --from "${LAN_HOSTS4[1]}" --count 30 --seconds 12 >"$T/hold" 2>&1 &
hold=$!
household burst "$SRV_ADDR6" --from "${LAN_HOSTS6[3]}" --parallel 100 --rounds 3 >"$T/burst6" 2>&1 &
burst6=$!
household burst "$SRV_ADDR4" --from "${LAN_HOSTS4[2]}" --parallel 100 --rounds 5 >"$T/burst4" 2>&1
wait "$burst6" "$hold" "$dl"
diag "IPv4 bursts: $(tail -1 "$T/burst4")"
diag "IPv6 bursts: $(tail -1 "$T/burst6")"
diag "keep-alive:  $(tail -1 "$T/hold")"
diag "download:    $(tail -1 "$T/dl")"
check "IPv4 host, 5 bursts of 100 parallel connections: none failed" grep -q ' failed=0 ' "$T/burst4"
check "IPv6 host, 3 bursts of 100 parallel connections: none failed" grep -q ' failed=0 ' "$T/burst6"
check "30 idle keep-alive connections still answer after 12 s" grep -q '^ok=30 failed=0 ' "$T/hold"
check "a 40 MB download meanwhile: complete and verified" \
	bash -c "grep -q 'bytes=40000000 .*verified=1' '$T/dl'"
check "no converter limit met, nothing backed off, no connection given up" \
	bash -c "! grep -E 'reached|failures in a row|converter unusable|no converter took' \
		'$T/converter.err' '$T/gateway.err'"

# 6-9: a greedy host holds more connections than its share; the others do not notice.
household hold "$SRV_ADDR4" --from "${LAN_HOSTS4[0]}" --count 600 --seconds 15 --timeout 25 \
	>"$T/greedy" 2>&1 &
greedy=$!
wait_for 15 grep -q 'max-sessions-per-host' "$T/gateway.err"
household burst "$SRV_ADDR4" --from "${LAN_HOSTS4[1]}" --parallel 100 --rounds 3 >"$T/neighbour" 2>&1
household burst "$SRV_ADDR6" --from "${LAN_HOSTS6[2]}" --parallel 100 --rounds 2 >"$T/neighbour6" 2>&1
wait "$greedy"
diag "greedy host, 600 held: $(tail -1 "$T/greedy")"
diag "neighbours: $(tail -1 "$T/neighbour"); $(tail -1 "$T/neighbour6")"
check "the greedy host met its cap, once in the log" \
	test "$(grep -c "LAN host ${LAN_HOSTS4[0]}: max-sessions-per-host (512) reached" "$T/gateway.err")" = 1
check "the greedy host kept its 512" grep -q '^ok=512 ' "$T/greedy"
check "meanwhile an IPv4 neighbour's bursts: none failed" grep -q ' failed=0 ' "$T/neighbour"
check "and an IPv6 neighbour's: none failed" grep -q ' failed=0 ' "$T/neighbour6"

if bed_stop gateway; then ok "gateway exits 0 on SIGTERM"; else not_ok "gateway exits 0 on SIGTERM"; fi
