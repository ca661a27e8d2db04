#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs, from Debian 12's own archive, every package mpconv needs to build, test, fuzz and demo.
# Idempotent: packages already present are left alone, and apt is not touched when nothing is missing.
set -euo pipefail

packages=(
	# build
	gcc clang meson ninja-build pkg-config libmnl-dev libsodium-dev libnftables-dev
	# the Debian package (make deb, tests/integration/49-deb.sh): dpkg-buildpackage, dh, lintian
	dpkg-dev debhelper lintian
	# tests and fuzzing: cmocka, clang's sanitizer/libFuzzer runtime
	libcmocka-dev libclang-rt-14-dev
	# namespace test bed: ip/tc/ss/nstat, offload control, nftables rules, ping, captures
	iproute2 ethtool nftables iputils-ping tcpdump procps kmod
	# reference peers used by tests and benchmarks (Debian ships mptcpize apart from mptcpd)
	iperf3 mptcpd mptcpize
	# status page test (tests/integration/42-status-page.sh): headless browser
	chromium
	# unchanged programs through host mode and libmpconv (tests 15 and 39)
	curl wget
	# converter fleet (tests/integration/54-fleet.sh): the instances announce the anycast
	# address by BGP, the router installs the multipath route; each bird runs in a namespace
	bird2
)

# PACKAGE:SERVICE for packages that would start a system daemon (bird2's bird.service; with
# --bench the relays): a temporary policy-rc.d keeps them from starting during the install, and
# any that run anyway are stopped and disabled on exit, only when this run installed them (a
# service the machine already had is left as it is). The tests and the benchmark run their own
# instances in namespaces, with their own configuration files and control sockets.
SERVICES=(bird2:bird)
# --bench (only bench/run.sh passes it): also the relays the benchmark compares mpconv with.
if [ "${1:-}" = --bench ]; then
	packages+=(haproxy shadowsocks-libev dante-server)
	SERVICES+=(haproxy:haproxy shadowsocks-libev:shadowsocks-libev dante-server:danted)
fi
NO_START_POLICY=
SUDO=

services_off()
{
	local ps s
	[ -z "$NO_START_POLICY" ] || $SUDO rm -f "$NO_START_POLICY"
	for ps in "${SERVICES[@]}"; do
		[[ " ${missing[*]} " == *" ${ps%%:*} "* ]] || continue
		s=${ps#*:}
		if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
			$SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true
		elif [ -x "/etc/init.d/$s" ]; then
			$SUDO "/etc/init.d/$s" stop >/dev/null 2>&1 || true
		fi
	done
}

no_service_start()
{
	[ -e /usr/sbin/policy-rc.d ] && return 0
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null &&
		$SUDO chmod 755 /usr/sbin/policy-rc.d && NO_START_POLICY=/usr/sbin/policy-rc.d
}

missing=()
for p in "${packages[@]}"; do
	# dpkg-query answers 'install ok installed' only for a fully installed package
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then
		SUDO=sudo
	else
		echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
		exit 1
	fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
trap services_off EXIT
$SUDO apt-get update -qq
no_service_start
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
