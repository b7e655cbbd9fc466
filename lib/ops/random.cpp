// Dropout (a counter-based mask, reproducible for a seed); the random fills are Tensor members
// (lib/core/tensor_views.cpp, reaching their kernels through lib/ops/core_hooks.cpp).
#include "lib/ops/attrs.h"
#include "lib/ops/op_util.h"

namespace dive {

using namespace ops;

Tensor dropout(const Tensor& x, double p, bool training, int64_t seed) {
  check_same("dropout", {x});
  DIVE_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, scalar_like(x, 0.0));
  Generator& gen = default_generator();
  // An explicit seed names the whole stream (offset 0): the same call gives the same mask.
  uint64_t s = seed >= 0 ? uint64_t(seed) : gen.seed();
  uint64_t offset = seed >= 0 ? 0 : gen.reserve(uint64_t(x.numel()));
  auto outs = run(OpId::dropout, {x.detach()}, {{x.shape(), x.dtype()}, {x.shape(), x.dtype()}},
                  DropoutAttrs{p, {s, offset}}.pack());
  Tensor out = outs[0];
  if (any_requires_grad({x})) {
    Tensor mask = outs[1];
    record("dropout", {x}, {&out}, [=](const std::vector<Tensor>& g) { return std::vector<Tensor>{mul(g[0], mask)}; });
  }
  return out;
}

}  // namespace dive
