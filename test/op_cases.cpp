// THE op test table: every op of lib/ops/op_list.def appears in at least one case (checked by
// test_ops.cpp). Add a line here when you add an op.
#include <functional>
#include <limits>

#include "lib/ops/rnn.h"
#include "lib/ops/similarity.h"
#include "test/op_harness.h"

namespace dive::test {

namespace {

using V = std::vector<Tensor>;
const Fill N = Fill::normal, P = Fill::positive, A = Fill::away_from_zero;
const Layout T = Layout::transposed, S = Layout::strided;

In nograd(In in) {
  in.grad = false;
  return in;
}
In idx(Shape s, int64_t hi) { return In{std::move(s), Fill::index, Layout::contiguous, false, 0, double(hi)}; }
In mask(Shape s) { return In{std::move(s), Fill::mask, Layout::contiguous, false}; }

std::vector<OpCase> build() {
  std::vector<OpCase> c;
  auto push = [&](OpCase k) { c.push_back(std::move(k)); };
  using O = OpId;

  // ---- copies and views ----
  push({"copy_transposed", {O::copy}, {{{3, 4}, N, T}}, [](const V& x) { return x[0].contiguous(); }});
  push({"copy_cast_f64", {O::copy}, {{{2, 5}, N, S}}, [](const V& x) { return x[0].to(DType::f64).to(x[0].dtype()); }});
  push({"fill_full", {O::fill}, {nograd({{2}})},
       [](const V& x) { return Tensor::full({2, 3}, 1.5, x[0].dtype(), x[0].device()); }, 0, 0, false});
  push({"view_reshape_permute", {O::copy}, {{{2, 3, 4}}},
       [](const V& x) { return x[0].permute({2, 0, 1}).reshape({4, 6}).t(); }});
  push({"view_slice_select_expand", {O::sum}, {{{4, 5}, N, S}},
       [](const V& x) { return x[0].slice(1, 1, 5, 2).select(0, 2).unsqueeze(0).expand({3, 2}); }});
  push({"view_flatten_squeeze_split", {O::cat}, {{{2, 1, 6}}}, [](const V& x) {
         auto parts = split(x[0].squeeze(1), 4, 1);  // [2, 4] and [2, 2]
         return cat({parts[1], parts[0]}, 1);
       }});

  // ---- binary elementwise with broadcasting ----
  push({"add_broadcast", {O::add}, {{{3, 4}}, {{4}}}, [](const V& x) { return add(x[0], x[1]); }});
  push({"sub_transposed", {O::sub}, {{{4, 3}, N, T}, {{4, 1}}}, [](const V& x) { return sub(x[0], x[1]); }});
  push({"mul_trailing_broadcast", {O::mul}, {{{3, 4, 5}}, {{3, 4, 1}}}, [](const V& x) { return mul(x[0], x[1]); }});
  push({"sub_leading_broadcast", {O::sub}, {{{2, 3, 4}}, {{3, 4}}}, [](const V& x) { return sub(x[0], x[1]); }});
  push({"mul_3d_broadcast", {O::mul}, {{{2, 1, 4}}, {{3, 1}, N, S}}, [](const V& x) { return mul(x[0], x[1]); }});
  push({"div", {O::div}, {{{3, 4}}, {{3, 4}, P}}, [](const V& x) { return div(x[0], x[1]); }});
  push({"maximum", {O::maximum}, {{{3, 4}}, {{4}}}, [](const V& x) { return maximum(x[0], x[1]); }});
  push({"minimum", {O::minimum}, {{{3, 4}, N, T}, {{3, 4}}}, [](const V& x) { return minimum(x[0], x[1]); }});
  push({"pow_scalar", {O::pow_scalar}, {{{3, 4}, P}}, [](const V& x) { return pow(x[0], 2.5); }});
  push({"scale_shift", {O::scale_shift}, {{{3, 4}, N, S}}, [](const V& x) { return x[0] * 3.0 + 1.0; }});

  // ---- comparisons and where ----
  push({"eq", {O::eq}, {nograd({{3, 4}})}, [](const V& x) { return eq(x[0], x[0].slice(0, 0, 1)); }, 0, 0, false});
  push({"ne", {O::ne}, {nograd({{3, 4}})}, [](const V& x) { return ne(x[0], x[0].slice(0, 1, 2)); }, 0, 0, false});
  push({"lt", {O::lt}, {nograd({{3, 4}}), nograd({{4}})}, [](const V& x) { return lt(x[0], x[1]); }, 0, 0, false});
  push({"le", {O::le}, {nograd({{3, 4}, N, T}), nograd({{3, 4}})}, [](const V& x) { return le(x[0], x[1]); }, 0, 0, false});
  push({"gt", {O::gt}, {nograd({{3, 4}}), nograd({{3, 1}})}, [](const V& x) { return gt(x[0], x[1]); }, 0, 0, false});
  push({"ge_index", {O::ge}, {idx({3, 4}, 5), idx({4}, 5)}, [](const V& x) { return ge(x[0], x[1]); }, 0, 0, false});
  push({"where", {O::where}, {mask({3, 4}), {{3, 4}}, {{4}}}, [](const V& x) { return where(x[0], x[1], x[2]); }});

  // ---- unary ----
  push({"neg", {O::neg}, {{{3, 4}, N, T}}, [](const V& x) { return neg(x[0]); }});
  push({"abs", {O::abs}, {{{3, 4}, A}}, [](const V& x) { return abs(x[0]); }});
  push({"sign", {O::sign}, {nograd({{3, 4}, A})}, [](const V& x) { return sign(x[0]); }, 0, 0, false});
  push({"exp", {O::exp}, {{{3, 4}, N, S}}, [](const V& x) { return exp(x[0]); }});
  push({"log", {O::log}, {{{3, 4}, P}}, [](const V& x) { return log(x[0]); }});
  push({"sqrt", {O::sqrt}, {{{3, 4}, P}}, [](const V& x) { return sqrt(x[0]); }});
  push({"rsqrt", {O::rsqrt}, {{{3, 4}, P, T}}, [](const V& x) { return rsqrt(x[0]); }});
  push({"tanh", {O::tanh}, {{{3, 4}}}, [](const V& x) { return tanh(x[0]); }});
  push({"sigmoid", {O::sigmoid}, {{{3, 4}, N, T}}, [](const V& x) { return sigmoid(x[0]); }});
  push({"relu", {O::relu, O::relu_backward}, {{{3, 4}, A}}, [](const V& x) { return relu(x[0]); }});
  push({"gelu", {O::gelu, O::gelu_backward}, {{{3, 4}, N, S}}, [](const V& x) { return gelu(x[0]); }});
  push({"clamp", {O::clamp}, {{{4, 5}, A}}, [](const V& x) { return clamp(x[0], -0.7, 1.1); }});
  push({"clamp_min", {O::clamp}, {{{4, 5}, A}}, [](const V& x) { return clamp_min(x[0], 0.5); }});

  // ---- reductions ----
  push({"sum_axis_keepdim", {O::sum}, {{{3, 4, 5}, N, T}}, [](const V& x) { return sum(x[0], {1}, true); }});
  push({"sum_all", {O::sum}, {{{3, 4}}}, [](const V& x) { return sum(x[0]); }});
  push({"mean_two_axes", {O::mean}, {{{3, 4, 5}}}, [](const V& x) { return mean(x[0], {0, -1}); }});
  push({"logsumexp", {O::logsumexp}, {{{3, 6}, N, S}}, [](const V& x) { return logsumexp(x[0], {-1}); }});
  push({"logsumexp_axis0", {O::logsumexp}, {{{4, 3}}}, [](const V& x) { return logsumexp(x[0], {0}, true); }});
  push({"norm", {O::norm}, {{{3, 5}, N, T}}, [](const V& x) { return norm(x[0], {1}); }});
  push({"var_unbiased", {O::var}, {{{4, 5}}}, [](const V& x) { return var(x[0], {0}); }});
  push({"var_biased_all", {O::var}, {{{3, 4}, N, S}}, [](const V& x) { return var(x[0], {}, 0); }});
  push({"max_values", {O::max, O::scatter_add}, {{{3, 5}}}, [](const V& x) { return max(x[0], 1).first; }});
  push({"max_indices", {O::max}, {nograd({{4, 3}, N, T})}, [](const V& x) { return max(x[0], 0, true).second; }, 0, 0,
       false});
  push({"min_values", {O::min}, {{{2, 3, 4}}}, [](const V& x) { return min(x[0], -1, true).first; }});
  push({"min_indices", {O::min}, {nograd({{2, 3, 4}})}, [](const V& x) { return min(x[0], 1).second; }, 0, 0, false});
  // The same reductions at sizes that pick each CUDA launch shape (lib/backend/cuda/reduce.cu: row kernel,
  // column kernel with 1..8 lanes, split reductions with a finishing pass); too large for a gradcheck.
  auto big = [&](const char* name, OpId op, In in, std::function<Tensor(const V&)> fn, bool grad = true) {
    if (!grad) in.grad = false;
    OpCase k{name, {op}, {std::move(in)}, std::move(fn), 1e-5, 1e-4, grad};
    k.finite_differences = false;
    push(std::move(k));
  };
  big("sum_long_rows", O::sum, {{3, 5000}}, [](const V& x) { return sum(x[0], {1}); });
  big("sum_leading_axis", O::sum, {{5000, 3}}, [](const V& x) { return sum(x[0], {0}); });
  big("sum_leading_axis_transposed", O::sum, {{5000, 3}, N, T}, [](const V& x) { return sum(x[0], {0}); });
  big("sum_middle_short_axis", O::sum, {{64, 4, 4, 40}}, [](const V& x) { return sum(x[0], {2}); });
  big("sum_two_leading_axes", O::sum, {{12, 80, 96}}, [](const V& x) { return sum(x[0], {0, 1}); });
  big("mean_all_large", O::mean, {{300, 70}}, [](const V& x) { return mean(x[0], {0, 1}); });
  // the CPU block loop ([P, R, Q] views of contiguous input): several 256-column tasks, middle axes, rows
  big("sum_bias_gradient", O::sum, {{130, 600}}, [](const V& x) { return sum(x[0], {0}); });
  big("norm_middle_axes", O::norm, {{3, 5, 7, 300}}, [](const V& x) { return norm(x[0], {1, 2}); });
  big("mean_trailing_axes", O::mean, {{6, 20, 30}}, [](const V& x) { return mean(x[0], {1, 2}); });
  big("norm_all_large_strided", O::norm, {{2100, 10}, N, S}, [](const V& x) { return norm(x[0], {0, 1}); });
  big("logsumexp_long_rows", O::logsumexp, {{4, 3000}}, [](const V& x) { return logsumexp(x[0], {-1}); });
  big("logsumexp_leading_axis", O::logsumexp, {{3000, 4}}, [](const V& x) { return logsumexp(x[0], {0}); });
  big("var_long_rows", O::var, {{2, 4000}}, [](const V& x) { return var(x[0], {-1}); });
  big("var_leading_axis", O::var, {{4000, 2}}, [](const V& x) { return var(x[0], {0}, 0); });
  big("max_long_rows", O::max, {{3, 5000}}, [](const V& x) { return max(x[0], 1).first; });
  big("max_long_rows_indices", O::max, {{3, 5000}}, [](const V& x) { return max(x[0], 1).second; }, false);
  big("min_leading_axis_indices", O::min, {{5000, 3}}, [](const V& x) { return min(x[0], 0).second; }, false);
  big("min_middle_axis", O::min, {{128, 36, 40}}, [](const V& x) { return min(x[0], 1).first; });

  // ---- linear algebra ----
  push({"matmul_2d", {O::matmul}, {{{3, 4}}, {{4, 5}}}, [](const V& x) { return matmul(x[0], x[1]); }});
  push({"matmul_transposed", {O::matmul}, {{{3, 4}, N, T}, {{4, 5}, N, T}},
       [](const V& x) { return matmul(x[0], x[1]); }});
  push({"matmul_batched", {O::matmul}, {{{2, 3, 4}}, {{2, 4, 5}}}, [](const V& x) { return matmul(x[0], x[1]); }});
  push({"matmul_batch_broadcast", {O::matmul}, {{{2, 2, 3, 4}}, {{4, 5}, N, T}},
       [](const V& x) { return matmul(x[0], x[1]); }});
  push({"matmul_strided", {O::matmul}, {{{3, 4}, N, S}, {{2, 4, 2}}}, [](const V& x) { return matmul(x[0], x[1]); }});
  push({"linear_bias", {O::linear}, {{{5, 4}}, {{3, 4}}, {{3}}}, [](const V& x) { return linear(x[0], x[1], x[2]); }});
  push({"linear_3d_nobias", {O::linear}, {{{2, 3, 4}, N, T}, {{6, 4}}},
       [](const V& x) { return linear(x[0], x[1]); }});

  // ---- neural-network functions ----
  push({"softmax_last", {O::softmax, O::softmax_backward}, {{{3, 5}}}, [](const V& x) { return softmax(x[0], -1); }});
  push({"softmax_axis0", {O::softmax, O::softmax_backward}, {{{4, 3}, N, T}}, [](const V& x) { return softmax(x[0], 0); }});
  push({"log_softmax", {O::log_softmax, O::log_softmax_backward}, {{{2, 3, 4}}},
       [](const V& x) { return log_softmax(x[0], 1); }});
  push({"layer_norm", {O::layer_norm, O::layer_norm_backward}, {{{4, 6}}, {{6}}, {{6}}},
       [](const V& x) { return layer_norm(x[0], x[1], x[2]); }});
  push({"layer_norm_2d_shape", {O::layer_norm, O::layer_norm_backward}, {{{2, 3, 4}, N, T}, {{3, 4}}, {{3, 4}}},
       [](const V& x) { return layer_norm(x[0], x[1], x[2], 1e-3); }});
  push({"batch_norm_rows_train", {O::batch_norm, O::batch_norm_backward},
       {{{6, 3}}, {{3}}, {{3}}, nograd({{3}}), nograd({{3}, P})},
       [](const V& x) { return batch_norm(x[0], x[1], x[2], x[3], x[4], true); }, 1e-5, 1e-4});
  push({"batch_norm_nchw_train", {O::batch_norm, O::batch_norm_backward},
       {{{2, 3, 2, 2}, N, S}, {{3}}, {{3}}, nograd({{3}}), nograd({{3}, P})},
       [](const V& x) { return batch_norm(x[0], x[1], x[2], x[3], x[4], true, 0.1, 1e-5); }, 1e-5, 1e-4});
  push({"batch_norm_eval", {O::batch_norm, O::batch_norm_backward},
       {{{4, 3, 2}}, {{3}}, {{3}}, nograd({{3}}), nograd({{3}, P})},
       [](const V& x) { return batch_norm(x[0], x[1], x[2], x[3], x[4], false); }});
  push({"batch_norm_running_stats", {O::batch_norm}, {nograd({{5, 3}}), nograd({{3}}), nograd({{3}})},
       [](const V& x) {
         Tensor rm = Tensor::zeros({3}, x[0].dtype(), x[0].device());
         Tensor rv = Tensor::ones({3}, x[0].dtype(), x[0].device());
         batch_norm(x[0], x[1], x[2], rm, rv, true, 0.1);
         return cat({rm, rv}, 0);
       }, 1e-6, 0, false});
  push({"dropout", {O::dropout}, {{{4, 8}}}, [](const V& x) { return dropout(x[0], 0.3, true, 5); }});
  push({"rand_uniform", {O::rand_uniform}, {nograd({{1}})}, [](const V& x) {
         manual_seed(42);
         return Tensor::rand({3, 7}, -1, 2, x[0].dtype(), x[0].device());
       }, 1e-6, 0, false});
  push({"rand_normal", {O::rand_normal}, {nograd({{1}})}, [](const V& x) {
         manual_seed(43);
         return Tensor::randn({5, 3}, 1, 2, x[0].dtype(), x[0].device());
       }, 1e-6, 0, false});
  push({"embedding", {O::index_select, O::index_add}, {{{10, 4}}, idx({2, 3}, 10)},
       [](const V& x) { return embedding(x[0], x[1]); }});
  push({"l2_normalize", {O::norm, O::clamp, O::div}, {{{3, 5}}}, [](const V& x) { return l2_normalize(x[0], -1); }});

  // ---- indexing and assembly ----
  push({"index_select_axis1", {O::index_select, O::index_add}, {{{3, 5}, N, T}, idx({4}, 5)},
       [](const V& x) { return index_select(x[0], 1, x[1]); }});
  push({"index_add", {O::index_add, O::index_select}, {{{5, 2}}, idx({6}, 5), {{6, 2}}},
       [](const V& x) { return index_add(x[0], 0, x[1], x[2]); }});
  push({"gather", {O::gather, O::scatter_add}, {{{4, 5}}, idx({4, 3}, 5)}, [](const V& x) { return gather(x[0], 1, x[1]); }});
  push({"scatter_add", {O::scatter_add, O::gather}, {{{4, 5}}, idx({3, 5}, 4), {{3, 5}}},
       [](const V& x) { return scatter_add(x[0], 0, x[1], x[2]); }});
  push({"masked_fill", {O::masked_fill}, {{{3, 4}, N, T}, mask({4})},
       [](const V& x) { return masked_fill(x[0], x[1], -2.5); }});
  push({"cat_axis1", {O::cat}, {{{2, 3}}, {{2, 1}, N, S}, {{2, 2}}}, [](const V& x) { return cat(x, 1); }});
  push({"stack", {O::cat}, {{{2, 3}}, {{2, 3}, N, T}}, [](const V& x) { return stack(x, 0); }});
  push({"pad", {O::pad}, {{{2, 3}, N, T}}, [](const V& x) { return pad(x[0], {1, 0, 2, 1}, 0.5); }});
  push({"add_scaled_", {O::add_scaled_}, {nograd({{3, 4}}), nograd({{3, 4}, N, T})},
       [](const V& x) {
         NoGradGuard ng;
         Tensor a = x[0].clone();
         add_scaled_(a, x[1], -0.25);
         return a;
       }, 1e-6, 0, false});
  push({"gru_cell", {O::gru_cell, O::gru_cell_backward}, {{{3, 6}}, {{3, 6}, N, T}, {{3, 2}}, mask({3})},
       [](const V& x) { return gru_cell(x[0], x[1], x[2], x[3]); }});
  push({"gru_sequence_reverse", {O::gru_cell, O::gru_cell_backward, O::matmul}, {{{3, 2, 6}}, {{6, 2}}, {{6}}, mask({3, 2})},
       [](const V& x) {
         auto [hs, hn] = gru_sequence(x[0], x[1], x[2], x[3], true);
         return cat({hs.reshape({-1}), scale_shift(hn, 2.0).reshape({-1})}, 0);
       }});
  // smooth-Chamfer: Kt = 4 (the SIMD-specialised cpu path), Ki != Kt, two tiles of 128 groups, and
  // |M| >> 1 where the cpu kernel's block shift is too coarse and it recomputes blocks exactly
  const std::vector<OpId> sc{O::smooth_chamfer, O::smooth_chamfer_backward};
  const Fill U = Fill::uniform;
  push({"smooth_chamfer", sc, {{{12, 20}}}, [](const V& x) { return smooth_chamfer(x[0], 4, 4, 4.0, 2.0); }});
  push({"smooth_chamfer_ki3_kt2", sc, {{{6, 8}, U, T, true, -1, 1}},
       [](const V& x) { return smooth_chamfer(x[0], 3, 2, 16.0, 2.0); }});
  push({"smooth_chamfer_ki2_kt4_tiles", sc, {{{4, 520}, U, Layout::contiguous, true, -1, 1}},
       [](const V& x) { return smooth_chamfer(x[0], 2, 4, 16.0, 1.5); }});
  push({"smooth_chamfer_ki4_kt3_tiles", sc, {{{4, 390}, U, S, true, -1, 1}},
       [](const V& x) { return smooth_chamfer(x[0], 4, 3, 8.0, 2.0); }});
  push({"smooth_chamfer_large_values", sc, {{{8, 12}, U, Layout::contiguous, true, -10, 10}},
       [](const V& x) { return smooth_chamfer(x[0], 4, 4, 16.0, 2.0); }});
  // ---- convolution and pooling ----
  const std::vector<OpId> cv{O::conv2d, O::conv2d_backward_data, O::conv2d_backward_weights};
  push({"conv2d_stride2_pad1_bias", {O::conv2d, O::conv2d_backward_data, O::conv2d_backward_weights, O::sum},
       {{{2, 3, 5, 5}}, {{4, 3, 3, 3}}, {{4}}},
       [](const V& x) { return conv2d(x[0], x[1], x[2], {2, 2}, {1, 1}); }, 1e-4, 1e-4});
  push({"conv2d_dilation2_nobias", cv, {{{1, 2, 6, 5}}, {{3, 2, 2, 3}}},
       [](const V& x) { return conv2d(x[0], x[1], Tensor(), {1, 1}, {1, 0}, {2, 2}); }, 1e-4, 1e-4});
  push({"conv2d_1x1_stride2", cv, {{{2, 4, 4, 3}}, {{3, 4, 1, 1}}},
       [](const V& x) { return conv2d(x[0], x[1], Tensor(), {2, 2}); }, 1e-4, 1e-4});
  // unpadded 1x1 convolutions run as cuBLAS GEMMs on CUDA (conv_gemm.cu), strided ones with a gather /
  // scatter of the sampled pixels
  push({"conv2d_1x1_gemm", cv, {{{3, 8, 9, 7}}, {{5, 8, 1, 1}}}, [](const V& x) { return conv2d(x[0], x[1]); },
       1e-4, 1e-4});
  push({"conv2d_1x1_gemm_stride2_bias", {O::conv2d, O::conv2d_backward_data, O::conv2d_backward_weights, O::sum},
       {{{3, 8, 9, 7}}, {{5, 8, 1, 1}}, {{5}}}, [](const V& x) { return conv2d(x[0], x[1], x[2], {2, 2}); }, 1e-4,
       1e-4});
  push({"conv2d_noncontiguous_input", cv, {{{2, 2, 4, 4}, N, S}, {{3, 2, 3, 2}, N, T}},
       [](const V& x) { return conv2d(x[0], x[1], Tensor(), {1, 2}, {1, 1}); }, 1e-4, 1e-4});
  push({"max_pool2d_3x3_s2_p1", {O::max_pool2d, O::max_pool2d_backward}, {{{2, 2, 5, 6}}},
       [](const V& x) { return max_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}); }});
  push({"max_pool2d_indices", {O::max_pool2d}, {nograd({{1, 2, 4, 5}, N, S})},
       [](const V& x) { return max_pool2d_with_indices(x[0], {2, 3}, {2, 1}, {1, 1}).second; }, 0, 0, false});
  push({"avg_pool2d_3x3_s2_p1", {O::avg_pool2d, O::avg_pool2d_backward}, {{{2, 2, 5, 6}, N, T}},
       [](const V& x) { return avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}); }});
  push({"avg_pool2d_2x2", {O::avg_pool2d, O::avg_pool2d_backward}, {{{1, 3, 4, 5}}},
       [](const V& x) { return avg_pool2d(x[0], {2, 2}); }});
  const std::vector<OpId> ap{O::adaptive_avg_pool2d, O::adaptive_avg_pool2d_backward};
  push({"adaptive_avg_pool2d_1x1", ap, {{{2, 3, 3, 4}}}, [](const V& x) { return adaptive_avg_pool2d(x[0], {1, 1}); }});
  push({"adaptive_avg_pool2d_5x3_to_3x2", ap, {{{1, 2, 5, 3}, N, S}},
       [](const V& x) { return adaptive_avg_pool2d(x[0], {3, 2}); }});
  // composite (slices + max): checks the windows and the row-major first-maximum rule on every backend
  push({"adaptive_max_pool2d_5x3_to_3x2", {O::max}, {{{1, 2, 5, 3}, N, S}},
       [](const V& x) { return adaptive_max_pool2d(x[0], {3, 2}); }});
  push({"adaptive_max_pool2d_1x1", {O::max}, {{{2, 3, 3, 4}}}, [](const V& x) { return adaptive_max_pool2d(x[0], {1, 1}); }});
  push({"adam_", {O::adam_}, {nograd({{3, 4}}), nograd({{3, 4}}), nograd({{3, 4}}), nograd({{3, 4}, P})},
       [](const V& x) {
         // two AdamW steps and one Adam step on copies of (param, m, v); returns the final values
         NoGradGuard ng;
         Tensor p = x[0].clone(), m = x[2].clone(), v = x[3].clone();
         adam_(p, x[1], m, v, {1e-2, 0.9, 0.999, 1e-8, 1e-2, 1, true});
         adam_(p, x[1], m, v, {1e-2, 0.8, 0.99, 1e-6, 0.1, 2, true});
         adam_(p, x[1], m, v, {1e-3, 0.9, 0.999, 1e-8, 0.1, 3, false});
         return cat({p, m, v}, 0);
       }, 1e-5, 0, false});
  return c;
}

}  // namespace

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = build();
  return cases;
}

}  // namespace dive::test
