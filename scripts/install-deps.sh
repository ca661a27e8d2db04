#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs, from Debian 12's own archive, every package mpconv needs to build, test, fuzz and demo.
# Idempotent: packages already present are left alone, and apt is not touched when nothing is missing.
set -euo pipefail

packages=(
	# build
	gcc clang meson ninja-build pkg-config libmnl-dev libsodium-dev libnftables-dev
	# tests and fuzzing: cmocka, clang's sanitizer/libFuzzer runtime
	libcmocka-dev libclang-rt-14-dev
	# namespace test bed: ip/tc/ss/nstat, offload control, nftables rules, ping, captures
	iproute2 ethtool nftables iputils-ping tcpdump procps kmod
	# reference peers used by tests and benchmarks (mptcpize comes with mptcpd)
	iperf3 mptcpd
)

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
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
