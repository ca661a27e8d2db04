#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# demo.sh (make demo): hybrid access for real, on network namespaces with two emulated access
# links. A LAN host that knows nothing of MPTCP downloads from a server; mpconvd gateway (its
# embedded default configuration below: two links, pool mode, userspace path manager, health
# probes) carries the connection over both links to mpconvd converter (RFC 8803), which relays
# it to the server. Per-link throughput is printed live; link B fails and comes back in the
# middle; the summary gives the bonded goodput against the single links measured in the same
# run, the longest stall, and the bytes lost. Then the other way round: the server side's host
# downloads from a server in the LAN that the gateway publishes (inbound, issue 15), over both
# links. Exit 0 when every check holds, 1 otherwise.
# Needs root and an MPTCP kernel; talks only to namespaces it creates. Takes about a minute.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export MPCONV_BUILD=${MPCONV_BUILD:-$top/build/gcc}
export BED_TAP=0
# shellcheck source=../tests/integration/lib.sh
. "$top/tests/integration/lib.sh"

RATE_A=20 DELAY_A=10
RATE_B=30 DELAY_B=40
BYTES=${DEMO_BYTES:-120000000}
INBOUND_BYTES=${DEMO_INBOUND_BYTES:-30000000}
DOWN_AT=${DEMO_DOWN_AT:-8}	# seconds into the download
DOWN_FOR=${DEMO_DOWN_FOR:-6}
MPCONVD=$MPCONV_BUILD/src/mpconvd
MPCONVCTL=$MPCONV_BUILD/tools/mpconvctl
CTL_SOCK=/run/mpconv/gateway.sock
SHOT=$top/build/demo-status-page.png

failures=0
verdict()
{
	if [ "$1" = 0 ]; then
		printf '  [ ok ] %s\n' "$2"
	else
		printf '  [FAIL] %s\n' "$2"
		failures=$((failures + 1))
	fi
}

if ! bed_check; then
	echo "demo: cannot run the test bed here: $BED_MISSING" >&2
	exit 1
fi
[ -x "$MPCONVD" ] || { echo "demo: $MPCONVD not built (make build)" >&2; exit 1; }

t0=$EPOCHREALTIME
echo "mpconv hybrid-access demo (kernel $(uname -r))"
echo
BED_SRC_ROUTES=0 # the gateway makes its own per-link routing
topo_hybrid "A:rate=${RATE_A}mbit,delay=$DELAY_A" "B:rate=${RATE_B}mbit,delay=$DELAY_B"
cat <<EOF
Topology (network namespaces $BED_ID-*, removed at exit):

   lan ─── gw ══ link A: ${RATE_A} Mbit/s, ${DELAY_A} ms one way ══ cv ─── srv
   (TCP)      ══ link B: ${RATE_B} Mbit/s, ${DELAY_B} ms one way ══
         mpconvd gateway                        mpconvd converter

   lan $LAN_ADDR4   gw A $LINK_A_GW4  B $LINK_B_GW4   converter $CV_ADDR4:5124   srv $SRV_ADDR4
   each link: linkemu (delay) in its own namespace + tbf (rate) on both egresses
EOF

# The embedded default configuration: what an operator's /etc/mpconv files would say.
INBOUND_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n') # the CPE's key, known to both
cat >"$BED_TMP/converter.conf" <<EOF
[converter]
listen = $CV_ADDR4:5124
allow = 10.10.0.0/16
# inbound: the gateway publishes a LAN server on public port 8443
inbound-listen = $CV_ADDR4:5127
inbound-ports = 8000-8999
inbound-cpe = home $INBOUND_KEY
EOF
cat >"$BED_TMP/gateway.conf" <<EOF
[gateway]
converter = $CV_ADDR4
lan = $LAN_IF_GW
link = a dev $LINK_A_IF_GW via $LINK_A_CV4 role primary
link = b dev $LINK_B_IF_GW via $LINK_B_CV4
probe-interval = 500ms
metrics-listen = 127.0.0.1:9124
# the single links alone, measured in the same run as the bonded transfer
rule = direct:a port 5301 name single-a
rule = direct:b port 5302 name single-b
# a server of the LAN, reached from the Internet side over both links
publish = tcp 8443 to $LAN_ADDR4:8080
inbound-name = home
inbound-key = $INBOUND_KEY
EOF
chmod 600 "$BED_TMP/converter.conf" "$BED_TMP/gateway.conf"
echo
echo "Gateway configuration ($BED_TMP/gateway.conf):"
sed 's/^inbound-key = .*/inbound-key = (64 hex digits)/; s/^/   /' "$BED_TMP/gateway.conf"
echo
echo "Checks:"

for x in A B; do
	want=$((2 * $(link_var "$x" DELAY_UP)))
	rtt=$(ping_rtt_ms "$NS_GW" "$(link_var "$x" CV4)" 20 0.02)
	fcmp "${rtt:-0}" ">=" "$(awk -v w="$want" 'BEGIN { print w * 0.9 }')" &&
		fcmp "${rtt:-0}" "<=" "$(awk -v w="$want" 'BEGIN { print w * 1.1 }')"
	verdict $? "link $x round trip ${rtt:-none} ms (want $want +-10%)"
done
mptcp_limits "$NS_CV" 8 8
bed_sysctl "$NS_CV" net.ipv4.tcp_fastopen=3 # what the converter asks of its host (SYN data)
for port in 5201 5301 5302; do bed_start "$NS_SRV" "bulk$port" "$MPBULK" server -p "$port" --tcp; done
bed_start "$NS_LAN" lanserver "$MPBULK" server -p 8080 --tcp
bed_start "$NS_CV" converter "$MPCONVD" converter --config "$BED_TMP/converter.conf"
wait_listen "$NS_SRV" 5201 && wait_listen "$NS_SRV" 5302 && wait_listen "$NS_CV" 5124
verdict $? "converter up (from converter.conf), server ready"
bed_start "$NS_GW" gateway "$MPCONVD" gateway --config "$BED_TMP/gateway.conf"
wait_listen "$NS_GW" 5126 && wait_for 5 grep -q 'link b (wanB): up' "$BED_TMP/gateway.err"
verdict $? "gateway up: nftables TPROXY on $LAN_IF_GW, links a and b up, pool to the converter"

single()
{
	n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" "$1" --tcp --download --bytes 20M 2>&1
}
la=$(single 5301)
lb=$(single 5302)
a=$(kv mbps "$la")
b=$(kv mbps "$lb")
sum=$(awk -v a="${a:-0}" -v b="${b:-0}" 'BEGIN { printf "%.1f", a + b }')
[ "$(kv verified "$la")" = 1 ] && [ "$(kv verified "$lb")" = 1 ]
verdict $? "single links alone (TCP, direct:a / direct:b): A ${a:-?} + B ${b:-?} = $sum Mbit/s"

# The bonded download, reported every second per link; the receiver measures the stall.
echo
echo "Bonded download of $BYTES bytes: lan ── gateway ══ A+B ══ converter ── srv; link B fails at ${DOWN_AT} s for ${DOWN_FOR} s"
n "$NS_LAN" timeout 180 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes "$BYTES" \
	>"$BED_TMP/bonded" 2>&1 &
client=$!
gw_rx() { n "$NS_GW" cat "/sys/class/net/$1/statistics/rx_bytes"; }
gw_tx() { n "$NS_GW" cat "/sys/class/net/$1/statistics/tx_bytes"; }
lan_rx() { n "$NS_LAN" cat "/sys/class/net/$LAN_IF/statistics/rx_bytes"; }
start=$EPOCHREALTIME
last_a=$(gw_rx wanA) last_b=$(gw_rx wanB) last_lan=$(lan_rx)
last_t=$start state=up steady=()
printf '   %5s  %12s  %12s  %12s  %8s  %s\n' time "link A" "link B" "LAN host" subflows event
while kill -0 "$client" 2>/dev/null; do
	sleep 0.2
	now=$EPOCHREALTIME
	elapsed=$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
	event=
	if [ "$state" = up ] && fcmp "$elapsed" ">=" "$DOWN_AT"; then
		link_down B && event="link B down (ip link set down: its routes are deleted)"
		state=down
	elif [ "$state" = down ] && fcmp "$elapsed" ">=" "$((DOWN_AT + DOWN_FOR))"; then
		link_up B && event="link B up (the gateway restores its routes and subflows)"
		state=back
	fi
	if fcmp "$(awk -v a="$last_t" -v b="$now" 'BEGIN { print b - a }')" ">=" 1 || [ -n "$event" ]; then
		cur_a=$(gw_rx wanA) cur_b=$(gw_rx wanB) cur_lan=$(lan_rx)
		dt=$(awk -v a="$last_t" -v b="$now" 'BEGIN { print b - a }')
		ma=$(awk -v x="$cur_a" -v y="$last_a" -v t="$dt" 'BEGIN { printf "%.1f", (x - y) * 8 / t / 1e6 }')
		mb=$(awk -v x="$cur_b" -v y="$last_b" -v t="$dt" 'BEGIN { printf "%.1f", (x - y) * 8 / t / 1e6 }')
		ml=$(awk -v x="$cur_lan" -v y="$last_lan" -v t="$dt" 'BEGIN { printf "%.1f", (x - y) * 8 / t / 1e6 }')
		subs=$(conn_subflows "$NS_GW" '( dport = :5124 )')
		printf '   %4ss  %7s Mbit/s %7s Mbit/s %7s Mbit/s %5s     %s\n' "$elapsed" "$ma" "$mb" "$ml" "$subs" "$event"
		# steady state: whole seconds after the ramp-up and before the failure
		if [ "$state" = up ] && fcmp "$elapsed" ">=" 3; then steady+=("$ml"); fi
		last_a=$cur_a last_b=$cur_b last_lan=$cur_lan last_t=$now
	fi
done
wait "$client"
line=$(cat "$BED_TMP/bonded")
got=$(kv bytes "$line")
longest_gap=$(awk -v g="$(kv max_gap_ms "$line")" 'BEGIN { printf "%.2f", g / 1000 }')
echo
[ "$(kv verified "$line")" = 1 ] && [ "${got:-0}" = "$BYTES" ]
verdict $? "LAN host received $got of $BYTES bytes, content verified: $((BYTES - ${got:-0})) bytes lost"
bonded=$(printf '%s\n' "${steady[@]}" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }')
frac=$(awk -v m="$bonded" -v s="$sum" 'BEGIN { printf "%.2f", (s > 0 ? m / s : 0) }')
fcmp "$frac" ">=" 0.9
verdict $? "bonded goodput before the failure (median of ${#steady[@]} s) $bonded Mbit/s = $frac of the single-link sum $sum (want >= 0.9)"
wait_for 5 grep -q 'dest=10.0.2.2:5201' "$BED_TMP/gateway.err"
gl=$(grep 'dest=10.0.2.2:5201' "$BED_TMP/gateway.err" | tail -n 1)
grep -q 'link b (wanB): down' "$BED_TMP/gateway.err" && grep -c 'link b (wanB): up' "$BED_TMP/gateway.err" | grep -qx 2
verdict $? "the gateway saw link B go down and come back"
ip -n "$NS_GW" route show table 5101 | grep -q "default via $LINK_B_CV4"
verdict $? "link B's routing table restored by the gateway"
echo "   gateway: ${gl#*info: }"

# Inbound: the server side's host is now the Internet client of a server in the LAN.
echo
echo "Inbound download of $INBOUND_BYTES bytes: srv ── converter :8443 ══ A+B (the gateway's reverse pool) ══ gateway ── LAN server :8080"
wait_listen "$NS_CV" 8443 10 # opened once the gateway's registration (its key) is checked
verdict $? "the gateway registered with the converter (key checked), which listens on public port 8443"
ia0=$(gw_tx wanA) ib0=$(gw_tx wanB)
iline=$(n "$NS_SRV" timeout 60 "$MPBULK" client "$CV_SRV4" 8443 --tcp --download --bytes "$INBOUND_BYTES" 2>&1)
ia=$(($(gw_tx wanA) - ia0)) ib=$(($(gw_tx wanB) - ib0))
imbps=$(kv mbps "$iline")
ipa=$((100 * ia / (ia + ib + 1))) ipb=$((100 * ib / (ia + ib + 1)))
[ "$(kv verified "$iline")" = 1 ]
verdict $? "Internet client received $(kv bytes "$iline") bytes from the LAN server at ${imbps:-?} Mbit/s, content verified"
[ "$ipa" -ge 20 ] && [ "$ipb" -ge 20 ]
verdict $? "both links carried it: A ${ipa} %, B ${ipb} % of the bytes the gateway sent"
echo "   gateway: $(grep 'inbound 10.0.2.2' "$BED_TMP/gateway.err" | tail -n 1 | sed 's/.*info: //')"
"$MPCONVCTL" -s "$CTL_SOCK" inbound 2>/dev/null | sed 's/^/   /'

echo
echo "Operator view (mpconvctl --role gateway ..., the status page on the gateway's loopback):"
"$MPCONVCTL" -s "$CTL_SOCK" links | sed 's/^/   /'
"$MPCONVCTL" -s "$CTL_SOCK" probe | sed 's/^/   /'
chromium=$(command -v chromium || true)
if [ -n "$chromium" ]; then
	rm -f "$SHOT"
	n "$NS_GW" timeout 60 "$chromium" --headless=new --no-sandbox --disable-gpu \
		--disable-dev-shm-usage --no-first-run --user-data-dir="$BED_TMP/chromium" \
		--hide-scrollbars --window-size=1280,900 --virtual-time-budget=4000 \
		--screenshot="$SHOT" http://127.0.0.1:9124/ >/dev/null 2>&1
	[ -s "$SHOT" ]
	verdict $? "status page rendered (the last minutes, the failure included): $SHOT"
fi
if [ "${DEMO_KEEP:-0}" = 1 ]; then
	cat <<KEEP

The bed stays up (DEMO_KEEP=1); try, from another terminal:
   $MPCONVCTL --role gateway links        (also: status, sessions, probe, reload; -j for JSON)
   $MPCONVCTL --role converter sessions
   ip netns exec $NS_GW curl -s http://127.0.0.1:9124/metrics
   ip netns exec $NS_LAN $MPBULK client $SRV_ADDR4 5201 --tcp --download --bytes 50M
   ip -n $NS_GW link set wanB down; ip -n $NS_GW link set wanB up
Press Enter to tear it down.
KEEP
	read -r _
fi
bed_stop gateway
verdict $? "gateway stopped cleanly (interception, rules and routes removed)"
echo "   $(grep 'totals: mptcp' "$BED_TMP/gateway.err" | sed 's/.*info: //')"
bed_stop converter
echo
printf 'RESULT: %s: bonded goodput %s Mbit/s = %s of the link sum (A %s + B %s Mbit/s); link B down %s s and back: longest stall %s s, %s bytes lost; inbound to the LAN server %s Mbit/s over A %s %% + B %s %%; %.0f s\n' \
	"$([ "$failures" -eq 0 ] && echo PASS || echo "FAIL ($failures failed checks)")" \
	"$bonded" "$frac" "${a:-?}" "${b:-?}" "$DOWN_FOR" "$longest_gap" "$((BYTES - ${got:-0}))" \
	"${imbps:-?}" "${ipa:-?}" "${ipb:-?}" \
	"$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')"
[ "$failures" -eq 0 ] || exit 1
echo "Try it yourself: DEMO_KEEP=1 make demo keeps the bed up for mpconvctl, /metrics and the status page."
