// Reference dropout and random fills: philox_uniform / philox_normal of every element index.
#include <cmath>

#include "lib/backend/kernel_math.h"
#include "lib/backend/ref/ref_util.h"
#include "lib/ops/attrs.h"

namespace dive::ref {

namespace {

void dropout(KernelArgs& a) {
  const Tensor &x = a.in[0], &o = a.out[0], &mask = a.out[1];
  const DropoutAttrs d = DropoutAttrs::unpack(a.attrs);
  const uint64_t seed = d.stream.seed, offset = d.stream.offset;
  const double p = d.p, scale = 1.0 / (1.0 - p);
  int64_t n = o.numel();
  for (int64_t i = 0; i < n; ++i) {
    double m = kmath::dropout_keep(seed, offset + uint64_t(i), p) ? scale : 0.0;
    if (o.dtype() == DType::f32) m = double(float(m));  // the f32 mask value, as other backends use it
    store(mask, i, m);
    store(o, i, load_as_double(x, i) * m);
  }
}

void rand_uniform(KernelArgs& a) {
  const Tensor& o = a.out[0];
  const RandomAttrs r = RandomAttrs::unpack(a.attrs);
  const uint64_t seed = r.stream.seed, offset = r.stream.offset;
  const double lo = r.a, hi = r.b;
  for (int64_t i = 0; i < o.numel(); ++i)
    store(o, i, lo + (hi - lo) * double(philox_uniform(seed, offset + uint64_t(i))));
}

void rand_normal(KernelArgs& a) {
  const Tensor& o = a.out[0];
  const RandomAttrs r = RandomAttrs::unpack(a.attrs);
  for (int64_t i = 0; i < o.numel(); ++i)
    store(o, i, r.a + r.b * philox_normal(r.stream.seed, r.stream.offset + uint64_t(i)));
}

}  // namespace

void register_random(KernelTable& t) {
  t.kernels[int(OpId::dropout)] = dropout;
  t.kernels[int(OpId::rand_uniform)] = rand_uniform;
  t.kernels[int(OpId::rand_normal)] = rand_normal;
}

}  // namespace dive::ref
