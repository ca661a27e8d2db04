#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Converter fleet numbers (docs/fleet.md), in namespaces, printed as "key=value" lines:
#
#   cl ──── rt (ECMP, L4 hash, resilient group) ──── cv1 .. cvN   lo: VIP 10.99.0.1 + own
#                    └── srv (echo 10.0.2.2:7000)
#
# 1. Connection rate through 1, 2 and 3 instances: 2,000 Convert sessions (MPTCP, Connect to the
#    echo server, 512 bytes echoed, held until all are open) from one client; sessions/s to "all
#    open". On this 2-core machine more instances add processes, not cores: the ratio shows the
#    fleet's overhead, not scaling.
# 2. Memory per CPE: one instance with a cpe-table of 1,000 CPEs, 1,000 sessions open at once,
#    one per CPE identity, against the same without a table (address mode): RSS growth per
#    session both ways, and what the table itself costs at rest.
# Usage (root): MPCONV_BUILD=build/gcc bash bench/fleet.sh   (about a minute)
BED_TAP=0
source "$(dirname "$0")/../tests/integration/lib.sh"
[ "$(id -u)" = 0 ] || { echo "fleet.sh: needs root" >&2; exit 1; }
LOAD=$BED_TOP/tests/tools/convload.py
VIP=10.99.0.1
T=$BED_TMP
COUNT=${FLEET_COUNT:-2000}

CL=$(ns_name cl) RT=$(ns_name rt) SRV=$(ns_name srv)
ns_add "$CL" && ns_add "$RT" && ns_add "$SRV" || exit 1
nq "$RT" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1
veth() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" &&
		ip -n "$1" addr add "$3" dev "$2" && ip -n "$4" addr add "$6" dev "$5" &&
		ip -n "$1" link set "$2" up && ip -n "$4" link set "$5" up
}
veth "$RT" cl0 10.30.0.1/24 "$CL" eth0 10.30.0.2/24 &&
	veth "$RT" srv0 10.0.2.1/24 "$SRV" eth0 10.0.2.2/24 || exit 1
nq "$CL" ip route add default via 10.30.0.1
nq "$SRV" ip route add default via 10.0.2.1
for i in 1 2 3; do
	ns=$(ns_name "cv$i")
	ns_add "$ns" && veth "$RT" "cv$i" "10.20.$i.1/24" "$ns" up0 "10.20.$i.2/24" || exit 1
	nq "$ns" ip route add default via "10.20.$i.1"
	nq "$ns" ip addr add "$VIP/32" dev lo
	nq "$ns" ip addr add "10.99.0.1$i/32" dev lo
	nq "$ns" sysctl -qw net.mptcp.allow_join_initial_addr_port=0 net.ipv4.tcp_fastopen=3
	nq "$ns" ip mptcp endpoint add "10.99.0.1$i" dev lo signal
	nq "$RT" ip nexthop add id "$i" via "10.20.$i.2" dev "cv$i"
done
bed_start "$SRV" echo python3 "$TESTSERVER" --mode echo 10.0.2.2:7000
wait_listen "$SRV" 7000 || exit 1
ulimit -n "$(ulimit -Hn)"

# start_cv I CONF-LINES: instance I with these extra config lines
start_cv() {
	printf '[converter]\nlisten = %s:5124\nlisten = 10.99.0.1%s:5124\nallow = 10.0.0.0/8\n' \
		"$VIP" "$1" >"$T/cv$1.conf"
	printf 'workers = 1\nlog-level = warning\nmax-sessions = 20000\nmax-idle = 20000\n' >>"$T/cv$1.conf"
	printf 'max-sessions-per-client = 20000\nmax-idle-per-client = 20000\nmax-pending-per-client = 20000\n%s\n' \
		"${2:-}" >>"$T/cv$1.conf"
	bed_start "$(ns_name "cv$1")" "cv$1" "$MPCONVD" converter --config "$T/cv$1.conf"
	wait_listen "$(ns_name "cv$1")" "10.99.0.1$1:5124" || exit 1
}
cv_pid() { pgrep -f "^$MPCONVD converter --config $T/cv$1.conf" | head -n 1; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# load N [ARGS]: N sessions at once from cl; prints the seconds until all were open
load() {
	local t0 n=$1
	shift
	rm -f "$T/hold"
	t0=${EPOCHREALTIME/./}
	ip netns exec "$CL" python3 "$LOAD" --count "$n" --parallel 200 --hold-file "$T/hold" "$@" \
		"$VIP:5124" 10.0.2.2:7000 >"$T/load" 2>&1 &
	local pid=$!
	wait_for 120 grep -q '^open ' "$T/load"
	echo "$(( (${EPOCHREALTIME/./} - t0) / 1000 ))" >"$T/open_ms"
	[ -n "${HOLD_HOOK:-}" ] && $HOLD_HOOK
	touch "$T/hold"
	wait "$pid"
	grep -q "opened=$n converted=$n verified=$n" "$T/load" || { cat "$T/load" >&2; return 1; }
}

# 1. sessions/s through 1, 2, 3 instances
for n in 1 2 3; do
	for i in $(seq "$n"); do start_cv "$i"; done
	n "$RT" ip nexthop replace id 100 group "$(seq -s/ "$n")" type resilient buckets 96 idle_timer 0 >/dev/null &&
		nq "$RT" ip route replace "$VIP/32" nhid 100
	load "$COUNT" || exit 1
	echo "instances=$n sessions=$COUNT open_ms=$(cat "$T/open_ms") sessions_per_s=$((COUNT * 1000 / $(cat "$T/open_ms")))"
	for i in $(seq "$n"); do bed_stop "cv$i"; done
done

# 2. memory per CPE at 1,000 identities (one instance)
n "$RT" ip nexthop replace id 100 group 1 type resilient buckets 96 idle_timer 0 >/dev/null
: >"$T/cpes"
for k in $(seq 1000); do echo "cpe-$k $(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >>"$T/cpes"; done
peak() { rss_kb "$(cv_pid 1)" >"$T/peak"; }
for mode in address cpe; do
	extra=
	[ "$mode" = cpe ] && extra="cpe-table = $T/cpes"
	start_cv 1 "$extra"
	sleep 0.5
	base=$(rss_kb "$(cv_pid 1)")
	args=()
	[ "$mode" = cpe ] && args=(--cpe-table "$T/cpes")
	HOLD_HOOK=peak load 1000 "${args[@]}" || exit 1
	echo "mode=$mode rss_rest_kb=$base rss_1000_sessions_kb=$(cat "$T/peak") per_session_bytes=$(( ($(cat "$T/peak") - base) * 1024 / 1000 ))"
	bed_stop cv1
done
