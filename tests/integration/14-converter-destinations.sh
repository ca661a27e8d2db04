#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The converter is never an open proxy, whatever the entrance: every special destination
# (loopback in all its forms, 0/8, 240/4, IPv4 embedded in IPv6, the converter's own addresses,
# one added after start) is refused through the Convert listener and the SOCKS 5 listener, and
# a trap listener on the converter host records zero connections. Then fair limits: one IPv6
# /64 holding idle connections from many addresses cannot lock out another client.
#
#   host ══ link A (unshaped, 1 ms) ══ cv (mpconvd converter, trap on [::]:7777) ──── srv (echo)
source "$(dirname "$0")/lib.sh"
require_bed

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
TOOLS=$BED_TOP/tests/tools
[ -x "$MPCONVD" ] || skip_all "mpconvd not built in $MPCONV_BUILD"

plan 12
T=$BED_TMP

topo_single A:rate=none,delay=1 || bail "topology"
# A default route on the converter, so nothing is kept out by routing alone.
n "$NS_CV" ip route replace default via "$SRV_ADDR4" || bail "default route"
n "$NS_CV" ip -6 route replace default via "$SRV_ADDR6" || bail "default route v6"
bed_start "$NS_SRV" echo python3 "$TOOLS/testserver.py" --mode echo "$SRV_ADDR4:7000"
# The trap: whatever reaches it on any address of the converter host is counted.
bed_start "$NS_CV" trap python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 7777)); s.listen(64)
while True:
    c, a = s.accept()
    print("trapped", a[0], flush=True)
    c.close()'
bed_start "$NS_CV" main "$MPCONVD" converter --listen "[::]:5124" --socks-listen "[::]:1080" \
	--allow 10.10.0.0/16 --allow fd00:10::/32 --control-socket none --max-sessions 100 \
	--max-idle-per-client 32
wait_listen "$NS_SRV" 7000 && wait_listen "$NS_CV" 5124 && wait_listen "$NS_CV" 1080 &&
	wait_listen "$NS_CV" 7777 || { dump_state "$NS_CV"; bail "daemons"; }

# probe ENTRANCE DEST PORT: one request through the Convert or SOCKS entrance from the host;
# prints "error=CODE" (Convert Error TLV), "reply=CODE" (SOCKS) or "echo=TEXT" when relayed.
probe()
{
	n "$NS_GW" timeout 10 python3 - "$1" "$2" "$3" "$CV_ADDR4" <<'EOF'
import socket, struct, sys
entrance, dest, port, cv = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
if ":" in dest:
    raw = socket.inet_pton(socket.AF_INET6, dest)
else:
    raw = bytes(10) + b"\xff\xff" + socket.inet_aton(dest)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.settimeout(5)
s.connect((cv, 1080 if entrance == "socks" else 5124))
def read_all():
    data = b""
    while True:
        try:
            c = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not c:
            break
        data += c
    return data
if entrance == "socks":
    s.sendall(b"\x05\x01\x00" + b"\x05\x01\x00\x04" + raw + struct.pack("!H", port) + b"hi\n")
    s.shutdown(socket.SHUT_WR)
    data = read_all()
    if len(data) < 6:
        print("none")
    elif data[3] != 0:
        print("reply=%d" % data[3])
    else:
        print("echo=" + data[2 + (10 if data[5] == 1 else 22):].decode().strip().replace("\n", "|"))
else:
    s.sendall(struct.pack("!BBHBBH", 1, 6, 0x2263, 10, 5, port) + raw + b"hi\n")
    s.shutdown(socket.SHUT_WR)
    data = read_all()
    if len(data) >= 8 and data[4] == 30:
        print("error=%d" % data[6])
    elif len(data) >= 4:
        print("echo=" + data[data[1] * 4:].decode().strip().replace("\n", "|"))
    else:
        print("none")
EOF
}

# 1-2: the positive path works through both entrances (so a refusal below is a refusal).
check "Convert to the server is relayed" test "$(probe convert "$SRV_ADDR4" 7000)" = "echo=hi|END"
check "SOCKS to the server is relayed" test "$(probe socks "$SRV_ADDR4" 7000)" = "echo=hi|END"

# A new address on the converter host, after start: its own as soon as the kernel has it.
n "$NS_CV" ip addr add 10.77.0.1/32 dev lo || bail "addr add"
wait_for 5 grep -q "own addresses refreshed" "$BED_TMP/main.err" || diag "no refresh logged"

specials="127.0.0.2 127.1.2.3 127.255.255.254 ::ffff:127.0.0.2 ::1 ::127.0.0.1 64:ff9b::7f00:1
2002:7f00:1:: ::ffff:0:7f00:1 0.0.0.1 240.0.0.1 $CV_ADDR4 $CV_ADDR6 $LINK_A_CV4 10.77.0.1"
conv_bad="" socks_bad=""
for d in $specials; do
	c=$(probe convert "$d" 7777) s=$(probe socks "$d" 7777)
	case "$c" in error=1 | error=32) ;; *) conv_bad+=" $d:$c" ;; esac
	[ "$s" = "reply=2" ] || socks_bad+=" $d:$s"
done
s=$(probe socks 127.0.0.2 1080)
[ "$s" = "reply=2" ] || socks_bad+=" 127.0.0.2:1080:$s"
# 3-6
check "Convert: every special destination refused with Malformed (1) or Not Authorized (32)${conv_bad:+ (let through:$conv_bad)}" \
	test -z "$conv_bad"
check "SOCKS: every special destination refused with 'not allowed by ruleset'${socks_bad:+ (let through:$socks_bad)}" \
	test -z "$socks_bad"
check "the trap on the converter host saw no connection" \
	test "$(grep -c trapped "$BED_TMP/trap.out" 2>/dev/null || true)" -eq 0
check "the address added after start is refused as the converter's own" \
	grep -q 'dest=10.77.0.1:7777 .*refusal="destination is the converter itself"' "$BED_TMP/main.err"

diag "$(grep -e 10.77.0.1 -e 'own addresses' "$BED_TMP/main.err" | head -n 4)"

# 7-12: fair limits. 40 addresses of one IPv6 /64 each hold 5 idle connections (200 in all,
# twice max-sessions); the /64 is one client (max-idle-per-client 32) and idle connections
# never take max-sessions, so another client is still served.
for i in $(seq 1 40); do
	n "$NS_GW" ip addr add "fd00:10:1::$(printf %x $((0x1000 + i)))/64" dev "$LINK_A_IF_GW" nodad || bail "v6 addr"
done
n "$NS_GW" python3 - "$CV_ADDR6" "$T/idle-held" "$T/idle-release" >"$T/idle" 2>&1 <<'EOF' &
import os, select, socket, sys, time
cv, held, release = sys.argv[1], sys.argv[2], sys.argv[3]
socks = []
for i in range(1, 41):
    for _ in range(5):
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, 262)
        s.bind(("fd00:10:1::%x" % (0x1000 + i), 0))
        s.connect((cv, 5124))
        socks.append(s)
time.sleep(1)
refused = sum(1 for s in socks if select.select([s], [], [], 0)[0])
print("opened=%d refused=%d" % (len(socks), refused), flush=True)
open(held, "w").write("held\n")
while not os.path.exists(release):
    time.sleep(0.05)
EOF
attacker=$!
wait_file "$T/idle-held" 20 || { diag "$(cat "$T/idle")"; bail "idle attacker"; }
diag "$(cat "$T/idle")"
check "the /64 got at most max-idle-per-client (32) idle connections, the rest refused" \
	grep -q 'opened=200 refused=168' "$T/idle"
ok_runs=0
for i in $(seq 1 10); do
	[ "$(probe convert "$SRV_ADDR4" 7000)" = "echo=hi|END" ] && ok_runs=$((ok_runs + 1))
done
check "another client is served while the /64 holds its idle connections ($ok_runs/10)" \
	test "$ok_runs" -eq 10
check "the refusal says which limit, at warning level" \
	grep -q 'client fd00:10:1::/64: max-idle-per-client reached' "$BED_TMP/main.err"
check "and says it once per interval, not per connection" \
	test "$(grep -c 'max-idle-per-client reached' "$BED_TMP/main.err")" -eq 1
touch "$T/idle-release"
wait "$attacker"
check "every idle connection is released when the client goes" \
	wait_for 10 sh -c "! ip netns exec $NS_CV ss -Htn state established '( sport = :5124 )' | grep -q fd00:10:1::"
check "the converter is still alive" kill -0 "$(bed_pid main)"
