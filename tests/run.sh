#!/bin/bash
# Runs every test: cmocka unit tests (TAP output), fuzz corpus replays, the format check and the
# end-to-end suites. Every suite speaks TAP ("ok N - name" / "not ok N - name"); this script counts
# the lines, treats a suite that exits non-zero without a failing line as one failure, and ends with
# "N passed, N failed". Usage: tests/run.sh [pattern]   (pattern filters suite file names)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export GANTRY_BIN="$ROOT/build/san/gantry"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export CMOCKA_MESSAGE_OUTPUT=TAP
# Each run has its own log directory, so that concurrent runs cannot wipe each other's logs.
LOGDIR="$ROOT/build/test-logs/run.$$"
rm -rf "$LOGDIR"; mkdir -p "$LOGDIR"
pattern="${1:-}"
passed=0; failed=0

run_suite() { # name, command...
	local name=$1; shift
	[ -n "$pattern" ] && [[ "$name" != *$pattern* ]] && return
	local log="$LOGDIR/${name//\//_}.log"
	local start=$SECONDS
	"$@" >"$log" 2>&1
	local rc=$?
	local ok nok
	ok=0; nok=0
	if [ -f "$log" ]; then
		ok=$(grep -cE '^ok [0-9]+' "$log")
		nok=$(grep -cE '^not ok [0-9]+' "$log")
	else
		echo "    (log $log is missing)"; nok=1
	fi
	if [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then nok=1; fi
	if [ "$ok" -eq 0 ] && [ "$nok" -eq 0 ]; then nok=1; fi # a suite that ran nothing failed
	passed=$((passed + ok)); failed=$((failed + nok))
	printf '%-40s %4d passed %3d failed  (%ds)\n' "$name" "$ok" "$nok" $((SECONDS - start))
	if [ "$nok" -ne 0 ]; then
		grep -E '^not ok' "$log" | sed 's/^/    /'
		echo "    --- last lines of $log ---"; tail -n 30 "$log" | sed 's/^/    /'
	fi
}

fuzz_replay() { # target binary, corpus dir
	local bin=$1 dir=$2
	if [ ! -d "$dir" ] || [ -z "$(ls -A "$dir")" ]; then echo "not ok 1 - empty corpus $dir"; return; fi
	if "$bin" -runs=0 "$dir"/* >/dev/null 2>"$LOGDIR/$(basename "$bin").replay"; then
		echo "ok 1 - replay $(ls "$dir" | wc -l) inputs"
	else
		cat "$LOGDIR/$(basename "$bin").replay"; echo "not ok 1 - replay crashed"
	fi
	# A short bounded fuzzing run on top of the corpus, so new code paths get exercised.
	local scratch; scratch=$(mktemp -d)
	if "$bin" -max_total_time=10 -timeout=5 -rss_limit_mb=1024 "$scratch" "$dir" \
		>/dev/null 2>"$LOGDIR/$(basename "$bin").fuzz"; then
		echo "ok 2 - 10 s of fuzzing found nothing"
	else
		tail -n 40 "$LOGDIR/$(basename "$bin").fuzz"; echo "not ok 2 - fuzzing found a crash"
	fi
	rm -rf "$scratch"
}

format_suite() {
	if scripts/format-check.sh; then echo "ok 1 - clang-format"; else echo "not ok 1 - clang-format"; fi
}

run_suite format format_suite
for t in build/san/tests/test_*; do
	[ -x "$t" ] && run_suite "unit/$(basename "$t")" "$t"
done
for f in build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	n=$(basename "$f"); run_suite "fuzz/$n" fuzz_replay "$f" "tests/fuzz/corpus/${n#fuzz_}"
done
for t in tests/e2e/t[0-9]*.sh tests/e2e/test_*.py; do
	[ -e "$t" ] || continue
	case "$t" in
	*.py) run_suite "e2e/$(basename "$t")" python3 "$t" ;;
	*) run_suite "e2e/$(basename "$t")" bash "$t" ;;
	esac
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
