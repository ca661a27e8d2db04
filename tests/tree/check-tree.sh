#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The tree is the architecture (docs/ARCHITECTURE.md): this keeps it true, as TAP.
#   1. each folder of src/ includes only the layers below it; a role never includes the other;
#   2. no two modules include each other;
#   3. no source file is past the size where it holds two jobs;
#   4. every .c under src/ is in src/meson.build's explicit list (none silently left out);
#   5. no two modules call each other (from the built objects' symbols: a header shared by a
#      role's files hides such a circle from the includes).
# BUILD: the build directory whose objects step 5 reads (default build/gcc).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top/src" || exit 1
MAX_LINES=${MAX_LINES:-900}

# The folders each folder may include from (itself always).
declare -A may=(
	[base]=""
	[proto]="base"
	[policy]="base proto"
	[config]="base proto policy"
	[kernel]="base"
	[ops]="base proto policy config"
	[converter]="base proto config policy kernel ops"
	[gateway]="base proto config policy kernel ops"
	[preload]="base proto"
	[.]="base proto config policy kernel ops converter gateway"
)

# folder_of HEADER: the folder of src/ that holds HEADER (by name), or nothing.
declare -A folder=()
for h in $(find . -name '*.h' | sed 's#^\./##'); do
	d=$(dirname "$h")
	folder[$(basename "$h")]=$d
done

n=0 failed=0
result()
{
	n=$((n + 1))
	if [ -z "$2" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		printf '%s\n' "$2" | sed 's/^/# /'
		failed=1
	fi
}

echo "1..5"

bad=""
declare -A deps=()
for f in $(find . -name '*.[ch]' | sed 's#^\./##' | sort); do
	d=$(dirname "$f")
	mod=${f%.*} # a module is its path without the extension: gateway/session, base/session
	for inc in $(sed -nE 's/^#include "([^"]+)"/\1/p' "$f"); do
		h=$(basename "$inc")
		to=${folder[$h]:-}
		[ -n "$to" ] || continue # generated or outside src/
		hmod=$to/${h%.h}
		hmod=${hmod#./}
		[ "$hmod" = "$mod" ] || deps["$mod $hmod"]=1
		[ "$to" = "$d" ] && continue
		case " ${may[$d]:-} " in
		*" $to "*) ;;
		*) bad+="$f includes $inc ($to/): $d/ may use only: ${may[$d]:-nothing}"$'\n' ;;
		esac
	done
done
result "every folder includes only the layers below it" "${bad%$'\n'}"

circles=""
for pair in "${!deps[@]}"; do
	read -r a b <<<"$pair"
	[[ "$a" < "$b" ]] && [ -n "${deps["$b $a"]:-}" ] && circles+="$a <-> $b"$'\n'
done
result "no two modules include each other" "${circles%$'\n'}"

big=""
for f in $(find . -name '*.[ch]' | sed 's#^\./##' | sort); do
	lines=$(wc -l <"$f")
	[ "$lines" -le "$MAX_LINES" ] || big+="$f: $lines lines (> $MAX_LINES)"$'\n'
done
result "no source file past $MAX_LINES lines" "${big%$'\n'}"

unlisted=""
for f in $(find . -name '*.c' ! -path ./main.c | sed 's#^\./##' | sort); do
	grep -qF "'$f'" meson.build || unlisted+="$f is not in src/meson.build"$'\n'
done
result "every module is listed in src/meson.build" "${unlisted%$'\n'}"

objdir=${BUILD:-$top/build/gcc}/src/libmpconv.a.p
if ls "$objdir"/*.o >/dev/null 2>&1; then
	result "no two modules call each other" "$(python3 "$top/tests/tree/module-calls.py" "$objdir")"
else
	result "no two modules call each other" "no objects in $objdir: build first"
fi
exit 0
