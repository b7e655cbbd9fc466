// matmul (batched, broadcasting, transposes without copies) and linear.
#include "lib/ops/attrs.h"
#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

namespace {

// Presents a [Bt, R, C] operand to the kernel in a stored layout it accepts: contiguous as is
// (trans = 0) or a transposed view of a contiguous tensor (trans = 1, passes the contiguous one).
std::pair<Tensor, int64_t> as_stored(const Tensor& t) {
  if (t.is_contiguous()) return {t, 0};
  Tensor tt = t.transpose(-1, -2).detach();
  if (tt.is_contiguous()) return {tt, 1};
  return {t.detach().contiguous(), 0};
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_same("matmul", {a, b});
  DIVE_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: operands must be at least 2-D, got ", a.str(), " and ",
             b.str());
  int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  DIVE_CHECK(b.size(-2) == K, "matmul: inner dimensions differ: ", a.str(), " @ ", b.str());
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  int64_t B = shape_numel(batch);
  auto operand = [&](const Tensor& t, const Shape& tb, int64_t R, int64_t C) {
    // An operand whose batch dims are all 1 is shared across the batch (Bt = 1); otherwise it must
    // cover the full batch (expanded and materialised when it only partly broadcasts).
    if (shape_numel(tb) == 1) return t.detach().reshape({1, R, C});
    Tensor e = t.detach();
    if (tb != batch) {
      Shape full = batch;
      full.push_back(R);
      full.push_back(C);
      e = e.expand(full).contiguous();
    }
    return e.reshape({B, R, C});  // no copy when the batch dims are contiguous
  };
  auto [sa, ta] = as_stored(operand(a, ba, M, K));
  auto [sb, tb] = as_stored(operand(b, bb, K, N));
  Tensor out3 = run1(OpId::matmul, {sa, sb}, {B, M, N}, a.dtype(), MatmulAttrs{ta != 0, tb != 0}.pack());
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = out3.reshape(out_shape);
  if (any_requires_grad({a, b})) {
    Tensor ad = a.detach(), bd = b.detach();
    bool ra = a.requires_grad(), rb = b.requires_grad();
    Shape sha = a.shape(), shb = b.shape();
    record("matmul", {a, b}, {&out}, [=](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{ra ? sum_to(matmul(g[0], bd.transpose(-1, -2)), sha) : Tensor(),
                                 rb ? sum_to(matmul(ad.transpose(-1, -2), g[0]), shb) : Tensor()};
    });
  }
  return out;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  std::vector<Tensor> ins{x, w};
  if (bias.defined()) ins.push_back(bias);
  check_same("linear", ins);
  DIVE_CHECK(w.dim() == 2, "linear: weight must be 2-D [out, in], got ", w.str());
  DIVE_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input ", x.str(), " does not match weight ",
             w.str(), " (last dim must be ", w.size(1), ")");
  int64_t N = w.size(0), K = w.size(1);
  DIVE_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == N), "linear: bias must be [", N, "], got ",
             bias.str());
  Tensor x2 = x.detach().reshape({-1, K}).contiguous();
  int64_t M = x2.size(0);
  std::vector<Tensor> kin{x2, w.detach().contiguous()};
  if (bias.defined()) kin.push_back(bias.detach().contiguous());
  Tensor out2 = run1(OpId::linear, kin, {M, N}, x.dtype());
  Shape out_shape = x.shape();
  out_shape.back() = N;
  Tensor out = out2.view(out_shape);
  if (any_requires_grad(ins)) {
    bool rx = x.requires_grad(), rw = w.requires_grad(), rbias = bias.defined() && bias.requires_grad();
    Tensor wd = w.detach();
    Shape xs = x.shape();
    bool has_bias = bias.defined();
    record("linear", ins, {&out}, [=](const std::vector<Tensor>& g) {
      Tensor g2 = g[0].reshape({-1, N});
      std::vector<Tensor> r{rx ? matmul(g2, wd).reshape(xs) : Tensor(), rw ? matmul(g2.t(), x2) : Tensor()};
      if (has_bias) r.push_back(rbias ? sum(g2, {0}) : Tensor());
      return r;
    });
  }
  return out;
}

}  // namespace dive
