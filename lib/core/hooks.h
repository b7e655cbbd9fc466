// What the Tensor members of lib/core (and the autograd engine) need from the layers above them: recording a node on the tape
// (lib/autograd), running the copy/fill/random kernels (lib/ops), reducing a broadcast gradient, and
// starting a backend. The higher layers register these functions at start-up (lib/ops/core_hooks.cpp),
// so lib/core names none of their symbols and the layer map stays one-way.
#pragma once
#include <functional>

#include "lib/core/device.h"
#include "lib/core/dtype.h"

namespace dive {

class Tensor;
using Shape = std::vector<int64_t>;

struct CoreHooks {
  // true when grad mode is on and `x` requires grad
  bool (*records)(const Tensor& x) = nullptr;
  // records a one-input node on `out` whose rule maps out's gradient to x's
  void (*record_unary)(const char* name, const Tensor& x, Tensor& out, std::function<Tensor(const Tensor&)> rule) =
      nullptr;
  bool (*grad_mode_enabled)() = nullptr;
  void (*backward)(const Tensor& root, const Tensor& grad) = nullptr;
  // kernels: src (any strides/dtype) into dst (strided); dst[:] = value; dst ~ U[a, b) or N(a, b^2)
  // from the default generator
  void (*copy)(const Tensor& src, const Tensor& dst) = nullptr;
  void (*fill)(const Tensor& dst, double value) = nullptr;
  void (*random)(bool normal, const Tensor& dst, double a, double b) = nullptr;
  Tensor (*sum_to)(const Tensor& g, const Shape& shape) = nullptr;
  // a + b (the autograd engine accumulates gradients with it)
  Tensor (*add)(const Tensor& a, const Tensor& b) = nullptr;
  // starts the backend of `kind` (its allocator is registered then); false when it is not present
  bool (*start_backend)(DeviceKind kind) = nullptr;
};

// The registered hooks; using one before lib/ops registered them is an error naming the hook.
const CoreHooks& core_hooks();
void register_core_hooks(const CoreHooks& h);

}  // namespace dive
