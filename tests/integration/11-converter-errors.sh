#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every RFC 8803 error the converter sends, each produced by its real cause, plus the client
# ACL and the destination filter; the converter must stay up through all of it.
#
#   host ══ link A ══ cv (mpconvd converter, several instances) ──── srv (servers, nft rules)
#
# Raw requests are hex: header "01 LL 22 63" (LL = words), then TLVs "TT LL ...".
source "$(dirname "$0")/lib.sh"
require_bed

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
CONVCLIENT=$MPCONV_BUILD/tools/convclient
TESTSERVER=$BED_TOP/tests/tools/testserver.py
[ -x "$MPCONVD" ] && [ -x "$CONVCLIENT" ] || skip_all "mpconvd/convclient not built in $MPCONV_BUILD"
command -v nft >/dev/null || skip_all "nft not installed"

plan 23

topo_single A:rate=100mbit,delay=1 || bail "topology"
bed_sysctl "$NS_CV" net.ipv4.tcp_fastopen=3 || bail "sysctl"

# srv: port 9 silently drops SYNs, 9998 answers ICMP admin-prohibited, 7000 echoes.
n "$NS_SRV" nft -f - <<'NFT' || bail "nft rules"
table ip mpc_test {
	chain input {
		type filter hook input priority 0;
		tcp dport 9 drop
		tcp dport 9998 reject with icmp type admin-prohibited
	}
}
NFT
bed_start "$NS_SRV" echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:7000"

allow="--allow 10.10.0.0/16 --allow fd00:10::/32"
# :5124 the main instance; :5125 requires cookies; :5126 allows only link B's prefix (so this
# host, on link A, is refused); :5127 tight limits, plain-TCP downstream, short timeouts.
bed_start "$NS_CV" main "$MPCONVD" converter --listen "$CV_ADDR4:5124" $allow \
	--deny-destination 10.0.2.128/25
bed_start "$NS_CV" cookies "$MPCONVD" converter --listen "$CV_ADDR4:5125" $allow --cookies
bed_start "$NS_CV" acl "$MPCONVD" converter --listen "$CV_ADDR4:5126" --allow 10.10.2.0/24
bed_start "$NS_CV" tight "$MPCONVD" converter --listen "$CV_ADDR4:5127" $allow \
	--max-idle-per-client 1 --connect-timeout 500ms --downstream-mptcp=no --log-level debug
for p in 5124 5125 5126 5127; do wait_listen "$NS_CV" $p || { dump_state "$NS_CV"; bail "converter :$p"; }; done
wait_listen "$NS_SRV" 7000 || bail "echo server"

T=$BED_TMP
# request PORT DEST|- [convclient options...]: one request to instance PORT (to DEST, or none
# with -); the result line lands in $T/line.
request() {
	local port=$1 dest=$2
	shift 2
	[ "$dest" = - ] && dest=
	n "$NS_GW" timeout 20 "$CONVCLIENT" --no-relay "$@" "$CV_ADDR4:$port" $dest \
		</dev/null >/dev/null 2>"$T/line"
	diag "$(cat "$T/line")"
}
# expect_error CODE VALUE DESC: the last reply was an Error TLV with that code (and value prefix).
expect_error() {
	check "$3" grep -Eq "result=error code=$1 .*value=$2" "$T/line"
}
# Connect TLV for 10.0.2.2 (IPv4-mapped) port 0x1f90 (8080), as hex, with options appended.
V4MAPPED_SRV="00000000000000000000ffff0a000202"
V4MAPPED_LO="00000000000000000000ffff7f000001"

request 5124 - --raw 02012263
expect_error 0 01 "Unsupported Version, listing version 1"
request 5124 - --raw 01010000
expect_error 1 "" "Malformed Message: bad magic number"
request 5124 - --raw 01002263
expect_error 1 "" "Malformed Message: Total Length 0"
request 5124 - --raw 010222630a000000
expect_error 1 "" "Malformed Message: TLV length 0"
request 5124 - --raw 010322630101000001010000
expect_error 1 "" "Malformed Message: duplicate TLV"
request 5124 - --raw "010622630a050050${V4MAPPED_LO}"
expect_error 1 "" "Malformed Message: Connect to loopback"
request 5124 - --raw 0102226332010000
expect_error 2 "" "Unsupported Message: unknown TLV type"
request 5124 - --raw "010722630a061f90${V4MAPPED_SRV}1d040000"
expect_error 33 1d "Unsupported TCP Option: TCP-AO (29) named"

request 5125 "$SRV_ADDR4:7000"
expect_error 3 "" "Missing Cookie when the converter requires one"
cookie=$(grep -o 'cookie=[0-9a-f]*' "$T/line" | cut -d= -f2)
check "a fresh cookie rides with Missing Cookie" test -n "$cookie"
request 5125 "$SRV_ADDR4:7000" --cookie "$cookie"
check "the cookie is accepted on the next request" grep -q 'result=converted' "$T/line"
last=${cookie: -2}
forged=${cookie:0:${#cookie}-2}$(printf '%02x' $(((0x$last + 1) % 256)))
request 5125 "$SRV_ADDR4:7000" --cookie "$forged"
expect_error 32 "" "Not Authorized: forged cookie"

request 5126 "$SRV_ADDR4:7000"
expect_error 32 "" "Not Authorized: client outside the allow list"
request 5124 10.0.2.200:80
expect_error 32 "" "Not Authorized: destination in a deny-destination range"
request 5124 "$CV_ADDR4:22"
expect_error 32 "" "Not Authorized: destination is the converter itself"
request 5124 "[fe80::1]:80"
expect_error 32 "" "Not Authorized: link-local destination"

# Resource Exceeded: one idle connection (no Convert message yet) is all :5127 allows.
n "$NS_GW" timeout 10 python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], 5127)); print("held", flush=True); time.sleep(3)' \
	"$CV_ADDR4" >"$T/held" 2>&1 &
holder=$!
wait_file "$T/held" 5
# A second client that is idle too (it sends nothing: one whose request is already there at
# accept is never idle) is refused at once with Resource Exceeded.
n "$NS_GW" timeout 10 python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 5127)); s.settimeout(5)
d = s.recv(64)
print("result=error code=%d value=" % d[6] if len(d) >= 8 and d[4] == 30 else "result=none")' \
	"$CV_ADDR4" >"$T/line" 2>&1
expect_error 64 "" "Resource Exceeded: max-idle-per-client reached"
wait "$holder" 2>/dev/null # it lets go after 3 s; then the converter frees its idle slot
# (closed without a byte, like a gateway's pooled connection retired: said at debug level only)
wait_for 5 grep -q 'debug: session .*end=unused reason="closed unused' "$BED_TMP/tight.err" ||
	bail "the held idle connection was never closed"

request 5127 "$SRV_ADDR4:9"
expect_error 65 "" "Network Failure: server silent past connect-timeout"
request 5124 "$SRV_ADDR4:9999"
expect_error 96 "" "Connection Reset: server answered the SYN with a RST"
request 5124 10.200.0.1:80
expect_error 97 00 "Destination Unreachable: no route (code 0, net unreachable)"
request 5127 "$SRV_ADDR4:9998"
expect_error 97 0d "Destination Unreachable: ICMP code 13 (admin prohibited) passed on"

echo still-here | n "$NS_GW" timeout 10 "$CONVCLIENT" "$CV_ADDR4:5124" "$SRV_ADDR4:7000" >"$T/out" 2>"$T/line"
check "the converter still serves after all of that" test "$(cat "$T/out")" = "$(printf 'still-here\nEND')"
status=
for name in main cookies acl tight; do
	bed_stop "$name"
	status+=" $name=$?"
done
check "every instance exited 0 on SIGTERM ($status )" \
	test "$status" = " main=0 cookies=0 acl=0 tight=0"
