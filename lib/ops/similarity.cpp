// The fused smooth-Chamfer op: shape checks, forward kernel, backward rule (one Bwd kernel that
// recomputes the softmaxes from the saved element matrix).
#include "lib/ops/similarity.h"

#include "lib/ops/attrs.h"
#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

namespace {

Attrs check(const char* op, const Tensor& m, int64_t ki, int64_t kt, double alpha, double denominator) {
  check_same(op, {m});
  DIVE_CHECK(ki >= 1 && kt >= 1, op, ": set sizes must be >= 1, got Ki = ", ki, ", Kt = ", kt);
  DIVE_CHECK(m.dim() == 2 && m.size(0) % ki == 0 && m.size(1) % kt == 0, op, ": expected M [Bi*Ki, Bt*Kt] with Ki = ",
             ki, ", Kt = ", kt, ", got ", m.str());
  DIVE_CHECK(alpha > 0 && denominator != 0, op, ": expected alpha > 0 and denominator != 0, got alpha = ", alpha,
             ", denominator = ", denominator);
  return SmoothChamferAttrs{ki, kt, alpha, denominator}.pack();
}

}  // namespace

Tensor smooth_chamfer(const Tensor& m, int64_t ki, int64_t kt, double alpha, double denominator) {
  Attrs at = check("smooth_chamfer", m, ki, kt, alpha, denominator);
  Tensor md = m.detach().contiguous();
  int64_t bi = m.size(0) / ki, bt = m.size(1) / kt;
  Tensor out = run1(OpId::smooth_chamfer, {md}, {bi, bt}, m.dtype(), at);
  if (any_requires_grad({m})) {
    record("smooth_chamfer", {m}, {&out}, [=](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{run1(OpId::smooth_chamfer_backward, {g[0].contiguous(), md}, md.shape(), md.dtype(), at)};
    });
  }
  return out;
}

void smooth_chamfer_out(const Tensor& m, int64_t ki, int64_t kt, double alpha, double denominator, Tensor& out) {
  Attrs at = check("smooth_chamfer", m, ki, kt, alpha, denominator);
  int64_t bi = m.size(0) / ki, bt = m.size(1) / kt;
  DIVE_CHECK(out.defined() && out.dtype() == m.dtype() && out.device() == m.device() && out.dim() == 2 &&
                 out.size(0) == bi && out.size(1) == bt && (bt <= 1 || out.stride(1) == 1),
             "smooth_chamfer_out: out must be [", bi, ", ", bt, "] with unit column stride, of M's dtype and device, got ",
             out.str());
  KernelArgs args{{m.detach().contiguous()}, {out}, std::move(at)};
  dispatch(OpId::smooth_chamfer, args);
}

}  // namespace dive
