#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The converter's success paths, end to end, with the single-proxy topology:
#
#   host (MPTCP client) ══ link A (100 Mbit/s, 2 ms) ══ cv (mpconvd converter) ──── srv
#                       ══ link B (100 Mbit/s, 4 ms) ══
#
# Bytes are checked with SHA-256 both ways; the mechanism with counters: MPTCP on the client
# leg with a second subflow over link B and no fallback, TFO data accepted, the server's MPTCP
# support reported in the reply, half-close relayed, one log line per session.
source "$(dirname "$0")/lib.sh"
require_bed

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
CONVCLIENT=$MPCONV_BUILD/tools/convclient
TESTSERVER=$BED_TOP/tests/tools/testserver.py
[ -x "$MPCONVD" ] && [ -x "$CONVCLIENT" ] || skip_all "mpconvd/convclient not built in $MPCONV_BUILD"

plan 26

topo_single A:rate=100mbit,delay=2 B:rate=100mbit,delay=4 || bail "topology"
mptcp_multilink || bail "MPTCP endpoints"
bed_sysctl "$NS_CV" net.ipv4.tcp_fastopen=3 || bail "sysctl"

bed_start "$NS_SRV" echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:7000" "[$SRV_ADDR6]:7000"
bed_start "$NS_SRV" sink python3 "$TESTSERVER" --mode sink "$SRV_ADDR4:7001"
bed_start "$NS_SRV" send python3 "$TESTSERVER" --mode send:20000000 "$SRV_ADDR4:7002"
bed_start "$NS_SRV" mptcp-server python3 "$TESTSERVER" --mptcp --mode echo "$SRV_ADDR4:7100"
bed_start "$NS_CV" converter "$MPCONVD" converter --listen "$CV_ADDR4:5124" \
	--listen "[$CV_ADDR6]:5124" --allow 10.10.0.0/16 --allow fd00:10::/32
bed_start "$NS_CV" bare "$MPCONVD" converter --listen "$CV_ADDR4:5125" --allow 10.10.0.0/16 \
	--reply-extended-header=no --workers 1
for port in 7000 7001 7002 7100; do wait_listen "$NS_SRV" $port || bail "server :$port"; done
wait_listen "$NS_CV" 5124 && wait_listen "$NS_CV" 5125 || { dump_state "$NS_CV"; bail "converter"; }

T=$BED_TMP
head -c 4000000 /dev/urandom >"$T/in4m"
head -c 20000000 /dev/urandom >"$T/in20m"
sha() { sha256sum "$1" | cut -d' ' -f1; }
# convert ARGS...: convclient from the host; stdin/stdout are the relayed data, the result line
# lands in $T/line.
convert() { n "$NS_GW" timeout 60 "$CONVCLIENT" "$@" 2>"$T/line"; }
line() { cat "$T/line"; }

nstat_reset "$NS_CV"
nstat_reset "$NS_GW"

# 1-4: TFO request with early data, echoed byte for byte, half-close both ways.
{ printf 'early-'; cat "$T/in4m"; printf 'END\n'; } >"$T/expect"
convert --tfo --early early- "$CV_ADDR4:5124" "$SRV_ADDR4:7000" <"$T/in4m" >"$T/out"
check "TFO request with early data is converted" grep -q 'result=converted' "$T/line"
check "echo through the converter is byte-exact (4 MB, early data first)" \
	test "$(sha "$T/out")" = "$(sha "$T/expect")"
check "client leg is MPTCP" grep -q ' mptcp=1' "$T/line"
check "reply carries an Extended TCP Header; plain-TCP server reported as such" \
	grep -q 'ext_tcp_header=1 server_mptcp=0' "$T/line"
diag "$(line)"

# 5-6: upload 20 MB without TFO; the server reports size and digest of what it got.
convert "$CV_ADDR4:5124" "$SRV_ADDR4:7001" <"$T/in20m" >"$T/got"
check "20 MB upload converted (no TFO)" grep -q 'result=converted' "$T/line"
check "server received the 20 MB byte-exact" \
	test "$(cat "$T/got")" = "GOT 20000000 $(sha "$T/in20m")"

# 7: download 20 MB.
convert "$CV_ADDR4:5124" "$SRV_ADDR4:7002" </dev/null >"$T/down"
python3 -c 'import sys; b=bytes(range(256))*256; sys.stdout.buffer.write((b*(20000000//len(b)+1))[:20000000])' >"$T/expect-down"
check "20 MB download byte-exact" test "$(sha "$T/down")" = "$(sha "$T/expect-down")"

# 8-11: the MPTCP mechanism on the client leg.
check "converter accepted MPTCP connections (MPCapableSYNRX)" \
	test "$(nstat_delta "$NS_CV" MPTcpExtMPCapableSYNRX)" -ge 3
check "a second subflow joined over link B (MPJoinAckRx)" \
	test "$(nstat_delta "$NS_CV" MPTcpExtMPJoinAckRx)" -ge 1
# The converter's own downstream sockets fall back against plain-TCP servers (that is how it
# learns what the server supports): only the passive, client-leg counters must stay at zero.
BED_FALLBACK_COUNTERS=${BED_FALLBACK_COUNTERS/MPTcpExtMPCapableFallbackSYNACK/} \
	check "no MPTCP fallback on the client leg (converter side)" assert_no_fallback "$NS_CV"
check "downstream fallbacks against plain-TCP servers happened and were counted" \
	test "$(nstat_delta "$NS_CV" MPTcpExtMPCapableFallbackSYNACK)" -ge 3
check "no MPTCP fallback on the host" assert_no_fallback "$NS_GW"

# 12: TFO data was accepted in the SYN (else this kernel falls back, see linux-mptcp.md 2a).
check "SYN data accepted by the converter (TCPFastOpenPassive)" \
	test "$(nstat_delta "$NS_CV" TcpExtTCPFastOpenPassive)" -ge 1

# 13-14: plain TCP clients are served too; IPv6 destinations and an IPv6 converter address.
echo plain | convert --tcp "$CV_ADDR4:5124" "$SRV_ADDR4:7000" >"$T/out"
check "plain-TCP client converted and relayed" test "$(cat "$T/out")" = "$(printf 'plain\nEND')"
echo six | convert "[$CV_ADDR6]:5124" "[$SRV_ADDR6]:7000" >"$T/out"
check "IPv6 converter address to IPv6 destination" test "$(cat "$T/out")" = "$(printf 'six\nEND')"

# 15: a server that speaks MPTCP is reported in the Extended TCP Header (MP_CAPABLE).
echo m | convert "$CV_ADDR4:5124" "$SRV_ADDR4:7100" >"$T/out"
check "MPTCP-capable server reported in the reply" grep -q 'server_mptcp=1' "$T/line"
diag "$(line)"

# 16: Info TLV alone: Supported TCP Extensions lists MPTCP (30) and TFO (34).
convert --info "$CV_ADDR4:5124" </dev/null >/dev/null
check "Info answered with Supported TCP Extensions 30,34" grep -q 'supported_ext=30,34' "$T/line"

# 17-18: a converter configured for minimal clients answers with a bare header.
echo bare | convert "$CV_ADDR4:5125" "$SRV_ADDR4:7000" >"$T/out"
check "bare-header reply when reply-extended-header=no" grep -q 'reply_len=4 ext_tcp_header=0' "$T/line"
check "and the relay works behind it" test "$(cat "$T/out")" = "$(printf 'bare\nEND')"

# 19: the independent RFC 8803 client's request (Connect to an IPv4-mapped address plus a
# 6-byte Cookie TLV padded to a word, no Info TLV; tests/unit/torture_interop.c has the same
# golden vector) is answered with a reply that client's parser accepts: version 1, magic 0x2263,
# a Total Length that matches, and only Extended TCP Header (20) or Error (30) TLVs.
req=$(printf '01092263%s%s%s' "0a051b58" "00000000000000000000ffff0a000202" "16030000a1b2c3d4e5f60000")
# (the destination argument only turns the relay on: --raw is what is sent)
echo interop | convert --raw "$req" "$CV_ADDR4:5124" "$SRV_ADDR4:7000" >"$T/out"
reply=$(sed -n 's/.* reply=\([0-9a-f]*\) .*/\1/p' "$T/line")
diag "interop reply: $reply"
accepts() {
	python3 - "$1" <<'PY'
import sys
b = bytes.fromhex(sys.argv[1])
assert len(b) >= 4 and b[0] == 1 and b[2:4] == b"\x22\x63" and b[1] * 4 == len(b), "header"
off = 4
while off < len(b):
    t, l = b[off], b[off + 1] * 4
    assert l and off + l <= len(b) and t == 20, "TLV %d" % t
    off += l
PY
}
check "independent client's request converted; reply in a form it accepts" \
	eval 'grep -q result=converted "$T/line" && accepts "$reply" && test "$(cat "$T/out")" = "$(printf "interop\nEND")"'

# 20-22: one log line per session with bytes, subflows and reason.
wait_for 5 grep -q 'dest=10.0.2.2:7001' "$BED_TMP/converter.err"
upload=$(grep 'dest=10.0.2.2:7001' "$BED_TMP/converter.err" | head -n 1)
diag "$upload"
check "log line counts the upload bytes" grep -q 'up=20000000 ' <<<"$upload"
check "log line shows 2 subflows on the client leg" grep -q 'subflows=2 ' <<<"$upload"
check "log line gives the close reason" grep -q 'reason="closed"' <<<"$upload"

# 24: SIGTERM drains and exits 0 (bed_stop must run in this shell to wait for its child).
if bed_stop converter; then ok "converter exits 0 on SIGTERM"; else not_ok "converter exits 0 on SIGTERM"; fi
check "and says it stopped" grep -q 'converter stopped' "$BED_TMP/converter.err"
totals=$(grep 'totals:' "$BED_TMP/converter.err")
diag "$totals"
# 8 sessions on this instance: 7 relayed (1 plain-TCP client; 1 MPTCP server, 6 plain-TCP
# ones) + 1 Info.
check "totals count sessions, plain-TCP clients and server MPTCP support" \
	grep -q 'sessions=8 relayed=7 client_tcp=1 server_mptcp=1 server_tcp=6 errors=none' <<<"$totals"
