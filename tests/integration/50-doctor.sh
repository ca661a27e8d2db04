#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# mpconvctl doctor against broken set-ups: each broken thing is detected and named, and the fix
# the doctor prints, applied as printed, turns its verdict back to ok.
#
#   lan ──── gw ══ link A (wanA 10.10.1.1, table 5100) ══ cv (mpconvd converter 10.99.0.1:5124)
#               ══ link B (wanB 10.10.2.1, table 5101) ══
#
#   gw: doctor --role gateway with links A and B (link-table 5100: the tables and rules a running
#       gateway makes, made by the test; the daemon is not started); cv: doctor --role converter.
#
# Broken one at a time: MPTCP off in gw's namespace; the converter's subflows limit 0; the TFO
# server bit off on cv; link B's default route gone from its table; strict rp_filter on wanB;
# no MPTCP endpoint for link B with path-manager = kernel; the converter stopped (refused);
# link B cut (converter unreachable over it). Each is checked in the JSON (-j) output: the named
# check and subject, its verdict, the exit status (1 on any fail), then the fix applied.
source "$(dirname "$0")/lib.sh"
require_gateway

MPCONVCTL=$MPCONV_BUILD/tools/mpconvctl
[ -x "$MPCONVCTL" ] || skip_all "no mpconvctl in $MPCONV_BUILD"

plan 30

# The per-link source routing a running gateway installs (link-table 5100: table 5100 + i and
# "from the link's address lookup" it), made here by hand: the gateway daemon is not started.
BED_SRC_ROUTES=0 topo_hybrid A B || bail "topology"
TABLE=5100
for x in A B; do
	t=$((TABLE + $(link_var $x INDEX) - 1))
	nq "$NS_GW" ip route add default via "$(link_var $x CV4)" dev "$(link_var $x IF_GW)" table $t &&
		nq "$NS_GW" ip rule add from "$(link_var $x GW4)" lookup $t || bail "link $x routing"
done
start_converter
T=$BED_TMP
cat >"$T/gw.conf" <<EOF
[gateway]
converter = $CV_ADDR4
lan = $LAN_IF_GW
link = A dev $LINK_A_IF_GW via $LINK_A_CV4
link = B dev $LINK_B_IF_GW via $LINK_B_CV4
link-table = $TABLE
control-socket = $T/gw.sock
EOF
cat >"$T/cv.conf" <<EOF
[converter]
listen = $CV_ADDR4:5124
allow = 10.10.0.0/16
EOF
chmod 644 "$T/gw.conf" "$T/cv.conf"
bed_sysctl "$NS_CV" net.ipv4.tcp_fastopen=3 || bail "sysctl"

# doctor ROLE: runs the doctor in ROLE's namespace, JSON to $T/ROLE.json, exit status to
# $T/ROLE.rc (the text output goes to the log on failures: doctor_text ROLE).
doctor()
{
	local ns=$NS_GW conf=$T/gw.conf rc=0
	[ "$1" = gateway ] || { ns=$NS_CV; conf=$T/cv.conf; }
	ip netns exec "$ns" "$MPCONVCTL" -j --role "$1" doctor --config "$conf" --timeout 3000 \
		>"$T/$1.json" 2>"$T/$1.err" || rc=$?
	echo "$rc" >"$T/$1.rc"
}
doctor_text()
{
	python3 - "$T/$1.json" <<'EOF'
import json, sys
for c in json.load(open(sys.argv[1]))["checks"]:
    print(c["verdict"], c["check"], c["subject"], c["detail"], ("fix: " + c["fix"]) if c["fix"] else "")
EOF
}
# field ROLE CHECK SUBJECT FIELD: FIELD (verdict, fix, detail) of the first line CHECK SUBJECT.
field()
{
	python3 - "$T/$1.json" "$2" "$3" "$4" <<'EOF'
import json, sys
_, path, check, subject, field = sys.argv
for c in json.load(open(path))["checks"]:
    if c["check"] == check and c["subject"] == subject:
        print(c[field])
        break
EOF
}
# verdict_is ROLE CHECK SUBJECT VERDICT [RC]: the line's verdict, and the exit status if given.
verdict_is()
{
	local got rc
	got=$(field "$1" "$2" "$3" verdict)
	rc=$(cat "$T/$1.rc")
	if [ "$got" != "$4" ] || { [ -n "${5:-}" ] && [ "$rc" != "$5" ]; }; then
		echo "$2 $3: verdict '$got' (want $4), exit status $rc (want ${5:-any})"
		doctor_text "$1"
		return 1
	fi
	echo "$4 $2 $3: $(field "$1" "$2" "$3" detail)"
}
# verdicts SPEC...: verdict_is for each SPEC "ROLE:CHECK:SUBJECT:VERDICT[:RC]".
verdicts()
{
	local spec role chk subject verdict rc
	for spec in "$@"; do
		IFS=: read -r role chk subject verdict rc <<<"$spec"
		verdict_is "$role" "$chk" "$subject" "$verdict" "$rc" || return 1
	done
}
# apply_fix ROLE CHECK SUBJECT: runs the line's fix in ROLE's namespace as printed: each
# ';'-separated command, up to a trailing parenthesised remark.
apply_fix()
{
	local ns=$NS_GW fix cmd
	[ "$1" = gateway ] || ns=$NS_CV
	fix=$(field "$1" "$2" "$3" fix)
	fix=${fix%% (*}
	[ -n "$fix" ] || { echo "no fix printed"; return 1; }
	IFS=';' read -ra cmds <<<"$fix"
	for cmd in "${cmds[@]}"; do
		# shellcheck disable=SC2086 # a command line as printed
		n "$ns" $cmd || true
	done
}

# --- healthy: both roles
doctor gateway
check "healthy gateway: no fail, exit 0" verdict_is gateway reach A ok 0
check "healthy gateway: link B's source route, rp_filter and reach are ok" \
	verdicts "gateway:route:B:ok" "gateway:rp-filter:$LINK_B_IF_GW:ok" "gateway:reach:B:ok"
check "healthy gateway: nftables accepts TPROXY rules (dry run)" verdict_is gateway intercept tproxy ok
doctor converter
check "healthy converter: limits and tcp_fastopen ok, exit 0" \
	verdicts "converter:limits::ok:0" "converter:tcp-fastopen::ok"

# --- MPTCP disabled in the gateway's namespace
nq "$NS_GW" sysctl -qw net.mptcp.enabled=0
doctor gateway
check "net.mptcp.enabled=0 is a fail named 'mptcp', exit 1" verdict_is gateway mptcp "" fail 1
check "... and the probes say no MPTCP socket can be opened" verdict_is gateway reach A fail
check "its fix (sysctl -w net.mptcp.enabled=1) applies" apply_fix gateway mptcp ""
doctor gateway
check "after the fix: mptcp ok, reach A ok, exit 0" \
	verdicts "gateway:mptcp::ok:0" "gateway:reach:A:ok"

# --- subflow limit 0 on the converter
n "$NS_CV" ip mptcp limits set subflows 0 add_addr_accepted 0
doctor converter
check "subflows limit 0 on the converter is a fail named 'limits', exit 1" \
	verdict_is converter limits "" fail 1
check "its fix (ip mptcp limits set subflows 2 ...) applies" apply_fix converter limits ""
doctor converter
check "after the fix: limits ok, exit 0" verdict_is converter limits "" ok 0

# --- TFO server bit off on the converter
nq "$NS_CV" sysctl -qw net.ipv4.tcp_fastopen=1
doctor converter
check "tcp_fastopen=1 on the converter is a fail named 'tcp-fastopen'" \
	verdict_is converter tcp-fastopen "" fail 1
doctor gateway
# This kernel does either, from one connection to the next: refuses the SYN data and stays
# MPTCP (warn), or answers the refused SYN data without MPTCP (plain TCP: fail).
syn_data_refused()
{
	local v
	v=$(field gateway reach A verdict)
	field gateway reach A detail
	[ "$v" = warn ] || [ "$v" = fail ] || return 1
	field gateway reach A detail | grep -qE "SYN data was not taken|as plain TCP"
}
check "... seen from the gateway: 'reach A' says the SYN data was not taken or MPTCP fell back" \
	syn_data_refused
check "its fix applies" apply_fix converter tcp-fastopen ""
doctor converter
check "after the fix: tcp-fastopen ok, exit 0" verdict_is converter tcp-fastopen "" ok 0

# --- link B's default route gone from its table
n "$NS_GW" ip route del default table $((TABLE + 1))
doctor gateway
check "no default route in link B's table: 'route B' names it (warn: no gateway running)" \
	verdict_is gateway route B warn
# (reach B stays ok here: the probe binds wanB as the gateway's subflows do, and IPv4 then takes
# a destination without a route as on-link, which the converter is in this bed)
fix_names_table()
{
	field gateway route B fix | tee /dev/stderr |
		grep -qF "ip route replace default via $LINK_B_CV4 dev $LINK_B_IF_GW table $((TABLE + 1))"
}
check "... its fix names link B's via, interface and table" fix_names_table
check "its fix applies" apply_fix gateway route B
doctor gateway
check "after the fix: route B and reach B ok, exit 0" \
	verdicts "gateway:route:B:ok:0" "gateway:reach:B:ok"

# --- strict rp_filter on wanB
nq "$NS_GW" sysctl -qw "net.ipv4.conf.$LINK_B_IF_GW.rp_filter=1"
doctor gateway
check "rp_filter=1 on $LINK_B_IF_GW is named 'rp-filter $LINK_B_IF_GW' (warn)" \
	verdict_is gateway rp-filter "$LINK_B_IF_GW" warn
check "its fix (rp_filter=2) applies" apply_fix gateway rp-filter "$LINK_B_IF_GW"
doctor gateway
check "after the fix: rp-filter ok (loose)" verdict_is gateway rp-filter "$LINK_B_IF_GW" ok 0

# --- the in-kernel path manager without an endpoint for link B
sed 's/^\[gateway\]$/[gateway]\npath-manager = kernel/' "$T/gw.conf" >"$T/gw-kernel.conf"
cp "$T/gw.conf" "$T/gw-userspace.conf"
cp "$T/gw-kernel.conf" "$T/gw.conf"
doctor gateway
check "path-manager = kernel, no endpoint on wanB: 'endpoint B' names it (warn)" \
	verdict_is gateway endpoint B warn
check "its fix (ip mptcp endpoint add ... dev wanB subflow) applies" apply_fix gateway endpoint B
doctor gateway
check "after the fix: endpoint B ok" verdict_is gateway endpoint B ok
cp "$T/gw-userspace.conf" "$T/gw.conf"

# --- no converter listening: refused over both links
bed_stop converter
doctor gateway
refused()
{
	verdicts "gateway:reach:A:fail:1" "gateway:reach:B:fail" &&
		field gateway reach A detail | grep "Connection refused"
}
check "converter stopped: 'reach A' and 'reach B' fail with 'Connection refused', exit 1" refused
start_converter
doctor gateway
check "converter started again: reach A ok, exit 0" verdict_is gateway reach A ok 0

# --- converter unreachable over link B
link_cut B
doctor gateway
check "link B cut: 'reach B' fails (no answer), A still ok, exit 1" \
	verdicts "gateway:reach:B:fail:1" "gateway:reach:A:ok"
link_restore B
doctor gateway
check "link B restored: reach B ok, exit 0" verdict_is gateway reach B ok 0
check "text output: one line per check, a fix line under each warn or fail" \
	bash -c "ip netns exec '$NS_GW' '$MPCONVCTL' --role gateway doctor --config '$T/gw.conf' | grep -q '^ok    reach B '"
