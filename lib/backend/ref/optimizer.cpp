// Reference in-place optimizer updates: add_scaled_ and the Adam/AdamW step (kmath::adam_update).
#include <cmath>

#include "lib/backend/kernel_math.h"
#include "lib/backend/ref/ref_util.h"
#include "lib/ops/attrs.h"

namespace dive::ref {

namespace {

void add_scaled(KernelArgs& a) {
  const Tensor &x = a.in[0], &y = a.in[1];
  double alpha = a.attrs.f[0];
  for (int64_t i = 0; i < x.numel(); ++i) store(x, i, load_as_double(x, i) + alpha * load_as_double(y, i));
}

void adam(KernelArgs& a) {
  const AdamAttrs h = AdamAttrs::unpack(a.attrs);
  DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "adam_", [&] {
    scalar_t *p = a.in[0].data<scalar_t>(), *m = a.in[2].data<scalar_t>(), *v = a.in[3].data<scalar_t>();
    const scalar_t* g = a.in[1].data<scalar_t>();
    for (int64_t i = 0; i < a.in[0].numel(); ++i)
      kmath::adam_update<scalar_t>(p[i], g[i], m[i], v[i], scalar_t(h.lr), scalar_t(h.beta1), scalar_t(h.beta2),
                                   scalar_t(h.eps), scalar_t(h.weight_decay), scalar_t(h.bias_correction1),
                                   scalar_t(h.bias_correction2), h.decoupled);
  });
}

}  // namespace

void register_optimizer(KernelTable& t) {
  t.kernels[int(OpId::add_scaled_)] = add_scaled;
  t.kernels[int(OpId::adam_)] = adam;
}

}  // namespace dive::ref
