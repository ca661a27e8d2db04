#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Converter failover and robust establishment, default configuration (issue 13, items 1-3):
#  - two converters, A then B, and A's host dies (blackholed, daemon gone): link health is not
#    A's health (the links are probed towards every converter in turn), so the links stay up
#    and new connections go to B within a couple of seconds; `status` shows B active.
#  - an access link blackholed while new connections open: each is opened again from the other
#    link after about one RTO (establish-timeout, 1 s) instead of hanging; none past ~2 s.
#  - a converter refusing connections (Resource Exceeded: its per-client limit, filled by one
#    greedy LAN host): the refused connections are retried, then served direct (converter-down
#    default), another LAN host is served all along, and a probe answered ends the back-off.
# Before issue 13: every link "dead" with A down (probes went to A only), connections reset;
# 10 s hangs on a blackholed link; one refusal reset every LAN connection for 30 s.
#
#   lan (hosts .2 .3) ──── gw ══ link A (50 Mbit/s, 5 ms)  ══ cv (converters A 10.99.0.2, ──── srv
#                              ══ link B (50 Mbit/s, 10 ms) ══     B 10.99.0.1)
source "$(dirname "$0")/lib.sh"
require_gateway
CTL=$MPCONV_BUILD/tools/mpconvctl
[ -x "$CTL" ] || skip_all "mpconvctl not built in $MPCONV_BUILD"

plan 14

TOOLS=$BED_TOP/tests/tools
topo_hybrid A:rate=50mbit,delay=5 B:rate=50mbit,delay=10 || bail "topology"
mptcp_limits "$NS_CV" 8 8 || bail "limits"
lan_hosts 1
bed_start "$NS_SRV" echo python3 "$TOOLS/testserver.py" --mode echo "$SRV_ADDR4:7000"
wait_listen "$NS_SRV" 7000 || bail "echo server"
CV_A=10.99.0.2
n "$NS_CV" ip addr add "$CV_A/32" dev lo
start_converter --name cv-a --listen "$CV_A:5124" --allow 10.10.0.0/16
start_converter --name cv-b
T=$BED_TMP
LINKS_ARGS=(--link "a dev wanA via $(link_var A CV4) role primary"
	--link "b dev wanB via $(link_var B CV4)")
start_gateway --converter "$CV_A" --converter "$CV_ADDR4" "${LINKS_ARGS[@]}" \
	--control-socket "$T/gw.sock"
wait_upstreams 2 || { dump_state "$NS_GW"; bail "the gateway's pool never filled"; }

household() {
	local mode=$1
	shift
	nq "$NS_LAN" timeout 120 python3 "$TOOLS/household.py" "$mode" "$SRV_ADDR4" 7000 "$@"
}

# 1-6: converter A's host dies.
household paced --from "$LAN_ADDR4" --count 2 --interval 0.2 >"$T/before"
check "both converters up: served by A ($(cat "$T/before"))" \
	bash -c "grep -q '^ok=2 ' '$T/before' && grep -q 'converter=0 ' '$T/gateway.err'"
n "$NS_CV" nft -f - <<EOF
table inet deadhost {
	chain in {
		type filter hook input priority -10
		ip daddr $CV_A drop
	}
}
EOF
bed_stop cv-a
household paced --from "$LAN_ADDR4" --count 16 --interval 0.5 >"$T/failover"
household paced --from "${LAN_HOSTS4[1]}" --count 20 --interval 0.25 >"$T/after"
diag "A dead, first 8 s: $(cat "$T/failover"); the next 5 s: $(cat "$T/after")"
worst=$(kv max_ms "$(cat "$T/failover")") slow=$(kv slow "$(cat "$T/after")")
check "A dead: no connection lost, none slower than 3 s" \
	bash -c "grep -q ' failed=0 ' '$T/failover' && [ '${worst:-99999}' -lt 3000 ]"
check "afterwards B serves at once (at most one slow trial of A)" \
	bash -c "grep -q ' failed=0 ' '$T/after' && [ '${slow:-99}' -le 1 ]"
check "the links stayed up (probed towards B too)" \
	bash -c "! grep -E 'link [ab] \(wan[AB]\): down' '$T/gateway.err'"
"$CTL" -s "$T/gw.sock" status >"$T/status"
check "status shows B active and A backing off" \
	bash -c "grep -q '$CV_ADDR4:5124 (active)' '$T/status' && grep -q '$CV_A:5124 (backing off)' '$T/status'"
check "the pool moved to B" grep -q 'pool: now connecting to converter 1' "$T/gateway.err"
bed_stop gateway

# 7-9: link A blackholed while new connections open (B's converter only).
start_gateway --name gw2 "${LINKS_ARGS[@]}"
wait_upstreams 2 || { dump_state "$NS_GW"; bail "gw2's pool never filled"; }
link_cut A
household paced --from "$LAN_ADDR4" --count 12 --interval 0.25 >"$T/cut"
link_restore A
diag "link A blackholed: $(cat "$T/cut")"
check "link A blackholed: no connection lost" grep -q ' failed=0 ' "$T/cut"
worst=$(kv max_ms "$(cat "$T/cut")")
check "none hung past 2.5 s" test "${worst:-99999}" -lt 2500
check "opened again from link B, not counted against the converter" \
	bash -c "! grep -E 'failures in a row|converter unusable' '$T/gw2.err'"
bed_stop gw2

# 10-14: the converter refuses (its per-client limit: 40 sessions); a greedy LAN host holds 60.
bed_stop cv-b
start_converter --name cv-small --max-sessions-per-client 40
start_gateway --name gw3 --control-socket "$T/gw3.sock"
wait_upstreams 2 || { dump_state "$NS_GW"; bail "gw3's pool never filled"; }
household hold --from "$LAN_ADDR4" --count 60 --seconds 8 --timeout 15 >"$T/greedy" 2>&1 &
greedy=$!
wait_for 10 grep -q 'max-sessions-per-client reached' "$T/cv-small.err"
household burst --from "${LAN_HOSTS4[1]}" --parallel 50 --rounds 2 >"$T/neighbour"
wait "$greedy"
diag "greedy host: $(cat "$T/greedy"); neighbour: $(cat "$T/neighbour")"
check "the converter refused, the greedy host lost nothing (refused ones went direct)" \
	grep -q '^ok=60 failed=0 ' "$T/greedy"
check "another LAN host was served all along" grep -q '^ok=100 failed=0 ' "$T/neighbour"
check "a refused connection was retried before going direct" \
	bash -c "\"$CTL\" -s '$T/gw3.sock' status | grep -Eq 'retries +[1-9][0-9]* refusals retried'"
check "no back-off past RFC 8803's 30 s" \
	bash -c "! grep -E 'not asked for ([0-9]{6,}|[3-9][0-9]{4}) ms' '$T/gw3.err' | grep -v 'for 30000 ms'"
"$CTL" -s "$T/gw3.sock" probe >"$T/probe" 2>&1
household paced --from "$LAN_ADDR4" --count 1 >"$T/later"
check "an answered probe ends the back-off: bonded through the converter again" \
	bash -c "grep -q '^ok=1 ' '$T/later' && tail -n 3 '$T/gw3.err' | grep 'dest=$SRV_ADDR4:7000' | tail -1 | grep -q 'action=bond .*converter_error=-1'"
bed_stop gw3
