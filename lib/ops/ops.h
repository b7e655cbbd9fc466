// Differentiable functions on tensors. Each validates its inputs (dive::Error naming the op and the
// offending shapes), runs the kernel of the inputs' backend, and records its backward rule.
#pragma once
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "lib/autograd/grad_mode.h"
#include "lib/core/rng.h"
#include "lib/core/tensor.h"

namespace dive {

// ---- elementwise (NumPy broadcasting) -----------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& x, double exponent);
Tensor scale_shift(const Tensor& x, double scale, double shift = 0.0);  // x * scale + shift
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor clamp_min(const Tensor& x, double lo);

// A 0-d tensor of x's dtype and device, for mixing scalars into binary ops.
Tensor scalar_like(const Tensor& x, double v);

// ---- reductions (axes may be negative; empty axes = all) ----------------------------------------
Tensor sum(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& x, std::vector<int64_t> axes, bool keepdim = false);
Tensor norm(const Tensor& x, std::vector<int64_t> axes = {}, bool keepdim = false);  // L2
Tensor var(const Tensor& x, std::vector<int64_t> axes = {}, int64_t correction = 1, bool keepdim = false);
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t axis, bool keepdim = false);  // values, i64 indices
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t axis, bool keepdim = false);
// Sums a broadcast gradient back to `shape` (the inverse of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- linear algebra -----------------------------------------------------------------------------
// a [..., M, K] @ b [..., K, N] with batch broadcasting; 1-D operands are not promoted.
Tensor matmul(const Tensor& a, const Tensor& b);
// x [..., K] @ w[N, K]^T + bias[N] (bias may be undefined)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor());

// ---- neural-network functions -------------------------------------------------------------------
Tensor softmax(const Tensor& x, int64_t axis);
Tensor log_softmax(const Tensor& x, int64_t axis);
// Normalises over the trailing dims given by gamma's shape.
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps = 1e-5);
// x [N, C] or [N, C, *]. In training mode uses batch statistics and updates the running ones in
// place (unbiased variance, `momentum`); in eval mode uses the running statistics.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// Inverted dropout with a mask from the counter RNG: the default generator's next counters when
// seed < 0, else the stream (seed, offset 0), so an explicit seed reproduces the mask.
Tensor dropout(const Tensor& x, double p, bool training, int64_t seed = -1);
Tensor embedding(const Tensor& weight, const Tensor& indices);  // weight [V, D], indices any shape
Tensor l2_normalize(const Tensor& x, int64_t axis = -1, double eps = 1e-12);  // x / max(||x||, eps)

// ---- convolution and pooling (NCHW) --------------------------------------------------------------
// x [N, C, H, W], w [O, C, kh, kw], bias [O] or undefined; groups must be 1 (others are rejected).
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(), std::array<int64_t, 2> stride = {1, 1},
              std::array<int64_t, 2> padding = {0, 0}, std::array<int64_t, 2> dilation = {1, 1}, int64_t groups = 1);
// Max pooling (dilation 1, floor mode, implicit -inf padding of at most half the kernel). stride {0, 0}
// means stride = kernel. Returns (values, i64 indices: flat ih * W + iw within each (n, c) plane).
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, std::array<int64_t, 2> kernel,
                                                  std::array<int64_t, 2> stride = {0, 0},
                                                  std::array<int64_t, 2> padding = {0, 0});
Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride = {0, 0},
                  std::array<int64_t, 2> padding = {0, 0});
// Average pooling with count_include_pad = true (divisor kh * kw), floor mode; stride {0, 0} = kernel.
Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride = {0, 0},
                  std::array<int64_t, 2> padding = {0, 0});
// Adaptive average pooling to output_size (PyTorch's windows [floor(i H / oh), ceil((i + 1) H / oh))).
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size);
// Adaptive max pooling over the same windows; the first maximum of a window in row-major order (NaN wins),
// as PyTorch. Composed from window slices and `max` (no kernel of its own), so every backend runs it.
Tensor adaptive_max_pool2d(const Tensor& x, std::array<int64_t, 2> output_size);

// ---- indexing and assembly ----------------------------------------------------------------------
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& idx);
Tensor index_add(const Tensor& base, int64_t axis, const Tensor& idx, const Tensor& src);
Tensor gather(const Tensor& x, int64_t axis, const Tensor& idx);
Tensor scatter_add(const Tensor& base, int64_t axis, const Tensor& idx, const Tensor& src);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// Sequence masks from lengths [B] (any index dtype) on the lengths' device: [B, T] bool, true where
// t >= lengths[b] when `padded`, else where t < lengths[b]. Lengths on the host are checked to lie in
// [1, T] (errors start with `what`); lengths on a GPU are not read back (that would stall the stream):
// the data pipeline checks them before they are uploaded.
Tensor length_mask(const Tensor& lengths, int64_t T, bool padded, const std::string& what);
Tensor cat(const std::vector<Tensor>& xs, int64_t axis);
Tensor stack(const std::vector<Tensor>& xs, int64_t axis);
std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t axis);  // chunks of `size` (last may be smaller)
// pads[2*d], pads[2*d+1] = before/after for dim d (leading dims; missing dims get 0)
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value = 0.0);

// ---- in-place parameter updates (outside autograd, for optimisers) ------------------------------
void add_scaled_(Tensor& a, const Tensor& b, double alpha);  // a += alpha * b
struct AdamParams {
  double lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  int64_t step = 1;        // 1-based count of updates including this one
  bool decoupled = true;   // AdamW (true) or Adam with L2 in the gradient (false)
};
// One torch.optim.AdamW/Adam update of param and its state (exp_avg, exp_avg_sq), in place.
void adam_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamParams& h);

// ---- operators ----------------------------------------------------------------------------------
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator*(const Tensor& a, double s) { return scale_shift(a, s, 0.0); }
inline Tensor operator*(double s, const Tensor& a) { return scale_shift(a, s, 0.0); }
inline Tensor operator/(const Tensor& a, double s) { return scale_shift(a, 1.0 / s, 0.0); }
inline Tensor operator+(const Tensor& a, double s) { return scale_shift(a, 1.0, s); }
inline Tensor operator-(const Tensor& a, double s) { return scale_shift(a, 1.0, -s); }
inline Tensor operator-(double s, const Tensor& a) { return scale_shift(a, -1.0, s); }

// Output shape of broadcasting a with b ("op: shapes [2, 3] and [4] do not broadcast").
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace dive
