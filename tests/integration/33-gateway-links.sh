#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The gateway's own access links: its source routing (kept true when the kernel deletes it),
# subflows per link through the userspace path manager, a subflow re-created when its link
# returns, ICMP health probes steering new connections off a silent link, backup-only and
# allowed-links rules, direct:LINK, and everything removed at exit.
#
#   lan ──── gw (mpconvd gateway, links a, b) ══ A 20 Mbit/s 10 ms ══ cv (converter) ──── srv
#                                             ══ B 30 Mbit/s 40 ms ══
#
# The bed adds no per-source rules here (BED_SRC_ROUTES=0): every subflow that leaves by link B
# does so because of the daemon's own table.
source "$(dirname "$0")/lib.sh"
require_gateway

plan 29

BED_SRC_ROUTES=0
topo_hybrid A:rate=20mbit,delay=10 B:rate=30mbit,delay=40 || bail "topology"
mptcp_limits "$NS_CV" 8 8 || bail "limits"

for port in 5201 5202 5203 5204; do
	bed_start "$NS_SRV" "bulk$port" "$MPBULK" server -p "$port" --tcp
done
start_converter
for port in 5201 5202 5203 5204; do wait_listen "$NS_SRV" "$port" || bail "server $port"; done
start_gateway --link "a dev wanA via 10.10.1.2 role primary" --link "b dev wanB via 10.10.2.2" \
	--probe-interval 500ms --probe-down 3 --probe-up 2 \
	--rule "bond port 5202 backup b name backup-b" --rule "bond port 5203 links a name only-a" \
	--rule "direct:b port 5204 name direct-b"
T=$BED_TMP

# 1-4: routing and path manager set up by the daemon.
check "source rule for link a (from 10.10.1.1 lookup 5100)" \
	bash -c "ip -n '$NS_GW' rule | grep -q 'from 10.10.1.1 lookup 5100'"
check "source rule for link b (from 10.10.2.1 lookup 5101)" \
	bash -c "ip -n '$NS_GW' rule | grep -q 'from 10.10.2.1 lookup 5101'"
check "table 5101 routes via link b" \
	bash -c "ip -n '$NS_GW' route show table 5101 | grep -q 'default via 10.10.2.2 dev wanB'"
check "userspace path manager selected" \
	test "$(n "$NS_GW" sysctl -n net.mptcp.path_manager)" = userspace

rx_bytes() { nq "$NS_GW" cat "/sys/class/net/$1/statistics/rx_bytes"; }
tx_bytes() { nq "$NS_GW" cat "/sys/class/net/$1/statistics/tx_bytes"; }

# 5-8: a download uses both links: 2 subflows on its connection, no fallback.
nstat_reset "$NS_GW"
n "$NS_LAN" timeout 120 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 20M \
	>"$T/down" 2>&1 &
client=$!
max=$(max_conn_subflows_while "$client" "$NS_GW" '( dport = :5124 )')
wait "$client"
diag "download: $(cat "$T/down")"
check "download byte-exact" grep -q 'verified=1' "$T/down"
check "its upstream connection had 2 subflows (one per link): $max" test "$max" -eq 2
check "no MPTCP fallback on the gateway" assert_no_fallback "$NS_GW"
line=$(n "$NS_LAN" timeout 120 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --bytes 10M 2>&1)
diag "upload: $line"
check "upload byte-exact" grep -q 'verified=1' <<<"$line"

# 9-14: link b goes down mid-transfer (the kernel deletes its routes), then comes back
# without anyone restoring them but the daemon: the same connection gets its subflow back.
n "$NS_LAN" timeout 120 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 60M \
	>"$T/fail" 2>&1 &
client=$!
: >"$T/subs"
sampler()
{
	while kill -0 "$client" 2>/dev/null; do
		conn_subflows "$NS_GW" '( dport = :5124 )' >>"$T/subs"
		sleep 0.2
	done
}
sampler &
sampler_pid=$!
wait_for 10 grep -qx 2 "$T/subs"
link_down B
sleep 3
route_gone=$(ip -n "$NS_GW" route show table 5101 | grep -c default)
link_up B
wait "$client"
wait "$sampler_pid"
diag "failover download: $(cat "$T/fail")"
diag "longest stall seen by the LAN host: $(kv max_gap_ms "$(cat "$T/fail")") ms"
diag "subflows sampled: $(uniq -c "$T/subs" | awk '{ printf "%sx%s ", $1, $2 }')"
check "transfer byte-exact across link b down and up" grep -q 'verified=1' "$T/fail"
check "link down deleted the route in table 5101 (kernel behaviour)" test "$route_gone" -eq 0
check "the daemon put it back after link up" \
	bash -c "ip -n '$NS_GW' route show table 5101 | grep -q 'default via 10.10.2.2 dev wanB'"
check "subflows went 2 -> 1 -> 2 on the same connection" \
	bash -c "uniq '$T/subs' | tr '\n' ' ' | grep -q '2 1 .*2'"
check "the gateway saw link b down and up" \
	bash -c "grep -q 'link b (wanB): down (no carrier)' '$T/gateway.err' && grep -q 'link b (wanB): up' '$T/gateway.err'"

# 14-17: link a goes silent (carrier stays up): probes declare it dead; new connections start
# on link b; when it answers again it is used again.
link_cut A
check "probes: link a declared dead" wait_for 6 grep -q 'link a (wanA): down (probes unanswered)' \
	"$T/gateway.err"
line=$(n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 2M 2>&1)
diag "with link a silent: $line"
check "a new connection works with link a silent (initial subflow on b)" \
	grep -q 'verified=1' <<<"$line"
link_restore A
check "probes: link a alive again" wait_for 6 bash -c "grep -c 'link a (wanA): up' '$T/gateway.err' | grep -qx 2"
line=$(n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 2M 2>&1)
check "and connections work after it returns" grep -q 'verified=1' <<<"$line"

# 18-20: "backup b": link b joins as backup and carries (almost) nothing while a works.
before=$(rx_bytes wanB)
line=$(n "$NS_LAN" timeout 120 "$MPBULK" client "$SRV_ADDR4" 5202 --tcp --download --bytes 10M 2>&1)
onb=$(($(rx_bytes wanB) - before))
diag "backup rule: $line; link b received $onb bytes"
check "backup rule: download byte-exact" grep -q 'verified=1' <<<"$line"
check "backup rule: link b carried < 5 % of it ($onb bytes)" test "$onb" -lt 500000
check "backup rule: logged with its rule" grep -q 'rule=backup-b' "$T/gateway.err"

# 21-22: "links a": no subflow on link b at all.
before=$(rx_bytes wanB)
line=$(n "$NS_LAN" timeout 120 "$MPBULK" client "$SRV_ADDR4" 5203 --tcp --download --bytes 10M 2>&1)
onb=$(($(rx_bytes wanB) - before))
diag "links-a rule: $line; link b received $onb bytes"
check "allowed-links rule: download byte-exact" grep -q 'verified=1' <<<"$line"
check "allowed-links rule: link b carried nothing of it ($onb bytes)" test "$onb" -lt 100000

# 23-24: "direct:b": bypasses the converter and leaves by link b.
before=$(tx_bytes wanB)
line=$(n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5204 --tcp --bytes 2M 2>&1)
onb=$(($(tx_bytes wanB) - before))
diag "direct:b rule: $line; link b sent $onb bytes"
check "direct:b: upload byte-exact" grep -q 'verified=1' <<<"$line"
check "direct:b: it left by link b ($onb bytes >= 2 MB)" test "$onb" -ge 2000000

# 25-27: after a crash (SIGKILL) a new gateway starts on the leftovers and takes them over.
daemon=$(ip netns pids "$NS_GW" | xargs -r ps -o pid=,comm= -p | awk '$2 == "mpconvd" { print $1 }')
kill -KILL $daemon
wait_for 5 bash -c "! kill -0 $daemon 2>/dev/null"
start_gateway --name gateway2 --link "a dev wanA via 10.10.1.2 role primary" \
	--link "b dev wanB via 10.10.2.2"
check "after a crash: one source rule per link, not two" \
	test "$(ip -n "$NS_GW" rule | grep -c 'lookup 510[01]')" -eq 2
line=$(n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 2M 2>&1)
check "and it serves" grep -q 'verified=1' <<<"$line"

# 28-30: SIGTERM: rules, routes and the path-manager choice are gone.
if bed_stop gateway2; then ok "gateway exits 0 on SIGTERM"; else not_ok "gateway exits 0 on SIGTERM"; fi
check "source rules and tables removed" \
	bash -c "! ip -n '$NS_GW' rule | grep -q 'lookup 510[01]' && [ -z \"\$(ip -n '$NS_GW' route show table 5101)\" ]"
check "path manager restored to the kernel's" \
	test "$(n "$NS_GW" sysctl -n net.mptcp.path_manager)" = kernel
diag "$(grep 'totals:' "$T/gateway.err" "$T/gateway2.err" | tail -n 2)"
