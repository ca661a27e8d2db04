#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# meson install step: puts the example configurations in SYSCONFDIR/mpconv (mode 0640) unless a
# file of that name is already there: a reinstall never overwrites an operator's configuration.
# Installing into the live system as root (no DESTDIR) also creates the mpconv user and applies
# the tmpfiles rules (group mpconv may read the files) and the sysctl.d settings (the converter's
# TFO server bit), as a package's postinst would.
#   install-config.sh SYSCONFDIR SYSUSERS_FILE TMPFILES_FILE SYSCTL_FILE EXAMPLE...
set -eu

sysconfdir=$1 sysusers=$2 tmpfiles=$3 sysctl=$4
shift 4
dir="${DESTDIR:-}$sysconfdir/mpconv"
mkdir -p "$dir"
for example in "$@"; do
	target="$dir/$(basename "$example")"
	if [ -e "$target" ]; then
		echo "Keeping $target (the example is in the documentation directory)"
	else
		echo "Installing $example to $dir"
		install -m 0640 "$example" "$target"
	fi
done
if [ -z "${DESTDIR:-}" ] && [ "$(id -u)" -eq 0 ] && command -v systemd-sysusers >/dev/null; then
	systemd-sysusers "$sysusers"
	systemd-tmpfiles --create "$tmpfiles"
fi
if [ -z "${DESTDIR:-}" ] && [ "$(id -u)" -eq 0 ]; then
	# a setting this kernel lacks (no MPTCP built in) is reported, not fatal
	sysctl -p "$sysctl" || echo "Some settings of $sysctl could not be applied"
fi
