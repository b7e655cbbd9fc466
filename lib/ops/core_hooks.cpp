// Registers the functions that lib/core's Tensor members call (lib/core/hooks.h): the autograd tape, the
// copy/fill/random kernels through dispatch, sum_to, and starting a backend. Runs at start-up; dispatch()
// calls link_core_hooks() so that every program that runs a kernel links this file.
#include "lib/core/hooks.h"
#include "lib/core/rng.h"
#include "lib/ops/attrs.h"
#include "lib/ops/op_util.h"

namespace dive {

namespace {

CoreHooks make_hooks() {
  CoreHooks h;
  h.records = [](const Tensor& x) { return ops::any_requires_grad({x}); };
  h.record_unary = [](const char* name, const Tensor& x, Tensor& out, std::function<Tensor(const Tensor&)> rule) {
    ops::record(name, {x}, {&out}, [rule = std::move(rule)](const std::vector<Tensor>& g) {
      return std::vector<Tensor>{rule(g[0])};
    });
  };
  h.grad_mode_enabled = [] { return GradMode::enabled(); };
  h.backward = [](const Tensor& root, const Tensor& grad) { autograd::run_backward(root, grad); };
  h.copy = [](const Tensor& src, const Tensor& dst) {
    KernelArgs a{{src}, {dst}, {}};
    dispatch(OpId::copy, a);
  };
  h.fill = [](const Tensor& dst, double value) {
    KernelArgs a{{}, {dst}, {{}, {value}}};
    dispatch(OpId::fill, a);
  };
  h.random = [](bool normal, const Tensor& dst, double a, double b) {
    Generator& gen = default_generator();
    int64_t offset = int64_t(gen.reserve(uint64_t(dst.numel())));
    KernelArgs args{{}, {dst}, RandomAttrs{{gen.seed(), uint64_t(offset)}, a, b}.pack()};
    dispatch(normal ? OpId::rand_normal : OpId::rand_uniform, args);
  };
  h.sum_to = [](const Tensor& g, const Shape& shape) { return sum_to(g, shape); };
  h.add = [](const Tensor& a, const Tensor& b) { return add(a, b); };
  h.start_backend = [](DeviceKind kind) { return backend_available(kind); };
  return h;
}

const bool g_registered = (register_core_hooks(make_hooks()), true);

}  // namespace

bool link_core_hooks() { return g_registered; }

}  // namespace dive
