#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 02-bed-mptcp-bulk: the bed carries one MPTCP connection over two emulated links and bonds them.
#
#            link A: 20 Mbit/s, 10 ms one way
#   gw  ═══════════════════════════════════════  cv (mpbulk server on 10.99.0.1 / fd00:99::1)
#            link B: 30 Mbit/s, 25 ms one way
#
# gw's main route goes by link A; a "subflow" endpoint on gw's link-B address (per-source routing
# sends it out of link B) makes the kernel path manager join a second subflow. Checked for an
# upload and a download: the content (byte-exact pattern), the mechanism (MPTCP on both ends,
# exactly 2 subflows by MPTCP_INFO and by ss, each link carrying data, MP_CAPABLE/MP_JOIN
# counters moved, no fallback counter moved) and the goodput (>= 85 % of 50 Mbit/s). Then IPv6,
# and a single-path TCP baseline over link A for reference.
set -u
. "$(dirname "$0")/lib.sh"

require_bed
plan 16

PORT=5201
SECONDS_BULK=12
RATE_SUM=50 # Mbit/s, A + B
MIN_FRACTION=0.85

topo_pair A:rate=20mbit,delay=10 B:rate=30mbit,delay=25
topo_describe
check "MPTCP subflow endpoint on link B, limits on both ends" mptcp_multilink
diag "$(ip -n "$NS_GW" mptcp endpoint show)"
bulk_server "$NS_CV" "$PORT" -6 || bail "mpbulk server did not start: $(bed_log "mpbulk-$PORT")"

# transfer NAME HOST [ARGS...]: runs a client from gw in the background, samples the subflow
# count with ss while it runs; sets CLIENT (result line), SERVER (the server's line), RC, SS_MAX.
SERVER_LINES=0
transfer()
{
	local name=$1 host=$2
	shift 2
	bulk_client "$NS_GW" "$host" "$PORT" "$@" >"$BED_TMP/$name.out" 2>"$BED_TMP/$name.err" &
	local pid=$!
	SS_MAX=$(max_subflows_while "$pid" "$NS_GW" dport = :"$PORT")
	wait "$pid"
	RC=$?
	CLIENT=$(cat "$BED_TMP/$name.out")
	SERVER_LINES=$((SERVER_LINES + 1))
	wait_for 5 _server_lines "$SERVER_LINES"
	SERVER=$(sed -n "${SERVER_LINES}p" "$BED_TMP/mpbulk-$PORT.out")
	diag "client: $CLIENT" "server: $SERVER"
	[ -s "$BED_TMP/$name.err" ] && diag "client stderr: $(cat "$BED_TMP/$name.err")"
}

_server_lines()
{
	[ "$(wc -l <"$BED_TMP/mpbulk-$PORT.out")" -ge "$1" ]
}

# path_bytes LINE LOCAL_ADDR: bytes carried by the subflow whose local address is LOCAL_ADDR.
path_bytes()
{
	local p
	p=$(kv paths "$1") || return 1
	tr ',' '\n' <<<"$p" | awk -F'[>=]' -v a="$2" '$1 == a { print $3; f = 1 } END { exit !f }'
}

# transfer_ok: exit 0, verified by the receiver (both sides say so), same byte count.
transfer_ok()
{
	echo "exit $RC; verified client=$(kv verified "$CLIENT") server=$(kv verified "$SERVER");" \
		"bytes client=$(kv bytes "$CLIENT") server=$(kv bytes "$SERVER")"
	[ "$RC" -eq 0 ] && [ "$(kv verified "$CLIENT")" = 1 ] && [ "$(kv verified "$SERVER")" = 1 ] &&
		[ "$(kv bytes "$CLIENT")" = "$(kv bytes "$SERVER")" ]
}

# two_subflows: MPTCP on both ends, 2 subflows by MPTCP_INFO on both ends and by ss on gw.
two_subflows()
{
	echo "mptcp client=$(kv mptcp "$CLIENT") server=$(kv mptcp "$SERVER");" \
		"subflows (MPTCP_INFO) client=$(kv subflows "$CLIENT") server=$(kv subflows "$SERVER");" \
		"most subflows seen by ss on gw: $SS_MAX"
	[ "$(kv mptcp "$CLIENT")" = 1 ] && [ "$(kv mptcp "$SERVER")" = 1 ] &&
		[ "$(kv subflows "$CLIENT")" = 2 ] && [ "$(kv subflows "$SERVER")" = 2 ] &&
		[ "$SS_MAX" = 2 ]
}

# both_links_used GW_ADDR_A GW_ADDR_B: each link carried at least 20 % of the bytes.
both_links_used()
{
	local a b total
	a=$(path_bytes "$CLIENT" "$1")
	b=$(path_bytes "$CLIENT" "$2")
	total=$(kv bytes "$CLIENT")
	echo "link A ($1): ${a:-none} bytes, link B ($2): ${b:-none} bytes, of $total"
	[ -n "$a" ] && [ -n "$b" ] &&
		fcmp "$a" ">=" "$(awk -v t="$total" 'BEGIN { print t * 0.2 }')" &&
		fcmp "$b" ">=" "$(awk -v t="$total" 'BEGIN { print t * 0.2 }')"
}

goodput_ok()
{
	local mbps min
	mbps=$(kv mbps "$CLIENT")
	min=$(awk -v s="$RATE_SUM" -v f="$MIN_FRACTION" 'BEGIN { print s * f }')
	echo "goodput $mbps Mbit/s = $(awk -v m="$mbps" -v s="$RATE_SUM" \
		'BEGIN { printf "%.1f", 100 * m / s }')% of $RATE_SUM Mbit/s (want >= $min)," \
		"cc $(kv cc "$CLIENT")"
	fcmp "$mbps" ">=" "$min"
}

counters_moved()
{
	local syntx synrx jtx jrx jack
	syntx=$(nstat_delta "$NS_GW" MPTcpExtMPCapableSYNTX)
	synrx=$(nstat_delta "$NS_CV" MPTcpExtMPCapableSYNRX)
	jtx=$(nstat_delta "$NS_GW" MPTcpExtMPJoinSynTx)
	jrx=$(nstat_delta "$NS_CV" MPTcpExtMPJoinSynRx)
	jack=$(nstat_delta "$NS_CV" MPTcpExtMPJoinAckRx)
	echo "gw MPCapableSYNTX=$syntx MPJoinSynTx=$jtx; cv MPCapableSYNRX=$synrx" \
		"MPJoinSynRx=$jrx MPJoinAckRx=$jack"
	[ "$syntx" -ge 1 ] && [ "$synrx" -ge 1 ] && [ "$jtx" -ge 1 ] && [ "$jrx" -ge 1 ] &&
		[ "$jack" -ge 1 ]
}

no_fallback()
{
	assert_no_fallback "$NS_GW" && assert_no_fallback "$NS_CV"
}

# ---- upload, IPv4
nstat_reset "$NS_GW"
nstat_reset "$NS_CV"
transfer up "$CV_ADDR4" --seconds "$SECONDS_BULK"
check "upload: content verified byte for byte by the receiver" transfer_ok
check "upload: MPTCP on both ends, exactly 2 subflows (MPTCP_INFO and ss)" two_subflows
check "upload: both links carried data" both_links_used "$LINK_A_GW4" "$LINK_B_GW4"
check "upload: goodput >= $MIN_FRACTION x ($RATE_SUM Mbit/s)" goodput_ok
check "upload: MP_CAPABLE and MP_JOIN counters moved" counters_moved
check "upload: no fallback counter moved (gw, cv)" no_fallback

# ---- download, IPv4
nstat_reset "$NS_GW"
nstat_reset "$NS_CV"
transfer down "$CV_ADDR4" --seconds "$SECONDS_BULK" --download
check "download: content verified byte for byte" transfer_ok
check "download: MPTCP on both ends, exactly 2 subflows" two_subflows
check "download: both links carried data" both_links_used "$LINK_A_GW4" "$LINK_B_GW4"
check "download: goodput >= $MIN_FRACTION x ($RATE_SUM Mbit/s)" goodput_ok
check "download: no fallback counter moved" no_fallback

# ---- IPv6: the same bonding over the v6 endpoint and per-source rule
nstat_reset "$NS_GW"
nstat_reset "$NS_CV"
transfer up6 "$CV_ADDR6" --seconds 4
check "IPv6 upload: verified, MPTCP with 2 subflows" eval 'transfer_ok && two_subflows'
check "IPv6: both links carried data" both_links_used "$LINK_A_GW6" "$LINK_B_GW6"
check "IPv6: no fallback counter moved" no_fallback

# ---- reference: single-path TCP over link A cannot beat link A
transfer tcp "$CV_ADDR4" --seconds 5 --tcp
tcp_baseline()
{
	local mbps
	mbps=$(kv mbps "$CLIENT")
	echo "TCP over link A: $mbps Mbit/s (link A is 20 Mbit/s; bonded MPTCP did" \
		"$(kv mbps "$(head -n 1 "$BED_TMP/up.out")") Mbit/s)"
	[ "$RC" -eq 0 ] && [ "$(kv mptcp "$CLIENT")" = 0 ] && [ "$(kv verified "$CLIENT")" = 1 ] &&
		fcmp "$mbps" ">=" 12 && fcmp "$mbps" "<=" 21
}
check "plain TCP baseline over link A: verified, 12..21 Mbit/s" tcp_baseline

[ "$TAP_FAILED" -eq 0 ] || dump_state "$NS_GW" "$NS_CV"
