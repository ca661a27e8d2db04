#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Host mode (the single-proxy scenario): `mpconvd host` on a multi-homed MPTCP machine carries
# the machine's own outgoing TCP through the converter over both links, with programs unchanged
# (curl, a python urllib download, wget, 20 parallel curls like a browser opening a page).
# Mechanism: the nat output chain exists; the converter relays every download; the download's
# upstream has a subflow on each link; a link failing mid-download loses nothing. What must
# never be captured: the daemon's own connections (a policy-direct connection goes to the same
# server as the programs do: without the SO_MARK skip it would loop through the daemon
# forever), native MPTCP, loopback. Nothing is left behind at exit.
#
#   host (curl, wget, python; mpconvd host) ══ link A (20 Mbit/s, 5 ms)  ══ cv (converter) ── srv
#                                           ══ link B (30 Mbit/s, 10 ms) ══
source "$(dirname "$0")/lib.sh"
require_gateway
command -v curl >/dev/null || skip_all "curl not installed (scripts/install-deps.sh)"

plan 16

topo_single A:rate=20mbit,delay=5 B:rate=30mbit,delay=10 || bail "topology"
mptcp_multilink || bail "MPTCP endpoints"
T=$BED_TMP
mkdir -p "$T/www"
head -c 1000000 /dev/urandom >"$T/www/small"
head -c 25000000 /dev/urandom >"$T/www/big"
sha() { sha256sum "$1" | cut -d' ' -f1; }

bed_start "$NS_SRV" web4 python3 -m http.server --bind "$SRV_ADDR4" --directory "$T/www" 8000
bed_start "$NS_SRV" web6 python3 -m http.server --bind "$SRV_ADDR6" --directory "$T/www" 8000
bed_start "$NS_SRV" direct python3 -m http.server --bind "$SRV_ADDR4" --directory "$T/www" 8001
bed_start "$NS_SRV" native "$MPBULK" server -p 5301
bed_start "$NS_GW" loopweb python3 -m http.server --bind 127.0.0.1 --directory "$T/www" 8002
for a in "$SRV_ADDR4:8000" "[$SRV_ADDR6]:8000" "$SRV_ADDR4:8001" 5301; do
	wait_listen "$NS_SRV" "$a" || bail "server $a"
done
wait_listen "$NS_GW" 8002 || bail "loopback web server"
start_converter
bed_start "$NS_GW" host "$MPCONVD" host --converter "$CV_ADDR4" --rule "direct port 8001"
wait_listen "$NS_GW" 5126 || { dump_state "$NS_GW"; bail "mpconvd host"; }
wait_upstreams 2 || { dump_state "$NS_GW"; bail "the host's pool never filled"; }

# sessions: the host's session log lines so far (one per ended connection)
sessions() { grep -c 'session client=' "$T/host.err"; }
fetch() { n "$NS_GW" timeout 60 curl -sS -o "$@"; }

# 1: the capture is a nat chain on the output hook, skipping the daemon's mark
check "nat output chain redirects to :5126 and skips the daemon's mark" bash -c "
	ip netns exec '$NS_GW' nft list table inet mpconv | grep -q 'type nat hook output' &&
	ip netns exec '$NS_GW' nft list table inet mpconv | grep -q 'meta mark 0x00006d71 return' &&
	ip netns exec '$NS_GW' nft list table inet mpconv | grep -q 'redirect to :5126'"

# 2-5: programs unchanged, IPv4 and IPv6, through the converter
nstat_reset "$NS_CV"
fetch "$T/c4" "http://$SRV_ADDR4:8000/small"
check "curl over IPv4 is byte-exact" test "$(sha "$T/c4")" = "$(sha "$T/www/small")"
fetch "$T/c6" "http://[$SRV_ADDR6]:8000/small"
check "curl over IPv6 is byte-exact" test "$(sha "$T/c6")" = "$(sha "$T/www/small")"
n "$NS_GW" timeout 60 python3 -c "
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=30) as r, open(sys.argv[2], 'wb') as f:
    f.write(r.read())" "http://$SRV_ADDR4:8000/small" "$T/py"
ok_wget=1
if command -v wget >/dev/null; then
	n "$NS_GW" timeout 60 wget -q -O "$T/wg" "http://$SRV_ADDR4:8000/small" || ok_wget=0
	[ "$(sha "$T/wg")" = "$(sha "$T/www/small")" ] || ok_wget=0
fi
check "python urllib and wget downloads are byte-exact" \
	bash -c "[ '$(sha "$T/py")' = '$(sha "$T/www/small")' ] && [ $ok_wget = 1 ]"
check "the converter relayed them (IPv4 and IPv6 destinations)" bash -c "
	[ \$(grep -c 'dest=10.0.2.2:8000' '$T/converter.err') -ge 3 ] &&
	grep -q 'dest=\[fd00:2::2\]:8000' '$T/converter.err'"

# 6: a browser-like burst: 20 parallel fetches, all byte-exact
pids=()
for i in $(seq 1 20); do
	fetch "$T/burst.$i" "http://$SRV_ADDR4:8000/small" &
	pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the bed's daemons are this shell's children too
good=0
for i in $(seq 1 20); do
	[ "$(sha "$T/burst.$i" 2>/dev/null)" = "$(sha "$T/www/small")" ] && good=$((good + 1))
done
check "20 parallel curls all byte-exact ($good/20)" test "$good" = 20

# 7-10: a 25 MB download on both links; link A (the initial subflow's) fails in the middle of
# it: silently (the emulator drops everything), as a radio link losing coverage does. Not
# "ip link set down": that deletes the local route of the link's address, which the program's
# own socket (curl -> the daemon, over lo) uses as its source, so that leg would die whatever
# the upstream does (docs/man/mpconvd.8, HOST MODE).
both_links() { [ "$(conn_subflows "$NS_GW" '( dport = :5124 )')" -ge 2 ]; }
rx_bytes() { nq "$NS_GW" cat "/sys/class/net/$(link_var "$1" IF_GW)/statistics/rx_bytes"; }
a0=$(rx_bytes A)
b0=$(rx_bytes B)
n "$NS_GW" timeout 120 curl -sS -o "$T/big" "http://$SRV_ADDR4:8000/big" &
client=$!
wait_for 10 both_links
sleep 1.5 # let it run on both links before one dies (a schedule, not a wait)
subs=$(conn_subflows "$NS_GW" '( dport = :5124 )')
on_a=$(($(rx_bytes A) - a0))
on_b=$(($(rx_bytes B) - b0))
mid=0
kill -0 "$client" 2>/dev/null && mid=1
link_cut A
wait "$client"
link_restore A
check "the download's upstream had a subflow on each link ($subs)" test "$subs" -ge 2
check "both links carried it (A $on_a bytes, B $on_b bytes)" \
	test "$on_a" -ge 500000 -a "$on_b" -ge 500000
check "second subflows joined at the converter (MPJoinAckRx)" \
	test "$(nstat_delta "$NS_CV" MPTcpExtMPJoinAckRx)" -ge 1
check "link A cut mid-download: 25 MB byte-exact" \
	bash -c "[ $mid = 1 ] && [ '$(sha "$T/big")' = '$(sha "$T/www/big")' ]"

# 11-12: the daemon's own connection is never captured: policy direct for :8001 makes the
# daemon connect to the server itself; exactly one session appears, and it is direct
before=$(sessions)
fetch "$T/d" "http://$SRV_ADDR4:8001/small"
wait_for 5 bash -c "[ \$(grep -c 'session client=' '$T/host.err') -gt $before ]"
check "policy-direct download is byte-exact" test "$(sha "$T/d")" = "$(sha "$T/www/small")"
check "one direct session for it, no loop through the daemon" bash -c "
	[ \$(grep -c 'dest=10.0.2.2:8001' '$T/host.err') = 1 ] &&
	grep 'dest=10.0.2.2:8001' '$T/host.err' | grep -q 'action=direct' &&
	! grep -q 'client=.* dest=127.0.0.1:5126' '$T/host.err'"

# 13-14: native MPTCP and loopback pass untouched
before=$(sessions)
line=$(n "$NS_GW" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5301 --bytes 1M 2>&1)
fetch "$T/lo" "http://127.0.0.1:8002/small"
sleep 0.5 # a session would be logged when it ends; both ended above
check "native MPTCP passes end to end, not captured ($(kv mptcp "$line"))" \
	bash -c "grep -q 'mptcp=1 .*verified=1' <<<'$line' && ! grep -q 'dest=10.0.2.2:5301' '$T/host.err'"
check "loopback is not captured" bash -c "
	[ '$(sha "$T/lo")' = '$(sha "$T/www/small")' ] && [ $(sessions) = $before ]"

# 15-16: clean exit
if bed_stop host; then ok "mpconvd host exits 0 on SIGTERM"; else not_ok "mpconvd host exits 0 on SIGTERM"; fi
check "interception table removed" bash -c "! ip netns exec '$NS_GW' nft list table inet mpconv 2>/dev/null"
