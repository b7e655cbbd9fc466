// Reference matmul and linear: triple loops with double accumulation.
#include "lib/backend/ref/ref_util.h"
#include "lib/ops/attrs.h"

namespace dive::ref {

namespace {

template <class T>
void matmul_t(KernelArgs& a) {
  const Tensor &A = a.in[0], &B = a.in[1], &O = a.out[0];
  const MatmulAttrs t = MatmulAttrs::unpack(a.attrs);
  const bool ta = t.trans_a, tb = t.trans_b;
  int64_t batch = O.size(0), M = O.size(1), N = O.size(2);
  int64_t K = ta ? A.size(1) : A.size(2);
  int64_t Ba = A.size(0), Bb = B.size(0);
  const T* pa = A.data<T>();
  const T* pb = B.data<T>();
  T* po = O.data<T>();
  for (int64_t b = 0; b < batch; ++b) {
    const T* a0 = pa + (Ba == 1 ? 0 : b) * M * K;
    const T* b0 = pb + (Bb == 1 ? 0 : b) * K * N;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) {
          double x = ta ? a0[k * M + m] : a0[m * K + k];
          double y = tb ? b0[n * K + k] : b0[k * N + n];
          s += x * y;
        }
        po[(b * M + m) * N + n] = T(s);
      }
  }
}

template <class T>
void linear_t(KernelArgs& a) {
  const Tensor &X = a.in[0], &W = a.in[1], &O = a.out[0];
  int64_t M = X.size(0), K = X.size(1), N = W.size(0);
  const T* x = X.data<T>();
  const T* w = W.data<T>();
  const T* bias = a.in.size() > 2 ? a.in[2].data<T>() : nullptr;
  T* o = O.data<T>();
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = bias ? double(bias[n]) : 0.0;
      for (int64_t k = 0; k < K; ++k) s += double(x[m * K + k]) * double(w[n * K + k]);
      o[m * N + n] = T(s);
    }
}

}  // namespace

void register_matmul(KernelTable& t) {
  t.kernels[int(OpId::matmul)] = [](KernelArgs& a) {
    DIVE_DISPATCH_FLOAT(a.out[0].dtype(), "matmul", [&] { matmul_t<scalar_t>(a); });
  };
  t.kernels[int(OpId::linear)] = [](KernelArgs& a) {
    DIVE_DISPATCH_FLOAT(a.out[0].dtype(), "linear", [&] { linear_t<scalar_t>(a); });
  };
}

}  // namespace dive::ref
