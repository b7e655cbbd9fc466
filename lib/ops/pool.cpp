// 2-D pooling (NCHW): max_pool2d (+ indices), avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d.
#include "lib/ops/attrs.h"
#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

namespace {

void check_nchw(const char* op, const Tensor& x) {
  check_same(op, {x});
  DIVE_CHECK(x.dim() == 4, op, ": input must be 4-D [N, C, H, W], got ", x.str());
}

// The window of a pooling call (stride {0, 0} = kernel), checked, and the output shape.
PoolAttrs pool_attrs(const char* op, const Tensor& x, std::array<int64_t, 2> k, std::array<int64_t, 2> s,
                     std::array<int64_t, 2> p, Shape& out) {
  check_nchw(op, x);
  if (s[0] == 0 && s[1] == 0) s = k;
  DIVE_CHECK(k[0] >= 1 && k[1] >= 1, op, ": kernel must be >= 1, got ", pair_str(k));
  DIVE_CHECK(s[0] >= 1 && s[1] >= 1, op, ": stride must be >= 1, got ", pair_str(s));
  DIVE_CHECK(p[0] >= 0 && p[1] >= 0 && 2 * p[0] <= k[0] && 2 * p[1] <= k[1], op,
             ": padding must be >= 0 and at most half the kernel, got padding ", pair_str(p), " for kernel ",
             pair_str(k));
  out = {x.size(0), x.size(1), conv_out_size(op, x, x.size(2), k[0], s[0], p[0], 1),
         conv_out_size(op, x, x.size(3), k[1], s[1], p[1], 1)};
  return {k, s, p};
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, std::array<int64_t, 2> kernel,
                                                  std::array<int64_t, 2> stride, std::array<int64_t, 2> padding) {
  Shape os;
  const Attrs at = pool_attrs("max_pool2d", x, kernel, stride, padding, os).pack();
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
  const Attrs at = pool_attrs("avg_pool2d", x, kernel, stride, padding, os).pack();
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
