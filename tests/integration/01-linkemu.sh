#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 01-linkemu: the link emulator does what the test bed relies on.
#
#   gw ══ link A: to-gw [linkemu in emuA] to-cv ══ cv
#
# - one-way delay: ping RTT within 10 % of twice the delay (10 ms and 25 ms, IPv4 and IPv6),
#   and per-direction delays add up (5 ms up + 30 ms down);
# - jitter: uniform extra delay, RTTs stay inside [2 delay, 2 (delay + jitter)] (95th pct);
# - loss: 10 % each way gives a round-trip ping loss of 1 - 0.9^2 = 19 % within 4 standard
#   deviations of the binomial law, and linkemu's own per-direction counters agree;
# - down/up by signal (SIGUSR1/SIGUSR2) stops and restores forwarding, counted as dropped-down;
# - counters are printed on SIGTERM; a bad interface name exits 2 and names it.
set -u
. "$(dirname "$0")/lib.sh"

require_bed
plan 14

PINGS=50
IVAL=0.02

# rtt_within NS ADDR EXPECTED_MS TOLERANCE_FRACTION: average ping RTT within the tolerance.
rtt_within()
{
	local rtt
	rtt=$(ping_rtt_ms "$1" "$2" "$PINGS" "$IVAL") || { echo "no ping reply from $2"; return 1; }
	echo "rtt to $2: $rtt ms (want $3 ms +-$(awk -v t="$4" 'BEGIN { print t * 100 }')%)"
	fcmp "$rtt" ">=" "$(awk -v e="$3" -v t="$4" 'BEGIN { print e * (1 - t) }')" &&
		fcmp "$rtt" "<=" "$(awk -v e="$3" -v t="$4" 'BEGIN { print e * (1 + t) }')"
}

# binomial_ok LOST N P: LOST of N within N*P +- 4 sd; prints the numbers.
binomial_ok()
{
	awk -v k="$1" -v n="$2" -v p="$3" 'BEGIN {
		m = n * p; sd = sqrt(n * p * (1 - p)); lo = m - 4 * sd; hi = m + 4 * sd
		printf "lost %d of %d (%.2f%%), expected %.1f +- %.1f (4 sd: %.1f..%.1f)\n",
			k, n, n ? 100 * k / n : 0, m, 4 * sd, lo, hi
		exit !(n > 0 && k >= lo && k <= hi) }'
}

topo_pair A:delay=10
topo_describe

check "IPv4 RTT with 10 ms one-way delay is 20 ms +-10%" rtt_within "$NS_GW" "$LINK_A_CV4" 20 0.10
diag "$(ping_rtt "$NS_GW" "$LINK_A_CV4" 20 | awk '{ print "min/avg/max/mdev " $0 " ms" }')"
check "IPv6 RTT with 10 ms one-way delay is 20 ms +-10%" rtt_within "$NS_GW" "$LINK_A_CV6" 20 0.10

link_set A delay=25
check "IPv4 RTT with 25 ms one-way delay is 50 ms +-10%" rtt_within "$NS_GW" "$LINK_A_CV4" 50 0.10
check "IPv6 RTT with 25 ms one-way delay is 50 ms +-10%" rtt_within "$NS_GW" "$LINK_A_CV6" 50 0.10

link_set A delay_up=5,delay_down=30
check "per-direction delays (5 ms up, 30 ms down) add to a 35 ms RTT +-10%" \
	rtt_within "$NS_GW" "$LINK_A_CV4" 35 0.10

# Jitter U[0, 10 ms] each way on 10 ms: RTTs in [20, 40] ms, mean near 30. The top is checked
# on the 95th percentile (+1 ms of processing), so one late wake-up of a busy VM does not count.
jitter_ok()
{
	local stats min avg p95 max
	stats=$(ping_rtt_list "$NS_GW" "$LINK_A_CV4" "$PINGS" "$IVAL" | sort -n | awk '
		{ v[NR] = $1; s += $1 }
		END { if (NR) printf "%s %.3f %s %s\n", v[1], s / NR, v[int(NR * 0.95 + 0.5)], v[NR] }')
	read -r min avg p95 max <<<"$stats"
	echo "jitter RTT min ${min:-?} avg ${avg:-?} p95 ${p95:-?} max ${max:-?} ms" \
		"(want min >= 19.5, p95 <= 41, avg 25..35)"
	fcmp "$min" ">=" 19.5 && fcmp "$p95" "<=" 41 && fcmp "$avg" ">=" 25 && fcmp "$avg" "<=" 35
}
link_set A delay=10,jitter=10
check "10 ms jitter keeps RTTs within [20, 40] ms around a 30 ms mean" jitter_ok

# Loss: 10 % each way, 400 pings; a ping is lost when either direction drops it.
LOSS_PINGS=400
link_set A delay=2,jitter=0,loss=10
loss_pct=$(ping_loss_pct "$NS_GW" "$LINK_A_CV4" "$LOSS_PINGS" "$IVAL")
lost=$(awk -v p="${loss_pct:-100}" -v n="$LOSS_PINGS" 'BEGIN { printf "%d", p * n / 100 + 0.5 }')
check "10% loss each way: round-trip ping loss ~ binomial(400, 0.19)" \
	binomial_ok "$lost" "$LOSS_PINGS" 0.19

# linkemu's own view: each direction dropped ~10 % of what it received.
stats=$(link_stats A)
diag "$stats"
dir_loss_ok()
{
	local line rx dropped
	line=$(grep "linkemu: $1 " <<<"$stats") || return 1
	rx=$(kv rx "$line")
	dropped=$(kv dropped-loss "$line")
	echo "direction $1: $(binomial_ok "$dropped" "$rx" 0.10)"
	binomial_ok "$dropped" "$rx" 0.10 >/dev/null
}
check "linkemu counted ~10% dropped-loss in each direction" \
	eval 'dir_loss_ok ab && dir_loss_ok ba'

# Down and up by signal: nothing passes while down, everything after.
link_set A loss=0
link_cut A
cut_loss=$(ping_loss_pct "$NS_GW" "$LINK_A_CV4" 20 "$IVAL")
diag "ping loss while cut: ${cut_loss:-?}%"
check "SIGUSR1 (link_cut): no ping gets through" fcmp "${cut_loss:-0}" == 100
link_restore A
up_loss=$(ping_loss_pct "$NS_GW" "$LINK_A_CV4" 20 "$IVAL")
diag "ping loss after restore: ${up_loss:-?}%"
check "SIGUSR2 (link_restore): pings get through again" fcmp "${up_loss:-100}" == 0

stats=$(link_stats A)
down_ab=$(kv dropped-down "$(grep 'linkemu: ab ' <<<"$stats")")
diag "$stats"
check "dropped-down counted the 20 pings sent while cut ($down_ab)" fcmp "${down_ab:-0}" ">=" 20

# Started with --down (spec key down=1): cut from the start until SIGUSR2.
link_set A down=1
start_down_ok()
{
	local l1 l2
	l1=$(ping_loss_pct "$NS_GW" "$LINK_A_CV4" 10 "$IVAL")
	link_restore A
	l2=$(ping_loss_pct "$NS_GW" "$LINK_A_CV4" 10 "$IVAL")
	echo "ping loss: ${l1:-?}% while started down, ${l2:-?}% after SIGUSR2"
	fcmp "${l1:-0}" == 100 && fcmp "${l2:-100}" == 0
}
check "--down starts the link cut; SIGUSR2 brings it up" start_down_ok

# SIGTERM: exits 0 and prints its counters last.
bed_stop linkemu-A
rc=$?
last=$(bed_log linkemu-A | tail -n 2)
check "SIGTERM: exit 0 ($rc) with per-direction counters" \
	eval '[ "$rc" -eq 0 ] && grep -q "ab .* forwarded=.* dropped-loss=.* dropped-down=.* dropped-overflow=" <<<"$last" && grep -q "ba .* forwarded=" <<<"$last"'

err=$(n "$LINK_A_NS" "$LINKEMU" nosuch0 to-cv 2>&1)
rc=$?
diag "$err"
check "a bad interface name exits 2 and names it" eval '[ "$rc" -eq 2 ] && grep -q nosuch0 <<<"$err"'

[ "$TAP_FAILED" -eq 0 ] || dump_state "$NS_GW" "$NS_CV"
