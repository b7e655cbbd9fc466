#!/usr/bin/env bash
# Folded vs unfolded set attention: dive (--spm_attention auto = the cost model's choice, and unfolded)
# against PyTorch running the official model (unfolded) and the same fold (bench/folded_attention_torch.py),
# all in one run, alternating so that machine noise hits every variant. Prints medians and ratios.
# Usage: bench/set_attention.sh [build] [steps] [rounds] [config:batch ...]   (default butd:32 butd:128 cnn18:64)
set -euo pipefail
build=${1:-build}
steps=${2:-3}
rounds=${3:-2}
shift 3 || true
runs=${*:-butd:32 butd:128 cnn18:64}
out=bench/out
mkdir -p "$out"
jsonl="$out/set_attention.jsonl"
: > "$jsonl"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} TORCH_THREADS=${TORCH_THREADS:-2}
for run in $runs; do
  cfg=${run%%:*}
  B=${run##*:}
  for round in $(seq "$rounds"); do
    "$build/bench/bench_train_step" "$B" "$steps" cpu --config "$cfg" --spm_attention auto | tee -a "$jsonl"
    python3 bench/train_step_torch.py "$B" "$steps" --config "$cfg" --attention unfolded | tee -a "$jsonl"
    "$build/bench/bench_train_step" "$B" "$steps" cpu --config "$cfg" --spm_attention unfolded | tee -a "$jsonl"
    python3 bench/train_step_torch.py "$B" "$steps" --config "$cfg" --attention folded | tee -a "$jsonl"
  done
done
python3 - "$jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
print("| config | batch | dive auto (form) | dive unfolded | PyTorch official | PyTorch folded | auto vs PyTorch folded | auto vs official | dive RSS auto / unfolded (MB) |")
print("|---|---|---|---|---|---|---|---|---|")
for cfg, B in sorted({(r["config"], r["batch"]) for r in rows}):
    sel = [r for r in rows if r["config"] == cfg and r["batch"] == B]
    def m(pred):
        v = [t for r in sel if pred(r) for t in r["step_ms"]]
        return statistics.median(v) if v else float("nan")
    auto = [r for r in sel if r["impl"] == "dive" and r["spm_attention"] == "auto"]
    unf = [r for r in sel if r["impl"] == "dive" and r["spm_attention"] == "unfolded"]
    a = statistics.median([t for r in auto for t in r["step_ms"]])
    u = statistics.median([t for r in unf for t in r["step_ms"]])
    po = m(lambda r: r["impl"] != "dive" and r["attention"] == "unfolded")
    pf = m(lambda r: r["impl"] != "dive" and r["attention"] == "folded")
    print(f"| {cfg} | {B} | {a:.0f} ({auto[0]['attention']}) | {u:.0f} | {po:.0f} | {pf:.0f} | {pf / a:.2f}x | {po / a:.2f}x | "
          f"{max(r['peak_rss_mb'] for r in auto):.0f} / {max(r['peak_rss_mb'] for r in unf):.0f} |")
PY
