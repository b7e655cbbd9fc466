// Convolution and 2-D pooling (NCHW): conv2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d.
#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

namespace {

std::string pair_str(std::array<int64_t, 2> v) { return detail::cat("(", v[0], ", ", v[1], ")"); }

void check_nchw(const char* op, const Tensor& x) {
  check_same(op, {x});
  DIVE_CHECK(x.dim() == 4, op, ": input must be 4-D [N, C, H, W], got ", x.str());
}

// floor((in + 2 pad - dil (k - 1) - 1) / stride) + 1, checked to be >= 1
int64_t out_size(const char* op, const Tensor& x, int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  int64_t eff = d * (k - 1) + 1;
  DIVE_CHECK(in + 2 * p >= eff, op, ": input ", x.str(), " (padded size ", in + 2 * p,
             ") is smaller than the effective kernel size ", eff);
  return (in + 2 * p - eff) / s + 1;
}

// Pooling window attrs: stride {0, 0} = kernel; returns [kh, kw, sh, sw, ph, pw] and the output size.
std::vector<int64_t> pool_attrs(const char* op, const Tensor& x, std::array<int64_t, 2> k, std::array<int64_t, 2>& s,
                                std::array<int64_t, 2> p, Shape& out) {
  check_nchw(op, x);
  if (s[0] == 0 && s[1] == 0) s = k;
  DIVE_CHECK(k[0] >= 1 && k[1] >= 1, op, ": kernel must be >= 1, got ", pair_str(k));
  DIVE_CHECK(s[0] >= 1 && s[1] >= 1, op, ": stride must be >= 1, got ", pair_str(s));
  DIVE_CHECK(p[0] >= 0 && p[1] >= 0 && 2 * p[0] <= k[0] && 2 * p[1] <= k[1], op,
             ": padding must be >= 0 and at most half the kernel, got padding ", pair_str(p), " for kernel ",
             pair_str(k));
  out = {x.size(0), x.size(1), out_size(op, x, x.size(2), k[0], s[0], p[0], 1),
         out_size(op, x, x.size(3), k[1], s[1], p[1], 1)};
  return {k[0], k[1], s[0], s[1], p[0], p[1]};
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, std::array<int64_t, 2> stride,
              std::array<int64_t, 2> padding, std::array<int64_t, 2> dilation, int64_t groups) {
  std::vector<Tensor> ins{x, w};
  if (bias.defined()) ins.push_back(bias);
  check_same("conv2d", ins);
  DIVE_CHECK(groups == 1, "conv2d: only groups = 1 is supported, got groups = ", groups);
  DIVE_CHECK(x.dim() == 4, "conv2d: input must be 4-D [N, C, H, W], got ", x.str());
  DIVE_CHECK(w.dim() == 4, "conv2d: weight must be 4-D [O, C, kh, kw], got ", w.str());
  DIVE_CHECK(x.size(1) == w.size(1), "conv2d: input ", x.str(), " has ", x.size(1), " channels but weight ", w.str(),
             " expects ", w.size(1));
  DIVE_CHECK(stride[0] >= 1 && stride[1] >= 1, "conv2d: stride must be >= 1, got ", pair_str(stride));
  DIVE_CHECK(padding[0] >= 0 && padding[1] >= 0, "conv2d: padding must be >= 0, got ", pair_str(padding));
  DIVE_CHECK(dilation[0] >= 1 && dilation[1] >= 1, "conv2d: dilation must be >= 1, got ", pair_str(dilation));
  int64_t O = w.size(0);
  DIVE_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == O), "conv2d: bias must be [", O, "], got ",
             bias.str());
  Shape os{x.size(0), O, out_size("conv2d", x, x.size(2), w.size(2), stride[0], padding[0], dilation[0]),
           out_size("conv2d", x, x.size(3), w.size(3), stride[1], padding[1], dilation[1])};
  Attrs at{{stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]}, {}};
  Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
  std::vector<Tensor> kin{xc, wc};
  if (bias.defined()) kin.push_back(bias.detach().contiguous());
  Tensor out = run1(OpId::conv2d, kin, os, x.dtype(), at);
  if (any_requires_grad(ins)) {
    Shape xs = x.shape(), ws = w.shape();
    bool need_x = x.requires_grad(), need_w = w.requires_grad(), has_b = bias.defined(),
         need_b = has_b && bias.requires_grad();
    record("conv2d", ins, {&out}, [=](const std::vector<Tensor>& g) {
      Tensor gc = g[0].contiguous();
      std::vector<Tensor> r(has_b ? 3 : 2);
      if (need_x) r[0] = run1(OpId::conv2d_backward_data, {gc, wc}, xs, gc.dtype(), at);
      if (need_w) r[1] = run1(OpId::conv2d_backward_weights, {gc, xc}, ws, gc.dtype(), at);
      if (need_b) r[2] = sum(gc, {0, 2, 3});
      return r;
    });
  }
  return out;
}

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, std::array<int64_t, 2> kernel,
                                                  std::array<int64_t, 2> stride, std::array<int64_t, 2> padding) {
  Shape os;
  Attrs at{pool_attrs("max_pool2d", x, kernel, stride, padding, os), {}};
  auto outs = run(OpId::max_pool2d, {x.detach().contiguous()}, {{os, x.dtype()}, {os, DType::i64}}, at);
  Tensor out = outs[0], idx = outs[1];
  if (any_requires_grad({x})) {
    Shape xs = x.shape();
    record("max_pool2d", {x}, {&out}, [=](const std::vector<Tensor>& g) {
      Tensor gc = g[0].contiguous();
      return std::vector<Tensor>{run1(OpId::max_pool2d_backward, {gc, idx}, xs, gc.dtype(), at)};
    });
  }
  return {out, idx};
}

Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                  std::array<int64_t, 2> padding) {
  return max_pool2d_with_indices(x, kernel, stride, padding).first;
}

Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                  std::array<int64_t, 2> padding) {
  Shape os;
  Attrs at{pool_attrs("avg_pool2d", x, kernel, stride, padding, os), {}};
  Tensor out = run1(OpId::avg_pool2d, {x.detach().contiguous()}, os, x.dtype(), at);
  if (any_requires_grad({x})) {
    Shape xs = x.shape();
    record("avg_pool2d", {x}, {&out}, [=](const std::vector<Tensor>& g) {
      Tensor gc = g[0].contiguous();
      return std::vector<Tensor>{run1(OpId::avg_pool2d_backward, {gc}, xs, gc.dtype(), at)};
    });
  }
  return out;
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size) {
  check_nchw("adaptive_avg_pool2d", x);
  DIVE_CHECK(output_size[0] >= 1 && output_size[1] >= 1, "adaptive_avg_pool2d: output_size must be >= 1, got ",
             pair_str(output_size));
  DIVE_CHECK(x.size(2) >= 1 && x.size(3) >= 1, "adaptive_avg_pool2d: input ", x.str(), " has an empty spatial dim");
  Shape os{x.size(0), x.size(1), output_size[0], output_size[1]};
  Tensor out = run1(OpId::adaptive_avg_pool2d, {x.detach().contiguous()}, os, x.dtype());
  if (any_requires_grad({x})) {
    Shape xs = x.shape();
    record("adaptive_avg_pool2d", {x}, {&out}, [=](const std::vector<Tensor>& g) {
      Tensor gc = g[0].contiguous();
      return std::vector<Tensor>{run1(OpId::adaptive_avg_pool2d_backward, {gc}, xs, gc.dtype())};
    });
  }
  return out;
}

Tensor adaptive_max_pool2d(const Tensor& x, std::array<int64_t, 2> output_size) {
  check_nchw("adaptive_max_pool2d", x);
  DIVE_CHECK(output_size[0] >= 1 && output_size[1] >= 1, "adaptive_max_pool2d: output_size must be >= 1, got ",
             pair_str(output_size));
  DIVE_CHECK(x.size(2) >= 1 && x.size(3) >= 1, "adaptive_max_pool2d: input ", x.str(), " has an empty spatial dim");
  const int64_t H = x.size(2), W = x.size(3), OH = output_size[0], OW = output_size[1];
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < OH; ++i) {
    Tensor band = x.slice(2, i * H / OH, ((i + 1) * H + OH - 1) / OH);
    std::vector<Tensor> cells;
    for (int64_t j = 0; j < OW; ++j) {
      Tensor win = band.slice(3, j * W / OW, ((j + 1) * W + OW - 1) / OW);
      // first maximum of each row, then the first row holding the maximum: row-major first occurrence
      cells.push_back(max(max(win, 3, true).first, 2, true).first);
    }
    rows.push_back(cells.size() == 1 ? cells[0] : cat(cells, 3));
  }
  return rows.size() == 1 ? rows[0] : cat(rows, 2);
}

}  // namespace dive
