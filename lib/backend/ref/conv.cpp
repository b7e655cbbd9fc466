// Reference conv2d (+ backward data / weights): the direct loops of conv_loops.h, run serially.
#include "lib/backend/ref/conv_loops.h"
#include "lib/backend/ref/ref_util.h"

namespace dive::ref {

namespace {

template <class T>
void conv2d_t(KernelArgs& a) {
  ConvGeom g = ConvGeometry::of(a.in[0].shape(), a.in[1].shape(), a.out[0].shape(), a.attrs);
  const T* b = a.in.size() > 2 && a.in[2].defined() ? a.in[2].data<T>() : nullptr;
  for (int64_t n = 0; n < g.N; ++n) conv_fwd_n<T>(g, a.in[0].data<T>(), a.in[1].data<T>(), b, a.out[0].data<T>(), n);
}
template <class T>
void conv2d_backward_data_t(KernelArgs& a) {
  ConvGeom g = ConvGeometry::of(a.out[0].shape(), a.in[1].shape(), a.in[0].shape(), a.attrs);
  for (int64_t n = 0; n < g.N; ++n) conv_bwd_data_n<T>(g, a.in[0].data<T>(), a.in[1].data<T>(), a.out[0].data<T>(), n);
}
template <class T>
void conv2d_backward_weights_t(KernelArgs& a) {
  ConvGeom g = ConvGeometry::of(a.in[1].shape(), a.out[0].shape(), a.in[0].shape(), a.attrs);
  for (int64_t o = 0; o < g.O; ++o)
    conv_bwd_weights_o<T>(g, a.in[0].data<T>(), a.in[1].data<T>(), a.out[0].data<T>(), o);
}

}  // namespace

void register_conv(KernelTable& t) {
  DIVE_REF_FLOAT_KERNEL(t, conv2d, conv2d_t<scalar_t>(a));
  DIVE_REF_FLOAT_KERNEL(t, conv2d_backward_data, conv2d_backward_data_t<scalar_t>(a));
  DIVE_REF_FLOAT_KERNEL(t, conv2d_backward_weights, conv2d_backward_weights_t<scalar_t>(a));
}

}  // namespace dive::ref
