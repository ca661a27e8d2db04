#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The on-path converter (design #3) under repeated use: it must tell apart, at every SYN,
# a new MPTCP connection (terminated), an MP_JOIN of one it terminates (delivered to it) and
# anything else (routed on untouched), for the first connection to a port and every later one
# (issue 11: a join listener used to swallow every later SYN to its port).
#
#   lan ──── gw (mpconvd gateway, links a, b) ══ A 20 Mbit/s 5 ms  ══ cv (on-path) ──── srv
#            upstream-protocol none            ══ B 30 Mbit/s 10 ms ══
#
# Mechanism, not only bytes: subflows per terminated connection sampled on cv (both links),
# cv's MPJoinSynRx grows while MismatchPortSynRx and ListenDrops do not (no join SYN dropped,
# fresh ports included), and an nft counter on srv shows no MPTCP option ever reached it on the
# converted ports, while the native port gets MPTCP end to end.
source "$(dirname "$0")/lib.sh"
require_bed

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
[ -x "$MPCONVD" ] || skip_all "mpconvd not built in $MPCONV_BUILD"
command -v nft >/dev/null || skip_all "nft not installed"

plan 30

BED_SRC_ROUTES=0
topo_hybrid A:rate=20mbit,delay=5 B:rate=30mbit,delay=10 || bail "topology"
mptcp_limits "$NS_CV" 8 8 || bail "limits"
mptcp_limits "$NS_SRV" 8 8 || bail "limits"
T=$BED_TMP
PORTS="5201 5202 5203 5204 5205"
for p in $PORTS; do
	bulk_server "$NS_SRV" "$p" -6 --tcp || bail "bulk server $p"
done
bulk_server "$NS_SRV" 7002 || bail "native MPTCP bulk server" # MPTCP: a native server
bed_start "$NS_SRV" echo python3 "$BED_TOP/tests/tools/testserver.py" --mode echo \
	"$SRV_ADDR4:7000" "[$SRV_ADDR6]:7000"
wait_listen "$NS_SRV" 7000 || bail "echo server"
# What the server receives: MPTCP options from elsewhere than the converter's own server leg
# (which asks the server for MPTCP) on the converted ports (must stay 0), MP_JOINs on the
# native port (must grow).
n "$NS_SRV" nft -f - <<'EOF' || bail "server counters"
table inet seen {
	counter converted_mptcp { }
	counter converted_capable6 { }
	counter native_join { }
	chain in {
		type filter hook input priority 0; policy accept;
		ip saddr != 10.0.2.1 tcp dport 5201-5205 tcp option mptcp exists counter name converted_mptcp
		ip6 saddr != fd00:2::1 tcp dport 5201-5205 tcp option mptcp subtype 0 counter name converted_capable6
		ip6 saddr != fd00:2::1 tcp dport 5201-5205 tcp option mptcp exists counter name converted_mptcp
		tcp dport 7002 tcp flags syn / fin,syn,rst,ack tcp option mptcp subtype 1 counter name native_join
	}
}
EOF
seen() { n "$NS_SRV" nft list counter inet seen "$1" | awk '/packets/ { print $2 }'; }

# conns_while PID NS FILTER...: samples cv's subflows every 0.1 s while PID lives; prints the
# highest subflow count seen for each MPTCP connection (by token), one per line.
conns_while()
{
	local pid=$1 ns=$2 f
	f=$(mktemp -p "$T")
	shift 2
	while kill -0 "$pid" 2>/dev/null; do
		ip netns exec "$ns" ss -tniH state established "$@" |
			grep -o 'token:[0-9a-f]*(id:[0-9]*)/[0-9a-f]*' | sed 's/.*\///' | sort |
			uniq -c >>"$f"
		sleep 0.1
	done
	awk '{ if ($1 > m[$2]) m[$2] = $1 } END { for (t in m) print m[t] }' "$f"
}

# downloads NAME COUNT HOST PORT...: COUNT concurrent 3 MB downloads from the LAN host to
# each PORT; results in $T/NAME.*; prints the per-connection subflow maxima seen on cv.
# DL_NS / DL_PROTO: another client namespace, "--tcp" (the default) or "" for MPTCP.
DL_NS=
DL_PROTO=--tcp
downloads()
{
	local name=$1 count=$2 host=$3 i p filter="" pid
	shift 3
	for p in "$@"; do
		filter="${filter:+$filter or }sport = :$p"
	done
	(
		for p in "$@"; do
			for i in $(seq "$count"); do
				n "${DL_NS:-$NS_LAN}" timeout 60 "$MPBULK" client "$host" "$p" \
					$DL_PROTO --download --bytes 3M >"$T/$name.$p.$i" 2>&1 &
			done
		done
		wait
	) &
	pid=$!
	conns_while "$pid" "$NS_CV" "( $filter )"
	wait "$pid"
}

# all_ok NAME N: N result files of NAME, each verified; otherwise the failures, as diag lines.
all_ok()
{
	local f
	[ "$(cat "$T/$1".* | grep -c 'verified=1')" -eq "$2" ] && return 0
	for f in $(grep -L 'verified=1' "$T/$1".*); do
		echo "${f##*/}: $(tr '\n' ' ' <"$f")"
	done
	grep 'session ' "$T/onpath.err" | grep -v 'reason="closed"' | tail -n 5
	return 1
}
# all_bonded N: N connections seen on cv, each with 2 subflows (reads stdin).
all_bonded() { local c; c=$(grep -c '^2$'); [ "$c" -eq "$1" ]; }
counter_is() { [ "$(nstat_delta "$NS_CV" "$1")" -eq "$2" ]; }

# 1-2: the converter, with port 7002 left to native MPTCP.
bed_start "$NS_CV" onpath "$MPCONVD" converter --listen "$CV_ADDR4:5124" --allow 10.10.0.0/16 \
	--allow fd00:10::/32 --transparent-lan accA --transparent-lan accB --transparent-native-port 7002 \
	--control-socket none
wait_listen "$NS_CV" 5125 || { bed_log onpath; bail "on-path converter"; }
check "transparent listeners on loopback only (a socket lookup by address cannot find them)" \
	bash -c "ss=\$(ip netns exec '$NS_CV' ss -ltnH 'sport = :5125');
		 grep -q '127.0.0.1:5125' <<<\"\$ss\" && grep -q '\[::1\]:5125' <<<\"\$ss\" &&
		 ! grep -Eq '(\*|0\.0\.0\.0|\[::\]):5125' <<<\"\$ss\""
check "nflog notices on (join listeners open at the MP_CAPABLE SYN)" \
	bash -c "ip netns exec '$NS_CV' nft list table inet mpconv | grep -q 'log group'"
bed_start "$NS_GW" gw "$MPCONVD" gateway --converter "$CV_ADDR4" --lan "$LAN_IF_GW" \
	--upstream-protocol none --link "a dev wanA via 10.10.1.2 role primary" \
	--link "b dev wanB via 10.10.2.2" --control-socket none
wait_listen "$NS_GW" 5126 || { dump_state "$NS_GW"; bail "gateway"; }

# 3-6: a fresh port: the first join is taken at once, no SYN dropped or refused.
nstat_reset "$NS_CV"
conns=$(downloads first 1 "$SRV_ADDR4" 5201)
check "fresh port: a 3 MB download, byte-exact" all_ok first 1
check "fresh port: over both links ($(echo $conns) subflows)" all_bonded 1 <<<"$conns"
check "fresh port: the join reached its listener (MPJoinSynRx $(nstat_delta "$NS_CV" MPTcpExtMPJoinSynRx))" \
	test "$(nstat_delta "$NS_CV" MPTcpExtMPJoinSynRx)" -ge 1
check "fresh port: no join dropped (MismatchPortSynRx $(nstat_delta "$NS_CV" MPTcpExtMismatchPortSynRx), ListenDrops $(nstat_delta "$NS_CV" TcpExtListenDrops))" \
	bash -c "[ $(nstat_delta "$NS_CV" MPTcpExtMismatchPortSynRx) -eq 0 ] && [ $(nstat_delta "$NS_CV" TcpExtListenDrops) -eq 0 ]"

# 7-8: the mechanism behind it, made deterministic: a port's join listener exists as soon as
# its first MP_CAPABLE SYN crossed, before the connection is even established (here the
# client's third ACK is held back on gw, so the converter cannot accept it yet).
n "$NS_GW" nft -f - <<'EOF2' || bail "hold table"
table inet hold {
	chain out {
		type filter hook output priority 0; policy accept;
		tcp dport 5299 tcp flags & ack != 0 drop
	}
}
EOF2
n "$NS_GW" timeout 4 "$MPBULK" client "$SRV_ADDR4" 5299 --download --bytes 1K >/dev/null 2>&1 &
held=$!
check "join listener of a fresh port open while its first connection is still SYN_RECV" \
	wait_for 3 bash -c "ip netns exec '$NS_CV' ss -tnH state syn-recv 'sport = :5299' | grep -q . &&
			    ip netns exec '$NS_CV' ss -ltnH 'sport = :5299' | grep -q '127.0.0.1:5299'"
check "and that connection was not accepted yet" bash -c "! grep -q ':5299 ' '$T/onpath.err'"
n "$NS_GW" nft delete table inet hold
kill "$held" 2>/dev/null
wait "$held" 2>/dev/null

# 9-12: the same port again, one after the other, then four at once.
ok_seq=0 bonded_seq=0
for i in 1 2 3 4; do
	conns=$(downloads "seq$i" 1 "$SRV_ADDR4" 5201)
	all_ok "seq$i" 1 && ok_seq=$((ok_seq + 1))
	all_bonded 1 <<<"$conns" && bonded_seq=$((bonded_seq + 1))
done
check "same port, 4 sequential downloads: $ok_seq byte-exact" test "$ok_seq" -eq 4
check "same port, sequential: $bonded_seq of 4 over both links" test "$bonded_seq" -eq 4
conns=$(downloads conc 4 "$SRV_ADDR4" 5201)
check "same port, 4 concurrent downloads, byte-exact" all_ok conc 4
check "same port, concurrent: each over both links ($(echo $conns))" all_bonded 4 <<<"$conns"

# 13-14: many ports at once, each fresh.
conns=$(downloads ports 2 "$SRV_ADDR4" 5202 5203 5204 5205)
check "4 fresh ports x 2 concurrent downloads, byte-exact" all_ok ports 8
check "many ports: each over both links ($(echo $conns))" all_bonded 8 <<<"$conns"

# 15-18: plain TCP from a host the gateway does not serve (gw itself) is routed untouched, to a
# port in use (while a terminated download holds its join listener) and to an unused one.
n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5201 --tcp --download --bytes 6M \
	>"$T/hold.1" 2>&1 &
hold=$!
wait_for 5 bash -c "ip netns exec '$NS_CV' ss -ltnH 'sport = :5201' | grep -q 127.0.0.1" ||
	diag "no join listener on 5201 during the hold download"
before=$(grep -c 'dest=10.0.2.2:5201 ' "$T/onpath.err")
out=$(bulk_client "$NS_GW" "$SRV_ADDR4" 5201 --tcp --download --bytes 2M)
check "plain TCP from a non-customer to a port in use: routed, byte-exact ($out)" \
	bash -c "grep -q 'verified=1' <<<'$out' && grep -q 'mptcp=0' <<<'$out'"
out=$(tcp_exchange "$NS_GW" "$SRV_ADDR4" 7000 $'plain\n')
check "plain TCP from a non-customer to an unused port: routed ($out)" test "$out" = "plain|END|"
wait "$hold"
check "the LAN download meanwhile: byte-exact" all_ok hold 1
check "the converter terminated only the LAN download, not the non-customer's" \
	test "$(grep -c 'dest=10.0.2.2:5201 ' "$T/onpath.err")" -eq $((before + 1))

# 19-20: the server never saw an MPTCP option on the converted ports; no join went astray.
check "the server saw plain TCP only on the converted ports ($(seen converted_mptcp) MPTCP packets)" \
	test "$(seen converted_mptcp)" -eq 0
check "no join SYN dropped in all (MPJoinSynRx $(nstat_delta "$NS_CV" MPTcpExtMPJoinSynRx), MismatchPortSynRx $(nstat_delta "$NS_CV" MPTcpExtMismatchPortSynRx), ListenDrops $(nstat_delta "$NS_CV" TcpExtListenDrops))" \
	bash -c "[ $(nstat_delta "$NS_CV" MPTcpExtMPJoinSynRx) -ge 18 ] &&
		 [ $(nstat_delta "$NS_CV" MPTcpExtMismatchPortSynRx) -eq 0 ] &&
		 [ $(nstat_delta "$NS_CV" TcpExtListenDrops) -eq 0 ]"

# 21-22: native MPTCP (transparent-native-port 7002): end to end, joins included.
out=$(bulk_client "$NS_LAN" "$SRV_ADDR4" 7002 --tcp --download --bytes 3M)
check "native port: download byte-exact ($out)" grep -q 'verified=1' <<<"$out"
check "native port: the server got MPTCP and the join itself ($(seen native_join) joins; $(grep -o 'mptcp=[01] subflows=[0-9]*' "$T/mpbulk-7002.out" | tail -1)), cv no session" \
	bash -c "[ $(seen native_join) -ge 1 ] && grep -q 'mptcp=1' '$T/mpbulk-7002.out' &&
		 ! grep -q 'dest=10.0.2.2:7002' '$T/onpath.err'"

# 23: link B cut in the middle of a transfer, then restored.
n "$NS_LAN" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5203 --tcp --download --bytes 10M \
	>"$T/cut.1" 2>&1 &
client=$!
sleep 1
link_cut B
sleep 1.5
link_restore B
wait "$client"
check "link B cut mid-transfer: the download completes byte-exact ($(grep -o 'seconds=[0-9.]*' "$T/cut.1"))" \
	all_ok cut 1

# 24: join listeners do not outlive their port's sessions (5 s grace).
check "join listeners closed once their ports' sessions ended" \
	wait_for 12 bash -c "! ip netns exec '$NS_CV' ss -ltnH | grep -Eq '(127.0.0.1|\[::1\]):(520[1-5])'"

# 25-27: IPv6, same port twice, from an MPTCP host on the links (the gateway opens its
# upstream connections from its links' IPv4 addresses only): the kernel PM joins link B.
bed_stop gw
bed_sysctl "$NS_GW" net.mptcp.path_manager=kernel net.mptcp.pm_type=0
ip -n "$NS_GW" mptcp endpoint flush
mptcp_endpoint_add "$NS_GW" "$LINK_B_GW6" "$LINK_B_IF_GW" subflow && mptcp_limits "$NS_GW" 8 8 &&
	ip -n "$NS_GW" -6 rule add from "$LINK_B_GW6" lookup 102 pref 102 &&
	ip -n "$NS_GW" -6 route replace default via "$LINK_B_CV6" dev "$LINK_B_IF_GW" table 102 ||
	bail "IPv6 host setup"
DL_NS=$NS_GW DL_PROTO=
conns=$(downloads six 2 "$SRV_ADDR6" 5201)
check "IPv6: 2 concurrent MPTCP downloads through the converter, byte-exact" all_ok six 2
check "IPv6: terminated, each over both links ($(echo $conns))" \
	bash -c "grep -q 'dest=\[fd00:2::2\]:5201 .*client_mptcp=1' '$T/onpath.err' && [ \$(grep -c '^2$' <<<'$conns') -eq 2 ]"
# The kernel path manager of the IPv6 host sends its joins the moment its connection is up;
# under load one can beat the join listener's nflog notice and be routed on (the server resets
# it, the client's path manager tries again): no connection's MPTCP reaches the server.
check "IPv6: the server saw plain TCP: no MP_CAPABLE reached it ($(seen converted_capable6); MPTCP packets in all: $(seen converted_mptcp))" \
	test "$(seen converted_capable6)" -eq 0

# 28-30: SIGTERM in the middle of a transfer: new connections stop being diverted, the live
# one keeps reaching the converter and drains, then the converter exits and its table goes.
n "$NS_GW" timeout 60 "$MPBULK" client "$SRV_ADDR4" 5202 --download --bytes 8M >"$T/drain.1" 2>&1 &
client=$!
wait_for 5 bash -c "ip netns exec '$NS_CV' ss -tnH state established 'sport = :5202' | grep -q ." ||
	diag "the drain download did not start"
if bed_stop onpath; then ok "on-path converter exits 0 on SIGTERM"; else not_ok "on-path converter exits 0 on SIGTERM"; fi
wait "$client"
check "the transfer cut by SIGTERM drained byte-exact" all_ok drain 1
check "its table is gone" bash -c "! ip netns exec '$NS_CV' nft list table inet mpconv 2>/dev/null"
if [ "$TAP_FAILED" != 0 ]; then
	grep -E 'on-path|warn' "$T/onpath.err" | head -20 | while read -r l; do diag "$l"; done
fi
