#!/usr/bin/env bash
# ResNet-50 forward+backward at 224x224: dive (cpu backend) vs PyTorch (pip, 2 threads), alternating runs
# in one invocation; prints medians, the ratio and peak RSS. Usage: bench/resnet50.sh [build] [steps] [batch]
set -euo pipefail
build=${1:-build}
steps=${2:-5}
batch=${3:-8}
out=bench/out
mkdir -p "$out"
: > "$out/resnet50.jsonl"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for round in 1 2 3; do
  "$build/bench/bench_resnet50" "$batch" "$steps" | tee -a "$out/resnet50.jsonl"
  python3 bench/resnet50_torch.py "$batch" "$steps" | tee -a "$out/resnet50.jsonl"
done
python3 - "$out/resnet50.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
d = [t for r in rows if r["impl"] == "dive" for t in r["step_ms"]]
p = [t for r in rows if r["impl"] != "dive" for t in r["step_ms"]]
dm = max(r["peak_rss_mb"] for r in rows if r["impl"] == "dive")
pm = max(r["peak_rss_mb"] for r in rows if r["impl"] != "dive")
# best step: robust to other load on the machine (an OpenMP barrier waiting on a descheduled thread)
print("| batch | dive median (ms) | PyTorch median (ms) | speed-up | dive best (ms) | PyTorch best (ms) | speed-up (best) | dive peak RSS (MB) | PyTorch peak RSS (MB) |")
print("|---|---|---|---|---|---|---|---|---|")
print(f"| {rows[0]['batch']} | {statistics.median(d):.0f} | {statistics.median(p):.0f} | {statistics.median(p)/statistics.median(d):.2f}x "
      f"| {min(d):.0f} | {min(p):.0f} | {min(p)/min(d):.2f}x | {dm:.0f} | {pm:.0f} |")
PY
