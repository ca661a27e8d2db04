#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SOCKS 5 with host names (ATYP 3: curl --socks5-hostname, proxychains' proxy_dns, phones): the
# converter resolves them off its loops (the system's resolver: here the converter namespace's
# own /etc/hosts, never Internet DNS), applies the destination policy to the address, keeps
# answers in a cache, and answers a name it cannot resolve with reply 4 (host unreachable).
#
#   host (curl) ══ link A ══ cv (mpconvd converter, SOCKS :1080) ──── srv (HTTP :8080)
#               ══ link B ══
#   cv's /etc/hosts: srv.test -> 10.0.2.2, loop.test -> 127.0.0.1
source "$(dirname "$0")/lib.sh"
require_bed

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
[ -x "$MPCONVD" ] || skip_all "mpconvd not built in $MPCONV_BUILD"
command -v curl >/dev/null || skip_all "curl missing"

plan 7

topo_single A:delay=2 B:delay=4 || bail "topology"
T=$BED_TMP
# `ip netns exec` mounts /etc/netns/NAME/hosts over /etc/hosts for what it runs.
mkdir -p "/etc/netns/$NS_CV" || bail "/etc/netns"
at_cleanup "rm -rf '/etc/netns/$NS_CV'"
printf '%s srv.test\n127.0.0.1 loop.test\n' "$SRV_ADDR4" >"/etc/netns/$NS_CV/hosts"

mkdir -p "$T/www"
head -c 3000000 /dev/urandom >"$T/www/blob"
bed_start "$NS_SRV" web python3 -m http.server --bind "$SRV_ADDR4" --directory "$T/www" 8080
bed_start "$NS_CV" converter "$MPCONVD" converter --listen "$CV_ADDR4:5124" \
	--socks-listen "$CV_ADDR4:1080" --allow 10.10.0.0/16 --metrics-listen 9124 \
	--control-socket none --log-level debug
wait_listen "$NS_SRV" 8080 && wait_listen "$NS_CV" 1080 || bail "servers"

# get NAME: one download through the converter's SOCKS port, the name resolved there
get() { n "$NS_GW" curl -sS -m 20 --socks5-hostname "$CV_ADDR4:1080" -o "$T/got" "http://$1:8080/blob" 2>"$T/curl.err"; }
metric() { n "$NS_CV" curl -sf http://127.0.0.1:9124/metrics | awk -v k="$1" '$1 == k { print $2 }'; }

get srv.test && rc=0 || rc=$?
diag "$(cat "$T/curl.err"; grep 'session\|SOCKS' "$T/converter.err")"
check "curl --socks5-hostname srv.test: byte-exact (rc $rc)" cmp -s "$T/got" "$T/www/blob"
check "the converter resolved the name itself" grep -q 'debug: SOCKS: srv.test is 10.0.2.2' "$T/converter.err"
get srv.test && rc=0 || rc=$?
check "again: byte-exact, the answer from the cache (resolved 1, cached 1)" \
	eval 'cmp -s "$T/got" "$T/www/blob" && [ "$(metric "mpconv_socks_name_lookups_total{role=\"converter\",result=\"resolved\"}")" = 1 ] && [ "$(metric "mpconv_socks_name_lookups_total{role=\"converter\",result=\"cached\"}")" = 1 ]'

get nosuch.invalid && rc=0 || rc=$?
diag "$(cat "$T/curl.err")"
check "an unknown name: SOCKS reply 4, host unreachable (curl exit $rc)" \
	eval '[ $rc -ne 0 ] && grep -q "(4)" "$T/curl.err" && grep -q "code=host_unreachable" "$T/converter.err"'
check "counted as a failed lookup" \
	test "$(metric "mpconv_socks_name_lookups_total{role=\"converter\",result=\"failed\"}")" = 1

# A name is no way around the destination policy: loopback stays refused (reply 2).
get loop.test && rc=0 || rc=$?
diag "$(cat "$T/curl.err")"
check "a name resolving to loopback: refused by the destination policy (reply 2, curl exit $rc)" \
	eval '[ $rc -ne 0 ] && grep -q "(2)" "$T/curl.err" && [ "$(metric "mpconv_destinations_refused_total{role=\"converter\",reason=\"special-address\"}")" = 1 ]'
# a lookup's thread and its queue end with the daemon (an ASan build checks for leaks here)
if bed_stop converter; then ok "converter exits 0 on SIGTERM"; else not_ok "converter exits 0 on SIGTERM"; fi
