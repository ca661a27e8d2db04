#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Operator access under attack (issue 10): slow clients cannot lock scrapes or mpconvctl out, a
# DNS-rebinding request is refused, and the daemon refuses a configuration someone else could
# have written or one that opens the converter to the whole Internet without saying so.
#
#   one namespace, loopback only:
#     cv: mpconvd converter   control socket $T/cv.sock, metrics on 127.0.0.1:9124
#         holdconns.py        80 idle or 72 dripping HTTP clients from 127.0.0.1..10, 40 on the socket
#         curl, mpconvctl     the operator, from 127.0.0.1 like the slow clients
source "$(dirname "$0")/lib.sh"
require_bed

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
MPCONVCTL=${MPCONVCTL:-$MPCONV_BUILD/tools/mpconvctl}
HOLD=$BED_TOP/tests/tools/holdconns.py
[ -x "$MPCONVD" ] && [ -x "$MPCONVCTL" ] || skip_all "mpconvd/mpconvctl not built in $MPCONV_BUILD"
command -v curl >/dev/null || skip_all "no curl"

plan 20

T=$BED_TMP
NS=$(ns_name cv)
ns_add "$NS" || bail "namespace"
SOCK=$T/cv.sock

# refused NAME CONFIG-FILE|- [FLAGS...]: runs the converter (in the namespace, so a wrongly
# accepted config binds nothing outside), expects exit status 2; its stderr in $T/NAME.err.
refused()
{
	local name=$1 conf=$2 rc=0
	shift 2
	[ "$conf" = - ] || set -- --config "$conf" "$@"
	timeout 10 ip netns exec "$NS" "$MPCONVD" converter --control-socket none "$@" \
		>/dev/null 2>"$T/$name.err" || rc=$?
	cat "$T/$name.err" # check shows it
	[ "$rc" -eq 2 ]
}
# refused_saying NAME CONFIG-FILE|- TEXT [FLAGS...]: refused, with TEXT in the message.
refused_saying()
{
	local name=$1 conf=$2 text=$3
	shift 3
	refused "$name" "$conf" "$@" && grep -qF -- "$text" "$T/$name.err"
}
good_conf() { printf '[converter]\nlisten = 127.0.0.1:5124\nallow = 10.0.0.0/8\n'; }

# 1-5: configuration files only root or the daemon's user can have written.
TMPCONF=$(mktemp /tmp/mpc-cfg.XXXXXX) # right in /tmp: world-writable, sticky
at_cleanup "rm -f '$TMPCONF'"
good_conf >"$TMPCONF"
chmod 600 "$TMPCONF"
check "a config file in /tmp (sticky, world-writable) is refused: exit 2" refused tmp "$TMPCONF"
check "and the message names the file, the directory and why" \
	grep -qF "$TMPCONF: its directory /tmp is writable by group or others (mode 1777)" "$T/tmp.err"
mkdir -m 0775 "$T/shared"
good_conf >"$T/shared/cv.conf"
chmod 600 "$T/shared/cv.conf"
check "a config file in a group-writable directory is refused" \
	refused_saying group "$T/shared/cv.conf" \
	"its directory $T/shared is writable by group or others (mode 0775)"
ln -s "$T/shared/cv.conf" "$T/link.conf"
check "so is a symbolic link to it from a safe directory" \
	refused_saying link "$T/link.conf" "$T/link.conf: its directory $T/shared is writable"
good_conf >"$T/nobody.conf"
chmod 600 "$T/nobody.conf"
chown 65534 "$T/nobody.conf"
check "a config file owned by another user is refused" \
	refused_saying nobody "$T/nobody.conf" \
	"$T/nobody.conf: owned by uid 65534, not root or the daemon's user (uid 0)"

# 6-8: an allow list open to everyone needs allow-any.
printf '[converter]\nlisten = 127.0.0.1:5124\nallow = 10.0.0.0/8, 0.0.0.0/0\n' >"$T/open.conf"
chmod 600 "$T/open.conf"
check "allow = 0.0.0.0/0 without allow-any: exit 2" refused open "$T/open.conf"
check "and the message says what to add" \
	grep -qF "allow: 0.0.0.0/0 admits every IPv4 address on the Internet; set allow-any = yes" "$T/open.err"
check "--allow ::/0 on the command line too" \
	refused_saying open6 - "allow: ::/0 admits every address" --listen 127.0.0.1:5124 --allow ::/0

# 9: the daemon under test: open to all with allow-any (said twice, it runs), metrics with one
# extra Host name.
cat >"$T/cv.conf" <<EOF
[converter]
listen = 127.0.0.1:5124
allow = 0.0.0.0/0
allow-any = yes
control-socket = $SOCK
metrics-listen = 127.0.0.1:9124
metrics-host = status.lan
workers = 1
EOF
chmod 600 "$T/cv.conf"
bed_start "$NS" converter "$MPCONVD" converter --config "$T/cv.conf"
wait_listen "$NS" 9124 && wait_for 5 test -S "$SOCK" || { bed_log converter; bail "converter"; }
check "allow = 0.0.0.0/0 with allow-any = yes starts" kill -0 "$(bed_pid converter)"

code() { n "$NS" curl -s -m 3 -o /dev/null -w '%{http_code}' "$@"; }

# 10-14: DNS rebinding: a page whose name now resolves to 127.0.0.1 asks for /status.json.
check "Host evil.example (rebound to 127.0.0.1) gets 421, no status" \
	test "$(code --resolve evil.example:9124:127.0.0.1 http://evil.example:9124/status.json)" = 421
check "Host: evil.example on 127.0.0.1 gets 421" \
	test "$(code -H 'Host: evil.example' http://127.0.0.1:9124/metrics)" = 421
check "an Origin from another site gets 403" \
	test "$(code -H 'Origin: http://evil.example' http://127.0.0.1:9124/status.json)" = 403
check "localhost, a loopback address, the metrics-host name and our own Origin are answered" \
	eval 'test "$(code http://localhost:9124/metrics)" = 200 &&
	test "$(code -H "Host: [::1]:9124" http://127.0.0.1:9124/metrics)" = 200 &&
	test "$(code --resolve status.lan:9124:127.0.0.1 http://status.lan:9124/status.json)" = 200 &&
	test "$(code -H "Origin: http://127.0.0.1:9124" http://127.0.0.1:9124/status.json)" = 200'
n "$NS" curl -s -m 3 -D "$T/headers" -o /dev/null -H 'Origin: http://127.0.0.1:9124' \
	http://127.0.0.1:9124/status.json
diag "$(tr -d '\r' <"$T/headers")"
check "answers carry nosniff and no-store, and no CORS header" \
	eval 'grep -qi "^X-Content-Type-Options: nosniff" "$T/headers" &&
	grep -qi "^Cache-Control: no-store" "$T/headers" && ! grep -qi "^Access-Control-" "$T/headers"'

# 15-17: 80 idle HTTP clients (more than the 64 slots), 8 from the scraper's own address and
# the rest from ten others, held for 8 s: a scrape still gets through at once, and each idle
# client is closed at the 2 s head deadline (it was 10 s, and the 65th client on was refused).
SRC=127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9,127.0.0.10
n "$NS" python3 "$HOLD" tcp 127.0.0.1:9124 80 8 --from "$SRC" >"$T/idle.out" 2>&1 &
IDLE=$!
wait_for 5 grep -q connected "$T/idle.out" || diag "$(cat "$T/idle.out")"
scrape_s=$(n "$NS" curl -sf -m 3 -o "$T/scrape.txt" -w '%{time_total}' http://127.0.0.1:9124/metrics)
check "a scrape from 127.0.0.1 with 80 idle clients connected is answered (in ${scrape_s:-?} s)" \
	grep -q '^mpconv_sessions_total' "$T/scrape.txt"
wait "$IDLE"
diag "$(cat "$T/idle.out")"
check "every idle client was closed within 4 s (2 s head deadline, or pushed out earlier)" \
	grep -qE "^closed 80 of 80, last after [0-3]\.[0-9] s" "$T/idle.out"
n "$NS" python3 "$HOLD" tcp 127.0.0.1:9124 72 6 --from "$SRC" --drip >"$T/drip.out" 2>&1 &
DRIP=$!
wait_for 5 grep -q connected "$T/drip.out"
sleep 0.5
check "72 clients dripping a request head byte by byte do not block a scrape either" \
	test "$(code http://127.0.0.1:9124/metrics)" = 200
wait "$DRIP"
diag "$(cat "$T/drip.out")"

# 18-20: the control socket: 40 idle clients of root (more than its 32 slots).
ctl() { "$MPCONVCTL" -s "$SOCK" "$@"; }
n "$NS" python3 "$HOLD" unix "$SOCK" 40 6 >"$T/ctl-idle.out" 2>&1 &
CTLIDLE=$!
wait_for 5 grep -q connected "$T/ctl-idle.out" || diag "$(cat "$T/ctl-idle.out")"
check "mpconvctl status answers with 40 idle clients on the socket" \
	eval 'ctl status >"$T/status.txt" && grep -q "^role *converter" "$T/status.txt"'
diag "$(head -n 3 "$T/status.txt")"
wait "$CTLIDLE"
diag "$(cat "$T/ctl-idle.out")"
check "every idle control client was closed within 4 s (2 s head deadline; it was 30 s)" \
	grep -qE "^closed 40 of 40, last after [0-3]\.[0-9] s" "$T/ctl-idle.out"
if bed_stop converter; then ok "converter exits 0 on SIGTERM"; else not_ok "converter exits 0 on SIGTERM"; fi
