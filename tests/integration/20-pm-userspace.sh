#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# src/kernel/pm.c against the kernel's userspace path manager: subflows made and removed over generic
# netlink (tests/tools/pmtool), the event stream on both ends, the backup flag, a kernel error
# with its extended-ack text, and the bytes still intact.
#
#   gw (net.mptcp.path_manager=userspace) ══ link A ══ cv (MPTCP sink on 10.99.0.1:7400)
#                                         ══ link B ══
#   pmtool events runs in gw and in cv; pmtool connect runs in gw.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
require_bed

PMTOOL=$MPCONV_BUILD/tests/tools/pmtool
SINK=$BED_TOP/tests/tools/testserver.py
PORT=7400
[ -x "$PMTOOL" ] || skip_all "pmtool not built in $MPCONV_BUILD/tests/tools"
command -v python3 >/dev/null || skip_all "no python3 (testserver.py)"

topo_pair A B || bail "topology"
n "$NS_GW" sysctl -n net.mptcp.path_manager >/dev/null 2>&1 ||
	skip_all "no net.mptcp.path_manager sysctl (kernel older than 6.15)"
plan 10

bed_sysctl "$NS_GW" net.mptcp.path_manager=userspace || bail "sysctl path_manager"
mptcp_limits "$NS_CV" 8 8 || bail "limits"
GW_B=$LINK_B_GW4
IF_B=$LINK_B_IF_GW
IFINDEX_B=$(ip -n "$NS_GW" -o link show "$IF_B" | cut -d: -f1)
T=$BED_TMP

bed_start "$NS_CV" sink timeout 120 python3 "$SINK" --mptcp --mode sink "$CV_ADDR4:$PORT"
wait_listen "$NS_CV" "$PORT" || bail "sink does not listen"
bed_start "$NS_GW" ev-gw "$PMTOOL" events --timeout 120
bed_start "$NS_CV" ev-cv "$PMTOOL" events --timeout 120
if ! wait_for 5 grep -q '^ready' "$T/ev-gw.out" || ! wait_for 5 grep -q '^ready' "$T/ev-cv.out"; then
	dump_state "$NS_GW" "$NS_CV"
	bail "pmtool events did not subscribe"
fi

# connect NAME ARGS...: starts "pmtool connect" to the sink in gw as daemon NAME.
connect()
{
	local name=$1
	shift
	bed_start "$NS_GW" "$name" "$PMTOOL" connect "$CV_ADDR4" "$PORT" --timeout 10 "$@"
}

# state NAME [NTH]: the NTH (default 1) "state subflows=K" line of daemon NAME, once printed.
state()
{
	local nth=${2:-1}
	wait_for 15 _has_lines "$T/$1.out" '^state ' "$nth" || return 1
	grep '^state ' "$T/$1.out" | sed -n "${nth}p"
}

_has_lines()
{
	[ "$(grep -c "$2" "$1")" -ge "$3" ]
}

# finish NAME: waits for daemon NAME to exit; its status.
finish()
{
	wait_for 20 _bed_gone "$(bed_pid "$1")"
	bed_stop "$1"
}

# ev_seen SIDE PATTERN: waits until the events of SIDE (gw, cv) show a line matching PATTERN.
ev_seen()
{
	wait_for 5 grep -qE "$2" "$T/ev-$1.out" && grep -E "$2" "$T/ev-$1.out"
}

# counter NS NAME: how much MPTCP counter NAME grew in NS since the start.
counter()
{
	nstat_delta "$1" "$2"
}

nstat_reset "$NS_GW"
nstat_reset "$NS_CV"

# ---- 1. userspace PM: nothing happens without us
connect c1 --bytes 200000 --hold "$T/go1"
LINE=$(state c1)
only_one()
{
	local c
	echo "$LINE"
	[ "$(kv subflows "$LINE")" = 1 ] || return 1
	for _ in 1 2 3 4 5; do # a kernel PM would have added link B's subflow within a few ms
		c=$(count_subflows "$NS_GW")
		[ "$c" = 1 ] || { echo "ss: $c subflows"; return 1; }
		sleep 0.1
	done
	echo "ss: 1 subflow for 0.5 s; MPJoinSynTx=$(counter "$NS_GW" MPTcpExtMPJoinSynTx)"
	[ "$(counter "$NS_GW" MPTcpExtMPJoinSynTx)" = 0 ]
}
check "userspace PM: one subflow only, until SUBFLOW_CREATE" only_one
touch "$T/go1"
finish c1
RC=$?

# transfer_ok NAME: exit 0 and the sink's byte count and sha256 match what pmtool sent.
transfer_ok()
{
	LINE=$(grep '^subflows=' "$T/$1.out")
	echo "${LINE:-no result line} (exit $RC)"
	[ "$RC" = 0 ] && [ "$(kv verified "$LINE")" = 1 ]
}
check "one subflow: bytes verified by the sink's sha256" transfer_ok c1

# ---- 2. SUBFLOW_CREATE over link B, then SUBFLOW_DESTROY
connect c2 --subflow "$GW_B@$IF_B" --bytes 4000000 --hold "$T/go2" --destroy
LINE=$(state c2)
TOKEN=$(kv token "$LINE")
two_subflows()
{
	local ss_n ss_b jtx jrx
	ss_n=$(count_subflows "$NS_GW")
	ss_b=$(count_subflows "$NS_GW" src "$GW_B")
	jtx=$(counter "$NS_GW" MPTcpExtMPJoinSynTx)
	jrx=$(counter "$NS_CV" MPTcpExtMPJoinAckRx)
	grep '^create ' "$T/c2.out"
	echo "$LINE; ss: $ss_n subflows, $ss_b from $GW_B; MPJoinSynTx=$jtx MPJoinAckRx(cv)=$jrx"
	[ "$(kv subflows "$LINE")" = 2 ] && [ "$ss_n" = 2 ] && [ "$ss_b" = 1 ] &&
		[ "$jtx" -ge 1 ] && [ "$jrx" -ge 1 ]
}
check "SUBFLOW_CREATE over link B: 2 subflows (MPTCP_INFO, ss, MP_JOIN counters)" two_subflows ||
	dump_state "$NS_GW" "$NS_CV"
events_up()
{
	ev_seen gw "event=established token=$TOKEN local=$LINK_A_GW4:[0-9]+ remote=$CV_ADDR4:$PORT" &&
		ev_seen gw "event=sub_established token=$TOKEN local=$GW_B:[0-9]+ remote=$CV_ADDR4:$PORT loc_id=1 rem_id=0 ifindex=$IFINDEX_B backup=0 error=0"
}
check "events: ESTABLISHED, SUB_ESTABLISHED (token, addresses, loc_id 1, ifindex of $IF_B)" \
	events_up
touch "$T/go2"
finish c2
RC=$?
back_to_one()
{
	LINE=$(state c2 2)
	grep '^destroy ' "$T/c2.out"
	echo "$LINE"
	[ "$(kv subflows "$LINE")" = 1 ] &&
		ev_seen gw "event=sub_closed token=$TOKEN local=$GW_B:[0-9]+ remote=$CV_ADDR4:$PORT loc_id=1"
}
check "SUBFLOW_DESTROY: back to 1 subflow, SUB_CLOSED for it" back_to_one
check "4 MB across create and destroy: bytes verified by the sink's sha256" transfer_ok c2

# ---- 3. backup flag on create, then cleared with SET_FLAGS
connect c3 --subflow "$GW_B@$IF_B" --backup-last --bytes 100000 --hold "$T/go3" --set-backup
LINE=$(state c3)
# the join's source port, from the SUB_ESTABLISHED pmtool saw: the cv events name it as remote
JOIN=$(grep -o "^event=sub_established .* local=$GW_B:[0-9]*" "$T/c3.out" | sed 's/.*local=//')
backup_shown()
{
	local flags
	flags=$(n "$NS_GW" ss -tniH state established src "$GW_B" | grep -o 'flags:[A-Za-z]*')
	echo "$LINE; gw ss: subflow ${JOIN:-?} $flags (b: backup requested by this side)"
	[ -n "$JOIN" ] && [[ "$flags" == flags:*b* ]] &&
		ev_seen cv "event=sub_established .* remote=$JOIN loc_id=0 rem_id=1 .*backup=1"
}
check "backup on create: ss flag b in gw, SUB_ESTABLISHED backup=1 in cv" backup_shown
touch "$T/go3"
finish c3
RC=$?
backup_cleared()
{
	grep '^set_backup ' "$T/c3.out"
	transfer_ok c3 && ev_seen cv "event=sub_priority .* remote=$JOIN .*backup=0"
}
check "SET_FLAGS clears it: SUB_PRIORITY backup=0 at the peer" backup_cleared

# ---- 4. errors come back as -errno with the kernel's extended ack
unknown_token()
{
	local out
	out=$(n "$NS_GW" timeout 10 "$PMTOOL" create deadbeef "$GW_B@$IF_B" "$CV_ADDR4:$PORT")
	echo "$out"
	[[ "$out" == *'rc=-22 errno=EINVAL msg="invalid token"'* ]]
}
check "SUBFLOW_CREATE for an unknown token: -EINVAL, and the kernel's reason" unknown_token
no_fallback()
{
	assert_no_fallback "$NS_GW" && assert_no_fallback "$NS_CV"
}
check "no fallback to TCP on either side" no_fallback
