#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The other designs the MPTCP working group weighed, on the same daemons:
#  - SOCKS 5 (RFC 1928) as mobile operators deploy it: the converter also serves SOCKS;
#    an MPTCP client uses it directly (single proxy), and the gateway can speak it upstream
#    (greeting, CONNECT and the first bytes pipelined in one segment);
#  - on-path: the converter sits on the routing path and terminates the MPTCP connections
#    that cross it (TPROXY on its access interfaces, MP_JOINs included); the gateway opens
#    MPTCP straight to the server. Plain TCP crossing the converter is routed untouched.
#
#   lan ──── gw (mpconvd gateway, links a, b) ══ A 20 Mbit/s 5 ms ══ cv (mpconvd converter) ──── srv
#                                             ══ B 30 Mbit/s 10 ms ══
source "$(dirname "$0")/lib.sh"
require_bed

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
TESTSERVER=$BED_TOP/tests/tools/testserver.py
[ -x "$MPCONVD" ] || skip_all "mpconvd not built in $MPCONV_BUILD"
command -v nft >/dev/null || skip_all "nft not installed"

plan 16

BED_SRC_ROUTES=0
topo_hybrid A:rate=20mbit,delay=5 B:rate=30mbit,delay=10 || bail "topology"
mptcp_limits "$NS_CV" 8 8 || bail "limits"
bed_start "$NS_SRV" echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:7000" "$SRV_ADDR4:7001"
bed_start "$NS_SRV" bulk "$MPBULK" server -p 5201 --tcp
wait_listen "$NS_SRV" 7001 && wait_listen "$NS_SRV" 5201 || bail "servers"
T=$BED_TMP

# socks NS PROTO HOST PORT [ATYP]: one SOCKS 5 exchange through the converter's SOCKS port;
# prints "method=M reply=R data" (reply R: the SOCKS reply code; data: the echo, | for \n).
socks()
{
	n "$1" timeout 15 python3 - "$2" "$3" "$4" "${5:-ip}" <<'EOF'
import socket, sys
proto, host, port, atyp = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
s.settimeout(8)
s.connect(("10.99.0.1", 1080))
s.sendall(b"\x05\x01\x00")
method = s.recv(2)
if atyp == "name":
    req = b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode() + port.to_bytes(2, "big")
else:
    req = b"\x05\x01\x00\x01" + socket.inet_aton(host) + port.to_bytes(2, "big")
s.sendall(req)
reply = b""
while len(reply) < 10:
    c = s.recv(10 - len(reply))
    if not c:
        break
    reply += c
data = b""
if len(reply) == 10 and reply[1] == 0:
    s.sendall(b"via socks\n")
    s.shutdown(socket.SHUT_WR)
    while True:
        c = s.recv(4096)
        if not c:
            break
        data += c
print("method=%d reply=%d %s" % (method[1] if len(method) == 2 else -1,
      reply[1] if len(reply) >= 2 else -1, data.decode().replace("\n", "|")))
EOF
}

# 1-6: the converter serves SOCKS 5 too (single proxy: the MPTCP host talks to it directly).
bed_start "$NS_CV" converter "$MPCONVD" converter --listen "$CV_ADDR4:5124" \
	--socks-listen "$CV_ADDR4:1080" --allow 10.10.0.0/16 --control-socket none
wait_listen "$NS_CV" 1080 || bail "converter"
out=$(socks "$NS_GW" 262 "$SRV_ADDR4" 7000)
check "SOCKS 5 over MPTCP: CONNECT and echo through the converter ($out)" \
	test "$out" = "method=0 reply=0 via socks|END|"
check "the converter relayed it with an MPTCP client leg" \
	wait_for 3 grep -q 'dest=10.0.2.2:7000 .*client_mptcp=1' "$T/converter.err"
out=$(socks "$NS_GW" 6 "$SRV_ADDR4" 7009)
check "SOCKS: nobody listening -> reply 5, connection refused ($out)" test "$out" = "method=0 reply=5 "
out=$(socks "$NS_GW" 6 "$CV_ADDR4" 5124)
check "SOCKS: the converter itself -> reply 2, not allowed ($out)" test "$out" = "method=0 reply=2 "
out=$(socks "$NS_GW" 6 no-such-host.invalid 80 name)
check "SOCKS: a name the converter cannot resolve -> reply 4, host unreachable ($out)" test "$out" = "method=0 reply=4 "
out=$(socks "$NS_LAN" 6 "$SRV_ADDR4" 7000)
check "SOCKS: a client outside the allow list gets no method ($out)" test "$out" = "method=255 reply=-1 "

# 7-9: the gateway speaks SOCKS 5 upstream: LAN hosts bond through a SOCKS proxy.
bed_start "$NS_GW" gw-socks "$MPCONVD" gateway --converter "$CV_ADDR4:1080" --lan "$LAN_IF_GW" \
	--upstream-protocol socks5 --link "a dev wanA via 10.10.1.2 role primary" \
	--link "b dev wanB via 10.10.2.2" --control-socket none
wait_listen "$NS_GW" 5126 || { dump_state "$NS_GW"; bail "gateway"; }
out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR4" 7000 $'lan\n')
check "gateway over SOCKS 5: LAN echo ($out)" test "$out" = "lan|END|"
n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 10M \
	>"$T/socks-down" 2>&1 &
client=$!
max=$(max_conn_subflows_while "$client" "$NS_GW" '( dport = :1080 )')
wait "$client"
check "gateway over SOCKS 5: a 10 MB download, byte-exact" grep -q 'verified=1' "$T/socks-down"
check "over both links ($max subflows)" test "$max" -eq 2
bed_stop gw-socks
bed_stop converter

# 10-16: on-path. The converter terminates MPTCP crossing its access interfaces.
bed_start "$NS_CV" onpath "$MPCONVD" converter --listen "$CV_ADDR4:5124" --allow 10.10.0.0/16 \
	--transparent-lan accA --transparent-lan accB --control-socket none
wait_listen "$NS_CV" 5125 || { bed_log onpath; bail "on-path converter"; }
check "on-path capture installed (MPTCP SYNs only)" bash -c \
	"ip netns exec '$NS_CV' nft list table inet mpconv | grep -q 'tcp option mptcp missing accept'"
bed_start "$NS_GW" gw-onpath "$MPCONVD" gateway --converter "$CV_ADDR4" --lan "$LAN_IF_GW" \
	--upstream-protocol none --link "a dev wanA via 10.10.1.2 role primary" \
	--link "b dev wanB via 10.10.2.2" --rule "direct port 7001 name plain" --control-socket none
wait_listen "$NS_GW" 5126 || { dump_state "$NS_GW"; bail "gateway"; }
out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR4" 7000 $'onpath\n')
check "on-path: LAN echo ($out)" test "$out" = "onpath|END|"
n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 10M \
	>"$T/onpath-down" 2>&1 &
client=$!
max=$(max_conn_subflows_while "$client" "$NS_GW" '( dport = :5201 )')
wait "$client"
check "on-path: a 10 MB download, byte-exact" grep -q 'verified=1' "$T/onpath-down"
check "over both links: the join on link B was terminated too ($max subflows)" test "$max" -eq 2
check "the converter terminated it (client MPTCP, server TCP)" \
	wait_for 3 grep -q 'dest=10.0.2.2:5201 .*client_mptcp=1' "$T/onpath.err"
out=$(tcp_exchange "$NS_LAN" "$SRV_ADDR4" 7001 $'plain\n')
check "plain TCP crossing the converter is routed, not terminated ($out)" \
	bash -c "[ '$out' = 'plain|END|' ] && ! grep -q 'dest=10.0.2.2:7001' '$T/onpath.err'"
bed_stop gw-onpath
if bed_stop onpath; then ok "on-path converter exits 0 on SIGTERM"; else not_ok "on-path converter exits 0 on SIGTERM"; fi
