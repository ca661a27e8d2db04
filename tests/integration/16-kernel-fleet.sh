#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Kernel MPTCP behaviours a converter fleet relies on (docs/fleet.md, docs/linux-mptcp.md 2g),
# measured on this kernel. A fleet instance shares a service address (VIP) with the others and
# owns a unique one: it sets the C flag (net.mptcp.allow_join_initial_addr_port=0: "do not join
# my initial address") and announces its unique address (a "signal" endpoint -> ADD_ADDR).
#
#   gw ══ link A (5 ms) ══ cv   lo: 10.99.1.1 (VIP), 10.99.1.11 (unique, signal endpoint)
#      ══ link B (5 ms) ══
#
# Per case one MPTCP connection from gw to the VIP exchanges a few bytes; the subflows are then
# counted by remote address on gw. Informational cases are "ok" while the behaviour is present
# and "ok # SKIP" once it is gone (a probe that gave no answer is "not ok"); what the fleet's
# configuration needs is asserted.
source "$(dirname "$0")/lib.sh"
require_bed

plan 8

topo_pair A:rate=100mbit,delay=5 B:rate=100mbit,delay=5 || bail "topology"
mptcp_limits "$NS_GW" 8 8 && mptcp_limits "$NS_CV" 8 8 || bail "limits"
VIP=10.99.1.1
UNIQUE=10.99.1.11
n "$NS_CV" ip addr add "$VIP/32" dev lo || bail "VIP"
n "$NS_CV" ip addr add "$UNIQUE/32" dev lo || bail "unique address"
n "$NS_CV" ip mptcp endpoint add "$UNIQUE" dev lo signal || bail "signal endpoint"
bed_start "$NS_CV" echo python3 "$TESTSERVER" --mptcp --mode echo "0.0.0.0:7400"
wait_listen "$NS_CV" 7400 || bail "server"
T=$BED_TMP

# endpoints FLAGS LINK...: gw's endpoints replaced by one with FLAGS per LINK's address.
endpoints() {
	local flags=$1 x
	shift
	nq "$NS_GW" ip mptcp endpoint flush
	for x in "$@"; do
		mptcp_endpoint_add "$NS_GW" "$(link_var "$x" GW4)" "$(link_var "$x" IF_GW)" $flags ||
			return 1
	done
}

# connect: one connection to the VIP, a few bytes each way; prints "vip=N unique=M" (subflows
# by remote address while it lives; their ss lines in $T/ss).
connect() {
	local out
	n "$NS_GW" timeout 10 python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); s.connect((sys.argv[1], 7400))
for i in range(5):
    s.sendall(b"x"); s.recv(1); time.sleep(0.1)
print("used", flush=True); time.sleep(3)' "$VIP" >"$T/conn" 2>&1 &
	local pid=$!
	wait_for 6 grep -q used "$T/conn" || { echo "no answer"; return 1; }
	sleep 0.5 # the joins of the last exchange
	out=$(nq "$NS_GW" ss -tnH state established '( dport = :7400 )')
	echo "$out" >"$T/ss"
	echo "vip=$(grep -c " $VIP:7400" <<<"$out") unique=$(grep -c " $UNIQUE:7400" <<<"$out")"
	wait "$pid"
}

# 1. Baseline, C flag off: a "subflow" endpoint on link B joins the VIP itself (which an ECMP
# router may hash to another instance: the misrouted join of a fleet).
bed_sysctl "$NS_CV" net.mptcp.allow_join_initial_addr_port=1 || bail "sysctl"
endpoints subflow B || bail "endpoints"
nstat_reset "$NS_CV"
r=$(connect); diag "C flag off, subflow endpoint on B: $r" "$(cat "$T/ss")"
valid=0 present=0
[[ "$r" =~ ^vip=[0-9]+\ unique=[0-9]+$ ]] && valid=1
[ "$(kv vip "$r")" -ge 2 ] 2>/dev/null && present=1
behaviour $valid $present "without the C flag, a subflow endpoint joins the shared address (vip=2)" \
	"a fleet would not need the C flag"

# 2-3. C flag on: the kernel PM never joins the VIP; the announced address gets one subflow,
# from the address routing picks (link A), not one per link: a plain "subflow" endpoint on B
# is used only towards the initial address, which the C flag forbids.
bed_sysctl "$NS_CV" net.mptcp.allow_join_initial_addr_port=0 || bail "sysctl"
nstat_reset "$NS_CV"
r=$(connect); diag "C flag on, subflow endpoint on B: $r" "$(cat "$T/ss")"
check "C flag: no join to the shared address ($r)" test "$(kv vip "$r")" = 1
check "C flag: the instance's announcement reached the client (AddAddrTx grew)" \
	test "$(nstat_delta "$NS_CV" MPTcpExtAddAddrTx)" -ge 1
valid=0 present=0
[[ "$r" =~ ^vip=1\ unique=[0-9]+$ ]] && valid=1
[ "$(kv unique "$r")" = 1 ] && present=1
behaviour $valid $present "C flag + plain subflow endpoints: one subflow to the announced address, not one per link" \
	"plain subflow endpoints would cover every link"

# 4-5. What the fleet's kernel-PM gateways use: "subflow fullmesh" endpoints on every link (the
# initial one's included) and add_addr_accepted >= 1: one subflow per link to the instance's
# address, so the connection survives losing the VIP.
endpoints "subflow fullmesh" A B || bail "endpoints"
nstat_reset "$NS_CV"
r=$(connect); diag "C flag on, fullmesh endpoints on A and B: $r" "$(cat "$T/ss")"
check "fullmesh endpoints: a subflow per link to the announced address ($r)" \
	test "$(kv unique "$r")" = 2
check "fullmesh endpoints: still no join to the shared address" test "$(kv vip "$r")" = 1

# 7. The joins all found their connection.
check "no join without its connection (MPJoinNoTokenFound 0)" \
	test "$(nstat_delta "$NS_CV" MPTcpExtMPJoinNoTokenFound)" = 0

# 8. The userspace path manager's ESTABLISHED event says the peer set the C flag (the
# gateway's paths.c relies on it): "ip mptcp monitor" prints the event's flags.
bed_sysctl "$NS_GW" net.mptcp.path_manager=userspace || bail "sysctl"
nq "$NS_GW" ip mptcp endpoint flush
ip netns exec "$NS_GW" timeout 6 ip mptcp monitor >"$T/monitor" 2>&1 &
monitor=$!
sleep 0.3
connect >/dev/null
wait "$monitor"
diag "$(grep -E 'ESTABLISHED|ANNOUNCED' "$T/monitor" | head -3)"
valid=0 present=0
grep -q ESTABLISHED "$T/monitor" && valid=1
grep -qE 'ESTABLISHED.*flags=(1|3)( |$)' "$T/monitor" && present=1
grep -q ANNOUNCED "$T/monitor" || present=0
behaviour $valid $present "userspace PM: ESTABLISHED carries the C flag and ANNOUNCED the instance's address" \
	"the gateway would not learn where to send its joins"
