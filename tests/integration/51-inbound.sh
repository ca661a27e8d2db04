#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Inbound sessions (issue 15): a client on the Internet side reaches a LAN service published by
# the gateway, over both links, through the gateway's reverse pool:
#
#   lan (mpbulk :8080) ── gw (cpe1, links a, b) ══ A 50 Mbit/s 5 ms ══ cv ── srv (Internet client)
#                                               ══ B 50 Mbit/s 5 ms ══  │
#                        gw2 (cpe2, no LAN) ─────── 10.20.0.0/24 ───────┘
#
#   cv: inbound-listen 10.99.0.1:5127, public ports 20000-20099 on [::]; cpe1 may use
#       20000-20049, cpe2 any of them. gw publishes 20001 -> 10.0.1.2:8080 (publish-source
#       client: the LAN host sees 10.0.2.2). srv connects to cv's 10.0.2.1:20001.
#
# - download from the LAN server to srv byte-exact (mpbulk verifies), bytes on both links
#   (gw's wanA and wanB receive counters), the LAN host sees the client's own address;
# - link a goes down mid-transfer: the transfer ends byte-exact on link b;
# - an unpublished public port is refused (nothing listens);
# - a forged key (cpe1's name, another key) is refused by the converter;
# - cpe2 cannot take cpe1's port 20001 (the converter answers "taken"), and 20001 still leads
#   to cpe1's LAN; cpe2's own port reaches only cpe2's service;
# - a fake converter asking the gateway for an unpublished LAN address is refused;
# - an IPv6 LAN service, reached over IPv4 and IPv6; a burst of 12 connections at once;
# - the gateway restarts, then the converter: the service comes back without operator action;
# - mpconvctl inbound and /metrics count the sessions on both roles.
source "$(dirname "$0")/lib.sh"
require_gateway

MPCONVCTL=$MPCONV_BUILD/tools/mpconvctl
PROMPARSE=$BED_TOP/tests/tools/promparse.py
plan 28

BED_SRC_ROUTES=0
topo_hybrid A:rate=50mbit,delay=5 B:rate=50mbit,delay=5 || bail "topology"
topo_describe
mptcp_limits "$NS_CV" 8 8 || bail "limits"
T=$BED_TMP
KEY1=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
KEY2=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
FORGED=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')

# The second CPE: its own namespace and segment to the converter, no LAN, a service of its own.
NS_GW2=$(ns_name gw2)
ns_add "$NS_GW2" || bail "namespace gw2"
_veth "$NS_CV" cpe2 "$NS_GW2" wan0 10.20.0.2/24 10.20.0.1/24 fd00:20::2/64 fd00:20::1/64
n "$NS_GW2" ip route add default via 10.20.0.2 || bail "gw2 route"

bed_start "$NS_LAN" lanbulk "$MPBULK" server -p 8080 --tcp
bed_start "$NS_LAN" lanecho6 python3 "$TESTSERVER" --mode echo "[$LAN_ADDR6]:7000"
bed_start "$NS_GW2" gw2echo python3 "$TESTSERVER" --mode echo 10.20.0.1:9000
start_converter --inbound-listen "$CV_ADDR4:5127" --inbound-ports 20000-20099 \
	--inbound-cpe "cpe1 $KEY1 20000-20049" --inbound-cpe "cpe2 $KEY2" \
	--control-socket "$T/cv.sock" --metrics-listen 127.0.0.1:9124 --allow 10.20.0.0/24
wait_listen "$NS_CV" "$CV_ADDR4:5127" || bail "converter inbound listener"
wait_listen "$NS_LAN" 8080 || bail "LAN server"
wait_listen "$NS_LAN" 7000 || bail "LAN IPv6 server"
wait_listen "$NS_GW2" 9000 || bail "gw2 service"

GW_ARGS=(--link "a dev wanA via 10.10.1.2 role primary" --link "b dev wanB via 10.10.2.2"
	--publish "tcp 20001 to $LAN_ADDR4:8080" --publish "tcp 20002 to [$LAN_ADDR6]:7000"
	--inbound-name cpe1 --inbound-key "$KEY1"
	--control-socket "$T/gw.sock" --metrics-listen 127.0.0.1:9124)
start_gateway "${GW_ARGS[@]}"

inbound_json() { nq "$1" "$MPCONVCTL" -s "$2" -j inbound 2>/dev/null; }
_ready() { inbound_json "$NS_GW" "$T/gw.sock" | grep -q '"ready":[1-9]'; }
_public() { _bed_listening "$NS_CV" "$1"; }
wait_for 10 _ready || { dump_state "$NS_GW" "$NS_CV"; bail "no reverse connection registered"; }
check "the converter listens on cpe1's public port 20001" wait_for 5 _public 20001

# what gw sent on a link (a download from the LAN leaves by the links)
tx() { nq "$NS_GW" cat "/sys/class/net/$1/statistics/tx_bytes"; }

# 1. Download from the LAN server to the Internet client, over both links.
a0=$(tx wanA) b0=$(tx wanB)
n "$NS_SRV" timeout 60 "$MPBULK" client "$CV_SRV4" 20001 --tcp --download --bytes 30M \
	>"$T/dl1" 2>&1 &
pid=$!
: >"$T/lanpeers"
while kill -0 "$pid" 2>/dev/null; do
	nq "$NS_LAN" ss -tnH state established '( sport = :8080 )' >>"$T/lanpeers"
	sleep 0.2
done
wait "$pid"
a1=$(tx wanA) b1=$(tx wanB)
diag "download: $(cat "$T/dl1")"
diag "gw sent on link a $((a1 - a0)) bytes, on link b $((b1 - b0)) bytes"
check "inbound download from the LAN server is byte-exact" grep -q 'verified=1' "$T/dl1"
check "both links carried it (each >= 20 % of 30 MB)" \
	test $((a1 - a0)) -ge 6000000 -a $((b1 - b0)) -ge 6000000
check "the LAN host saw the Internet client's own address (publish-source client)" \
	grep -q "$SRV_ADDR4:" "$T/lanpeers"

# 2. Link a goes down mid-transfer: the rest goes over link b, byte-exact.
n "$NS_SRV" timeout 60 "$MPBULK" client "$CV_SRV4" 20001 --tcp --download --bytes 40M \
	>"$T/dl2" 2>&1 &
pid=$!
_flowing() { [ "$(tx wanA)" -gt $((a1 + 3000000)) ]; }
wait_for 10 _flowing || diag "link a carried little before the cut"
check "the cut comes mid-transfer" kill -0 "$pid"
link_down A
wait "$pid"
diag "download across the cut: $(cat "$T/dl2")"
check "a link cut mid-transfer: the download still ends byte-exact" grep -q 'verified=1' "$T/dl2"
link_up A --restore

# 3. An IPv6 LAN service (an IPv4 client: the LAN host sees the gateway's address), over IPv4
# and IPv6 to the converter; an unpublished port: nothing listens there, the client is refused.
res=$(tcp_exchange "$NS_SRV" "$CV_SRV4" 20002 hello-v6-lan)
check "a service on an IPv6 LAN address answers ($res)" test "${res#hello-v6-lan}" != "$res"
res=$(tcp_exchange "$NS_SRV" "$CV_SRV6" 20002 hello-over-v6)
check "the public port answers on the converter's IPv6 address too ($res)" \
	test "${res#hello-over-v6}" != "$res"
# a burst of 12 at once against a pool of 4: the others wait for the gateway's refill
pids=()
for i in $(seq 12); do
	tcp_exchange "$NS_SRV" "$CV_SRV4" 20002 "burst-$i" >"$T/burst.$i" 2>/dev/null &
	pids+=($!)
done
wait "${pids[@]}"
check "a burst of 12 inbound connections (pool of 4) is answered in full" \
	bash -c "for i in \$(seq 12); do grep -q \"^burst-\$i\" '$T'/burst.\$i || exit 1; done"
res=$(tcp_exchange "$NS_SRV" "$CV_SRV4" 20003 hello)
check "an unpublished public port is refused ($res)" test "$res" = reset

# 4. A forged key: cpe1's name with another key, from the second CPE's namespace.
bed_start "$NS_GW2" forger timeout 20 "$MPCONVD" gateway --converter "$CV_ADDR4" \
	--intercept=no --publish-source gateway --publish "tcp 20004 to 10.20.0.1:9000" \
	--inbound-name cpe1 --inbound-key "$FORGED" --control-socket "$T/forger.sock"
_refused() { grep -q "as 'cpe1' refused: bad key" "$T/converter.err"; }
check "a registration with a forged key is refused by the converter" wait_for 10 _refused
check "and the forger's port was never opened" bash -c "! ip netns exec $NS_CV ss -ltnH | grep -q ':20004 '"
bed_stop forger

# 5. The second CPE cannot take cpe1's port, nor reach cpe1's LAN through it.
bed_start "$NS_GW2" gw2 "$MPCONVD" gateway --converter "$CV_ADDR4" --intercept=no \
	--publish-source gateway --publish "tcp 20001 to 10.20.0.1:9000" \
	--publish "tcp 20060 to 10.20.0.1:9000" --inbound-name cpe2 --inbound-key "$KEY2" \
	--control-socket "$T/gw2.sock"
_taken() { inbound_json "$NS_GW2" "$T/gw2.sock" | grep -q '"public_port":20001,[^}]*"status":"taken by another CPE"'; }
check "cpe2 registering cpe1's port 20001 is told it is taken" wait_for 10 _taken
check "20001 still leads to cpe1's LAN server (byte-exact)" \
	bash -c "ip netns exec $NS_SRV timeout 20 $MPBULK client $CV_SRV4 20001 --tcp --download --bytes 1M 2>&1 | grep -q verified=1"
res=$(tcp_exchange "$NS_SRV" "$CV_SRV4" 20060 ping-cpe2)
check "cpe2's own port reaches cpe2's service ($res)" test "${res#ping-cpe2}" != "$res"

# 6. A converter that asks for an unpublished LAN destination is refused by the gateway: a fake
# one (python) answers gw2's registration, then asks for cpe1's LAN host.
cat >"$T/fakecv.py" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.20.0.2", 5999)); s.listen(4)
c, _ = s.accept()
c.sendall(bytes([1, 6, 0x22, 0x63, 0xc0, 5, 0, 0]) + b"\x11" * 16)      # challenge
hdr = c.recv(4); body = b""
while len(body) < hdr[1] * 4 - 4: body += c.recv(4096)
c.sendall(bytes([1, 3, 0x22, 0x63, 0xc3, 2, 1, 0, 0, 0, 0, 0]))          # accept: 1 service
lan = b"\0" * 10 + b"\xff\xff" + socket.inet_aton(sys.argv[1])
c.sendall(bytes([1, 11, 0x22, 0x63, 10, 5]) + struct.pack("!H", 8080) + lan +
          bytes([0xc4, 5]) + struct.pack("!H", 4242) + lan)              # open: not published
c.settimeout(5)
try:
    print("reset" if c.recv(10) == b"" else "data")
except ConnectionResetError:
    print("reset")
EOF
bed_start "$NS_CV" fakecv python3 "$T/fakecv.py" "$LAN_ADDR4"
wait_listen "$NS_CV" 10.20.0.2:5999 || bail "fake converter"
bed_stop gw2
bed_start "$NS_GW2" gw3 "$MPCONVD" gateway --converter "$CV_ADDR4" --intercept=no \
	--publish-source gateway --publish "tcp 20060 to 10.20.0.1:9000" --inbound-pool 1 \
	--inbound-converter 10.20.0.2:5999 --inbound-name cpe2 --inbound-key "$KEY2" \
	--control-socket "$T/gw3.sock"
_fake_done() { [ -s "$T/fakecv.out" ]; }
wait_for 10 _fake_done
check "the gateway refuses a request for an unpublished LAN destination ($(cat "$T/fakecv.out"))" \
	bash -c "grep -q reset '$T/fakecv.out' && grep -q 'unpublished destination' '$T/gw3.err'"
bed_stop gw3

# 7. The gateway restarts: the service comes back by itself.
bed_stop gateway
start_gateway "${GW_ARGS[@]}"
_back() { ip netns exec "$NS_SRV" timeout 10 "$MPBULK" client "$CV_SRV4" 20001 --tcp --download --bytes 1M 2>&1 | grep -q verified=1; }
check "after a gateway restart the published service is back" wait_for 20 _back

registrations() { inbound_json "$NS_CV" "$T/cv.sock" | grep -o '"registrations":[0-9]*' | tail -n 1 | cut -d: -f2; }
r0=$(registrations)
n "$NS_GW" "$MPCONVCTL" -s "$T/gw.sock" reload >/dev/null
_renewed() { [ "$(registrations)" -ge $((r0 + 4)) ]; }
check "a gateway reload registers its reverse connections again" wait_for 10 _renewed
check "and the service still answers" wait_for 10 _back

# 8. Counted on the converter.
cvj=$(inbound_json "$NS_CV" "$T/cv.sock")
diag "converter: $cvj"
_cv_json_ok()
{
	python3 -c 'import json, sys
d = json.loads(sys.argv[1])
assert d["sessions_total"] >= 4, d["sessions_total"]
assert [c for c in d["cpes"] if c["name"] == "cpe1" and c["registered"] and c["sessions"] >= 4]
assert [v for v in d["services"] if v["public_port"] == 20001 and v["cpe"] == "cpe1"]' "$cvj"
}
check "mpconvctl -j inbound on the converter: valid JSON, cpe1 registered, its port, >= 4 sessions" \
	_cv_json_ok
_auth_counted()
{
	nq "$NS_CV" curl -s http://127.0.0.1:9124/metrics |
		grep -qE '^mpconv_inbound_auth_failures_total\{[^}]*\} [1-9]'
}
check "/metrics counts auth failures (mpconv_inbound_auth_failures_total >= 1)" _auth_counted
nq "$NS_CV" curl -s http://127.0.0.1:9124/metrics >"$T/cv.metrics"
nq "$NS_GW" curl -s http://127.0.0.1:9124/metrics >"$T/gw.metrics"
check "both roles' /metrics parse strictly with the inbound families" \
	bash -c "python3 '$PROMPARSE' converter '$T/cv.metrics' && python3 '$PROMPARSE' gateway '$T/gw.metrics'"
check "the gateway's /metrics counts inbound sessions" \
	grep -qE '^mpconv_inbound_sessions_total\{role="gateway"\} [1-9]' "$T/gw.metrics"
# 9. The converter restarts: the gateway reconnects (with back-off) and registers again.
bed_stop converter
start_converter --inbound-listen "$CV_ADDR4:5127" --inbound-ports 20000-20099 \
	--inbound-cpe "cpe1 $KEY1 20000-20049" --inbound-cpe "cpe2 $KEY2" \
	--control-socket "$T/cv.sock" --metrics-listen 127.0.0.1:9124 --allow 10.20.0.0/24
check "after a converter restart the published service is back" wait_for 30 _back
gwj=$(inbound_json "$NS_GW" "$T/gw.sock")
diag "gateway: $gwj"
check "mpconvctl inbound on the gateway counts its sessions" \
	test "$(grep -o '"sessions_total":[0-9]*' <<<"$gwj" | cut -d: -f2)" -ge 1
if bed_stop gateway; then ok "the gateway exits 0"; else not_ok "the gateway exits 0"; fi
if bed_stop converter; then ok "the converter exits 0"; else not_ok "the converter exits 0"; fi
check "no sanitizer report in any daemon's log (an ASan build)" \
	bash -c "! grep -l 'Sanitizer\|runtime error' '$T'/*.err"
if [ "$TAP_FAILED" != 0 ]; then
	for f in "$T"/*.err; do
		diag "== ${f##*/}"
		tail -n 12 "$f" | while IFS= read -r l; do diag "$l"; done
	done
fi
