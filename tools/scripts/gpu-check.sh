#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, with the folder made by `make gpu-bundle`:
#   1. checks what the machine has (GPU, driver, PyTorch, CUDA/cuBLAS/cuDNN libraries; a few seconds),
#   2. runs the CUDA tests (every op case on CUDA against the reference backend, the model fixtures on
#      CUDA, the determinism tests; --all-tests: the whole suite, whose other cases are backend-free),
#   3. runs the GPU benchmarks against PyTorch on the same card (training step, ResNet-50, COCO-5K
#      evaluation matrix), alternating the two,
#   4. prints a short summary table last.
# Usage: tools/scripts/gpu-check.sh [--tests-only | --bench-only | --quick | --all-tests] [bundle-dir]
# Environment: TRAIN_BATCHES (default "128 200"), ROUNDS (alternating rounds per benchmark, default 2),
# BENCHES (default "train resnet eval profile torch-profile": which benchmarks, and the per-op profiles of
# dive and of PyTorch, to run).
# Logs go to $OUT (when set) or gpu-check-out/. Exit status: non-zero when a test failed.
set -uo pipefail
mode=all
case "${1:-}" in
  --tests-only) mode=tests; shift ;; --bench-only) mode=bench; shift ;; --quick) mode=quick; shift ;;
  --all-tests) mode=alltests; shift ;;
esac
bundle=${1:-gpu-bundle}
out=${OUT:-gpu-check-out}
if [ ! -d "$bundle" ] && [ -f "$bundle.tar.xz" ]; then  # the packed bundle (tools/scripts/gpu-bundle.sh)
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(".")' "$bundle.tar.xz" || exit 2
fi
mkdir -p "$out"
summary="$out/summary.md"
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }

# ---- 1. the machine -----------------------------------------------------------------------------
note "## GPU check, $(date -u +%FT%TZ)"
note "bundle: $(head -1 "$bundle/BUILD_INFO" 2>/dev/null || echo 'no BUILD_INFO')"
gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -1)
note "GPU: $gpu"
py=python3
torch_info=$($py -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1 | tail -1)
note "PyTorch: $torch_info"
# The CUDA libraries of this machine: those of PyTorch's pip wheels (nvidia/*/lib) or a toolkit.
libdirs=$($py - <<'PY' 2>/dev/null
import glob, os, site
roots = site.getsitepackages() + ["/usr/local/cuda/lib64", "/usr/local/cuda/lib", "/usr/lib/x86_64-linux-gnu"]
want = ("libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcudnn.so.9")
found = {}
for r in roots:
    for w in want:
        if w in found:
            continue
        hits = glob.glob(os.path.join(r, w)) + glob.glob(os.path.join(r, "nvidia", "**", w), recursive=True)
        if hits:
            found[w] = os.path.dirname(os.path.realpath(hits[0]))
print(":".join(dict.fromkeys(found.values())))
PY
)
export LD_LIBRARY_PATH="$bundle/lib:${libdirs}:${LD_LIBRARY_PATH:-}"
note "CUDA libraries from: ${libdirs:-NOT FOUND}"
missing=$(ldd "$bundle/bin/dive_tests" | grep "not found" || true)
if [ -n "$missing" ]; then
  note "missing libraries: $missing"
  exit 2
fi
status=0

# ---- 2. tests -------------------------------------------------------------------------------------
if [ "$mode" != bench ]; then
  # Boost.Test: one --run_test per suite or case (a comma list only joins names of one level)
  filter=()
  for t in op_table ops tensor cuda model_fixtures/cuda_backend model_default_dims/cuda_backend model_cnn/cuda_backend; do
    filter+=("--run_test=$t")
  done
  [ "$mode" = quick ] && filter=(--run_test=op_table --run_test=ops --run_test=tensor)
  [ "$mode" = alltests ] && filter=()
  t0=$(date +%s)
  timeout "${TEST_TIMEOUT:-300}" "$bundle/bin/dive_tests" --report_level=detailed --report_format=XML --report_sink="$out/test-report.xml" \
    --log_level=test_suite --color_output=no "${filter[@]}" > "$out/tests.log" 2>&1
  rc=$?
  grep -E "error|fatal|exception" "$out/tests.log" | head -60
  tests_line=$($py tools/scripts/test-summary.py "$out/test-report.xml" "$rc" 2>&1 | tee "$out/test-summary.txt" | tail -1)
  grep -E "^(FAILED|skipped):" "$out/test-summary.txt" | head -40
  [ "$rc" = 0 ] || status=1
  note "tests ($(( $(date +%s) - t0 )) s): $tests_line"
fi

# ---- 3. benchmarks (each against PyTorch on this card, alternating) -------------------------------
if [ "$mode" = all ] || [ "$mode" = bench ] || [ "$mode" = alltests ]; then
  rounds=${ROUNDS:-2}
  bench_log="$out/bench.jsonl"
  : > "$bench_log"
  # run NAME CMD...: one JSON line, tagged with the benchmark's name, to the log and the screen
  run() {
    local name=$1
    shift
    timeout "${BENCH_TIMEOUT:-240}" "$@" 2>>"$out/bench.err" | sed "s/^{/{\"bench\": \"$name\", /" | tee -a "$bench_log"
  }
  benches=" ${BENCHES:-train resnet eval profile torch-profile} "
  [[ $benches == *" train "* ]] && for B in ${TRAIN_BATCHES:-128 200}; do
    for round in $(seq "$rounds"); do
      run train_step "$bundle/bin/bench_train_step" "$B" 10 cuda
      run train_step $py bench/train_step_torch.py "$B" 10 cuda
      [ "$B" = 128 ] && run train_step "$bundle/bin/bench_train_step" "$B" 10 cuda nondet
    done
  done
  [[ $benches == *" resnet "* ]] && for round in $(seq "$rounds"); do
    run resnet50 "$bundle/bin/bench_resnet50" 32 10 cuda
    run resnet50 "$bundle/bin/bench_resnet50" 32 10 cuda nondet
    run resnet50 $py bench/resnet50_torch.py 32 10 cuda
  done
  [[ $benches == *" eval "* ]] && for round in $(seq "$rounds"); do
    run eval_matrix "$bundle/bin/bench_eval_matrix" 5000 3 1024 8192 cuda
    run eval_matrix $py bench/eval_matrix_torch.py 5000 3 --block 1024 --device cuda
  done
  # per-op (and per-shape) GPU time for the next tuning: DIVE_PROFILE synchronises around each kernel;
  # PyTorch's profiler table of the same training step alongside
  if [[ $benches == *" profile "* ]]; then
    DIVE_PROFILE=shapes timeout 120 "$bundle/bin/bench_train_step" 128 2 cuda > /dev/null 2> "$out/profile_train_step.txt"
    DIVE_PROFILE=shapes timeout 120 "$bundle/bin/bench_resnet50" 32 2 cuda > /dev/null 2> "$out/profile_resnet50.txt"
    [[ $benches == *" torch-profile "* ]] &&
      TORCH_PROFILE=1 timeout 120 $py bench/train_step_torch.py 128 2 cuda > /dev/null 2> "$out/profile_train_step_torch.txt"
    head -25 "$out/profile_train_step.txt"
  fi
  $py - "$bench_log" <<'PY' | tee -a "$summary"
import json, statistics, sys
rows = []
for line in open(sys.argv[1]):
    try:
        rows.append(json.loads(line))
    except ValueError:
        pass
def med(xs):
    return statistics.median(xs) if xs else float("nan")
print("\n| benchmark | dive median | PyTorch median | dive / PyTorch speed-up | dive peak GPU MB | PyTorch peak GPU MB |")
print("|---|---|---|---|---|---|")
for bench, key, unit in (("train_step", "step_ms", "ms"), ("resnet50", "step_ms", "ms"), ("eval_matrix", "sim_s", "s")):
    sizes = sorted({r.get("batch", r.get("images")) for r in rows if r.get("bench") == bench})
    for n in sizes:
        sel = [r for r in rows if r.get("bench") == bench and r.get("batch", r.get("images")) == n]
        torch = [r for r in sel if r["impl"] != "dive"]
        p = med([t for r in torch for t in r[key]])
        pg = max([r.get("peak_gpu_mb", 0) for r in torch] or [0])
        # dive in its default deterministic mode, and with `nondet` where that was run
        for mode in ("deterministic", "nondeterministic"):
            mine = [r for r in sel if r["impl"] == "dive" and r.get("mode", "deterministic") == mode]
            if not mine:
                continue
            d = med([t for r in mine for t in r[key]])
            dg = max(r.get("peak_gpu_mb", 0) for r in mine)
            tag = " (dive nondet)" if mode != "deterministic" else ""
            print(f"| {bench} {n}{tag} | {d:.1f} {unit} | {p:.1f} {unit} | {p / d:.2f}x | {dg:.0f} | {pg:.0f} |")
PY
fi
echo
echo "==== summary ===="
cat "$summary"
exit $status
