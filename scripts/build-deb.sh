#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the Debian package (debian/) with `dpkg-buildpackage -us -uc -b` in a copy of the
# worktree (tracked and untracked files, not ignored ones), so that nothing is written beside
# or inside the checkout: dpkg-buildpackage puts its results in the source's parent directory.
#   build-deb.sh [OUTDIR]   the .deb, .buildinfo and .changes land in OUTDIR (build/deb)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/deb}
work=$(mktemp -d /tmp/mpconv-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT

version=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
mkdir "$work/mpconv-$version"
# (a tracked file deleted in the worktree is left out, as the worktree has it). Outside a git
# checkout (an exported tree): everything but the build outputs.
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$top" && git ls-files -z --cached --others --exclude-standard |
		tar --null --no-recursion --ignore-failed-read --files-from=- -cf -)
else
	(cd "$top" && tar --exclude=./build --exclude='./obj-*' --exclude=./debian/mpconv \
		--exclude=./debian/.debhelper --exclude='./debian/*.substvars' \
		--exclude=./debian/files --exclude=./debian/debhelper-build-stamp -cf - .)
fi | tar -xf - -C "$work/mpconv-$version"
(cd "$work/mpconv-$version" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 || {
	tail -n 40 "$work/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed (log above)" >&2
	exit 1
}
mkdir -p "$out"
cp "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out/"
cp "$work/build.log" "$out/build.log"
ls "$out"/*.deb
