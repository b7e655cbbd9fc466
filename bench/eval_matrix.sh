#!/usr/bin/env bash
# COCO-5K evaluation matrix: dive (cpu backend, 2 OpenMP threads) vs PyTorch (pip, 2 threads) on the same
# machine, in one run, alternating the two. Prints medians, the speed-up over PyTorch and the ratio to
# the bare GEMM the evaluation contains (dive's, same blocks, measured alternately with it).
# Usage: bench/eval_matrix.sh [build] [images] [reps] [rounds]
#   images 1000 (default, quick: 1000 x 5000) or 5000 (the COCO-5K matrix, the issue's number: ~1 min a round)
set -euo pipefail
build=${1:-build}
images=${2:-1000}
reps=${3:-3}
rounds=${4:-1}
out=bench/out
mkdir -p "$out"
log="$out/eval_matrix_${images}.jsonl"
: > "$log"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export TORCH_THREADS=${TORCH_THREADS:-2}
for round in $(seq "$rounds"); do
  "$build/bench/bench_eval_matrix" "$images" "$reps" | tee -a "$log"
  python3 bench/eval_matrix_torch.py "$images" "$reps" ${TORCH_BLOCK:+--block "$TORCH_BLOCK"} | tee -a "$log"
done
python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
med = lambda impl, key: statistics.median([t for r in rows if r["impl"] == impl for t in r[key]])
r0 = rows[0]
gflop = r0["gflop"]
dg, ds, tg, ts = med("dive", "gemm_s"), med("dive", "sim_s"), med("torch", "gemm_s"), med("torch", "sim_s")
n = sum(len(r["sim_s"]) for r in rows if r["impl"] == "dive")
print(f"\n{r0['images']} images x {r0['captions']} captions, K = 4, D = 1024, smooth-Chamfer (alpha 16, denominator 2); "
      f"GEMM {gflop:.0f} GFLOP; medians of {n} runs each")
print("| what | median (s) | GFLOP/s (GEMM part) | vs PyTorch similarity | vs dive bare GEMM |")
print("|---|---|---|---|---|")
print(f"| dive bare GEMM (blocked as the eval, op layer / oneDNN) | {dg:.3f} | {gflop/dg:.0f} | {ts/dg:.2f}x faster | 1.00 |")
print(f"| dive similarity_matrix (GEMM + fused smooth_chamfer) | {ds:.3f} | {gflop/ds:.0f} | {ts/ds:.2f}x faster | {ds/dg:.2f} |")
print(f"| PyTorch GEMM only (same image blocks) | {tg:.3f} | {gflop/tg:.0f} | - | {tg/dg:.2f} |")
print(f"| PyTorch similarity (GEMM + logsumexp reduction) | {ts:.3f} | {gflop/ts:.0f} | 1.00 | {ts/dg:.2f} |")
err = max(r["spot_check_max_abs_err"] for r in rows)
print(f"spot checks against an f64/composite reference: max abs error {err:.1e}")
PY
