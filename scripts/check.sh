#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The whole test suite: builds (gcc with -Werror, clang with -Werror, gcc ASan+UBSan), then runs
# every TAP-speaking test program and script, counts each TAP result line, and ends with one line:
#   N passed, N failed, N skipped
# A program that crashes, exits non-zero with no failing line, or breaks its plan counts as failed.
# Logs: build/test-logs/<suite>/<test>.log. Select suites with SUITES="tree unit fuzz integration".
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
logs=build/test-logs
rm -rf "$logs"
mkdir -p "$logs"
SUITES=${SUITES:-"tree unit fuzz integration"}
TEST_TIMEOUT=${TEST_TIMEOUT:-600}

passed=0 failed=0 skipped=0
failures=()

# run_tap SUITE NAME CMD... : runs CMD under a timeout, parses its TAP output, adds to the totals.
run_tap()
{
	local suite=$1 name=$2
	shift 2
	local log="$logs/$suite/$name.log" rc=0
	mkdir -p "$logs/$suite"
	timeout --kill-after=10 "$TEST_TIMEOUT" "$@" >"$log" 2>&1 </dev/null || rc=$?

	local p=0 f=0 s=0 plan=-1 line
	while IFS= read -r line; do
		case "$line" in
		"1..0"*) plan=0; [[ "$line" == *"# SKIP"* || "$line" == *"# skip"* ]] && s=$((s + 1)) ;;
		1..[0-9]*) plan=${line#1..}; plan=${plan%%[!0-9]*} ;;
		"ok "*"# SKIP"* | "ok "*"# skip"* | "not ok "*"# TODO"*) s=$((s + 1)) ;;
		"ok "* | "ok") p=$((p + 1)) ;;
		"not ok"*) f=$((f + 1)) ;;
		esac
	done <"$log"

	local why=""
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="timed out after ${TEST_TIMEOUT}s"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		why="exited $rc with no failing test line"
	elif [ "$plan" -gt 0 ] && [ $((p + f + s)) -ne "$plan" ]; then
		why="planned $plan tests, saw $((p + f + s))"
	elif [ "$plan" -lt 0 ] && [ $((p + f + s)) -eq 0 ]; then
		why="printed no TAP plan and no results"
	fi
	[ -n "$why" ] && f=$((f + 1))

	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	printf '%-12s %-40s %3d passed, %d failed, %d skipped%s\n' "$suite" "$name" "$p" "$f" "$s" \
		"${why:+  ($why)}"
	if [ "$f" -gt 0 ]; then
		failures+=("$log")
		grep -E '^not ok|^#' "$log" | head -n 40 | sed 's/^/    | /'
	fi
}

build_dir()
{
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" --werror "$@" >"$logs/setup-${dir//\//_}.log" 2>&1 || {
			cat "$logs/setup-${dir//\//_}.log"
			return 1
		}
	fi
	ninja -C "$dir" >"$logs/build-${dir//\//_}.log" 2>&1 || {
		grep -E 'error|warning' "$logs/build-${dir//\//_}.log" | head -n 60
		return 1
	}
}

build_failed=0
echo "== build: gcc (-Werror), clang (-Werror), gcc ASan+UBSan"
CC=gcc build_dir build/gcc || { echo "build/gcc failed"; build_failed=1; }
CC=clang build_dir build/clang || { echo "build/clang failed"; build_failed=1; }
CC=gcc build_dir build/asan -Db_sanitize=address,undefined -Db_lundef=false ||
	{ echo "build/asan failed"; build_failed=1; }
failed=$((failed + build_failed))

# Sanitizers: any report is fatal, leaks included.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99
export CMOCKA_MESSAGE_OUTPUT=TAP

for suite in $SUITES; do
	case $suite in
	tree)
		echo "== tree (layers, no circles, file sizes, explicit module list; docs agree with --help)"
		run_tap tree check-tree bash tests/tree/check-tree.sh
		run_tap tree check-docs python3 tests/tree/check-docs.py build/gcc/src/mpconvd
		;;
	unit)
		echo "== unit (cmocka; gcc build, then ASan+UBSan build)"
		for b in gcc asan; do
			for t in build/$b/tests/unit/torture_*; do
				[ -f "$t" ] && [ -x "$t" ] && run_tap unit "$(basename "$t")-$b" "$t"
			done
		done
		;;
	fuzz)
		echo "== fuzz corpus replay (gcc build, then ASan+UBSan build)"
		for b in gcc asan; do
			for t in build/$b/tests/fuzz/replay_*; do
				{ [ -f "$t" ] && [ -x "$t" ]; } || continue
				name=$(basename "$t")
				run_tap fuzz "$name-$b" "$t" "tests/fuzz/corpus/${name#replay_}"
			done
		done
		;;
	integration)
		echo "== integration (network namespaces)"
		for t in tests/integration/[0-9]*.sh; do
			# Test tools from the gcc build; the daemon from ASan+UBSan (a small quarantine
			# keeps RSS-growth checks meaningful), so leaks and memory errors fail the test.
			[ -f "$t" ] && run_tap integration "$(basename "$t" .sh)" \
				env MPCONV_BUILD="$top/build/gcc" MPCONVD="$top/build/asan/src/mpconvd" \
				ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=4" bash "$t"
		done
		;;
	*) echo "unknown suite '$suite'"; failed=$((failed + 1)) ;;
	esac
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "== failing logs"
	printf '  %s\n' "${failures[@]}"
fi
summary="$passed passed, $failed failed, $skipped skipped"
echo "$summary" >build/test-summary.txt
echo "$summary"
[ "$failed" -eq 0 ]
