// dropout, rand_uniform, rand_normal: element e (row-major index of the output) draws Philox counter
// offset + e under key seed, exactly as the reference backend, so every backend gives the same numbers.
#include "lib/backend/cuda/launch.cuh"
#include "lib/backend/kernel_math.h"
#include "lib/core/rng.h"
#include "lib/ops/attrs.h"

namespace dive::cuda {

namespace {

// Random kernels need the element's linear index, not only its address: own loop over the iterator.
template <int N, class F>
__global__ void indexed_kernel(int64_t n, ElemIter<N> it, F f) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x) {
    char* p[N];
    it.offsets(i, p);
    f(i, p);
  }
}

// Coalescing keeps row-major order, so the iterator's linear index is the output's row-major index.
template <int N, class F>
void launch_indexed(const char* op, const Tensor* const (&ts)[N], F f) {
  int64_t n = ts[0]->numel();
  if (n == 0) return;
  ElemIter<N> it = make_iter<N>(op, ts);
  int dev = ts[0]->device().index;
  DeviceGuard g(dev);
  indexed_kernel<N, F><<<grid_for(n), kBlock, 0, stream(dev)>>>(n, it, f);
  CUDA_CHECK_LAUNCH();
}

template <class T>
struct DropoutF {
  uint64_t seed, offset;
  double p;
  T scale;  // 1 / (1 - p) in T (the reference rounds the f32 mask value the same way)
  __device__ void operator()(int64_t i, char* const* q) const {
    T m = kmath::dropout_keep(seed, offset + uint64_t(i), p) ? scale : T(0);
    *reinterpret_cast<T*>(q[1]) = m;                                          // mask
    *reinterpret_cast<T*>(q[0]) = *reinterpret_cast<const T*>(q[2]) * m;      // y
  }
};

template <class T>
struct UniformF {
  uint64_t seed, offset;
  double lo, hi;
  __device__ void operator()(int64_t i, char* const* q) const {
    *reinterpret_cast<T*>(q[0]) = T(lo + (hi - lo) * double(philox_uniform(seed, offset + uint64_t(i))));
  }
};

template <class T>
struct NormalF {
  uint64_t seed, offset;
  double mean, std;
  __device__ void operator()(int64_t i, char* const* q) const {
    *reinterpret_cast<T*>(q[0]) = T(mean + std * philox_normal(seed, offset + uint64_t(i)));
  }
};

void dropout(KernelArgs& a) {
  const Tensor &x = a.in.at(0), &y = a.out.at(0), &mask = a.out.at(1);
  check_dtypes("dropout", {x, mask}, y.dtype());
  const DropoutAttrs d = DropoutAttrs::unpack(a.attrs);
  const uint64_t seed = d.stream.seed, offset = d.stream.offset;
  const double p = d.p;
  const Tensor* ts[3] = {&y, &mask, &x};
  DIVE_DISPATCH_FLOAT(y.dtype(), "dropout", [&] {
    launch_indexed("dropout", ts, DropoutF<scalar_t>{seed, offset, p, scalar_t(1.0 / (1.0 - p))});
  });
}

void rand_uniform(KernelArgs& a) {
  const Tensor& o = a.out.at(0);
  const RandomAttrs r = RandomAttrs::unpack(a.attrs);
  const Tensor* ts[1] = {&o};
  DIVE_DISPATCH_FLOAT(o.dtype(), "rand_uniform", [&] {
    launch_indexed("rand_uniform", ts, UniformF<scalar_t>{r.stream.seed, r.stream.offset, r.a, r.b});
  });
}

void rand_normal(KernelArgs& a) {
  const Tensor& o = a.out.at(0);
  const RandomAttrs r = RandomAttrs::unpack(a.attrs);
  const Tensor* ts[1] = {&o};
  DIVE_DISPATCH_FLOAT(o.dtype(), "rand_normal", [&] {
    launch_indexed("rand_normal", ts, NormalF<scalar_t>{r.stream.seed, r.stream.offset, r.a, r.b});
  });
}

}  // namespace

void register_random(KernelTable& t) {
  t.kernels[int(OpId::dropout)] = dropout;
  t.kernels[int(OpId::rand_uniform)] = rand_uniform;
  t.kernels[int(OpId::rand_normal)] = rand_normal;
}

}  // namespace dive::cuda
