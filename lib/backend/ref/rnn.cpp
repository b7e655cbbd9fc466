// Reference GRU cell kernels: loops over rows and hidden units in double, formulas from kernel_math.h.
#include "lib/backend/kernel_math.h"
#include "lib/backend/ref/ref_util.h"

namespace dive::ref {

namespace {

template <class T>
void gru_cell_t(KernelArgs& a) {
  const Tensor& hin = a.in[2];
  int64_t C = hin.size(0), H = hin.size(1);
  const T *gi = a.in[0].data<T>(), *gh = a.in[1].data<T>(), *h = hin.data<T>();
  const uint8_t* valid = a.in[3].data<uint8_t>();
  T *out = a.out[0].data<T>(), *ws = a.out[1].data<T>();
  for (int64_t c = 0; c < C; ++c) {
    const T *i3 = gi + c * 3 * H, *h3 = gh + c * 3 * H;
    T* w = ws + c * 4 * H;
    for (int64_t j = 0; j < H; ++j) {
      double ho, r, z, n;
      kmath::gru_cell_forward<double>(i3[j], i3[H + j], i3[2 * H + j], h3[j], h3[H + j], h3[2 * H + j], h[c * H + j],
                                      valid[c] != 0, ho, r, z, n);
      out[c * H + j] = T(ho);
      w[j] = T(r);
      w[H + j] = T(z);
      w[2 * H + j] = T(n);
      w[3 * H + j] = h3[2 * H + j];
    }
  }
}

template <class T>
void gru_cell_backward_t(KernelArgs& a) {
  const Tensor& hin = a.in[2];
  int64_t C = hin.size(0), H = hin.size(1);
  const T *g = a.in[0].data<T>(), *ws = a.in[1].data<T>(), *h = hin.data<T>();
  const uint8_t* valid = a.in[3].data<uint8_t>();
  T *dgi = a.out[0].data<T>(), *dgh = a.out[1].data<T>(), *dh = a.out[2].data<T>();
  for (int64_t c = 0; c < C; ++c) {
    const T* w = ws + c * 4 * H;
    T *di = dgi + c * 3 * H, *dhh = dgh + c * 3 * H;
    for (int64_t j = 0; j < H; ++j) {
      double ir, iz, in, hr, hz, hn, d;
      kmath::gru_cell_backward<double>(g[c * H + j], w[j], w[H + j], w[2 * H + j], w[3 * H + j], h[c * H + j],
                                       valid[c] != 0, ir, iz, in, hr, hz, hn, d);
      di[j] = T(ir);
      di[H + j] = T(iz);
      di[2 * H + j] = T(in);
      dhh[j] = T(hr);
      dhh[H + j] = T(hz);
      dhh[2 * H + j] = T(hn);
      dh[c * H + j] = T(d);
    }
  }
}

}  // namespace

void register_rnn(KernelTable& t) {
  t.kernels[int(OpId::gru_cell)] = [](KernelArgs& a) {
    DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "gru_cell", [&] { gru_cell_t<scalar_t>(a); });
  };
  t.kernels[int(OpId::gru_cell_backward)] = [](KernelArgs& a) {
    DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "gru_cell_backward", [&] { gru_cell_backward_t<scalar_t>(a); });
  };
}

}  // namespace dive::ref
