#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# demo.sh (make demo): the hybrid-access topology of network namespaces with two emulated
# access links; first the test-bed self-check (each link's RTT, plain forwarding LAN -> server,
# an MPTCP bulk transfer over both links), then the Transport Converter at work in the single-
# proxy scenario: the multi-homed MPTCP host downloads from the server through mpconvd
# converter (RFC 8803, request in the SYN), bonding both links. Prints a report, tears
# everything down. Exit 0 when every check holds, 1 otherwise.
# Needs root and an MPTCP kernel; talks only to namespaces it creates. Takes about 40 s.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export MPCONV_BUILD=${MPCONV_BUILD:-$top/build/gcc}
export BED_TAP=0
# shellcheck source=../tests/integration/lib.sh
. "$top/tests/integration/lib.sh"

RATE_A=20 DELAY_A=10
RATE_B=30 DELAY_B=40
BULK_SECONDS=8
MIN_FRACTION=0.80 # of the link sum: the bed's own floor (tests/integration/02 asks 0.85)

failures=0
# verdict OK? TEXT: one report line with a PASS/FAIL mark.
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

t0=$EPOCHREALTIME
echo "mpconv test-bed self-check (kernel $(uname -r))"
echo
topo_hybrid "A:rate=${RATE_A}mbit,delay=$DELAY_A" "B:rate=${RATE_B}mbit,delay=$DELAY_B"
cat <<EOF
Topology (network namespaces $BED_ID-*, removed at exit):

   lan ─── gw ══ link A: ${RATE_A} Mbit/s, ${DELAY_A} ms one way ══ cv ─── srv
              ══ link B: ${RATE_B} Mbit/s, ${DELAY_B} ms one way ══

   lan $LAN_ADDR4   gw A $LINK_A_GW4  B $LINK_B_GW4   cv A $LINK_A_CV4  B $LINK_B_CV4
   converter service address $CV_ADDR4 / $CV_ADDR6   srv $SRV_ADDR4 / $SRV_ADDR6
   link = linkemu (delay) in its own namespace + tbf (rate, 1-BDP queue) on both egresses

Checks:
EOF

# Each link's RTT: twice the one-way delay, within 10 %.
for x in A B; do
	delay=$(link_var "$x" DELAY_UP)
	want=$((2 * delay))
	rtt=$(ping_rtt_ms "$NS_GW" "$(link_var "$x" CV4)" 30 0.02)
	fcmp "${rtt:-0}" ">=" "$(awk -v w="$want" 'BEGIN { print w * 0.9 }')" &&
		fcmp "${rtt:-0}" "<=" "$(awk -v w="$want" 'BEGIN { print w * 1.1 }')"
	verdict $? "link $x RTT ${rtt:-none} ms (one-way delay $delay ms each way, want $want +-10%)"
done

# Plain forwarding lan -> gw -> link A -> cv -> srv, both families.
rtt4=$(ping_rtt_ms "$NS_LAN" "$SRV_ADDR4" 5 0.05)
verdict $? "lan -> srv IPv4 forwarding through gw and cv (RTT ${rtt4:-none} ms)"
rtt6=$(ping_rtt_ms "$NS_LAN" "$SRV_ADDR6" 5 0.05)
verdict $? "lan -> srv IPv6 forwarding through gw and cv (RTT ${rtt6:-none} ms)"

# MPTCP bonding gw -> cv with the kernel path manager.
mptcp_multilink
verdict $? "MPTCP subflow endpoint on gw's link-B address, limits set"
bulk_server "$NS_CV" 5201 -6 || { echo "mpbulk server did not start" >&2; bed_log mpbulk-5201 >&2; }
nstat_reset "$NS_GW"
nstat_reset "$NS_CV"
line=$(bulk_client "$NS_GW" "$CV_ADDR4" 5201 --seconds "$BULK_SECONDS" 2>&1)
rc=$?
mbps=$(kv mbps "$line")
sum=$((RATE_A + RATE_B))
frac=$(awk -v m="${mbps:-0}" -v s="$sum" 'BEGIN { printf "%.0f", 100 * m / s }')
[ "$rc" -eq 0 ] && [ "$(kv verified "$line")" = 1 ]
verdict $? "MPTCP bulk gw -> $CV_ADDR4 for ${BULK_SECONDS} s: $(kv bytes "$line") bytes, content verified"
[ "$(kv mptcp "$line")" = 1 ] && [ "$(kv subflows "$line")" = 2 ]
verdict $? "MPTCP negotiated ($(kv mptcp "$line")), subflows $(kv subflows "$line") (want 2)"
fb=$(assert_no_fallback "$NS_GW"; assert_no_fallback "$NS_CV")
[ -z "$fb" ]
verdict $? "no fallback to TCP${fb:+: $fb}"
fcmp "${mbps:-0}" ">=" "$(awk -v s="$sum" -v f="$MIN_FRACTION" 'BEGIN { print s * f }')"
verdict $? "bonded goodput ${mbps:-?} Mbit/s = ${frac}% of the link sum ($sum Mbit/s, want >= $(awk -v f="$MIN_FRACTION" 'BEGIN { print f * 100 }')%)"
echo
echo "Subflows of that connection (bytes acked per subflow), congestion control $(kv cc "$line"):"
kv paths "$line" | tr ',' '\n' | awk -F'[>=]' -v a="$LINK_A_GW4" -v b="$LINK_B_GW4" '{
	link = $1 == a ? "link A" : $1 == b ? "link B" : "?"
	printf "   %-7s %s -> %s  %6.1f MB\n", link, $1, $2, $3 / 1e6 }'

# The converter at work: single proxy, host (gw) -> converter -> server, 0-RTT.
CONVERT_BYTES=${CONVERT_BYTES:-30000000}
echo
echo "Single proxy: gw (MPTCP host) ══ A+B ══ mpconvd converter $CV_ADDR4:5124 ─── srv $SRV_ADDR4:8080"
bed_sysctl "$NS_CV" net.ipv4.tcp_fastopen=3
bed_start "$NS_SRV" demo-server python3 "$top/tests/tools/testserver.py" \
	--mode "send:$CONVERT_BYTES" "$SRV_ADDR4:8080"
bed_start "$NS_CV" demo-converter "$MPCONV_BUILD/src/mpconvd" converter \
	--listen "$CV_ADDR4:5124" --allow 10.10.0.0/16 ${DEMO_CONVERTER_ARGS:-}
wait_listen "$NS_SRV" 8080 && wait_listen "$NS_CV" 5124
verdict $? "converter listening (TFO on, allow 10.10.0.0/16), server ready"
want_sha=$(python3 -c 'import hashlib,sys; n=int(sys.argv[1]); b=bytes(range(256))*256
print(hashlib.sha256((b*(n//len(b)+1))[:n]).hexdigest())' "$CONVERT_BYTES")
# --keep-open: like a browser awaiting a response, the client does not half-close first (a
# connection that sent its DATA_FIN early gets no extra subflow from the kernel's PM).
# No --tfo: on this kernel, data in the SYN plus a second subflow collapses goodput
# (linux-mptcp.md 4); the gateway's pool mode is the 0-RTT answer to that.
t1=$EPOCHREALTIME
n "$NS_GW" timeout 120 "$MPCONV_BUILD/tools/convclient" --keep-open "$CV_ADDR4:5124" \
	"$SRV_ADDR4:8080" </dev/null 2>"$BED_TMP/demo-convert" >"$BED_TMP/demo-download" &
client=$!
sub=$(max_subflows_while "$client" "$NS_GW" "( dport = :5124 )")
wait "$client"
t2=$EPOCHREALTIME
got_sha=$(sha256sum <"$BED_TMP/demo-download" | cut -d' ' -f1)
rm -f "$BED_TMP/demo-download"
cline=$(cat "$BED_TMP/demo-convert")
[ "$got_sha" = "$want_sha" ] && grep -q 'result=converted' <<<"$cline"
verdict $? "download of $CONVERT_BYTES bytes through the converter, byte-exact (${cline})"
wait_for 5 grep -q 'session client=.*dest='"$SRV_ADDR4"':8080' "$BED_TMP/demo-converter.err"
sline=$(grep 'session client=.*dest='"$SRV_ADDR4"':8080' "$BED_TMP/demo-converter.err" | tail -n 1)
[ "${sub:-0}" = 2 ]
verdict $? "subflows to the converter during the download: ${sub:-?} (want 2, one per link)"
cmbps=$(awk -v b="$CONVERT_BYTES" -v a="$t1" -v c="$t2" 'BEGIN { printf "%.1f", b * 8 / (c - a) / 1e6 }')
cfrac=$(awk -v m="$cmbps" -v s="$sum" 'BEGIN { printf "%.0f", 100 * m / s }')
# Reported, not judged: bonded goodput through the converter is below direct MPTCP on these
# links (about 0.5 against 0.85 of the sum, measured 2026-11-23); benchmarks track it, not the
# demo's pass/fail.
echo "  [info] goodput through the converter $cmbps Mbit/s = ${cfrac}% of the link sum (connect to last byte; direct MPTCP above: ${frac}%)"
echo "   converter log: ${sline#*info: }"

# The whole system: dual proxy, lan (plain TCP) -> gateway -> converter -> srv.
echo
echo "Dual proxy: lan ─── mpconvd gateway ══ A+B ══ mpconvd converter ─── srv (LAN host speaks plain TCP)"
bed_start "$NS_SRV" demo-bulk "$MPBULK" server -p 5201 --tcp
bed_start "$NS_GW" demo-gateway "$MPCONV_BUILD/src/mpconvd" gateway --converter "$CV_ADDR4" \
	--lan "$LAN_IF_GW"
wait_listen "$NS_SRV" 5201 && wait_listen "$NS_GW" 5126
verdict $? "gateway up: nftables TPROXY capture on $LAN_IF_GW, pool of MPTCP connections to the converter"
wait_for 5 test "$(count_subflows "$NS_GW" "( dport = :5124 )")" -ge 2
n "$NS_LAN" timeout 120 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 30M \
	>"$BED_TMP/demo-lan" 2>&1 &
client=$!
gsub=$(max_subflows_while "$client" "$NS_GW" "( dport = :5124 )")
wait "$client"
lline=$(cat "$BED_TMP/demo-lan")
[ "$(kv verified "$lline")" = 1 ] && [ "$(kv mptcp "$lline")" = 0 ]
verdict $? "LAN host (plain TCP) downloaded $(kv bytes "$lline") bytes from srv, verified"
[ "${gsub:-0}" -ge 2 ]
verdict $? "gateway's upstream MPTCP subflows to the converter: ${gsub:-?} (want >= 2, both links)"
gmbps=$(kv mbps "$lline")
gfrac=$(awk -v m="${gmbps:-0}" -v s="$sum" 'BEGIN { printf "%.0f", 100 * m / s }')
echo "  [info] bonded goodput for the LAN host ${gmbps:-?} Mbit/s = ${gfrac}% of the link sum"
echo "   gateway log: $(grep 'dest=10.0.2.2:5201' "$BED_TMP/demo-gateway.err" | tail -n 1 | sed 's/.*info: //')"
bed_stop demo-gateway
verdict $? "gateway stopped cleanly, interception rules removed"

if [ "$failures" -ne 0 ]; then
	echo
	echo "Details for the failures:"
	[ "$rc" -eq 0 ] || echo "   mpbulk: $line"
	dump_state "$NS_GW" "$NS_CV"
fi
echo
printf 'Result: %s (%d failed check(s)), %.0f s; tearing the bed down.\n' \
	"$([ "$failures" -eq 0 ] && echo PASS || echo FAIL)" "$failures" \
	"$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')"
[ "$failures" -eq 0 ]
