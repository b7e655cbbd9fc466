#!/usr/bin/env bash
# Meson 1.0 runs nvcc without a dependency file, so ninja does not know which headers a .cu file
# includes and would keep CUDA objects built against old headers. Before a build, drop every CUDA object
# of build dir $1 that is older than the newest header under lib/ (coarse: they all rebuild).
# Usage: tools/scripts/cuda-stale.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: tools/scripts/cuda-stale.sh BUILD_DIR}
[ -d "$build" ] || exit 0
newest=$(find lib \( -name '*.h' -o -name '*.cuh' -o -name '*.def' \) -printf '%T@\n' | sort -n | tail -1)
[ -n "$newest" ] || exit 0
find "$build" -name '*.cu.o' ! -newermt "@$newest" -print -delete | sed 's/^/stale CUDA object (older than a header): /'
