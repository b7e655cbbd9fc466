// In-place optimizer updates: add_scaled_ (a += alpha * b, the elementwise launcher) and the fused
// Adam/AdamW step (kmath::adam_update, one thread per element).
#include "lib/backend/cuda/launch.cuh"
#include "lib/backend/kernel_math.h"
#include "lib/ops/attrs.h"

namespace dive::cuda {

namespace {

template <class T>
struct AddScaledF {
  T alpha;
  __device__ void operator()(char* const* p) const {
    *reinterpret_cast<T*>(p[0]) = *reinterpret_cast<const T*>(p[1]) + alpha * *reinterpret_cast<const T*>(p[2]);
  }
};

// in[0] = a (also out[0]: updated in place), in[1] = b
void add_scaled(KernelArgs& a) {
  const Tensor &x = a.in.at(0), &y = a.in.at(1);
  const Tensor& o = a.out.empty() ? x : a.out[0];
  check_dtypes("add_scaled_", {x, y}, o.dtype());
  double alpha = a.attrs.f.at(0);
  const Tensor* ts[3] = {&o, &x, &y};
  DIVE_DISPATCH_FLOAT(o.dtype(), "add_scaled_",
                      [&] { launch_elementwise("add_scaled_", ts, AddScaledF<scalar_t>{scalar_t(alpha)}); });
}

template <class T>
__global__ void adam_kernel(T* p, const T* g, T* m, T* v, int64_t n, T lr, T b1, T b2, T eps, T wd, T bc1, T bc2,
                            bool decoupled) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) kmath::adam_update<T>(p[i], g[i], m[i], v[i], lr, b1, b2, eps, wd, bc1, bc2, decoupled);
}

void adam(KernelArgs& a) {
  const AdamAttrs h = AdamAttrs::unpack(a.attrs);
  int64_t n = a.in[0].numel();
  if (n == 0) return;
  DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "adam_", [&] {
    using T = scalar_t;
    adam_kernel<T><<<unsigned((n + 255) / 256), 256, 0, current_stream()>>>(
        static_cast<T*>(a.in[0].raw_data()), static_cast<const T*>(a.in[1].raw_data()),
        static_cast<T*>(a.in[2].raw_data()), static_cast<T*>(a.in[3].raw_data()), n, T(h.lr), T(h.beta1), T(h.beta2),
        T(h.eps), T(h.weight_decay), T(h.bias_correction1), T(h.bias_correction2), h.decoupled);
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace

void register_optimizer(KernelTable& t) {
  t.kernels[int(OpId::add_scaled_)] = add_scaled;
  t.kernels[int(OpId::adam_)] = adam;
}

}  // namespace dive::cuda
