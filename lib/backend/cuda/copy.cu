// copy (strided -> strided, dtype casts incl. bf16/f16 storage types) and fill (strided out).
#include "lib/backend/cuda/launch.cuh"

namespace dive::cuda {

namespace {

// Same dtype: move the bytes (exact for every dtype, i64 beyond 2^53 included).
template <class Word>
struct CopySame {
  __device__ void operator()(char* const* p) const {
    *reinterpret_cast<Word*>(p[0]) = *reinterpret_cast<const Word*>(p[1]);
  }
};

// Different dtypes: through double, as the reference backend (so i64 -> f32 rounds the same way).
struct CopyCast {
  DType from, to;
  __device__ void operator()(char* const* p) const { store_double(p[0], to, load_double(p[1], from)); }
};

template <class T>
struct FillTyped {
  T v;
  __device__ void operator()(char* const* p) const { *reinterpret_cast<T*>(p[0]) = v; }
};

struct FillStore {
  DType to;
  double v;
  __device__ void operator()(char* const* p) const { store_double(p[0], to, v); }
};

void copy(KernelArgs& a) {
  const Tensor& x = a.in[0];
  const Tensor& y = a.out[0];
  DIVE_CHECK(x.shape() == y.shape(), "copy: shape ", shape_str(x.shape()), " into ", shape_str(y.shape()));
  const Tensor* ts[2] = {&y, &x};
  if (x.dtype() == y.dtype()) {
    switch (dtype_size(x.dtype())) {
      case 1: launch_elementwise("copy", ts, CopySame<uint8_t>{}); return;
      case 2: launch_elementwise("copy", ts, CopySame<uint16_t>{}); return;
      case 4: launch_elementwise("copy", ts, CopySame<uint32_t>{}); return;
      default: launch_elementwise("copy", ts, CopySame<uint64_t>{}); return;
    }
  }
  launch_elementwise("copy", ts, CopyCast{x.dtype(), y.dtype()});
}

void fill(KernelArgs& a) {
  const Tensor& y = a.out[0];
  double v = a.attrs.f.at(0);
  const Tensor* ts[1] = {&y};
  switch (y.dtype()) {
    case DType::f32: launch_elementwise("fill", ts, FillTyped<float>{float(v)}); return;
    case DType::f64: launch_elementwise("fill", ts, FillTyped<double>{v}); return;
    default: launch_elementwise("fill", ts, FillStore{y.dtype(), v}); return;
  }
}

}  // namespace

void register_copy(KernelTable& t) {
  t.kernels[int(OpId::copy)] = copy;
  t.kernels[int(OpId::fill)] = fill;
}

}  // namespace dive::cuda
