#!/usr/bin/env bash
# Training-step benchmark: dive (cpu backend) vs PyTorch (pip, 2 threads) on the same machine, in one run,
# alternating the two so that machine noise hits both. Prints per-batch medians, the ratio and peak RSS.
# Usage: bench/train_step.sh [build] [steps] [batches...]
set -euo pipefail
build=${1:-build}
steps=${2:-5}
shift 2 || true
batches=${*:-32 128}
out=bench/out
mkdir -p "$out"
: > "$out/train_step.jsonl"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for B in $batches; do
  for round in 1 2; do
    "$build/bench/bench_train_step" "$B" "$steps" cpu | tee -a "$out/train_step.jsonl"
    python3 bench/train_step_torch.py "$B" "$steps" | tee -a "$out/train_step.jsonl"
  done
done
python3 - "$out/train_step.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| batch (images) | dive median step (ms) | PyTorch median step (ms) | speed-up | dive peak RSS (MB) | PyTorch peak RSS (MB) |")
print("|---|---|---|---|---|---|")
for B in sorted({r["batch"] for r in rows}):
    d = [t for r in rows if r["batch"] == B and r["impl"] == "dive" for t in r["step_ms"]]
    p = [t for r in rows if r["batch"] == B and r["impl"] != "dive" for t in r["step_ms"]]
    dm = max(r["peak_rss_mb"] for r in rows if r["batch"] == B and r["impl"] == "dive")
    pm = max(r["peak_rss_mb"] for r in rows if r["batch"] == B and r["impl"] != "dive")
    print(f"| {B} | {statistics.median(d):.0f} | {statistics.median(p):.0f} | {statistics.median(p)/statistics.median(d):.2f}x | {dm:.0f} | {pm:.0f} |")
PY
