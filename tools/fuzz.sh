#!/bin/sh
# tools/fuzz.sh - build the libFuzzer targets (fuzz/) and run each for SECONDS.
#
#   tools/fuzz.sh [SECONDS] [TARGET...]     default 20 seconds, every target
#
# Builds BUILD_DIR (default build-fuzz) with clang, CF_FUZZ=ON (address +
# undefined-behaviour sanitizers, fuzzer coverage), CUDA off. Each target
# starts from its committed seeds in fuzz/corpus/<target>/ and keeps what it
# finds in BUILD_DIR/corpus/<target>/ (never in the source tree); a crash, a
# sanitizer report, a leak or a slow input is written to
# BUILD_DIR/crashes/<target>/ and counted. Prints one line per target
# (executions, crashes) and a total line; exits 1 when anything crashed.
# JOBS (default 2) sets the build's parallel jobs; FUZZ_RSS_MB (default 2048)
# the memory limit of one target.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-20}
[ $# -gt 0 ] && shift
targets=${*:-"arch space spec journal checkpoint dataset table"}
BUILD_DIR=${BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-2}
rss=${FUZZ_RSS_MB:-2048}

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (apt-get install clang libclang-rt-14-dev libomp-dev)" >&2; exit 2; }
mkdir -p "$BUILD_DIR"
CC=clang cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCF_FUZZ=ON -DCF_CUDA=OFF \
    -DCF_BUILD_TESTS=OFF >"$BUILD_DIR/configure.log" 2>&1 || { cat "$BUILD_DIR/configure.log" >&2; exit 2; }
cmake --build "$BUILD_DIR" -j "$JOBS" --target fuzz_all >"$BUILD_DIR/build.log" 2>&1 || {
    tail -50 "$BUILD_DIR/build.log" >&2; exit 2; }

# the targets hand their input to the readers as a file: in memory where
# /dev/shm is there (some 30 times the executions of a disk-backed /tmp)
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
total_runs=0
total_crashes=0
for t in $targets; do
    bin="$BUILD_DIR/fuzz/fuzz_$t"
    [ -x "$bin" ] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
    work="$BUILD_DIR/corpus/$t"
    crashes="$BUILD_DIR/crashes/$t"
    mkdir -p "$work" "$crashes"
    log="$BUILD_DIR/fuzz_$t.log"
    before=$(ls "$crashes" | wc -l)
    "$bin" -max_total_time="$seconds" -rss_limit_mb="$rss" -malloc_limit_mb="$rss" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "fuzz/corpus/$t" >"$log" 2>&1 || true
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    runs=${runs:-0}
    found=$(( $(ls "$crashes" | wc -l) - before ))
    printf '%-12s %10s executions %3s crashes  (%ss; log %s)\n' "$t" "$runs" "$found" "$seconds" "$log"
    if [ "$found" -gt 0 ]; then
        grep -m1 -E "ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error" "$log" | sed 's/^/    /' || true
        ls "$crashes" | sed "s|^|    $crashes/|"
    fi
    total_runs=$((total_runs + runs))
    total_crashes=$((total_crashes + found))
done
printf '%-12s %10s executions %3s crashes\n' total "$total_runs" "$total_crashes"
[ "$total_crashes" -eq 0 ]
