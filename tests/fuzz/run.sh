#!/usr/bin/env bash
# One fuzzing run: `tests/fuzz/run.sh LOG COMMAND...` runs COMMAND, its output
# shown and kept in LOG, and exits with its status.
#
# LeakSanitizer's own stop-the-world tracer sometimes crashes at exit
# ("Tracer caught signal 11", then "LeakSanitizer has encountered a fatal
# error"): a fault of the sanitizer runtime, not a report about our code
# (google/sanitizers#1353), seen once in CI and not in a dozen runs here.
# Only when a failed run shows that fault and no report of any sanitizer or
# oracle is the run made again, once; a second failure of any kind fails.
set -u
log=$1
shift

run() {
    "$@" 2>&1 | tee "$log"
    return "${PIPESTATUS[0]}"
}

run "$@"
status=$?
if [ "$status" -ne 0 ] &&
    grep -q '^Tracer caught signal' "$log" &&
    grep -q 'LeakSanitizer has encountered a fatal error' "$log" &&
    ! grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer: detected)|runtime error:|Uncaught Python exception|deadly signal|ERROR: libFuzzer' "$log"; then
    echo "== LeakSanitizer's tracer crashed (a runtime fault, no report): once more"
    run "$@"
    status=$?
fi
exit "$status"
