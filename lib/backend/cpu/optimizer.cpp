// CPU in-place optimizer updates: add_scaled_ and the fused Adam/AdamW step (kmath::adam_update).
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"
#include "lib/backend/kernel_math.h"
#include "lib/ops/attrs.h"

namespace dive::cpu {

namespace {

void add_scaled(KernelArgs& a) {
  const double alpha = a.attrs.f[0];
  DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "add_scaled_", [&] {
    map2<scalar_t, scalar_t, scalar_t>(a.in[0], a.in[0], a.in[1], [alpha](scalar_t x, scalar_t y) {
      return scalar_t(double(x) + alpha * double(y));  // as the reference: one rounding
    });
  });
}

template <class T>
void adam_t(KernelArgs& a) {
  const AdamAttrs h = AdamAttrs::unpack(a.attrs);
  T *p = a.in[0].data<T>(), *m = a.in[2].data<T>(), *v = a.in[3].data<T>();
  const T* g = a.in[1].data<T>();
  const int64_t n = a.in[0].numel();
#pragma omp parallel for schedule(static) if (n > kGrain)
  for (int64_t i = 0; i < n; ++i)
    kmath::adam_update<T>(p[i], g[i], m[i], v[i], T(h.lr), T(h.beta1), T(h.beta2), T(h.eps), T(h.weight_decay),
                          T(h.bias_correction1), T(h.bias_correction2), h.decoupled);
}

void adam(KernelArgs& a) { DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "adam_", [&] { adam_t<scalar_t>(a); }); }

}  // namespace

void register_optimizer(KernelTable& t) {
  t.kernels[int(OpId::add_scaled_)] = add_scaled;
  t.kernels[int(OpId::adam_)] = adam;
}

}  // namespace dive::cpu
