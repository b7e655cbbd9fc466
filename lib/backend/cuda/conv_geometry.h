// The cuBLAS paths of conv2d (conv_gemm.cu) that conv.cu (cuDNN) tries first; ConvGeometry is lib/ops/attrs.h's.
#pragma once
#include <cstdint>

#include "lib/ops/attrs.h"

namespace dive::cuda {

// y = conv(x, w) (no bias) and dx from g, on cuBLAS, for unpadded 1x1 kernels (any stride) in f32 / f64;
// return false to leave the convolution to cuDNN. Operands contiguous.
bool conv_forward_by_gemm(const Tensor& X, const Tensor& Wt, const Tensor& Y, const ConvGeometry& g, int dev);
bool conv_backward_data_by_gemm(const Tensor& G, const Tensor& Wt, const Tensor& DX, const ConvGeometry& g, int dev);

// The weight gradient dw [O, C, KH, KW] from g [N, O, OH, OW] and x [N, C, H, W] (contiguous) on cuBLAS,
// deterministic, when this path applies (f32 / f64; a stride-1 unpadded 1x1 kernel always, other kernels
// in deterministic mode); returns false to leave it to cuDNN.
bool conv_weights_by_gemm(const Tensor& G, const Tensor& X, const Tensor& DW, const ConvGeometry& g, int dev);

}  // namespace dive::cuda
