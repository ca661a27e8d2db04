#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Gateway reload (SIGHUP): the policy and the converter list change for new connections, a live
# connection keeps going, a broken file is refused with the running configuration kept, and
# what needs a restart says so.
#
#   lan ──── gw (mpconvd gateway --config FILE) ══ link A ══ cv ──── srv
source "$(dirname "$0")/lib.sh"
require_gateway

plan 9

topo_hybrid A:rate=100mbit,delay=2 || bail "topology"
bed_start "$NS_SRV" echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:7000" "$SRV_ADDR4:7001"
bed_start "$NS_SRV" bulk "$MPBULK" server -p 5201 --tcp
start_converter
wait_listen "$NS_SRV" 7001 && wait_listen "$NS_SRV" 5201 || bail "servers"
conf=$BED_TMP/gateway.conf
write_conf()
{
	printf '[gateway]\nconverter = %s\nlan = %s\n' "$CV_ADDR4" "$LAN_IF_GW" >"$conf"
	printf '%s\n' "$@" >>"$conf"
	chmod 600 "$conf"
}
write_conf "rule = block port 7001 name no-7001"
start_gateway --config "$conf"
gw_pid=$(ip netns pids "$NS_GW" | xargs -r ps -o pid=,comm= -p | awk '$2 == "mpconvd" { print $1 }')

out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR4" 7001 $'x\n')
check "before: port 7001 blocked by the file's rule ($out)" test "$out" = reset

# A long download is running while the policy changes under it.
n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 30M \
	>"$BED_TMP/long" 2>&1 &
long=$!
sleep 0.5
write_conf "rule = direct port 7000 name direct-7000"
kill -HUP "$gw_pid"
check "reload logged" wait_for 3 grep -q 'reload: configuration applied' "$BED_TMP/gateway.err"
out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR4" 7001 $'x\n')
check "after: port 7001 bonded again ($out)" test "$out" = "x|END|"
out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR4" 7000 $'y\n')
check "after: the new rule sends port 7000 direct ($out)" \
	bash -c "[ '$out' = 'y|END|' ] && grep -q 'dest=10.0.2.2:7000 rule=direct-7000 action=direct' '$BED_TMP/gateway.err'"

# A broken file: refused, the running configuration stays.
write_conf "rule = bounce port 7000"
kill -HUP "$gw_pid"
check "a broken file is refused, with the reason" \
	wait_for 3 grep -q "reload: .*bounce.*keeping the running configuration" "$BED_TMP/gateway.err"
out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR4" 7000 $'z\n')
check "and the running rules still apply ($out)" \
	bash -c "[ '$out' = 'z|END|' ] && [ \$(grep -c 'dest=10.0.2.2:7000 rule=direct-7000' '$BED_TMP/gateway.err') = 2 ]"

# A change that needs a restart says so.
write_conf "rule = direct port 7000 name direct-7000" "port = 5127"
kill -HUP "$gw_pid"
check "restart-only keys are named" wait_for 3 grep -q 'take effect at restart' "$BED_TMP/gateway.err"

wait "$long"
check "the download running across three reloads completed byte-exact" \
	grep -q 'verified=1' "$BED_TMP/long"
if bed_stop gateway; then ok "gateway exits 0 on SIGTERM"; else not_ok "gateway exits 0 on SIGTERM"; fi
