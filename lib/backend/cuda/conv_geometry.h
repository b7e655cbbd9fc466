// Geometry of one 2-D convolution (NCHW x, OIHW w, groups = 1), shared by conv.cu (cuDNN) and
// conv_gemm.cu (1x1 convolutions and weight gradients on cuBLAS).
#pragma once
#include <cstdint>

#include "lib/core/tensor.h"

namespace dive::cuda {

struct ConvGeometry {
  int64_t N, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw;
};

// y = conv(x, w) (no bias) and dx from g, on cuBLAS, for unpadded 1x1 kernels (any stride) in f32 / f64;
// return false to leave the convolution to cuDNN. Operands contiguous.
bool conv_forward_by_gemm(const Tensor& X, const Tensor& Wt, const Tensor& Y, const ConvGeometry& g, int dev);
bool conv_backward_data_by_gemm(const Tensor& G, const Tensor& Wt, const Tensor& DX, const ConvGeometry& g, int dev);

// The weight gradient dw [O, C, KH, KW] from g [N, O, OH, OW] and x [N, C, H, W] (contiguous) on cuBLAS,
// deterministic, when this path applies (f32 / f64; a stride-1 unpadded 1x1 kernel always, other kernels
// in deterministic mode); returns false to leave it to cuDNN.
bool conv_weights_by_gemm(const Tensor& G, const Tensor& X, const Tensor& DW, const ConvGeometry& g, int dev);

}  // namespace dive::cuda
