// CPU 2-D pooling kernels (max with PyTorch indices, average with count_include_pad, adaptive average):
// the loops of lib/backend/ref/conv_loops.h, parallel over the (n, c) planes, for f32 and f64. Plain
// loops rather than oneDNN pooling so that max indices, tie-breaking and NaN handling match PyTorch
// exactly; each plane is owned by one thread, so the backward scatters are deterministic.
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/ref/conv_loops.h"

namespace dive::cpu {

namespace {

using namespace ref;

template <class F>
void planes(int64_t P, int64_t work, F f) {
#pragma omp parallel for schedule(static) if (P > 1 && work > 4096)
  for (int64_t p = 0; p < P; ++p) f(p);
}

template <class T>
void max_pool2d_t(KernelArgs& a) {
  PoolGeom g = PoolGeometry::of(a.in[0].shape(), a.out[0].shape(), a.attrs);
  const T* x = a.in[0].data<T>();
  T* y = a.out[0].data<T>();
  int64_t* idx = a.out[1].data<int64_t>();
  planes(g.P, a.out[0].numel() * g.KH * g.KW, [&](int64_t p) { max_pool_plane<T>(g, x, y, idx, p); });
}
template <class T>
void max_pool2d_backward_t(KernelArgs& a) {
  PoolGeom g = PoolGeometry::of(a.out[0].shape(), a.in[0].shape(), a.attrs);
  const T* gy = a.in[0].data<T>();
  const int64_t* idx = a.in[1].data<int64_t>();
  T* dx = a.out[0].data<T>();
  planes(g.P, a.out[0].numel(), [&](int64_t p) { max_pool_bwd_plane<T>(g, gy, idx, dx, p); });
}
template <class T>
void avg_pool2d_t(KernelArgs& a) {
  PoolGeom g = PoolGeometry::of(a.in[0].shape(), a.out[0].shape(), a.attrs);
  const T* x = a.in[0].data<T>();
  T* y = a.out[0].data<T>();
  planes(g.P, a.out[0].numel() * g.KH * g.KW, [&](int64_t p) { avg_pool_plane<T>(g, x, y, p); });
}
template <class T>
void avg_pool2d_backward_t(KernelArgs& a) {
  PoolGeom g = PoolGeometry::of(a.out[0].shape(), a.in[0].shape(), a.attrs);
  const T* gy = a.in[0].data<T>();
  T* dx = a.out[0].data<T>();
  planes(g.P, a.in[0].numel() * g.KH * g.KW, [&](int64_t p) { avg_pool_bwd_plane<T>(g, gy, dx, p); });
}
template <class T>
void adaptive_avg_pool2d_t(KernelArgs& a) {
  PoolGeom g = PoolGeometry::of(a.in[0].shape(), a.out[0].shape(), Attrs{});
  const T* x = a.in[0].data<T>();
  T* y = a.out[0].data<T>();
  planes(g.P, a.in[0].numel(), [&](int64_t p) { adaptive_avg_plane<T>(g, x, y, p); });
}
template <class T>
void adaptive_avg_pool2d_backward_t(KernelArgs& a) {
  PoolGeom g = PoolGeometry::of(a.out[0].shape(), a.in[0].shape(), Attrs{});
  const T* gy = a.in[0].data<T>();
  T* dx = a.out[0].data<T>();
  planes(g.P, a.out[0].numel(), [&](int64_t p) { adaptive_avg_bwd_plane<T>(g, gy, dx, p); });
}

}  // namespace

void register_pool(KernelTable& t) {
#define DIVE_CPU_FLOAT(op) \
  t.kernels[int(OpId::op)] = [](KernelArgs& a) { DIVE_DISPATCH_FLOAT(a.in[0].dtype(), #op, [&] { op##_t<scalar_t>(a); }); }
  DIVE_CPU_FLOAT(max_pool2d);
  DIVE_CPU_FLOAT(max_pool2d_backward);
  DIVE_CPU_FLOAT(avg_pool2d);
  DIVE_CPU_FLOAT(avg_pool2d_backward);
  DIVE_CPU_FLOAT(adaptive_avg_pool2d);
  DIVE_CPU_FLOAT(adaptive_avg_pool2d_backward);
#undef DIVE_CPU_FLOAT
}

}  // namespace dive::cpu
