#include "lib/core/hooks.h"

#include "lib/core/error.h"

namespace dive {

namespace {
CoreHooks& hooks() {
  static CoreHooks h;
  return h;
}
}  // namespace

const CoreHooks& core_hooks() {
  const CoreHooks& h = hooks();
  DIVE_CHECK(h.copy && h.fill && h.random && h.records && h.record_unary && h.grad_mode_enabled && h.backward &&
                 h.sum_to && h.add && h.start_backend,
             "tensor: lib/ops has not registered the hooks of lib/core (lib/ops/core_hooks.cpp is not linked)");
  return h;
}

void register_core_hooks(const CoreHooks& h) { hooks() = h; }

}  // namespace dive
