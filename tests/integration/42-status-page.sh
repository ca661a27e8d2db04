#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The live status page, in Debian's headless Chromium, against a converter relaying an upload:
#
#   host (MPTCP client) ══ link A (10 Mbit/s, 5 ms)  ══ cv (mpconvd converter) ──── srv
#                       ══ link B (10 Mbit/s, 10 ms) ══     http://127.0.0.1:9124/ (chromium in cv)
#
# The page is served from the binary with no external resource; in the browser it polls
# /status.json, draws the throughput of both access links from live data (the body's
# data-samples and data-last-mbps say what was drawn), lists the links and the session with its
# two subflows; a screenshot is produced and kept as build/status-page.png.
source "$(dirname "$0")/lib.sh"
require_bed

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
MPCONVCTL=${MPCONVCTL:-$MPCONV_BUILD/tools/mpconvctl}
CONVCLIENT=$MPCONV_BUILD/tools/convclient
TESTSERVER=$BED_TOP/tests/tools/testserver.py
[ -x "$MPCONVD" ] && [ -x "$CONVCLIENT" ] && [ -x "$MPCONVCTL" ] ||
	skip_all "mpconvd/convclient/mpconvctl not built in $MPCONV_BUILD"
# The test's own dependency step (idempotent; apt is only touched when something is missing).
bash "$BED_TOP/scripts/install-deps.sh" >/dev/null 2>&1 || true
CHROMIUM=$(command -v chromium || command -v chromium-browser) || skip_all "chromium not installed"

plan 12

topo_single A:rate=10mbit,delay=5 B:rate=10mbit,delay=10 || bail "topology"
mptcp_multilink || bail "MPTCP endpoints"
bed_sysctl "$NS_CV" net.ipv4.tcp_fastopen=3 || bail "sysctl"

T=$BED_TMP
URL=http://127.0.0.1:9124/
bed_start "$NS_SRV" sink python3 "$TESTSERVER" --mode sink "$SRV_ADDR4:7001"
bed_start "$NS_CV" converter "$MPCONVD" converter --listen "$CV_ADDR4:5124" --allow 10.10.0.0/16 \
	--control-socket "$T/cv.sock" --metrics-listen 9124 --workers 2
wait_listen "$NS_SRV" 7001 || bail "server"
wait_listen "$NS_CV" 5124 && wait_listen "$NS_CV" 9124 || { bed_log converter; bail "converter"; }

# chromium ARGS... URL: headless, in the converter's namespace (the page is on its loopback).
# As root it needs --no-sandbox; no GPU here; its own profile so parallel runs never share one.
chromium()
{
	n "$NS_CV" timeout 90 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu \
		--disable-dev-shm-usage --no-first-run --user-data-dir="$T/chromium" \
		--hide-scrollbars --window-size=1280,900 "$@" 2>>"$T/chromium.err"
}

# 1-3: what the binary serves.
n "$NS_CV" curl -s -D "$T/page.head" -o "$T/page.html" "$URL"
check "the page is served as HTML" grep -qi '^Content-Type: text/html' "$T/page.head"
check "it is self-contained: no external script, style or URL" \
	eval '! grep -Eiq "(src|href)=\"(https?:)?//|@import|https?://" "$T/page.html"'
check "it draws on a canvas and polls status.json" \
	eval 'grep -q "<canvas" "$T/page.html" && grep -q "fetch(\"status.json\"" "$T/page.html"'

# 4: a transfer long enough to watch (60 MB at 2 x 10 Mbit/s: ~26 s).
head -c 60000000 /dev/urandom >"$T/in60m"
n "$NS_GW" timeout 90 "$CONVCLIENT" "$CV_ADDR4:5124" "$SRV_ADDR4:7001" <"$T/in60m" \
	>"$T/got" 2>"$T/up.line" &
UP=$!
both_subflows()
{
	"$MPCONVCTL" -s "$T/cv.sock" sessions -j | grep -q '"subflows_total":2'
}
check "the upload runs with 2 subflows" wait_for 15 both_subflows
sleep 4 # the daemon samples its links once a second: some recent past for the page to show

# 5-6: a screenshot during the upload, kept for people to look at.
chromium --virtual-time-budget=4000 --screenshot="$T/status-page.png" "$URL" >/dev/null
check "a screenshot PNG is produced" \
	eval '[ "$(head -c 8 "$T/status-page.png" | od -An -tx1 | tr -d " ")" = 89504e470d0a1a0a ] && [ "$(stat -c %s "$T/status-page.png")" -gt 20000 ]'
mkdir -p "$BED_TOP/build"
cp "$T/status-page.png" "$BED_TOP/build/status-page.png" 2>/dev/null
check "and kept as build/status-page.png" test -s "$BED_TOP/build/status-page.png"

# 7-11: the page in Chromium, during the upload. Virtual time runs the page's one-second polls
# (the daemon's clock times the samples, so rates stay true however fast they come).
chromium --virtual-time-budget=6000 --dump-dom "$URL" >"$T/dom.html"
body=$(grep -o '<body[^>]*>' "$T/dom.html")
diag "$body" "$(grep -o 'graph-info">[^<]*' "$T/dom.html")"
check "the page loaded and polled: samples drawn for the links" \
	eval 'samples=$(sed -n "s/.*data-samples=\"\([0-9]*\)\".*/\1/p" <<<"$body"); [ "${samples:-0}" -ge 12 ]'
check "the daemon's history of the last seconds seeded the graph" \
	eval 'hist=$(sed -n "s/.*data-history=\"\([0-9]*\)\".*/\1/p" <<<"$body"); [ "${hist:-0}" -ge 4 ]'
check "the graph's newest value is live throughput (> 2 Mbit/s over all links)" \
	eval 'mbps=$(sed -n "s/.*data-last-mbps=\"\([0-9.]*\)\".*/\1/p" <<<"$body"); fcmp "${mbps:-0}" ">" 2'
check "both access links are listed, up" \
	eval 'grep -q "data-links=\"[^\"]*accA[^\"]*accB" <<<"$body" && [ "$(grep -o "<td>acc[AB]</td><td class=\"up\">up</td>" "$T/dom.html" | wc -l)" -eq 2 ]'
check "the upload is among the top sessions, with its two subflows" \
	eval 'grep -q "<td>10.0.2.2:7001</td>" "$T/dom.html" && [ "$(grep -o "<tr class=\"sf\">" "$T/dom.html" | wc -l)" -ge 2 ]'

wait "$UP"
check "the upload completed byte-exact while the page watched" \
	test "$(cat "$T/got")" = "GOT 60000000 $(sha256sum "$T/in60m" | cut -d' ' -f1)"
