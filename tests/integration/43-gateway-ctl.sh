#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Operating a gateway: mpconvctl status, sessions, links and probe (text and -j) against a
# running gateway during a transfer, a link failure seen in `links` and `probe`, reload over
# the socket, /metrics parsed strictly (per-link bytes and subflows, policy decisions, pool,
# set-up latency), and the status page's data.
#
#   lan ──── gw (mpconvd gateway, links a, b) ══ A 20 Mbit/s 5 ms ══ cv (converter) ──── srv
#                                             ══ B 30 Mbit/s 10 ms ══
source "$(dirname "$0")/lib.sh"
require_bed

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
CTL=$MPCONV_BUILD/tools/mpconvctl
PROMPARSE=$BED_TOP/tests/tools/promparse.py
[ -x "$MPCONVD" ] && [ -x "$CTL" ] || skip_all "mpconvd/mpconvctl not built in $MPCONV_BUILD"
command -v nft >/dev/null && command -v curl >/dev/null || skip_all "nft or curl missing"

plan 21

BED_SRC_ROUTES=0
topo_hybrid A:rate=20mbit,delay=5 B:rate=30mbit,delay=10 || bail "topology"
mptcp_limits "$NS_CV" 8 8 || bail "limits"
bed_sysctl "$NS_CV" net.ipv4.tcp_fastopen=3 || bail "sysctl"
bed_start "$NS_SRV" bulk "$MPBULK" server -p 5201 --tcp
bed_start "$NS_CV" converter "$MPCONVD" converter --listen "$CV_ADDR4:5124" --allow 10.10.0.0/16 \
	--control-socket none
wait_listen "$NS_SRV" 5201 && wait_listen "$NS_CV" 5124 || bail "servers"
T=$BED_TMP
SOCK=$T/gw.sock
bed_start "$NS_GW" gateway "$MPCONVD" gateway --converter "$CV_ADDR4" --lan "$LAN_IF_GW" \
	--link "a dev wanA via 10.10.1.2 role primary" --link "b dev wanB via 10.10.2.2" \
	--probe-interval 300ms --rule "block port 25 name no-smtp" \
	--control-socket "$SOCK" --metrics-listen 9124
wait_listen "$NS_GW" 5126 && wait_listen "$NS_GW" 9124 || { dump_state "$NS_GW"; bail "gateway"; }
ctl() { "$CTL" -s "$SOCK" "$@"; }
json_check() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$@"; }

n "$NS_GW" curl -sf http://127.0.0.1:9124/metrics >"$T/scrape1.txt"
n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 60M \
	>"$T/down" 2>&1 &
client=$!
wait_for 10 bash -c "'$CTL' -s '$SOCK' sessions -j >'$T/s.json' && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d[\"sessions\"] and d[\"sessions\"][0][\"subflows_total\"] == 2 else 1)' '$T/s.json'"
check "sessions -j: the download, pool mode, with 2 subflows on distinct links" json_check "$T/s.json" \
	'd["sessions"][0]["mode"] == "pool" and len({s["local"].split(":")[0] for s in d["sessions"][0]["subflows"]}) == 2'
check "sessions -j: the upstream leg is the converter's, RTTs of both legs, subflows used from PM events" \
	json_check "$T/s.json" '(s := d["sessions"][0]) and s["upstream"] == "converter" and s["server_mptcp"] and not s["client_mptcp"] and s["client_rtt_us"] > 0 and s["upstream_rtt_us"] >= 5000 and s["subflows_used"] >= 2'
ctl sessions >"$T/s.txt"
diag "$(cat "$T/s.txt")"
check "sessions: a table with one line per subflow" bash -c "grep -c '^    sf ' '$T/s.txt' | grep -qx 2"
ctl links -j >"$T/l.json"
diag "$(ctl links)"
check "links -j: a and b up, one subflow each, probe RTTs measured" json_check "$T/l.json" \
	'[(l["name"], l["state"], l["subflows"]) for l in d["links"]] == [("a", "up", 1), ("b", "up", 1)] and all(l["rtt_ms"] is not None for l in d["links"])'
ctl probe -j >"$T/p.json"
diag "$(ctl probe)"
check "probe: the converter answers over both links, MPTCP and SYN data get through" json_check "$T/p.json" \
	'[l["verdict"] for l in d["links"]] == ["ok", "ok"] and all(l["mptcp"] and l["syn_data"] for l in d["links"])'
n "$NS_GW" curl -sf http://127.0.0.1:9124/metrics >"$T/scrape2.txt"
n "$NS_GW" curl -sf http://127.0.0.1:9124/status.json >"$T/status.json"
check "status.json: both links, the session with its subflows" json_check "$T/status.json" \
	'd["role"] == "gateway" and len(d["links"]) == 2 and d["sessions"][0]["subflows_total"] == 2'
wait "$client"
check "the download completed byte-exact" grep -q 'verified=1' "$T/down"
tcp_exchange "$NS_LAN" "$SRV_ADDR4" 25 x >/dev/null

# Link b fails: links and probe say so.
link_down B
wait_for 5 bash -c "'$CTL' -s '$SOCK' links -j | grep -q '\"name\":\"b\",\"state\":\"no-carrier\"'"
ctl links -j >"$T/l2.json"
check "links: b has no carrier" json_check "$T/l2.json" 'd["links"][1]["state"] == "no-carrier"'
ctl probe -j >"$T/p2.json"
diag "$(ctl probe)"
check "probe: a ok, b not" json_check "$T/p2.json" \
	'd["links"][0]["verdict"] == "ok" and d["links"][1]["verdict"] != "ok"'
link_up B

ctl status -j >"$T/st.json"
check "status -j: totals (2 sessions: 1 bonded, 1 blocked, ends by slug), the converter usable" json_check "$T/st.json" \
	'd["role"] == "gateway" and d["sessions_total"] == 2 and d["bonded"] == 1 and d["blocked"] == 1 and d["converters"][0]["usable"] and d["ends"] == {"closed": 1, "blocked": 1}'
check "reload over the socket" bash -c "'$CTL' -s '$SOCK' reload | grep -q 'reloaded'"

n "$NS_GW" curl -sf http://127.0.0.1:9124/metrics >"$T/scrape3.txt"
check "metrics parse strictly; no counter went down" python3 "$PROMPARSE" gateway "$T/scrape1.txt" "$T/scrape2.txt"
check "and again after the transfer" python3 "$PROMPARSE" gateway "$T/scrape2.txt" "$T/scrape3.txt"
check "mpconv_bytes_total moves during the download (counted as relayed, not at its end)" \
	awk '/^mpconv_bytes_total\{role="gateway",direction="down"\}/ { found = 1; ok = $2 > 1000000 && $2 < 60000000 } END { exit !(found && ok) }' "$T/scrape2.txt"
check "session log: the download's subflows over its life, the block as action=block, end slugs" bash -c "
	grep 'dest=$SRV_ADDR4:5201 ' '$T/gateway.err' | grep -q 'subflows=2 .*end=closed' &&
	grep 'dest=$SRV_ADDR4:25 ' '$T/gateway.err' | grep -q 'action=block .*end=blocked' &&
	grep -q '^mpconv_sessions_closed_total{role=\"gateway\",reason=\"blocked\"} 1$' '$T/scrape3.txt'"
check "during the transfer: a subflow on each link, bytes on both" bash -c "
	grep -q '^mpconv_link_subflows{role=\"gateway\",link=\"a\"} 1$' '$T/scrape2.txt' &&
	grep -q '^mpconv_link_subflows{role=\"gateway\",link=\"b\"} 1$' '$T/scrape2.txt' &&
	awk '/^mpconv_link_bytes_total\{role=\"gateway\",link=\"b\",direction=\"rx\"\}/ { exit !(\$2 > 1000000) }' '$T/scrape2.txt'"
check "after: policy decisions by rule, pool hit, set-up latency observed, bytes counted" bash -c "
	grep -q '^mpconv_policy_decisions_total{role=\"gateway\",rule=\"no-smtp\"} 1$' '$T/scrape3.txt' &&
	grep -q '^mpconv_pool_hits_total{role=\"gateway\"} 1$' '$T/scrape3.txt' &&
	grep -q '^mpconv_setup_seconds_count{role=\"gateway\"} 1$' '$T/scrape3.txt' &&
	grep -q '^mpconv_bytes_total{role=\"gateway\",direction=\"down\"} 60000000$' '$T/scrape3.txt'"
nodss=$(nstat_ns "$NS_GW" MPTcpExtNoDSSInWindow | awk '{ print $2 }')
check "the kernel's NoDSSInWindow is on /metrics (the tfo-with-bonding symptom; now $nodss)" \
	awk -v now="$nodss" '/^mpconv_kernel_mptcp_no_dss_in_window_total\{role="gateway"\} / { found = 1; ok = $2 <= now } END { exit !(found && ok) }' "$T/scrape3.txt"
if bed_stop gateway; then ok "gateway exits 0 on SIGTERM"; else not_ok "gateway exits 0 on SIGTERM"; fi
check "its control socket is gone" test ! -e "$SOCK"
bed_start "$NS_GW" gw-tfo "$MPCONVD" gateway --converter "$CV_ADDR4" --lan "$LAN_IF_GW" \
	--link "a dev wanA via 10.10.1.2 role primary" --link "b dev wanB via 10.10.2.2" \
	--mode tfo --control-socket none
check "mode tfo with two links: a warning at start" \
	wait_for 5 grep -q 'warning: mode tfo with 2 links' "$T/gw-tfo.err"
bed_stop gw-tfo
