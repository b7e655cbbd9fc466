// Reference 2-D max / average / adaptive-average pooling (+ backward): the loops of conv_loops.h, run serially.
#include "lib/backend/ref/conv_loops.h"
#include "lib/backend/ref/ref_util.h"

namespace dive::ref {

namespace {

template <class T>
void max_pool2d_t(KernelArgs& a) {
  PoolGeom g = PoolGeometry::of(a.in[0].shape(), a.out[0].shape(), a.attrs);
  for (int64_t p = 0; p < g.P; ++p)
    max_pool_plane<T>(g, a.in[0].data<T>(), a.out[0].data<T>(), a.out[1].data<int64_t>(), p);
}
template <class T>
void max_pool2d_backward_t(KernelArgs& a) {
  PoolGeom g = PoolGeometry::of(a.out[0].shape(), a.in[0].shape(), a.attrs);
  for (int64_t p = 0; p < g.P; ++p)
    max_pool_bwd_plane<T>(g, a.in[0].data<T>(), a.in[1].data<int64_t>(), a.out[0].data<T>(), p);
}
template <class T>
void avg_pool2d_t(KernelArgs& a) {
  PoolGeom g = PoolGeometry::of(a.in[0].shape(), a.out[0].shape(), a.attrs);
  for (int64_t p = 0; p < g.P; ++p) avg_pool_plane<T>(g, a.in[0].data<T>(), a.out[0].data<T>(), p);
}
template <class T>
void avg_pool2d_backward_t(KernelArgs& a) {
  PoolGeom g = PoolGeometry::of(a.out[0].shape(), a.in[0].shape(), a.attrs);
  for (int64_t p = 0; p < g.P; ++p) avg_pool_bwd_plane<T>(g, a.in[0].data<T>(), a.out[0].data<T>(), p);
}
template <class T>
void adaptive_avg_pool2d_t(KernelArgs& a) {
  PoolGeom g = PoolGeometry::of(a.in[0].shape(), a.out[0].shape(), Attrs{});
  for (int64_t p = 0; p < g.P; ++p) adaptive_avg_plane<T>(g, a.in[0].data<T>(), a.out[0].data<T>(), p);
}
template <class T>
void adaptive_avg_pool2d_backward_t(KernelArgs& a) {
  PoolGeom g = PoolGeometry::of(a.out[0].shape(), a.in[0].shape(), Attrs{});
  for (int64_t p = 0; p < g.P; ++p) adaptive_avg_bwd_plane<T>(g, a.in[0].data<T>(), a.out[0].data<T>(), p);
}

}  // namespace

void register_pool(KernelTable& t) {
  DIVE_REF_FLOAT_KERNEL(t, max_pool2d, max_pool2d_t<scalar_t>(a));
  DIVE_REF_FLOAT_KERNEL(t, max_pool2d_backward, max_pool2d_backward_t<scalar_t>(a));
  DIVE_REF_FLOAT_KERNEL(t, avg_pool2d, avg_pool2d_t<scalar_t>(a));
  DIVE_REF_FLOAT_KERNEL(t, avg_pool2d_backward, avg_pool2d_backward_t<scalar_t>(a));
  DIVE_REF_FLOAT_KERNEL(t, adaptive_avg_pool2d, adaptive_avg_pool2d_t<scalar_t>(a));
  DIVE_REF_FLOAT_KERNEL(t, adaptive_avg_pool2d_backward, adaptive_avg_pool2d_backward_t<scalar_t>(a));
}

}  // namespace dive::ref
