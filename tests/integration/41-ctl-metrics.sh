#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Operating the converter: mpconvctl over the control socket and Prometheus metrics over HTTP,
# against a converter that relays real transfers in the single-proxy topology:
#
#   host (MPTCP client) ══ link A (10 Mbit/s, 5 ms)  ══ cv (mpconvd converter) ──── srv
#                       ══ link B (10 Mbit/s, 10 ms) ══     control socket, :9124 metrics
#
# The control socket: mode 0660, values move with the traffic (sessions, bytes, a live session
# with two subflows on the client leg and per-subflow counters), clear errors (no daemon,
# permission denied, not a gateway, a second daemon on the same socket), reload, removal at
# exit. Metrics: every line of two scrapes parsed strictly (HELP/TYPE before samples, names and
# labels valid, counters end in _total and never go down, histogram buckets cumulative).
source "$(dirname "$0")/lib.sh"
require_bed

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
MPCONVCTL=${MPCONVCTL:-$MPCONV_BUILD/tools/mpconvctl}
CONVCLIENT=$MPCONV_BUILD/tools/convclient
TESTSERVER=$BED_TOP/tests/tools/testserver.py
PROMPARSE=$BED_TOP/tests/tools/promparse.py
[ -x "$MPCONVD" ] && [ -x "$CONVCLIENT" ] && [ -x "$MPCONVCTL" ] ||
	skip_all "mpconvd/convclient/mpconvctl not built in $MPCONV_BUILD"
command -v setpriv >/dev/null || skip_all "setpriv (util-linux) missing"

plan 33

topo_single A:rate=10mbit,delay=5 B:rate=10mbit,delay=10 || bail "topology"
mptcp_multilink || bail "MPTCP endpoints"
bed_sysctl "$NS_CV" net.ipv4.tcp_fastopen=3 || bail "sysctl"

T=$BED_TMP
# The socket's directory is world-traversable, so only the socket's own mode keeps others out.
PUB=$(mktemp -d /tmp/mpc-ctl.XXXXXX)
chmod 755 "$PUB"
at_cleanup "rm -rf '$PUB'"
SOCK=$PUB/converter.sock
cat >"$T/cv.conf" <<EOF
[converter]
listen = $CV_ADDR4:5124
allow = 10.10.0.0/16
control-socket = $SOCK
metrics-listen = 9124
EOF
chmod 600 "$T/cv.conf"

bed_start "$NS_SRV" echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:7000"
bed_start "$NS_SRV" sink python3 "$TESTSERVER" --mode sink "$SRV_ADDR4:7001"
bed_start "$NS_CV" converter "$MPCONVD" converter --config "$T/cv.conf" --workers 2
for port in 7000 7001; do wait_listen "$NS_SRV" $port || bail "server :$port"; done
wait_listen "$NS_CV" 5124 && wait_listen "$NS_CV" 9124 || { bed_log converter; bail "converter"; }

ctl() { "$MPCONVCTL" -s "$SOCK" "$@"; }
# jq-less JSON checks: json_check FILE PYTHON-EXPRESSION (over d, the parsed document)
json_check() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$@"; }
convert() { n "$NS_GW" timeout 60 "$CONVCLIENT" "$@" 2>"$T/line"; }

# 1-3: the socket and a first status.
check "control socket has mode 0660" test "$(stat -c %a "$SOCK")" = 660
ctl status -j >"$T/status0.json"
check "status -j before any traffic: role converter, 2 workers, no session" \
	json_check "$T/status0.json" 'd["role"] == "converter" and d["workers"] == 2 and d["sessions_total"] == 0'
ctl status >"$T/status0.txt"
check "status text is aligned key/value lines" grep -Eq '^sessions +0 open' "$T/status0.txt"

# 4-6: a short exchange moves the totals.
echo hello | convert "$CV_ADDR4:5124" "$SRV_ADDR4:7000" >"$T/out"
check "echo through the converter" test "$(cat "$T/out")" = "$(printf 'hello\nEND')"
wait_for 5 eval 'ctl status -j >"$T/status1.json" && json_check "$T/status1.json" "d[\"sessions_total\"] >= 1"'
check "status -j counts the ended session, relayed, with bytes both ways" \
	json_check "$T/status1.json" 'd["sessions_total"] == 1 and d["sessions_relayed"] == 1 and d["bytes_up"] == 6 and d["bytes_down"] == 10 and d["client_mptcp"] == 1 and d["ends"] == {"closed": 1}'
n "$NS_CV" curl -sf http://127.0.0.1:9124/metrics >"$T/scrape1.txt"
check "first scrape of /metrics" grep -q '^mpconv_sessions_total{role="converter"} 1$' "$T/scrape1.txt"

# 7-13: a long upload (a client that sends keeps its second subflow: linux-mptcp.md 4); sessions
# shows it live, with both subflows and their counters.
head -c 30000000 /dev/urandom >"$T/in30m"
n "$NS_GW" timeout 60 "$CONVCLIENT" "$CV_ADDR4:5124" "$SRV_ADDR4:7001" <"$T/in30m" \
	>"$T/got" 2>"$T/up.line" &
UP=$!
live()
{
	ctl sessions -j >"$T/sessions.json" &&
		json_check "$T/sessions.json" 'any(s["subflows_total"] >= 2 and s["bytes_up"] > 1000000 and all(f["bytes_received"] > 0 for f in s["subflows"]) for s in d["sessions"])'
}
check "sessions -j shows the live upload with 2 subflows, bytes moving on each" wait_for 20 live
# The relay counts bytes as it moves them: the upload is still open (one relayed session ended so
# far, the echo) and its megabytes are in mpconv_bytes_total already.
n "$NS_CV" curl -sf http://127.0.0.1:9124/metrics >"$T/scrape-live.txt"
check "mpconv_bytes_total moves during the upload, before its session ends" \
	eval 'grep -q "^mpconv_sessions_relayed_total{role=\"converter\"} 1$" "$T/scrape-live.txt" &&
	awk "/^mpconv_bytes_total\{role=\"converter\",direction=\"up\"\}/ { exit !(\$2 > 1000006) }" "$T/scrape-live.txt"'
check "sessions -j: subflows used over the session's life, the server leg named, both RTTs" \
	json_check "$T/sessions.json" '(s := max(d["sessions"], key=lambda s: s["bytes_up"])) and s["subflows_used"] >= 2 and s["upstream"] == "server" and s["client_rtt_us"] > 0 and s["upstream_rtt_us"] > 0'
check "each subflow has its addresses and an RTT" \
	json_check "$T/sessions.json" '(s := max(d["sessions"], key=lambda s: s["bytes_up"])) and len(s["subflows"]) >= 2 and all(f["rtt_us"] > 0 and f["local"].endswith(":5124") for f in s["subflows"]) and s["state"] == "relay" and s["dest"] == "10.0.2.2:7001" and s["client_mptcp"]'
diag "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(d["sessions"][0])[:600])' "$T/sessions.json")"
ctl sessions >"$T/sessions.txt"
diag "$(cat "$T/sessions.txt")"
check "sessions text: header, the session line, one line per subflow" \
	eval 'grep -q "^client .*destination .*state" "$T/sessions.txt" && grep -q "10.0.2.2:7001 .*relay" "$T/sessions.txt" && [ "$(grep -c "^    sf " "$T/sessions.txt")" -ge 2 ]'
n "$NS_CV" curl -sf http://127.0.0.1:9124/status.json >"$T/status.json"
diag "$(cut -c1-700 "$T/status.json")"
check "/status.json: links accA and accB up with subflows, the upload among the top sessions" \
	json_check "$T/status.json" '(l := {x["name"]: x for x in d["links"]}) and l["accA"]["state"] == "up" and l["accB"]["subflows"] >= 1 and l["accB"]["rx_bytes"] > 1000000 and any(s["dest"] == "10.0.2.2:7001" for s in d["sessions"])'
# The history samples once a second: poll until it holds three samples of the upload.
history_grows() {
	nq "$NS_CV" curl -sf http://127.0.0.1:9124/history.json >"$T/history.json" &&
		json_check "$T/history.json" '(l := {x["name"]: x for x in d["links"]}) and d["interval_ms"] == 1000 and len(d["t"]) >= 3 and len(l["accB"]["rx"]) == len(d["t"]) and l["accB"]["rx"][-1] > l["accB"]["rx"][0]'
}
check "/history.json: one-second samples of both access links, bytes growing" \
	wait_for 6 history_grows
scrape_s=$(n "$NS_CV" curl -sf -o "$T/scrape2.txt" -w '%{time_total}' http://127.0.0.1:9124/metrics)
check "second scrape during the upload (answered in ${scrape_s:-?} s)" test -s "$T/scrape2.txt"
wait "$UP"
check "upload complete and byte-exact (30 MB)" \
	test "$(cat "$T/got")" = "GOT 30000000 $(sha256sum "$T/in30m" | cut -d' ' -f1)"

# 14-17: the metrics, strictly.
check "first scrape parses strictly" python3 "$PROMPARSE" converter "$T/scrape1.txt"
check "second scrape parses strictly; no counter went down" \
	python3 "$PROMPARSE" converter "$T/scrape1.txt" "$T/scrape2.txt"
n "$NS_CV" curl -sf http://127.0.0.1:9124/metrics >"$T/scrape3.txt"
check "after the upload: 2 relayed sessions, bytes up counted, setup latency observed" \
	eval 'grep -q "^mpconv_sessions_relayed_total{role=\"converter\"} 2$" "$T/scrape3.txt" &&
	grep -q "^mpconv_bytes_total{role=\"converter\",direction=\"up\"} 30000006$" "$T/scrape3.txt" &&
	grep -q "^mpconv_setup_seconds_count{role=\"converter\"} 2$" "$T/scrape3.txt"'
check "client legs were MPTCP; close reasons counted" \
	eval 'grep -q "^mpconv_client_connections_total{role=\"converter\",protocol=\"mptcp\"} 2$" "$T/scrape3.txt" &&
	grep -q "^mpconv_sessions_closed_total{role=\"converter\",reason=\"closed\"} 2$" "$T/scrape3.txt"'

# What a gateway does to a converter is no error: a probe (a bare Convert header, answered with
# an Error TLV), a pooled connection closed unused; and a pooled connection's idle wait before
# its request is not setup time (setup starts at the request's first byte).
convert --raw 01012263 --no-relay "$CV_ADDR4:5124" >/dev/null || true
diag "probe: $(cat "$T/line")"
n "$NS_GW" bash -c "exec 3<>/dev/tcp/$CV_ADDR4/5124; sleep 0.2; exec 3>&-"
n "$NS_GW" python3 - "$CV_ADDR4" "$SRV_ADDR4" >"$T/late.out" <<'PY'
import socket, sys, time
s = socket.create_connection((sys.argv[1], 5124))
time.sleep(1.5)  # a pooled connection waiting for its LAN client
dst = socket.inet_aton(sys.argv[2])
# RFC 8803 header (version 1, 6 words, magic) + Connect TLV (kind 10, 5 words, port, IPv4-mapped address)
s.sendall(bytes([1, 6, 0x22, 0x63, 10, 5]) + (7000).to_bytes(2, "big") + bytes(10) + b"\xff\xff" + dst + b"late\n")
s.shutdown(socket.SHUT_WR)
got = b""
while (chunk := s.recv(4096)):
    got += chunk
print("echoed" if b"late\nEND" in got else "not echoed: %r" % got)
PY
check "a request sent 1.5 s after its connect is relayed" grep -q '^echoed$' "$T/late.out"
diag "$(cat "$T/late.out"; tail -n 4 "$T/converter.err")"
counted() {
	n "$NS_CV" curl -sf http://127.0.0.1:9124/metrics >"$T/scrape4.txt" &&
		grep -q "^mpconv_sessions_closed_total{role=\"converter\",reason=\"unused\"} 1$" "$T/scrape4.txt" &&
		grep -q "^mpconv_sessions_closed_total{role=\"converter\",reason=\"probe\"} 1$" "$T/scrape4.txt" &&
		grep -q "^mpconv_setup_seconds_count{role=\"converter\"} 3$" "$T/scrape4.txt"
}
check "a probe and an unused pooled connection counted as such, not as Malformed Message" \
	eval 'wait_for 5 counted && grep -q "^mpconv_convert_errors_sent_total{role=\"converter\",code=\"malformed_message\"} 0$" "$T/scrape4.txt"'
check "setup time starts at the request's first byte: all 3 setups under 1 s, none in the log as errors" \
	eval 'grep -q "^mpconv_setup_seconds_bucket{role=\"converter\",le=\"1\"} 3$" "$T/scrape4.txt" &&
	! grep -E "end=(probe|unused)|client closed before sending" "$T/converter.err"'

# 18-20: HTTP errors are answered, not dropped.
check "unknown path is a 404" \
	test "$(n "$NS_CV" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9124/nope)" = 404
check "POST is a 405" \
	test "$(n "$NS_CV" curl -s -o /dev/null -w '%{http_code}' -d x http://127.0.0.1:9124/metrics)" = 405
check "metrics are not reachable from another host by default (loopback only)" \
	eval '! n "$NS_GW" curl -s -m 2 -o /dev/null http://$CV_ADDR4:9124/metrics'

# 21-25: errors are clear and exit non-zero.
out=$("$MPCONVCTL" -s "$PUB/none.sock" status 2>&1) && rc=0 || rc=$?
check "no daemon: exit 1 and says so" \
	eval '[ $rc -eq 1 ] && grep -q "mpconvd is not running (no control socket at $PUB/none.sock)" <<<"$out"'
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$MPCONVCTL" -s "$SOCK" status 2>&1) && rc=0 || rc=$?
check "unprivileged user: exit 1, permission denied" \
	eval '[ $rc -eq 1 ] && grep -q "permission denied on $SOCK" <<<"$out"'
diag "$out"
out=$(ctl links 2>&1) && rc=0 || rc=$?
check "links on a converter: exit 1, not a gateway" eval '[ $rc -eq 1 ] && grep -q "not a gateway" <<<"$out"'
bed_start "$NS_CV" second "$MPCONVD" converter --listen "$CV_ADDR4:5199" --allow 10.10.0.0/16 \
	--control-socket "$SOCK"
wait_for 5 eval '! kill -0 $(bed_pid second) 2>/dev/null'
bed_stop second && rc=0 || rc=$? # in this shell: only it can wait for its child
check "a second daemon on the same control socket refuses to start" \
	eval '[ $rc -ne 0 ] && grep -q "another daemon is answering" "$T/second.err"'
out=$(ctl frobnicate 2>&1) && rc=0 || rc=$?
check "unknown command: exit 1 with the daemon's answer" eval '[ $rc -eq 1 ] && grep -q "unknown command" <<<"$out"'

# 26: reload through the socket.
check "reload re-reads the configuration file" eval 'ctl reload | grep -q "applied to new sessions"'

# 27-28: the socket goes away with the daemon.
if bed_stop converter; then ok "converter exits 0 on SIGTERM"; else not_ok "converter exits 0 on SIGTERM"; fi
check "and removes its control socket" test ! -e "$SOCK"
