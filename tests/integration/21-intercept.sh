#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Transparent capture on the gateway (src/kernel/intercept.c), driven for real by tproxy_echo, which
# installs the nftables table + policy routing, answers each diverted connection with
# "orig=<getsockname> peer=<getpeername>" and removes everything on SIGTERM:
#
#   lan ──── gw (tproxy_echo on :3129, table inet mpconv) ══ link A ══ cv ──── srv
#                                                                    :7000   :80 echo
#                                                                            :5201 mpbulk (MPTCP)
#
# Diverted: LAN TCP to the server, IPv4 and IPv6, with the original destination and the real
# client address seen by the proxy. Not diverted: the converter (excluded prefix), the gateway's
# own addresses, native MPTCP (the server sees MP_CAPABLE, the proxy sees nothing, and its
# packets carry the conntrack bypass bit, seen by an observer chain after ours). Then: a
# second install is idempotent, an unrelated table/rule/route survive, SIGTERM leaves nothing
# of ours, and an IPv4-only config leaves IPv6 alone.
source "$(dirname "$0")/lib.sh"
require_bed

TPROXY_ECHO=$MPCONV_BUILD/tests/tools/tproxy_echo
TESTSERVER=$BED_TOP/tests/tools/testserver.py
[ -x "$TPROXY_ECHO" ] || skip_all "tproxy_echo not built in $MPCONV_BUILD/tests/tools"
command -v nft >/dev/null || skip_all "no nft command"
command -v python3 >/dev/null || skip_all "no python3"

plan 32

topo_hybrid A:rate=none || bail "topology"
PORT=3129
MARK=0x6d70
TABLE=28016 # 0x6d70, the defaults
T=$BED_TMP
ARGS=(--lan "$LAN_IF_GW" --exclude "$CV_ADDR4/32" --exclude "$CV_ADDR6/128" --port "$PORT")

# Someone else's state in gw, which must come through untouched.
n "$NS_GW" nft -f - <<'EOF' || bail "unrelated nft table"
table inet keepme {
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		tcp dport 9 accept
	}
}
EOF
# An observer after our chain: packets of native MPTCP flows carry intercept.c's conntrack bit.
n "$NS_GW" nft -f - <<EOF || bail "observer nft table"
table inet observe {
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		iifname "$LAN_IF_GW" tcp dport 5201 ct mark & 0x40000000 == 0x40000000 counter
	}
}
EOF
n "$NS_GW" ip rule add pref 30000 fwmark "$MARK" lookup 200 || bail "unrelated rule"
n "$NS_GW" ip route add unreachable 198.51.100.0/24 table "$TABLE" || bail "unrelated route"
n "$NS_GW" nft list table inet keepme >"$T/keepme.before"

# Real listeners behind each destination: a bare "ping|" reply means "not diverted".
bed_start "$NS_SRV" srv-echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:80" "[$SRV_ADDR6]:80"
bed_start "$NS_CV" cv-echo python3 "$TESTSERVER" --mode echo "$CV_ADDR4:7000" "[$CV_ADDR6]:7000"
# (not the WAN address: gw routes replies from it out of link A, by its per-link source rule)
GW_OWN4=192.0.2.1
n "$NS_GW" ip addr add "$GW_OWN4/32" dev lo || bail "gw address on lo"
bed_start "$NS_GW" gw-echo python3 "$TESTSERVER" --mode echo "$GW_LAN4:7001" "[$GW_LAN6]:7001" \
	"$GW_OWN4:7001"
if ! { wait_listen "$NS_SRV" 80 20 && wait_listen "$NS_CV" 7000 20 &&
	wait_listen "$NS_GW" 7001 20; }; then
	diag "$(bed_log srv-echo)" "$(bed_log cv-echo)" "$(bed_log gw-echo)"
	bail "echo servers"
fi
bulk_server "$NS_SRV" 5201 -6 || bail "mpbulk server"

# talk HOST PORT: one TCP connection from lan (bash's /dev/tcp: no interpreter start-up per
# connection): sends "ping", prints the reply lines up to the echoed "ping", joined by "|":
# "orig=... peer=...|ping|" when diverted, "ping|" from a real echo server.
talk() {
	n "$NS_LAN" timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1
		echo ping >&3
		while read -r -t 3 line <&3; do
			out+="$line|"
			[ "$line" = ping ] && break
		done
		echo "$out"' talk "$@" 2>&1
}
# expect WANT HOST PORT: talk, and the reply must match the glob WANT.
expect() {
	local want=$1 got
	shift
	got=$(talk "$@")
	echo "$*: $got"
	# shellcheck disable=SC2053 # WANT is a glob on purpose
	[[ $got == $want ]]
}
diverted() { awk '/^conn / { n++ } END { print n + 0 }' "$T/tproxy-echo.out"; }
ready() { grep -q '^ready' "$T/tproxy-echo.out"; }
# rules/routes [-6]: how many of our fwmark rules / local default routes gw has (IPv4 default)
rules() { n "$NS_GW" ip "${1:--4}" rule show | grep -c "fwmark $MARK lookup $TABLE\$"; }
routes() { n "$NS_GW" ip "${1:--4}" route show table "$TABLE" | grep -c '^local default dev lo'; }
keepme_untouched() { n "$NS_GW" nft list table inet keepme | cmp - "$T/keepme.before"; }
# mptcp_verified LINE: an mpbulk result line that says MPTCP and a verified transfer.
mptcp_verified() {
	echo "$1"
	[[ $1 == *" mptcp=1 "* && $1 == *" verified=1 "* ]]
}
mpconv_tables() { n "$NS_GW" nft list tables | grep -c 'mpconv'; }

# 1-4: install
bed_start "$NS_GW" tproxy-echo "$TPROXY_ECHO" "${ARGS[@]}"
wait_for 5 ready
check "tproxy_echo installed and listens (MPTCP listener)" grep -q '^ready port=3129 mptcp=1' \
	"$T/tproxy-echo.out" || { diag "$(bed_log tproxy-echo)"; bail "tproxy_echo did not start"; }
check "table inet mpconv loaded" n "$NS_GW" nft list table inet mpconv
check "fwmark rule present, IPv4 and IPv6" test "$(rules)$(rules -6)" = 11
check "local default route in table $TABLE, IPv4 and IPv6" test "$(routes)$(routes -6)" = 11

# 5-8: diverted, with the original destination and the real client
check "IPv4 TCP to the server is diverted: original destination and real client" \
	expect "orig=$SRV_ADDR4:80 peer=$LAN_ADDR4:*|ping|" "$SRV_ADDR4" 80
check "IPv6 TCP to the server is diverted: original destination and real client" \
	expect "orig=\[$SRV_ADDR6\]:80 peer=\[$LAN_ADDR6\]:*|ping|" "$SRV_ADDR6" 80
check "any port is diverted (plain TCP to the MPTCP server's port)" \
	expect "orig=$SRV_ADDR4:5201 peer=$LAN_ADDR4:*|ping|" "$SRV_ADDR4" 5201
check "the proxy logged the three connections" test "$(diverted)" = 3

# 9-13: not diverted
before=$(diverted)
check "IPv4 to the converter (excluded prefix) reaches the converter" \
	expect "ping|" "$CV_ADDR4" 7000
check "IPv6 to the converter (excluded prefix) reaches the converter" \
	expect "ping|" "$CV_ADDR6" 7000
check "IPv4 to the gateway's LAN address reaches the gateway's own listener" \
	expect "ping|" "$GW_LAN4" 7001
check "IPv6 to the gateway's LAN address reaches the gateway's own listener" \
	expect "ping|" "$GW_LAN6" 7001
check "IPv4 to another address of the gateway (on lo) reaches the gateway's own listener" \
	expect "ping|" "$GW_OWN4" 7001

# 14-18: native MPTCP passes untouched, both families
nstat_reset "$NS_SRV"
line4=$(bulk_client "$NS_LAN" "$SRV_ADDR4" 5201 --bytes 2M)
check "native MPTCP over IPv4 reaches the server (mptcp=1, verified)" mptcp_verified "$line4"
line6=$(bulk_client "$NS_LAN" "$SRV_ADDR6" 5201 --bytes 2M)
check "native MPTCP over IPv6 reaches the server (mptcp=1, verified)" mptcp_verified "$line6"
check "the server accepted MP_CAPABLE both times (MPCapableSYNRX)" \
	test "$(nstat_delta "$NS_SRV" MPTcpExtMPCapableSYNRX)" -ge 2
check "the proxy saw none of the excluded, local or native MPTCP connections" \
	test "$(diverted)" = "$before"
native=$(n "$NS_GW" nft list table inet observe | grep -o 'packets [0-9]*' | cut -d' ' -f2)
check "native MPTCP packets carried the conntrack bypass mark ($native packets)" \
	test "${native:-0}" -ge 100

# 19-22: a second install while running is idempotent
check "second install succeeds" n "$NS_GW" "$TPROXY_ECHO" "${ARGS[@]}" --install
check "still one table, one rule and one route per family" \
	test "$(mpconv_tables)$(rules)$(rules -6)$(routes)$(routes -6)" = 11111
check "still diverting after the second install" \
	expect "orig=$SRV_ADDR4:80 peer=$LAN_ADDR4:*|ping|" "$SRV_ADDR4" 80
check "the unrelated table is untouched while installed" keepme_untouched

# 23-28: SIGTERM removes exactly ours
bed_stop tproxy-echo # not inside check: that runs in a subshell, which cannot wait for it
check "tproxy_echo exits cleanly on SIGTERM" test $? = 0
check "it reported the removal" grep -q '^removed' "$T/tproxy-echo.out"
check "no mpconv table left" test "$(mpconv_tables)" = 0
check "no fwmark rule or local route of ours left, IPv4 and IPv6" \
	test "$(rules)$(rules -6)$(routes)$(routes -6)" = 0000
check "unrelated table, rule and route survive" eval \
	'keepme_untouched && n "$NS_GW" ip rule show | grep "^30000:.*fwmark $MARK lookup 200" &&
	 n "$NS_GW" ip route show table "$TABLE" | grep "^unreachable 198.51.100.0/24"'
check "after removal, TCP to the server reaches the server" expect "ping|" "$SRV_ADDR4" 80

# 29-32: an IPv4-only config leaves IPv6 alone
bed_start "$NS_GW" tproxy-echo "$TPROXY_ECHO" "${ARGS[@]}" --no-ipv6
wait_for 5 ready || bail "tproxy_echo --no-ipv6 did not start"
check "IPv4-only: IPv4 diverted" expect "orig=$SRV_ADDR4:80 peer=$LAN_ADDR4:*|ping|" \
	"$SRV_ADDR4" 80
check "IPv4-only: IPv6 reaches the server" expect "ping|" "$SRV_ADDR6" 80
check "IPv4-only: no IPv6 rule or route" test "$(rules -6)$(routes -6)" = 00
bed_stop tproxy-echo
rc=$?
check "IPv4-only: SIGTERM exits cleanly and removes everything" \
	test "$rc$(mpconv_tables)$(rules)$(routes)" = 0000

[ "$TAP_FAILED" -eq 0 ] || dump_state "$NS_GW" "$NS_LAN"
