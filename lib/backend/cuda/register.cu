// Fills the CUDA kernel table (called by the dispatcher only after cuda_backend_init() found a device).
//
// Implemented here: copy, fill, add, sub, mul, div, maximum, minimum, pow_scalar, scale_shift,
// eq, ne, lt, le, gt, ge, where, neg, abs, sign, exp, log, sqrt, rsqrt, tanh, sigmoid, relu, gelu, clamp,
// relu_backward, gelu_backward, sum, mean, logsumexp, norm, var, max, min, matmul, linear, dropout,
// rand_uniform, rand_normal, masked_fill, add_scaled_, index_select, index_add, gather, scatter_add
// (indexing.cu), cat, pad (cat_pad.cu), max_pool2d, max_pool2d_backward, avg_pool2d, avg_pool2d_backward,
// adaptive_avg_pool2d, adaptive_avg_pool2d_backward (pool.cu), conv2d, conv2d_backward_data,
// conv2d_backward_weights (conv.cu, cuDNN), softmax, log_softmax, softmax_backward, log_softmax_backward,
// layer_norm, layer_norm_backward, batch_norm, batch_norm_backward (softmax.cu, layer_norm.cu,
// batch_norm.cu), gru_cell, gru_cell_backward (gru_cell.cu), smooth_chamfer, smooth_chamfer_backward
// (smooth_chamfer.cu).
//
// Left null: none (every op of lib/ops/op_list.def has a CUDA kernel).
#include "lib/backend/cuda/context.h"
#include "lib/ops/dispatch.h"

namespace dive {

namespace cuda {
void register_copy_fill(KernelTable& t);
void register_elementwise(KernelTable& t);
void register_random(KernelTable& t);
void register_reduce(KernelTable& t);
void register_blas(KernelTable& t);
void register_softmax(KernelTable& t);
void register_layer_norm(KernelTable& t);
void register_batch_norm(KernelTable& t);
void register_gru_cell(KernelTable& t);
void register_smooth_chamfer(KernelTable& t);
void register_indexing(KernelTable& t);
void register_cat_pad(KernelTable& t);
void register_pool(KernelTable& t);
void register_conv(KernelTable& t);
}  // namespace cuda

void register_cuda_kernels(KernelTable& t) {
  cuda::register_copy_fill(t);
  cuda::register_elementwise(t);
  cuda::register_random(t);
  cuda::register_reduce(t);
  cuda::register_blas(t);
  cuda::register_softmax(t);
  cuda::register_layer_norm(t);
  cuda::register_batch_norm(t);
  cuda::register_gru_cell(t);
  cuda::register_smooth_chamfer(t);
  cuda::register_indexing(t);
  cuda::register_cat_pad(t);
  cuda::register_pool(t);
  cuda::register_conv(t);
}

}  // namespace dive
