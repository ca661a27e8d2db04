#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs every libFuzzer target for SECONDS seconds (default 60) under ASan+UBSan.
#   scripts/fuzz.sh [SECONDS]
# Builds build/fuzz with clang (-Dfuzzing=true) if needed, then runs each
# build/fuzz/tests/fuzz/fuzz_<name> on a copy of tests/fuzz/corpus/<name> in
# build/fuzz-work/<name>/corpus, so the committed corpus stays as reviewed. Crash inputs land in
# build/fuzz-work/<name>/; copy one into tests/fuzz/corpus/<name>/ as a regression seed once
# fixed. Prints one line per target; exits non-zero if any target failed or none was found.
set -uo pipefail

secs=${1:-60}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

mkdir -p build
if [ ! -f build/fuzz/build.ninja ]; then
	rm -rf build/fuzz # a setup that failed half-way leaves a directory meson will not reuse
	CC=clang meson setup build/fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
		-Db_lundef=false >build/fuzz-setup.log 2>&1 || {
		grep -E 'ERROR' build/fuzz-setup.log
		echo "fuzz: meson setup failed (build/fuzz-setup.log)"
		exit 1
	}
fi
# Only the fuzz targets: a fuzz run needs nothing else, so it does not wait on other modules.
targets=()
for src in tests/fuzz/fuzz_*.c; do
	[ -f "$src" ] && targets+=("tests/fuzz/$(basename "$src" .c)")
done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no tests/fuzz/fuzz_*.c"; exit 1; }
ninja -C build/fuzz "${targets[@]}" >build/fuzz-build.log 2>&1 || {
	grep -E 'error|FAILED' build/fuzz-build.log | head -n 40
	echo "fuzz: build failed (build/fuzz-build.log)"
	exit 1
}

# Any sanitizer report must stop the run so libFuzzer saves the input.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1

rc=0 found=0
for t in build/fuzz/tests/fuzz/fuzz_*; do
	[ -f "$t" ] && [ -x "$t" ] || continue # skip meson's fuzz_<name>.p/ object dirs
	found=1
	name=${t##*/fuzz_}
	work=build/fuzz-work/$name
	rm -rf "$work"
	mkdir -p "$work/corpus"
	[ -d "tests/fuzz/corpus/$name" ] && cp -- "tests/fuzz/corpus/$name"/* "$work/corpus/" 2>/dev/null
	log=$work/fuzz.log
	"$t" -max_total_time="$secs" -max_len=1100 -print_final_stats=1 \
		-artifact_prefix="$work/" "$work/corpus" >"$log" 2>&1
	r=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	units=$(find "$work/corpus" -type f | wc -l)
	if [ "$r" -eq 0 ]; then
		echo "fuzz_$name: ok, ${execs:-?} runs in ${secs}s, corpus $units inputs"
	else
		crash=$(find "$work" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
			-o -name 'timeout-*' -o -name 'oom-*' \) | head -n 1)
		echo "fuzz_$name: FAILED (exit $r) after ${execs:-?} runs: ${crash:-see $log}"
		rc=1
	fi
done
if [ "$found" -eq 0 ]; then
	echo "fuzz: no fuzz_* targets in build/fuzz/tests/fuzz"
	exit 1
fi
exit "$rc"
