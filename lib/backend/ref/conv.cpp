// Reference conv2d and 2-D pooling kernels: the direct loops of conv_loops.h, run serially.
#include "lib/backend/ref/conv_loops.h"

namespace dive::ref {

namespace {

template <class T>
void conv2d_t(KernelArgs& a) {
  ConvGeom g = conv_geom(a.in[0].shape(), a.in[1].shape(), a.out[0].shape(), a.attrs.i);
  const T* b = a.in.size() > 2 && a.in[2].defined() ? a.in[2].data<T>() : nullptr;
  for (int64_t n = 0; n < g.N; ++n) conv_fwd_n<T>(g, a.in[0].data<T>(), a.in[1].data<T>(), b, a.out[0].data<T>(), n);
}
template <class T>
void conv2d_backward_data_t(KernelArgs& a) {
  ConvGeom g = conv_geom(a.out[0].shape(), a.in[1].shape(), a.in[0].shape(), a.attrs.i);
  for (int64_t n = 0; n < g.N; ++n) conv_bwd_data_n<T>(g, a.in[0].data<T>(), a.in[1].data<T>(), a.out[0].data<T>(), n);
}
template <class T>
void conv2d_backward_weights_t(KernelArgs& a) {
  ConvGeom g = conv_geom(a.in[1].shape(), a.out[0].shape(), a.in[0].shape(), a.attrs.i);
  for (int64_t o = 0; o < g.O; ++o)
    conv_bwd_weights_o<T>(g, a.in[0].data<T>(), a.in[1].data<T>(), a.out[0].data<T>(), o);
}
template <class T>
void max_pool2d_t(KernelArgs& a) {
  PoolGeom g = pool_geom(a.in[0].shape(), a.out[0].shape(), a.attrs.i);
  for (int64_t p = 0; p < g.P; ++p)
    max_pool_plane<T>(g, a.in[0].data<T>(), a.out[0].data<T>(), a.out[1].data<int64_t>(), p);
}
template <class T>
void max_pool2d_backward_t(KernelArgs& a) {
  PoolGeom g = pool_geom(a.out[0].shape(), a.in[0].shape(), a.attrs.i);
  for (int64_t p = 0; p < g.P; ++p)
    max_pool_bwd_plane<T>(g, a.in[0].data<T>(), a.in[1].data<int64_t>(), a.out[0].data<T>(), p);
}
template <class T>
void avg_pool2d_t(KernelArgs& a) {
  PoolGeom g = pool_geom(a.in[0].shape(), a.out[0].shape(), a.attrs.i);
  for (int64_t p = 0; p < g.P; ++p) avg_pool_plane<T>(g, a.in[0].data<T>(), a.out[0].data<T>(), p);
}
template <class T>
void avg_pool2d_backward_t(KernelArgs& a) {
  PoolGeom g = pool_geom(a.out[0].shape(), a.in[0].shape(), a.attrs.i);
  for (int64_t p = 0; p < g.P; ++p) avg_pool_bwd_plane<T>(g, a.in[0].data<T>(), a.out[0].data<T>(), p);
}
template <class T>
void adaptive_avg_pool2d_t(KernelArgs& a) {
  PoolGeom g = pool_geom(a.in[0].shape(), a.out[0].shape(), {});
  for (int64_t p = 0; p < g.P; ++p) adaptive_avg_plane<T>(g, a.in[0].data<T>(), a.out[0].data<T>(), p);
}
template <class T>
void adaptive_avg_pool2d_backward_t(KernelArgs& a) {
  PoolGeom g = pool_geom(a.out[0].shape(), a.in[0].shape(), {});
  for (int64_t p = 0; p < g.P; ++p) adaptive_avg_bwd_plane<T>(g, a.in[0].data<T>(), a.out[0].data<T>(), p);
}

}  // namespace

void register_conv(KernelTable& t) {
#define DIVE_REF_FLOAT(op) \
  t.kernels[int(OpId::op)] = [](KernelArgs& a) { DIVE_DISPATCH_FLOAT(a.in[0].dtype(), #op, [&] { op##_t<scalar_t>(a); }); }
  DIVE_REF_FLOAT(conv2d);
  DIVE_REF_FLOAT(conv2d_backward_data);
  DIVE_REF_FLOAT(conv2d_backward_weights);
  DIVE_REF_FLOAT(max_pool2d);
  DIVE_REF_FLOAT(max_pool2d_backward);
  DIVE_REF_FLOAT(avg_pool2d);
  DIVE_REF_FLOAT(avg_pool2d_backward);
  DIVE_REF_FLOAT(adaptive_avg_pool2d);
  DIVE_REF_FLOAT(adaptive_avg_pool2d_backward);
#undef DIVE_REF_FLOAT
}

}  // namespace dive::ref
