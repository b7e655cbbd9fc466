#!/usr/bin/env bash
# Builds the CUDA configuration here and gathers what a GPU machine needs to test and benchmark it into
# one folder (default gpu-bundle/): the test, benchmark and command-line binaries (stripped) and the
# non-CUDA shared libraries they link (Boost, stb, libstdc++...). The GPU machine has no oneDNN, Boost or
# meson of ours, so the bundle is built with -Donednn=disabled (its cpu device runs the reference
# kernels; the CUDA tests compare against the reference backend anyway) and machine code for sm_90 only
# (H100/H200; PTX for newer cards). CUDA runtime, cuBLAS and cuDNN are NOT bundled: tools/scripts/gpu-check.sh
# takes the GPU machine's own (those of its PyTorch install), as the driver there must match them.
# Usage: tools/scripts/gpu-bundle.sh [bundle-dir] [build-dir]
set -euo pipefail
bundle=${1:-gpu-bundle}
build=${2:-build-gpu}
export PATH=/usr/local/cuda/bin:$PATH
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release -Donednn=disabled -Dcuda=enabled -Dgpu_arch=90
fi
bash tools/scripts/cuda-stale.sh "$build"  # nvcc objects carry no header dependencies (see there)
ninja -C "$build" -j "$(nproc)"
rm -rf "$bundle"
mkdir -p "$bundle/bin" "$bundle/lib"
bins=("$build/test/dive_tests" "$build/tools/dive" "$build/bench/bench_train_step" "$build/bench/bench_eval_matrix"
      "$build/bench/bench_resnet50")
for b in "${bins[@]}"; do
  cp "$b" "$bundle/bin/"
  strip "$bundle/bin/$(basename "$b")"
done
# Shared libraries: everything the binaries load except glibc's own, the driver and the CUDA libraries.
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libcuda\.so|libcudart|libcublas|libcudnn|libnvrtc|libOpenCL)'
for b in "${bins[@]}"; do
  ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  if [[ ! $name =~ $skip ]]; then cp -L "$path" "$bundle/lib/$name"; fi
done
cp tools/scripts/gpu-check.sh "$bundle/"
{
  echo "built: $(date -u +%FT%TZ) on $(hostname) from $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty')"
  echo "nvcc: $(nvcc --version | tail -1)"
  echo "cuDNN headers: $(awk '/define CUDNN_MAJOR|define CUDNN_MINOR|define CUDNN_PATCHLEVEL/ {printf "%s ", $3}' /usr/local/cuda/include/cudnn_version.h)"
} > "$bundle/BUILD_INFO"
# One compressed file as well (the binaries carry the CUDA fatbins; xz packs them ~4x): what travels to
# a GPU machine when a copy's size is limited. tools/scripts/gpu-check.sh unpacks it when the folder is missing.
tar -cf - "$bundle" | xz -T0 -6 > "$bundle.tar.xz"
du -sh "$bundle" "$bundle.tar.xz"
