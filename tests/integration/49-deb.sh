#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Debian package: built (make deb's script, in a copy of the worktree), lintian-clean,
# installed on this machine with dpkg -i, run from its installed paths, purged.
#
#   host (MPTCP client, convclient) ══ link A ══ cv (installed /usr/sbin/mpconvd converter,
#                                                   /etc/mpconv/converter.conf) ──── srv (echo)
#
# dpkg -i on the machine itself, not dpkg --root into an empty root: dpkg --root runs the
# maintainer scripts chrooted, so the root would need a whole Debian (sh, systemd-sysusers,
# systemd-tmpfiles), and those scripts are what is tested here. dpkg runs inside the converter's
# namespace, so postinst's sysctl -p sets net.* (per network namespace) there only. The package
# is purged by the cleanup trap even when a check fails. Refuses to run (skip) where the machine
# already has the package or a user mpconv: purging would take them away.
#
# Checked: the build leaves the worktree as it was and writes nothing beside it; lintian
# --pedantic prints nothing unexplained; the installed files, conffiles, user, modes, sysctls;
# the converter started as user mpconv from the installed paths with the installed config
# relays byte-exact over MPTCP and stops 0 on SIGTERM; after the purge no file, conffile,
# directory, user or group of the package is left.
source "$(dirname "$0")/lib.sh"
require_bed

CONVCLIENT=$MPCONV_BUILD/tools/convclient
[ -x "$CONVCLIENT" ] || skip_all "convclient not built in $MPCONV_BUILD"
for tool in dpkg-buildpackage dh lintian setpriv; do
	command -v "$tool" >/dev/null || skip_all "no $tool (scripts/install-deps.sh installs it)"
done
# One run at a time on this machine: the package and its user are machine-wide.
exec {LOCK}>/run/lock/mpconv-49-deb.lock
flock -w 300 "$LOCK" || skip_all "another run of this test holds /run/lock/mpconv-49-deb.lock"
if [ "$(dpkg-query -W -f='${Status}' mpconv 2>/dev/null)" != "" ] &&
	[ "$(dpkg-query -W -f='${Status}' mpconv 2>/dev/null)" != "unknown ok not-installed" ]; then
	skip_all "the package mpconv is on this machine already (dpkg -l mpconv): would purge it"
fi
getent passwd mpconv >/dev/null || getent group mpconv >/dev/null &&
	skip_all "a user or group mpconv exists (make install?): the purge would remove it"

plan 20

T=$BED_TMP
# snapshot: the worktree's state (git status; outside git, every path but build/) and its parent
# directory's listing, where dpkg-buildpackage would drop its results.
snapshot()
(
	cd "$BED_TOP" || return 1
	if git rev-parse --git-dir >/dev/null 2>&1; then
		git status --porcelain --ignored=no
	else
		find . -path ./build -prune -o -print | sort
	fi
	ls -a ..
)
snapshot >"$T/before"
if bash "$BED_TOP/scripts/build-deb.sh" "$T/deb" >"$T/build.out" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b builds the package (scripts/build-deb.sh)"
else
	diag "$(tail -n 30 "$T/build.out")"
	bail "package build"
fi
DEB=$(ls "$T"/deb/mpconv_*.deb)
snapshot >"$T/after"
check "the build leaves the worktree and its parent directory as they were" \
	diff -u "$T/before" "$T/after"
lintian_clean()
{
	lintian --pedantic -I "$T"/deb/*.changes 2>&1 | grep -v "running with root privileges" |
		tee "$T/lintian.out"
	[ ! -s "$T/lintian.out" ]
}
check "lintian --pedantic -I: no tag (the overridden ones are explained in debian/)" lintian_clean

topo_single A:rate=none || bail "topology"
bed_sysctl "$NS_GW" net.ipv4.tcp_fastopen=3 || bail "sysctl"
bed_start "$NS_SRV" echo python3 "$TESTSERVER" --mode echo "$SRV_ADDR4:7000"
wait_listen "$NS_SRV" 7000 || bail "echo server"

at_cleanup "dpkg --purge mpconv"
if n "$NS_CV" dpkg -i "$DEB" >"$T/install.out" 2>&1; then
	ok "dpkg -i installs it (postinst run)"
else
	diag "$(cat "$T/install.out")"
	bail "dpkg -i"
fi
dpkg -L mpconv >"$T/files"

installed()
{
	local f
	for f in /usr/sbin/mpconvd /usr/bin/mpconvctl /lib/systemd/system/mpconv-converter.service \
		/lib/systemd/system/mpconv-gateway.service /usr/lib/sysusers.d/mpconv.conf \
		/usr/lib/tmpfiles.d/mpconv.conf /usr/lib/sysctl.d/50-mpconv.conf \
		/usr/share/man/man8/mpconvd.8.gz /usr/share/man/man8/mpconvctl.8.gz \
		/usr/share/man/man5/mpconv.conf.5.gz /usr/share/doc/mpconv/copyright \
		/usr/share/doc/mpconv/examples/converter.conf; do
		[ -e "$f" ] || { echo "missing $f"; return 1; }
	done
	grep -qx "ExecStart=/usr/sbin/mpconvd converter --config /etc/mpconv/converter.conf" \
		/lib/systemd/system/mpconv-converter.service
}
check "daemon, CLI, units, sysusers/tmpfiles/sysctl snippets, man pages in place" installed
conffiles()
{
	dpkg-query -W -f='${Conffiles}\n' mpconv | awk 'NF { print $1 }' | sort | tee "$T/conffiles"
	printf '/etc/mpconv/converter.conf\n/etc/mpconv/gateway.conf\n' | diff -u - "$T/conffiles"
}
check "the example configs are the conffiles /etc/mpconv/{converter,gateway}.conf" conffiles
user_and_modes()
{
	local gid
	gid=$(getent group mpconv | cut -d: -f3)
	getent passwd mpconv | awk -F: -v g="$gid" '$4 == g && $7 ~ /nologin/ { f = 1 } END { exit !f }' ||
		{ echo "no system user mpconv in group $gid"; return 1; }
	stat -c '%a %U %G %n' /etc/mpconv /etc/mpconv/*.conf
	[ "$(stat -c '%a %U %G' /etc/mpconv)" = "750 root mpconv" ] &&
		[ "$(stat -c '%a %U %G' /etc/mpconv/converter.conf)" = "640 root mpconv" ] &&
		[ "$(stat -c '%a %U %G' /etc/mpconv/gateway.conf)" = "640 root mpconv" ]
}
check "postinst: user mpconv (sysusers), /etc/mpconv 0750 and configs 0640 root:mpconv (tmpfiles)" \
	user_and_modes
check "postinst applied the sysctl.d drop-in (in the namespace dpkg ran in): tcp_fastopen = 3" \
	test "$(ip netns exec "$NS_CV" sysctl -n net.ipv4.tcp_fastopen)" = 3
check "no unit was enabled or started (none can run as shipped)" \
	bash -c '! ls /etc/systemd/system/*/mpconv-* 2>/dev/null | grep -q .'

# As an operator would: allow the clients, then start what the unit starts, as user mpconv
# (the config is readable through the group only). Its control socket in a directory of its
# own, not this machine's /run/mpconv.
mkdir -m 0750 "$T/run" && chown mpconv:mpconv "$T/run"
chmod 755 "$T"
printf 'allow = 10.10.0.0/16\ncontrol-socket = %s/run/converter.sock\nlisten = %s:5124\n' \
	"$T" "$CV_ADDR4" >>/etc/mpconv/converter.conf
EXEC=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/mpconv-converter.service)
# shellcheck disable=SC2086 # the unit's command line, split as systemd splits it
bed_start "$NS_CV" converter setpriv --reuid=mpconv --regid=mpconv --init-groups \
	--no-new-privs $EXEC
if wait_listen "$NS_CV" "$CV_ADDR4:5124"; then
	ok "installed mpconvd converter runs as user mpconv with /etc/mpconv/converter.conf"
else
	not_ok "installed mpconvd converter runs as user mpconv with /etc/mpconv/converter.conf"
	diag "$(bed_log converter)"
fi
head -c 1000000 /dev/urandom >"$T/in"
n "$NS_GW" timeout 30 "$CONVCLIENT" --tfo "$CV_ADDR4:5124" "$SRV_ADDR4:7000" <"$T/in" \
	>"$T/out" 2>"$T/line"
diag "$(cat "$T/line")"
{ cat "$T/in"; printf 'END\n'; } >"$T/expect" # the echo server's mark after the client's FIN
check "a 1 MB echo through the installed converter is byte-exact" cmp "$T/expect" "$T/out"
check "converted over MPTCP (result=converted mptcp=1)" \
	grep -q "result=converted.* mptcp=1" "$T/line"
# (not inside check: bed_stop must wait for its own child)
rc=0
bed_stop converter || rc=$?
check "the converter stops with status 0 on SIGTERM" test "$rc" = 0 || diag "$(bed_log converter | tail -n 20)"
# The installed CLI's doctor finds the installed config by itself (/etc/mpconv) and the unit's
# limits and capabilities (LimitNOFILE, CAP_SYS_RESOURCE) in /lib/systemd/system.
doctor_clean()
{
	local rc=0
	ip netns exec "$NS_CV" /usr/bin/mpconvctl --role converter doctor >"$T/doctor.out" || rc=$?
	cat "$T/doctor.out"
	[ "$rc" = 0 ] && grep -q "^ok    config .*/etc/mpconv/converter.conf" "$T/doctor.out" &&
		grep -q "^ok    fd-limit .*LimitNOFILE of mpconv-converter.service" "$T/doctor.out"
}
check "installed mpconvctl doctor: /etc/mpconv/converter.conf and the unit's limits, no fail" \
	doctor_clean

# A drop-in that blocks the gateway's sysctl writes, as `systemctl edit` would leave it: the
# doctor reads the installed unit and its drop-ins, the last assignment winning.
DROPIN=/etc/systemd/system/mpconv-gateway.service.d
printf '[gateway]\nconverter = %s\nlan = lo\nintercept = no\n' "$CV_ADDR4" >"$T/gw.conf"
chmod 644 "$T/gw.conf"
unit_line()
{
	ip netns exec "$NS_GW" /usr/bin/mpconvctl --role gateway doctor --config "$T/gw.conf" \
		--timeout 500 | grep "systemd mpconv-gateway.service"
}
if [ -e "$DROPIN" ]; then
	skip "a drop-in with ProtectKernelTunables=yes: doctor fails 'systemd'" "$DROPIN exists"
	skip "without it: 'systemd' ok" "$DROPIN exists"
else
	at_cleanup "rm -rf '$DROPIN'"
	mkdir -p "$DROPIN" &&
		printf '[Service]\nProtectKernelTunables=yes\n' >"$DROPIN/50-test.conf"
	check "a drop-in with ProtectKernelTunables=yes on the gateway's unit: doctor fails 'systemd'" \
		bash -c "$(declare -f unit_line); T=$T NS_GW=$NS_GW; unit_line | grep '^fail'"
	rm -rf "$DROPIN"
	check "without it: 'systemd' ok" \
		bash -c "$(declare -f unit_line); T=$T NS_GW=$NS_GW; unit_line | grep '^ok'"
fi

# -----------------------------------------------------------------------------------------------
# purge

if dpkg --purge mpconv >"$T/purge.out" 2>&1; then
	ok "dpkg --purge mpconv"
else
	not_ok "dpkg --purge mpconv"
	diag "$(cat "$T/purge.out")"
fi
leftovers()
{
	local f left=0
	while read -r f; do
		# directories the package shares with others (/usr/bin...) stay; its own go
		if [ -d "$f" ] && [ "$f" != /etc/mpconv ] && [ "$f" != /usr/share/doc/mpconv ]; then
			continue
		fi
		[ ! -e "$f" ] || { echo "left: $f"; left=1; }
	done <"$T/files"
	[ ! -e /etc/mpconv ] || { echo "left: /etc/mpconv"; ls -la /etc/mpconv; left=1; }
	return "$left"
}
check "nothing of the package is left: files, conffiles (edited one too), /etc/mpconv" leftovers
check "dpkg no longer knows the package" \
	bash -c '[ -z "$(dpkg-query -W -f="\${Status}" mpconv 2>/dev/null | grep -v not-installed)" ]'
check "the user and group mpconv are gone" \
	bash -c '! getent passwd mpconv && ! getent group mpconv'
