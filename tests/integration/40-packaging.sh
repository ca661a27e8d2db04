#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Packaging: `make install` into a DESTDIR stage, and that what it installs works as installed.
#
#   stage/usr/local/{sbin/mpconvd, bin/mpconvctl, lib/systemd/system/mpconv-*.service,
#                    lib/sysusers.d/mpconv.conf, lib/tmpfiles.d/mpconv.conf,
#                    lib/sysctl.d/50-mpconv.conf, share/man/...,
#                    share/doc/mpconv/examples/*.conf, etc/mpconv/*.conf}
#
# Checked: exactly the expected files with their modes; a second install keeps an edited config;
# the units pass `systemd-analyze verify` silently and stay at a low exposure; sysusers and
# tmpfiles give the stage a user mpconv that owns the config group; the man pages render without
# a warning and document every key and command; the example configs name every key the daemon
# knows (from its --help, so a new key fails here until it is documented) and are accepted by
# the daemon, as shipped and with every key line uncommented, the latter run in a throwaway
# namespace as an unprivileged user holding only the capabilities its unit grants; a config
# writable by others is refused by both roles; the sysctl.d drop-in turns on the TFO server bit
# and MPTCP, and a converter started after it is applied (as systemd-sysctl does at boot, before
# the hardened unit, which may not write /proc/sys) has nothing to warn about.
source "$(dirname "$0")/lib.sh"

MPCONVD=${MPCONVD:-$MPCONV_BUILD/src/mpconvd}
[ -x "$MPCONVD" ] || skip_all "no mpconvd at $MPCONVD"
command -v make >/dev/null || skip_all "no make"

plan 25

T=$BED_TMP
STAGE=$T/stage
P=$STAGE/usr/local
UNITS=$P/lib/systemd/system
RUN_UID=64123 # the unprivileged user the daemons run as here (no passwd entry needed)
ROOT=0
[ "$(id -u)" -eq 0 ] && ip netns list >/dev/null 2>&1 && command -v setpriv >/dev/null && ROOT=1

# help_keys ROLE: every key the daemon knows for ROLE, from its --help (one key table in
# src/config/config.c), "config" aside.
help_keys()
{
	"$MPCONVD" "$1" --help | sed -nE 's/^  --(\[no-\])?([a-z][a-z0-9-]*).*/\2/p' |
		grep -vx config | sort -u
}

# example_keys FILE: keys set or shown commented ("#key = value") in an example config.
example_keys()
{
	sed -nE 's/^#?([a-z][a-z0-9-]*) = .*/\1/p' "$1" | sort -u
}

# man_keys FILE HEADING: keys documented under .SH "HEADING" (entries `.B[IR] "key = ...`).
man_keys()
{
	awk -v h=".SH \"$2\"" '$0 == h { on = 1; next } /^\.SH/ { on = 0 } on' "$1" |
		sed -nE 's/^\.B[IR]? "([a-z0-9\\-]+) = .*/\1/p' | sed 's/\\-/-/g' | sort -u
}

# covers WHAT ROLE CMD...: fails naming each key of ROLE that CMD (example_keys or man_keys)
# does not list for WHAT, with the daemon's own help line for it.
covers()
{
	local what=$1 role=$2 have key missing=0
	shift 2
	have=$("$@")
	for key in $(help_keys "$role"); do
		if ! grep -qx -- "$key" <<<"$have"; then
			echo "$what lacks the $role key '$key':"
			"$MPCONVD" "$role" --help | grep -E -- "^  --(\[no-\])?$key( |$)"
			missing=1
		fi
	done
	return "$missing"
}

# -----------------------------------------------------------------------------------------------
# make install

mkdir -p "$STAGE"
if DESTDIR=$STAGE make -C "$BED_TOP" --no-print-directory install >"$T/install.log" 2>&1; then
	ok "DESTDIR=stage make install"
else
	diag "$(tail -n 30 "$T/install.log")"
	bail "DESTDIR=stage make install"
fi

# meson's libdir on Debian: lib/<multiarch triplet>
MULTIARCH=$(cc -print-multiarch 2>/dev/null)
expected_files()
{
	cat <<EOF
755 usr/local/bin/mpconvctl
640 usr/local/etc/mpconv/converter.conf
640 usr/local/etc/mpconv/gateway.conf
644 usr/local/lib/sysctl.d/50-mpconv.conf
644 usr/local/lib/systemd/system/mpconv-converter.service
644 usr/local/lib/systemd/system/mpconv-gateway.service
644 usr/local/lib/sysusers.d/mpconv.conf
644 usr/local/lib/tmpfiles.d/mpconv.conf
755 usr/local/lib/$MULTIARCH${MULTIARCH:+/}mpconv/libmpconv.so
755 usr/local/sbin/mpconvd
644 usr/local/share/doc/mpconv/examples/converter.conf
644 usr/local/share/doc/mpconv/examples/gateway.conf
644 usr/local/share/doc/mpconv/examples/host.conf
644 usr/local/share/man/man5/mpconv.conf.5
644 usr/local/share/man/man7/libmpconv.7
644 usr/local/share/man/man8/mpconvctl.8
644 usr/local/share/man/man8/mpconvd.8
EOF
}
installed_files()
{
	(cd "$STAGE" && find . -type f -printf '%m %P\n' | sort -k2)
}
check "exactly the expected files, with their modes" \
	diff -u <(expected_files) <(installed_files)

units_name_the_prefix()
{
	grep -qx "ExecStart=/usr/local/sbin/mpconvd converter --config /usr/local/etc/mpconv/converter.conf" \
		"$UNITS/mpconv-converter.service" &&
		grep -qx "ExecStart=/usr/local/sbin/mpconvd gateway --config /usr/local/etc/mpconv/gateway.conf" \
			"$UNITS/mpconv-gateway.service" &&
		grep -qx "z /usr/local/etc/mpconv/\*.conf 0640 root mpconv -" "$P/lib/tmpfiles.d/mpconv.conf" &&
		cmp -s "$BED_TOP/etc/converter.conf" "$P/etc/mpconv/converter.conf" &&
		cmp -s "$BED_TOP/etc/gateway.conf" "$P/etc/mpconv/gateway.conf"
}
check "units and tmpfiles name the installed paths; the configs are the examples" \
	units_name_the_prefix
restart_on_failure()
{
	local u
	for u in mpconv-converter mpconv-gateway; do
		grep -qx "Restart=on-failure" "$UNITS/$u.service" &&
			grep -qx "RestartPreventExitStatus=2" "$UNITS/$u.service" || { echo "$u"; return 1; }
	done
}
check "both units restart a daemon that failed, not one with a configuration error" \
	restart_on_failure

# sysctl_sets FILE KEY VALUE: FILE (sysctl.d syntax) sets KEY to VALUE.
sysctl_sets()
{
	awk -F= -v k="$2" -v v="$3" '{ gsub(/[ \t]/, "") } $1 == k && $2 == v { f = 1 } END { exit !f }' "$1"
}
SYSCTL_D=$P/lib/sysctl.d/50-mpconv.conf
check "sysctl.d drop-in: net.ipv4.tcp_fastopen = 3 (the converter's TFO server bit), net.mptcp.enabled = 1" \
	bash -c "$(declare -f sysctl_sets); sysctl_sets '$SYSCTL_D' net.ipv4.tcp_fastopen 3 && sysctl_sets '$SYSCTL_D' net.mptcp.enabled 1"

echo "allow = 192.0.2.0/24 # edited" >>"$P/etc/mpconv/converter.conf"
cp "$P/etc/mpconv/converter.conf" "$T/edited.conf"
DESTDIR=$STAGE make -C "$BED_TOP" --no-print-directory install >"$T/install2.log" 2>&1
check "a second install keeps an existing config" cmp "$T/edited.conf" "$P/etc/mpconv/converter.conf"

# -----------------------------------------------------------------------------------------------
# systemd units, user, permissions

# verify needs ExecStart to exist: a copy of each unit pointing into the stage, and MANPATH so
# that its Documentation= man pages are found there too.
mkdir -p "$T/units"
for u in "$UNITS"/*.service; do
	sed "s|/usr/local/|$P/|g" "$u" >"$T/units/${u##*/}"
done
analyze_quiet()
{
	local out
	out=$(cd "$T/units" && MANPATH=$P/share/man systemd-analyze "$@" 2>&1) || { echo "$out"; return 1; }
	[ -z "$out" ] || { echo "$out"; return 1; }
}
exposure_at_most()
{
	local limit=$1 u
	for u in "$T"/units/*.service; do
		systemd-analyze security --offline=yes --threshold="$limit" "$u" >"$T/security.out" 2>&1 ||
			{ grep -E "Overall|✗" "$T/security.out"; return 1; }
		grep -o "Overall exposure level.*" "$T/security.out"
	done
}
if ! command -v systemd-analyze >/dev/null; then
	skip "systemd-analyze verify: both units are clean" "no systemd-analyze"
	skip "both units' exposure is at most 3.0" "no systemd-analyze"
else
	check "systemd-analyze verify: both units are clean (no warning at all)" \
		analyze_quiet verify "$T"/units/mpconv-converter.service "$T"/units/mpconv-gateway.service
	if systemd-analyze security --help 2>&1 | grep -q -- --offline ||
		systemd-analyze --help 2>&1 | grep -q -- --offline; then
		check "both units' exposure is at most 3.0 (systemd-analyze security)" exposure_at_most 30
	else
		skip "both units' exposure is at most 3.0" "systemd-analyze has no --offline"
	fi
fi

stage_user_and_modes()
{
	local gid
	mkdir -p "$STAGE/etc"
	systemd-sysusers --root="$STAGE" >/dev/null 2>&1 || { echo "systemd-sysusers failed"; return 1; }
	gid=$(awk -F: '$1 == "mpconv" { print $3 }' "$STAGE/etc/group")
	awk -F: -v g="$gid" '$1 == "mpconv" && $4 == g && $7 ~ /nologin/ { f = 1 } END { exit !f }' \
		"$STAGE/etc/passwd" || { echo "no user mpconv with group $gid and nologin"; return 1; }
	systemd-tmpfiles --root="$STAGE" --create >/dev/null 2>&1 || { echo "systemd-tmpfiles failed"; return 1; }
	stat -c '%a %u %g %n' "$P/etc/mpconv" "$P"/etc/mpconv/*.conf | sed "s|$STAGE/||"
	[ "$(stat -c '%a %u %g' "$P/etc/mpconv")" = "750 0 $gid" ] &&
		[ "$(stat -c '%a %u %g' "$P/etc/mpconv/gateway.conf")" = "640 0 $gid" ]
}
if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
	check "sysusers + tmpfiles: user mpconv; config dir 0750 and files 0640, group mpconv" \
		stage_user_and_modes
else
	skip "sysusers + tmpfiles: user mpconv, config modes" "no systemd-sysusers/systemd-tmpfiles"
fi

# -----------------------------------------------------------------------------------------------
# man pages

renders_clean()
{
	local err
	if command -v man >/dev/null; then
		err=$(MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null)
	else
		err=$(groff -man -ww -z "$1" 2>&1)
	fi
	[ -z "$err" ] || { echo "$err"; return 1; }
}
for page in man8/mpconvd.8 man8/mpconvctl.8 man5/mpconv.conf.5; do
	check "${page#*/} renders without warnings" renders_clean "$P/share/man/$page"
done
MAN5=$P/share/man/man5/mpconv.conf.5
check "mpconv.conf(5) documents every converter key" \
	covers "mpconv.conf(5)" converter man_keys "$MAN5" "CONVERTER KEYS"
check "mpconv.conf(5) documents every gateway key" \
	covers "mpconv.conf(5)" gateway man_keys "$MAN5" "GATEWAY KEYS"

ctl_commands_documented()
{
	local cmd missing=0
	for cmd in $("$P/bin/mpconvctl" help | sed -nE 's/^  ([a-z][a-z-]*) .*/\1/p'); do
		if ! awk -v c=".B $cmd" 'prev == ".TP" && $0 == c { f = 1 } { prev = $0 } END { exit !f }' \
			"$P/share/man/man8/mpconvctl.8"; then
			echo "mpconvctl.8 lacks the command '$cmd'"
			missing=1
		fi
	done
	return "$missing"
}
check "mpconvctl(8) documents every command of 'mpconvctl help'" ctl_commands_documented

# -----------------------------------------------------------------------------------------------
# example configs

check "etc/converter.conf names every converter key" \
	covers etc/converter.conf converter example_keys "$BED_TOP/etc/converter.conf"
check "etc/gateway.conf names every gateway key" \
	covers etc/gateway.conf gateway example_keys "$BED_TOP/etc/gateway.conf"

# The daemons read their configs as RUN_UID: a directory it may enter, files it may read.
CFG=$(mktemp -d /tmp/mpc-pkg.XXXXXX)
at_cleanup "rm -rf '$CFG'"
chmod 755 "$CFG"
# uncommented FILE: every "#key = value" line set; the cookie secret, the inbound keys and the
# CPE key get fresh random values (the examples show placeholders: a published secret is no
# secret), the CPE table is a file of this run's with that CPE.
uncommented()
{
	local key
	key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	# (not the on-path keys: that mode needs CAP_NET_ADMIN, which the unit leaves out)
	sed -E '/^#transparent-/!s/^#([a-z][a-z0-9-]*) = /\1 = /' "$1" |
		sed "s/^cookie-secret = .*/cookie-secret = $(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')/" |
		sed -E "s/^inbound-key = .*/inbound-key = $key/; s/^(inbound-cpe = [^ ]+) [^ ]+/\1 $key/" |
		sed "s/^cpe-key = .*/cpe-key = $CPE_KEY/" | sed "s|^cpe-table = .*|cpe-table = $CFG/cpes|"
}
CPE_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
echo "cpe-0001 $CPE_KEY" >"$CFG/cpes"
cp "$BED_TOP/etc/converter.conf" "$BED_TOP/etc/gateway.conf" "$CFG/"
uncommented "$BED_TOP/etc/converter.conf" >"$CFG/converter-all.conf"
uncommented "$BED_TOP/etc/gateway.conf" >"$CFG/gateway-all.conf"
chmod 644 "$CFG"/*.conf "$CFG/cpes"

# unit_caps UNIT: the unit's AmbientCapabilities as setpriv names (net_admin,net_raw), less
# those this environment cannot grant (said in a diag line).
unit_caps()
{
	local cap caps=()
	for cap in $(sed -n 's/^AmbientCapabilities=//p' "$UNITS/$1"); do
		cap=${cap#CAP_}
		cap=${cap,,}
		if setpriv --reuid="$RUN_UID" --regid="$RUN_UID" --clear-groups --inh-caps=+"$cap" \
			--ambient-caps=+"$cap" true 2>/dev/null; then
			caps+=("$cap")
		else
			diag "$1: $cap is not in this environment's bounding set; run without it" >&2
		fi
	done
	local IFS=,
	echo "${caps[*]}"
}

# unit_user CAPS: UNIT_USER becomes the command prefix that runs a command as RUN_UID with only
# CAPS (comma-separated) and no new privileges, as systemd starts the unit's ExecStart.
unit_user()
{
	local only=-all
	[ -z "$1" ] || only="-all,+${1//,/,+}"
	UNIT_USER=(setpriv --reuid="$RUN_UID" --regid="$RUN_UID" --clear-groups --no-new-privs
		--inh-caps="$only" --ambient-caps="$only" --bounding-set="$only")
}

# run_daemon NAME READY NS CMD...: starts CMD in NS, waits for READY in its log, lets it run half a
# second more (links, probes and pool get going: their permission errors come now), stops it
# with SIGTERM. Its exit status goes to $T/NAME.rc. Not inside check: bed_stop must wait for
# its own child.
run_daemon()
{
	local name=$1 ready=$2 ns=$3 rc=0
	shift 3
	bed_start "$ns" "$name" "$@"
	if wait_for 15 grep -q -- "$ready" "$BED_TMP/$name.err"; then
		sleep 0.5
		bed_stop "$name" || rc=$?
		echo "$rc" >"$T/$name.rc"
	else
		bed_stop "$name"
		echo "never logged '$ready'" >"$T/$name.rc"
	fi
}

# ran_clean NAME: daemon NAME stopped with status 0 and logged no permission failure and no
# sanitizer report.
ran_clean()
{
	local rc
	rc=$(cat "$T/$1.rc")
	if [ "$rc" != 0 ] || grep -qiE "not permitted|permission denied|needs CAP|Sanitizer|runtime error" \
		"$BED_TMP/$1.err"; then
		echo "exit status: $rc"
		bed_log "$1" | tail -n 20
		return 1
	fi
}

# veth NS DEV: interface DEV (a veth whose peer stays in NS too), up.
veth()
{
	ip -n "$1" link add "$2" type veth peer name "${2:0:12}-p" &&
		ip -n "$1" link set "$2" up && ip -n "$1" link set "${2:0:12}-p" up
}

# gateway_namespace NS CONF: the LAN interfaces and each link's interface of CONF, with an
# address per link and a host route to its IPv4 via: what the gateway needs to bring links up.
gateway_namespace()
{
	local ns=$1 conf=$2 line words dev via i=0
	for dev in $(sed -nE 's/^lan = ([^*]*)$/\1/p' "$conf"); do
		veth "$ns" "$dev" || return 1
	done
	while read -r line; do
		read -ra words <<<"${line#link = }"
		set -- "${words[@]:1}" # after the link's name
		dev='' via=''
		while [ $# -ge 2 ]; do
			case $1 in
			dev) dev=$2 ;;
			via) [[ $2 == *.* ]] && via=$2 ;;
			esac
			shift 2
		done
		i=$((i + 1))
		veth "$ns" "$dev" && ip -n "$ns" addr add "10.77.$i.2/24" dev "$dev" || return 1
		[ -z "$via" ] || ip -n "$ns" route add "$via" dev "$dev" || return 1
	done < <(grep '^link = ' "$conf")
}

if [ "$ROOT" = 0 ]; then
	for what in "converter.conf as shipped is accepted" "gateway.conf as shipped is accepted" \
		"converter.conf with every key set runs with the unit's capabilities" \
		"gateway.conf with every key set runs with the unit's capabilities" \
		"converter refuses a config writable by others" "gateway refuses a config writable by others" \
		"the sysctl.d drop-in applies in a namespace" "converter after the drop-in: no TFO warning"; do
		skip "$what" "needs root, ip netns and setpriv"
	done
	exit 0
fi

unit_user ""
if ! "${UNIT_USER[@]}" test -x "$MPCONVD"; then
	cp "$MPCONVD" "$CFG/mpconvd" # the build tree is not reachable for RUN_UID
	MPCONVD=$CFG/mpconvd
fi
# Control sockets (where the daemon has them) in a directory of RUN_UID's, as RuntimeDirectory=
# gives the service: never this machine's /run/mpconv.
mkdir -m 0750 "$CFG/run" && chown "$RUN_UID:$RUN_UID" "$CFG/run"
# ctl ROLE NAME: CTL becomes the --control-socket option for daemon NAME, if ROLE has the key.
ctl()
{
	CTL=()
	if "$MPCONVD" "$1" --help | grep -q -- "--control-socket"; then
		CTL=(--control-socket "$CFG/run/$2.sock")
	fi
}

NS_CV=$(ns_name cv)
NS_GW=$(ns_name gw)
ns_add "$NS_CV" || bail "namespace $NS_CV"
ns_add "$NS_GW" || bail "namespace $NS_GW"
gateway_namespace "$NS_GW" "$CFG/gateway-all.conf" || bail "gateway namespace interfaces"
LAN=$(sed -nE 's/^lan = //p' "$CFG/gateway-all.conf" | head -n 1)
declare -A NS=([converter]=$NS_CV [gateway]=$NS_GW)
declare -A READY=([converter]="converter listening on" [gateway]="gateway: converter")

# The drop-in as systemd-sysctl applies it at boot, here to the converter's namespace only (both
# keys are per network namespace): a fresh namespace has tcp_fastopen=1, the client bit alone.
applies_in_ns()
{
	ip netns exec "$NS_CV" sysctl -p "$SYSCTL_D" &&
		[ "$(ip netns exec "$NS_CV" sysctl -n net.ipv4.tcp_fastopen)" = 3 ]
}
check "the sysctl.d drop-in applies in a namespace (sysctl -p): tcp_fastopen = 3" applies_in_ns

# As shipped, as root: every key is commented out, so the gateway gets its two required keys as
# flags.
for role in converter gateway; do
	required=()
	[ "$role" = converter ] || required=(--converter 192.0.2.1 --lan "$LAN")
	ctl "$role" "$role-shipped"
	run_daemon "$role-shipped" "${READY[$role]}" "${NS[$role]}" \
		"$MPCONVD" "$role" --config "$CFG/$role.conf" "${required[@]}" "${CTL[@]}"
	check "$role.conf as shipped${required[*]:+ (+ the required keys)} is accepted: starts, stops 0 on SIGTERM" \
		ran_clean "$role-shipped"
done
check "converter started after the drop-in: no warning about the TFO server bit" \
	bash -c "! grep 'tcp_fastopen' '$BED_TMP/converter-shipped.err'"

# Every key set, run as the unit runs it: RUN_UID with the unit's capabilities and no others.
for role in converter gateway; do
	role_caps=$(unit_caps "mpconv-$role.service")
	unit_user "$role_caps"
	ctl "$role" "$role-all"
	run_daemon "$role-all" "${READY[$role]}" "${NS[$role]}" \
		"${UNIT_USER[@]}" "$MPCONVD" "$role" --config "$CFG/$role-all.conf" "${CTL[@]}"
	check "$role.conf with every key set runs as uid $RUN_UID with the unit's capabilities (${role_caps:-none})" \
		ran_clean "$role-all"
done
links_up=$(grep -E "link .*: up" "$BED_TMP/gateway-all.err")
[ -z "$links_up" ] || diag "$links_up"

# refused ROLE: a copy of the role's example, mode 0666, makes the daemon exit non-zero with a
# message naming the file.
refused()
{
	local role=$1 ns=$2 f=$CFG/writable-$1.conf rc=0
	cp "$CFG/$role.conf" "$f"
	chmod 666 "$f"
	ctl "$role" "$role-refused"
	timeout 10 ip netns exec "$ns" "$MPCONVD" "$role" --config "$f" "${CTL[@]}" >"$T/refused.out" 2>&1 ||
		rc=$?
	cat "$T/refused.out"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qF "$f: writable by group or others" "$T/refused.out"
}
check "converter refuses a config writable by others (0666), naming the file" refused converter "$NS_CV"
check "gateway refuses a config writable by others (0666), naming the file" refused gateway "$NS_GW"
