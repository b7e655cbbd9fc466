// GRU cell kernels of the CPU backend: OpenMP over rows, the shared formulas of kernel_math.h in the
// storage type.
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"
#include "lib/backend/kernel_math.h"

namespace dive::cpu {

namespace {

template <class T>
void gru_cell_t(KernelArgs& a) {
  const Tensor& hin = a.in[2];
  const int64_t C = hin.size(0), H = hin.size(1);
  const T *gi = a.in[0].data<T>(), *gh = a.in[1].data<T>(), *h = hin.data<T>();
  const uint8_t* valid = a.in[3].data<uint8_t>();
  T *out = a.out[0].data<T>(), *ws = a.out[1].data<T>();
#pragma omp parallel for schedule(static) if (C * H > kGrain)
  for (int64_t c = 0; c < C; ++c) {
    const T *i3 = gi + c * 3 * H, *h3 = gh + c * 3 * H;
    T* w = ws + c * 4 * H;
    const bool v = valid[c] != 0;
    for (int64_t j = 0; j < H; ++j) {
      kmath::gru_cell_forward<T>(i3[j], i3[H + j], i3[2 * H + j], h3[j], h3[H + j], h3[2 * H + j], h[c * H + j], v,
                                 out[c * H + j], w[j], w[H + j], w[2 * H + j]);
      w[3 * H + j] = h3[2 * H + j];
    }
  }
}

template <class T>
void gru_cell_backward_t(KernelArgs& a) {
  const Tensor& hin = a.in[2];
  const int64_t C = hin.size(0), H = hin.size(1);
  const T *g = a.in[0].data<T>(), *ws = a.in[1].data<T>(), *h = hin.data<T>();
  const uint8_t* valid = a.in[3].data<uint8_t>();
  T *dgi = a.out[0].data<T>(), *dgh = a.out[1].data<T>(), *dh = a.out[2].data<T>();
#pragma omp parallel for schedule(static) if (C * H > kGrain)
  for (int64_t c = 0; c < C; ++c) {
    const T* w = ws + c * 4 * H;
    T *di = dgi + c * 3 * H, *dhh = dgh + c * 3 * H;
    const bool v = valid[c] != 0;
    for (int64_t j = 0; j < H; ++j)
      kmath::gru_cell_backward<T>(g[c * H + j], w[j], w[H + j], w[2 * H + j], w[3 * H + j], h[c * H + j], v, di[j],
                                  di[H + j], di[2 * H + j], dhh[j], dhh[H + j], dhh[2 * H + j], dh[c * H + j]);
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

}  // namespace dive::cpu
