#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The gateway on every core (issue 14): two worker threads, each with its own SO_REUSEPORT
# capture listener, pool share, path-manager subscription and sessions. Held connections from
# one LAN host spread over both workers; the path manager's events reach the worker that owns
# each connection (every connection, on either worker, gets its subflow on link b); the per-host
# cap holds over both workers together (not per worker); the operator sees every worker's
# sessions; SIGTERM ends them all.
#
#   lan (.2, .3) ──── gw (mpconvd gateway --workers 2, links a b) ══ A (5 ms)  ══ cv ──── srv
#                                                                ══ B (10 ms) ══
source "$(dirname "$0")/lib.sh"
require_gateway

CTL=$MPCONV_BUILD/tools/mpconvctl
[ -x "$CTL" ] || skip_all "mpconvctl not built in $MPCONV_BUILD"
command -v curl >/dev/null || skip_all "curl missing"

plan 14

TOOLS=$BED_TOP/tests/tools
BED_SRC_ROUTES=0
topo_hybrid A:rate=50mbit,delay=5 B:rate=50mbit,delay=10 || bail "topology"
mptcp_limits "$NS_CV" 8 8 || bail "limits"
lan_hosts 2
bed_start "$NS_SRV" echo python3 "$TOOLS/testserver.py" --mode echo "$SRV_ADDR4:7000"
wait_listen "$NS_SRV" 7000 || bail "server"
start_converter
T=$BED_TMP
SOCK=$T/gw.sock
CAP=12
bed_start "$NS_GW" gateway "$MPCONVD" gateway --converter "$CV_ADDR4" --lan "$LAN_IF_GW" \
	--workers 2 --link "a dev wanA via 10.10.1.2 role primary" --link "b dev wanB via 10.10.2.2" \
	--max-sessions-per-host "$CAP" --control-socket "$SOCK" --metrics-listen 9124
wait_listen "$NS_GW" 5126 && wait_listen "$NS_GW" 9124 || { dump_state "$NS_GW"; bail "gateway"; }
ctl() { "$CTL" -s "$SOCK" "$@"; }
json_check() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$@"; }
household() {
	local mode=$1
	shift
	nq "$NS_LAN" timeout 60 python3 "$TOOLS/household.py" "$mode" "$SRV_ADDR4" 7000 "$@"
}

# 1-2: two workers, two listeners on the capture port (SO_REUSEPORT).
ctl status -j >"$T/st0.json"
check "status -j: 2 workers" json_check "$T/st0.json" \
	'd["workers"] == 2 and len(d["worker_sessions_open"]) == 2'
check "two capture listeners on :5126, one per worker" \
	test "$(nq "$NS_GW" ss -tlnH 'sport = :5126' | wc -l)" -ge 2

# 3-7: 10 held connections from one host (under its cap): spread over both workers, each with a
# second subflow on link b (added by the path manager of the worker that owns it).
household hold --from "${LAN_HOSTS4[0]}" --count 10 --seconds 8 --timeout 20 >"$T/hold" 2>&1 &
hold=$!
all_two() {
	ctl sessions -j >"$T/s.json" &&
		json_check "$T/s.json" 'len(d["sessions"]) == 10 and all(s["subflows_total"] == 2 for s in d["sessions"])'
}
wait_for 10 all_two
ctl status -j >"$T/st1.json"
diag "per worker, open: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["worker_sessions_open"])' "$T/st1.json")"
check "10 held sessions, spread over both workers" json_check "$T/st1.json" \
	'(d["sessions_open"] == 10 and len(d["worker_sessions_open"]) == 2 and
	  sum(d["worker_sessions_open"]) == 10 and min(d["worker_sessions_open"]) > 0)'
check "sessions -j lists every worker's sessions, each with its worker" json_check "$T/s.json" \
	'len(d["sessions"]) == 10 and {s["worker"] for s in d["sessions"]} == {0, 1}'
check "path-manager events reached both workers: every session has 2 subflows, on 2 links" \
	json_check "$T/s.json" \
	'all(s["subflows_total"] == 2 and len({f["local"].split(":")[0] for f in s["subflows"]}) == 2 for s in d["sessions"])'
check "worker 1's sessions among them (not only the first worker's)" json_check "$T/s.json" \
	'any(s["worker"] == 1 and s["subflows_total"] == 2 for s in d["sessions"])'
n "$NS_GW" curl -sf http://127.0.0.1:9124/metrics >"$T/metrics"
check "/metrics: open sessions by worker add up to 10" \
	bash -c "awk '/^mpconv_worker_sessions\{/ { n += \$2; w++ } END { exit !(n == 10 && w == 2) }' '$T/metrics'"
wait "$hold"
diag "held: $(tail -1 "$T/hold")"
check "the 10 held connections still echo" grep -q '^ok=10 failed=0 ' "$T/hold"

# 8-11: the per-host cap ($CAP) holds over both workers together: a host holding 20 keeps 12;
# its connections were spread over both workers (per-worker caps would have let up to 24 in).
ctl status -j >"$T/st2.json"
household hold --from "${LAN_HOSTS4[1]}" --count 20 --seconds 4 --timeout 20 >"$T/greedy" 2>&1
ctl status -j >"$T/st3.json"
diag "greedy host: $(tail -1 "$T/greedy")"
check "the greedy host kept $CAP of 20" grep -q "^ok=$CAP " "$T/greedy"
check "the other 8 counted as host_limited" python3 -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if b["host_limited"] - a["host_limited"] == 8 else 1)' "$T/st2.json" "$T/st3.json"
check "both workers took connections of that host" python3 -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(0 if len(b["worker_sessions_total"]) == 2 and
	    all(y > x for x, y in zip(a["worker_sessions_total"], b["worker_sessions_total"])) else 1)' \
	"$T/st2.json" "$T/st3.json"
check "the cap was said once in the log" \
	test "$(grep -c "LAN host ${LAN_HOSTS4[1]}: max-sessions-per-host ($CAP) reached" "$T/gateway.err")" = 1

# 12-13: exit.
if bed_stop gateway; then ok "gateway exits 0 on SIGTERM"; else not_ok "gateway exits 0 on SIGTERM"; fi
check "exit totals count every worker's sessions (30)" grep -q 'totals: sessions=30 ' "$T/gateway.err"
