#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# libmpconv.so (LD_PRELOAD): unchanged programs on a multi-homed host reach servers through the
# converter over MPTCP. curl and wget (IPv4, IPv6), a python client with blocking sockets,
# non-blocking ones (EINPROGRESS, poll, SO_ERROR 0), SOCK_NONBLOCK|SOCK_CLOEXEC at creation,
# sendto(MSG_FASTOPEN), and MPCONV_TFO (the request in the SYN). Mechanism: the converter
# relayed each destination, the program's socket is MPTCP with a second subflow over link B,
# the TFO request was taken from the SYN. The converter's refusals come back as the
# errno a direct connect gives: a closed port (Connection Reset) is ECONNREFUSED ("Connection
# refused" from curl), a denied destination (Not Authorized) EACCES, an unroutable one
# (Destination Unreachable, ICMP code 0) ENETUNREACH. Loopback is never converted, and without
# MPCONV_CONVERTER the library does nothing.
#
#   host (programs + LD_PRELOAD) ══ link A (100 Mbit/s, 2 ms) ══ cv (mpconvd converter) ── srv
#                                ══ link B (100 Mbit/s, 4 ms) ══
source "$(dirname "$0")/lib.sh"
require_bed

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
LIB=$MPCONV_BUILD/src/libmpconv.so
[ -x "$MPCONVD" ] && [ -f "$LIB" ] || skip_all "mpconvd/libmpconv.so not built in $MPCONV_BUILD"
command -v curl >/dev/null || skip_all "curl not installed (scripts/install-deps.sh)"

plan 18

topo_single A:rate=100mbit,delay=2 B:rate=100mbit,delay=4 || bail "topology"
mptcp_multilink || bail "MPTCP endpoints"
bed_sysctl "$NS_CV" net.ipv4.tcp_fastopen=3 || bail "sysctl"
T=$BED_TMP
mkdir -p "$T/www"
head -c 3000000 /dev/urandom >"$T/www/file"
sha() { sha256sum "$1" | cut -d' ' -f1; }

bed_start "$NS_SRV" web4 python3 -m http.server --bind "$SRV_ADDR4" --directory "$T/www" 8000
bed_start "$NS_SRV" web6 python3 -m http.server --bind "$SRV_ADDR6" --directory "$T/www" 8000
bed_start "$NS_SRV" echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:7000" "[$SRV_ADDR6]:7000"
bed_start "$NS_GW" loopecho python3 "$TESTSERVER" --mode echo "127.0.0.1:7001"
for a in "$SRV_ADDR4:8000" "[$SRV_ADDR6]:8000" "$SRV_ADDR4:7000" "[$SRV_ADDR6]:7000"; do
	wait_listen "$NS_SRV" "$a" || bail "server $a"
done
wait_listen "$NS_GW" 7001 || bail "loopback echo"
# 10.0.2.9 is denied by the converter; 10.0.9.9 has no route at the converter
start_converter --listen "$CV_ADDR4:5124" --listen "[$CV_ADDR6]:5124" --allow 10.10.0.0/16 \
	--allow fd00:10::/32 --deny-destination 10.0.2.9/32

# pre CMD...: CMD in the host namespace with the library preloaded, converter given
pre() {
	n "$NS_GW" env LD_PRELOAD="$LIB" MPCONV_CONVERTER="$CV_ADDR4:5124" MPCONV_DEBUG=1 \
		timeout 60 "$@"
}
relayed() { grep -c "dest=$1 " "$T/converter.err"; }

# 1-3: curl and wget, IPv4 and IPv6
nstat_reset "$NS_CV"
pre curl -sS -o "$T/c4" "http://$SRV_ADDR4:8000/file" 2>"$T/c4.err"
check "curl IPv4 download byte-exact, through the converter" bash -c "
	[ '$(sha "$T/c4")' = '$(sha "$T/www/file")' ] && grep -q 'libmpconv: fd .* to 10.0.2.2:8000: converted' '$T/c4.err'"
pre curl -sS -o "$T/c6" "http://[$SRV_ADDR6]:8000/file" 2>"$T/c6.err"
check "curl IPv6 download byte-exact, through the converter" bash -c "
	[ '$(sha "$T/c6")' = '$(sha "$T/www/file")' ] && grep -q 'to \[fd00:2::2\]:8000: converted' '$T/c6.err'"
if command -v wget >/dev/null; then
	pre wget -q -O "$T/wg" "http://$SRV_ADDR4:8000/file" 2>"$T/wg.err"
	check "wget download byte-exact, through the converter" bash -c "
		[ '$(sha "$T/wg")' = '$(sha "$T/www/file")' ] && grep -q 'converted' '$T/wg.err'"
else
	skip "wget not installed"
fi

# 4-8: a python client: blocking, non-blocking (connect_ex + poll + SO_ERROR), flags at
# creation, MSG_FASTOPEN, IPv6; each echoes a line through srv's echo server.
cat >"$T/client.py" <<'EOF'
import errno, select, socket, sys

def finish(s, payload, first=b""):
    s.setblocking(True)
    s.settimeout(20)
    if payload:
        s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    out = first
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    proto = s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)
    s.close()
    return out, proto

def run(mode, host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    msg = ("%s\n" % mode).encode()
    if mode == "blocking":
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.connect((host, port))
        out, proto = finish(s, msg)
    elif mode in ("nonblocking", "flags"):
        if mode == "flags":
            s = socket.socket(fam, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        else:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setblocking(False)
        rc = s.connect_ex((host, port))
        assert rc in (0, errno.EINPROGRESS), "connect_ex %d" % rc
        p = select.poll()
        p.register(s, select.POLLOUT)
        assert p.poll(20000), "never writable"
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        assert err == 0, "SO_ERROR %d" % err
        out, proto = finish(s, msg)
    elif mode == "fastopen":
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.sendto(msg, socket.MSG_FASTOPEN, (host, port))
        out, proto = finish(s, b"")
    elif mode == "errno":
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.connect((host, port))
            print("connected")
        except OSError as e:
            print(errno.errorcode.get(e.errno, e.errno))
        return
    else:
        raise SystemExit("mode?")
    print("%s proto=%d ok=%d" % (mode, proto, out == msg + b"END\n"))

run(sys.argv[1], sys.argv[2], int(sys.argv[3]))
EOF
for mode in blocking nonblocking flags fastopen; do
	out=$(pre python3 "$T/client.py" "$mode" "$SRV_ADDR4" 7000 2>"$T/py.err")
	check "python $mode socket: echoed through the converter on an MPTCP socket ($out)" \
		test "$out" = "$mode proto=262 ok=1"
done
out=$(pre python3 "$T/client.py" nonblocking "$SRV_ADDR6" 7000 2>"$T/py.err")
check "python non-blocking IPv6 ($out)" test "$out" = "nonblocking proto=262 ok=1"
check "the converter relayed every echo (v4: 4, v6: 1)" bash -c "
	[ \$(grep -c 'dest=10.0.2.2:7000 ' '$T/converter.err') -ge 4 ] &&
	[ \$(grep -c 'dest=\[fd00:2::2\]:7000 ' '$T/converter.err') -ge 1 ]"

# 10: MPTCP on both links: a second subflow joined at the converter, no fallback
check "second subflows joined over link B (MPJoinAckRx)" \
	test "$(nstat_delta "$NS_CV" MPTcpExtMPJoinAckRx)" -ge 1

# 11: MPCONV_TFO=1: the Convert message rides in the SYN, accepted by the converter's TFO
nstat_reset "$NS_CV"
out=$(n "$NS_GW" env LD_PRELOAD="$LIB" MPCONV_CONVERTER="$CV_ADDR4:5124" MPCONV_TFO=1 \
	timeout 60 python3 "$T/client.py" blocking "$SRV_ADDR4" 7000 2>&1)
check "MPCONV_TFO=1: request in the SYN (TCPFastOpenPassive), echo intact ($out)" bash -c "
	[ '$out' = 'blocking proto=262 ok=1' ] &&
	[ $(nstat_delta "$NS_CV" TcpExtTCPFastOpenPassive) -ge 1 ]"

# 12-13: an IPv6 converter ("[addr]:port", with an IPv4 one in the same list); an excluded
# destination goes direct
out=$(n "$NS_GW" env LD_PRELOAD="$LIB" MPCONV_CONVERTER="$CV_ADDR4,[$CV_ADDR6]:5124" \
	MPCONV_DEBUG=1 timeout 60 python3 "$T/client.py" blocking "$SRV_ADDR6" 7000 2>"$T/v6.err")
check "IPv6 socket through the IPv6 converter ($out)" bash -c "
	[ '$out' = 'blocking proto=262 ok=1' ] && grep -q converted '$T/v6.err' &&
	grep -q 'client=\[fd00:10:' '$T/converter.err'"
before=$(grep -c 'session client=' "$T/converter.err")
out=$(n "$NS_GW" env LD_PRELOAD="$LIB" MPCONV_CONVERTER="$CV_ADDR4:5124" \
	MPCONV_EXCLUDE="192.0.2.0/24,10.0.2.0/28" MPCONV_DEBUG=1 timeout 60 python3 "$T/client.py" \
	blocking "$SRV_ADDR4" 7000 2>"$T/ex.err")
check "MPCONV_EXCLUDE: an excluded destination is connected directly ($out)" bash -c "
	[ '$out' = 'blocking proto=262 ok=1' ] && ! grep -q converted '$T/ex.err' &&
	[ \$(grep -c 'session client=' '$T/converter.err') = $before ]"

# 14-16: refusals become errno
pre curl -sS -o /dev/null "http://$SRV_ADDR4:9/" 2>"$T/refused.err"
check "closed port: curl says Connection refused ($(grep -o 'Connection refused' "$T/refused.err" | head -1))" \
	grep -q 'Connection refused' "$T/refused.err"
out=$(pre python3 "$T/client.py" errno 10.0.2.9 7000 2>/dev/null)
check "destination denied by the converter: EACCES ($out)" test "$out" = EACCES
out=$(pre python3 "$T/client.py" errno 10.0.9.9 7000 2>/dev/null)
check "destination the converter cannot route: ENETUNREACH ($out)" test "$out" = ENETUNREACH

# 17-18: loopback is not converted; no MPCONV_CONVERTER, no conversion
before=$(grep -c 'session client=' "$T/converter.err")
out=$(pre python3 "$T/client.py" blocking 127.0.0.1 7001 2>"$T/lo.err")
check "loopback goes direct ($out)" bash -c "
	[ '$out' = 'blocking proto=262 ok=1' ] && ! grep -q converted '$T/lo.err' &&
	[ \$(grep -c 'session client=' '$T/converter.err') = $before ]"
out=$(n "$NS_GW" env LD_PRELOAD="$LIB" MPCONV_DEBUG=1 timeout 20 python3 "$T/client.py" \
	blocking "$SRV_ADDR4" 7000 2>&1)
check "without MPCONV_CONVERTER the library does nothing ($out)" \
	test "$out" = "blocking proto=6 ok=1"
