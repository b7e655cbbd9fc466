#!/usr/bin/env bash
# Runs the Boost.Test suites of a build folder and prints, last, one line "N passed, M failed, K skipped".
# Exit status is non-zero when any test case failed or the runner crashed.
set -uo pipefail
build=${1:-build}
report="$build/test-report.xml"
rm -f "$report"
"$build/test/dive_tests" --report_level=detailed --report_format=XML --report_sink="$report" \
  --log_level=test_suite --color_output=no "${@:2}"
rc=$?
if [ ! -s "$report" ]; then
  echo "error: the test runner produced no report (exit status $rc)"
  echo "0 passed, 1 failed"
  exit 1
fi
python3 "$(dirname "$0")/test-summary.py" "$report" "$rc"
