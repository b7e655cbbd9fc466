#!/usr/bin/env bash
# Runs the benchmark suites with repetitions (medians; this machine is noisy) and prints a table with
# each matmul rate as a fraction of the fp32 FMA peak measured in the same run.
set -euo pipefail
build=${1:-build}
shift || true
out=bench/out
mkdir -p "$out"
if [ ! -x "$build/bench/bench_ops" ]; then
  echo "bench: $build/bench/bench_ops not built (needs oneDNN and Google Benchmark)"; exit 1
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
"$build/bench/bench_ops" --benchmark_repetitions=${REPS:-5} --benchmark_report_aggregates_only=true \
  --benchmark_min_time=${MIN_TIME:-0.2} --benchmark_out="$out/ops.json" --benchmark_out_format=json "$@"
python3 bench/summarize.py "$out/ops.json"
