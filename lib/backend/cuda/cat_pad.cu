// cat and pad on CUDA (semantics of lib/backend/ref/indexing.cpp): byte-generic copies (any dtype), in
// words of up to 16 bytes where rows are contiguous and aligned; 32-bit index arithmetic when every count
// is below 2^30 (index_math.cuh).
#include <climits>
#include <cstring>

#include "lib/backend/axis_split.h"
#include "lib/backend/cuda/byte_copy.cuh"
#include "lib/backend/cuda/index_math.cuh"
#include "lib/backend/cuda/launch.cuh"
#include "lib/ops/attrs.h"

namespace dive::cuda {

namespace {

// ---- cat ---------------------------------------------------------------------------------------------
// Up to kCatBatch inputs per launch (blockIdx.y picks the input). An input is copied as rows: its
// elements in row-major order, row = one index of the dims before the axis, into the output at
// dst + row * dst_row_bytes. Contiguous inputs copy words of up to 16 bytes; strided ones copy elements
// addressed through their own coalesced geometry.
constexpr int kCatBatch = 16;

struct CatPiece {
  const char* src;
  char* dst;
  int64_t count;          // words to copy
  int64_t row_words;      // words per row
  int64_t dst_row_bytes;  // output byte step between rows
  int32_t word;           // bytes per word: 1, 2, 4, 8 or 16
  int32_t ndim;           // 0: contiguous source; else the source geometry below (bytes)
  int64_t size[kMaxDims];
  int64_t stride[kMaxDims];
};

struct CatBatch {
  CatPiece p[kCatBatch];
};

template <class W>
__device__ void cat_copy(const CatPiece& c) {
  for (int64_t t = thread_start<int64_t>(); t < c.count; t += thread_step<int64_t>()) {
    const int64_t r = t / c.row_words;
    const int64_t w = t - r * c.row_words;
    const char* s;
    if (c.ndim == 0) {
      s = c.src + t * int64_t(sizeof(W));
    } else {
      int64_t rem = t, off = 0;
      for (int d = c.ndim - 1; d >= 0; --d) {
        int64_t q = rem / c.size[d];
        off += (rem - q * c.size[d]) * c.stride[d];
        rem = q;
      }
      s = c.src + off;
    }
    *reinterpret_cast<W*>(c.dst + r * c.dst_row_bytes + w * int64_t(sizeof(W))) = *reinterpret_cast<const W*>(s);
  }
}

__global__ void cat_kernel(const __grid_constant__ CatBatch b) {
  const CatPiece& c = b.p[blockIdx.y];
  switch (c.word) {
    case 1: cat_copy<uint8_t>(c); break;
    case 2: cat_copy<uint16_t>(c); break;
    case 4: cat_copy<uint32_t>(c); break;
    case 8: cat_copy<uint64_t>(c); break;
    default: cat_copy<uint4>(c); break;
  }
}

// Drops size-1 dims and merges dims contiguous in `x`; byte strides. Returns the number of dims (may
// exceed kMaxDims; then the caller copies x to a contiguous tensor first).
int coalesce(const Tensor& x, int64_t* sz, int64_t* st) {
  const int64_t es = int64_t(dtype_size(x.dtype()));
  int nd = 0;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const int64_t s = x.shape()[size_t(d)], t = x.strides()[size_t(d)] * es;
    if (s == 1) continue;
    if (nd > 0 && st[nd - 1] == t * s) {
      sz[nd - 1] *= s;
      st[nd - 1] = t;
    } else {
      if (nd == kMaxDims) return kMaxDims + 1;
      sz[nd] = s;
      st[nd] = t;
      ++nd;
    }
  }
  return nd;
}

void cat(KernelArgs& a) {
  const Tensor& O = a.out.at(0);
  const int64_t ax = a.attrs.i.at(0);
  DIVE_CHECK(O.is_contiguous() && ax >= 0 && ax < O.dim(), "cat: expected a contiguous output, got ", O.str(),
             " with axis ", ax);
  check_device_of("cat", O, a.in);
  AxisSplit os = split_at(O.shape(), ax);
  const int64_t es = int64_t(dtype_size(O.dtype()));
  int64_t start = 0;
  for (const Tensor& x : a.in) {
    DIVE_CHECK(x.dtype() == O.dtype() && x.dim() == O.dim(), "cat: input ", x.str(), " does not match output ",
               O.str());
    for (int64_t d = 0; d < O.dim(); ++d)
      DIVE_CHECK(d == ax || x.size(d) == O.size(d), "cat: input ", x.str(), " does not match output ", O.str(),
                 " in dim ", d);
    start += x.size(ax);
  }
  DIVE_CHECK(start == O.size(ax), "cat: inputs sum to ", start, " along axis ", ax, ", output ", O.str());
  if (O.numel() == 0) return;
  int dev = O.device().index;
  DeviceGuard g(dev);
  std::vector<Tensor> keep;  // contiguous copies of inputs with too many strided dims (alive until launch)
  CatBatch batch;
  std::memset(&batch, 0, sizeof(batch));
  int n = 0;
  int64_t max_count = 0;
  auto flush = [&] {
    if (n == 0) return;
    dim3 grid(grid_for(max_count), unsigned(n));
    cat_kernel<<<grid, kBlock, 0, stream(dev)>>>(batch);
    CUDA_CHECK_LAUNCH();
    n = 0;
    max_count = 0;
    keep.clear();
  };
  start = 0;
  char* obase = static_cast<char*>(O.raw_data());
  for (const Tensor& in : a.in) {
    const int64_t sk = in.size(ax);
    Tensor x = in;
    if (x.numel() == 0) {
      start += sk;
      continue;
    }
    CatPiece& c = batch.p[n];
    int nd = coalesce(x, c.size, c.stride);
    if (nd > kMaxDims) {
      x = in.contiguous();
      keep.push_back(x);
      nd = coalesce(x, c.size, c.stride);
    }
    const bool contig = nd == 0 || (nd == 1 && c.stride[0] == es);
    c.src = static_cast<const char*>(x.raw_data());
    c.dst = obase + start * os.inner * es;
    const int64_t row_bytes = sk * os.inner * es;
    c.dst_row_bytes = os.n * os.inner * es;
    if (contig) {
      c.word = common_word({uint64_t(row_bytes), uint64_t(os.outer > 1 ? c.dst_row_bytes : 0), addr(c.src),
                            addr(c.dst)});
      c.ndim = 0;
    } else {
      c.word = int32_t(es);
      c.ndim = nd;
    }
    c.row_words = row_bytes / c.word;
    c.count = os.outer * c.row_words;
    max_count = std::max(max_count, c.count);
    start += sk;
    if (++n == kCatBatch) flush();
  }
  flush();
}

// ---- pad ---------------------------------------------------------------------------------------------
// One thread per output element: inside the interior it reads x (any strides), else writes the value.
struct PadGeom {
  int nd = 1;
  int64_t osize[kMaxDims];
  int64_t xsize[kMaxDims];
  int64_t before[kMaxDims];
  int64_t xstride[kMaxDims];  // elements
};

template <class W>
__global__ void pad_kernel(const W* __restrict__ x, W* __restrict__ out, int64_t total, PadGeom g, W value) {
  for (int64_t o = thread_start<int64_t>(); o < total; o += thread_step<int64_t>()) {
    int64_t rem = o, off = 0;
    bool inside = true;
    for (int d = g.nd - 1; d >= 0; --d) {
      int64_t q = rem / g.osize[d];
      int64_t c = rem - q * g.osize[d] - g.before[d];
      rem = q;
      inside = inside && c >= 0 && c < g.xsize[d];
      off += c * g.xstride[d];
    }
    out[o] = inside ? x[off] : value;
  }
}

// The fill value's bit pattern in `dt` (as store_double / the fill kernel convert it).
uint64_t value_bits(DType dt, double v) {
  uint64_t bits = 0;
  switch (dt) {
    case DType::f32: { float f = float(v); std::memcpy(&bits, &f, 4); break; }
    case DType::f64: std::memcpy(&bits, &v, 8); break;
    case DType::i64: { int64_t i = int64_t(v); std::memcpy(&bits, &i, 8); break; }
    case DType::i32: { int32_t i = int32_t(v); std::memcpy(&bits, &i, 4); break; }
    case DType::u8: bits = uint8_t(v); break;
    case DType::boolean: bits = v != 0 ? 1 : 0; break;
    case DType::bf16: bits = float_to_bf16(float(v)); break;
    case DType::f16: bits = float_to_f16(float(v)); break;
  }
  return bits;
}

void pad(KernelArgs& a) {
  const Tensor &X = a.in.at(0), &O = a.out.at(0);
  const PadAttrs pa = PadAttrs::unpack(a.attrs);  // shapes checked by the op layer
  const auto& p = pa.pads;
  const int64_t total = O.numel();
  if (total == 0) return;
  PadGeom geo;
  if (X.numel() == 0) {  // nothing to copy: every element is the value
    geo.nd = 1;
    geo.osize[0] = total;
    geo.xsize[0] = 0;
    geo.before[0] = 0;
    geo.xstride[0] = 0;
  } else {
    int64_t os[64], xs[64], bf[64], st[64];
    int nd = 0;
    for (int64_t d = 0; d < X.dim(); ++d) {
      const size_t u = size_t(d);
      const int64_t b = p[2 * u], e = p[2 * u + 1], s = X.shape()[u], t = X.strides()[u];
      if (O.shape()[u] == 1) continue;  // size 1, no padding: coordinate 0
      if (nd > 0 && b == 0 && e == 0 && st[nd - 1] == t * s) {
        os[nd - 1] *= s;
        xs[nd - 1] *= s;
        bf[nd - 1] *= s;
        st[nd - 1] = t;
      } else {
        DIVE_CHECK(nd < 64, "pad: too many dims");
        os[nd] = s + b + e;
        xs[nd] = s;
        bf[nd] = b;
        st[nd] = t;
        ++nd;
      }
    }
    DIVE_CHECK(nd <= kMaxDims, "pad: ", X.str(), " leaves ", nd, " non-mergeable dims; the CUDA kernel supports at most ",
               kMaxDims);
    if (nd == 0) {
      nd = 1;
      os[0] = xs[0] = 1;
      bf[0] = st[0] = 0;
    }
    geo.nd = nd;
    for (int d = 0; d < nd; ++d) {
      geo.osize[d] = os[d];
      geo.xsize[d] = xs[d];
      geo.before[d] = bf[d];
      geo.xstride[d] = st[d];
    }
  }
  const uint64_t bits = value_bits(O.dtype(), pa.value);
  int dev = O.device().index;
  DeviceGuard g(dev);
  with_word(int64_t(dtype_size(O.dtype())), "pad", [&](auto w) {
    using W = decltype(w);
    if constexpr (sizeof(W) <= 8) {
      W value;
      std::memcpy(&value, &bits, sizeof(W));  // little endian: the low bytes hold the pattern
      pad_kernel<W><<<grid_for(total), kBlock, 0, stream(dev)>>>(static_cast<const W*>(X.raw_data()),
                                                                   static_cast<W*>(O.raw_data()), total, geo, value);
      CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace

void register_cat_pad(KernelTable& t) {
  t.kernels[int(OpId::cat)] = cat;
  t.kernels[int(OpId::pad)] = pad;
}

}  // namespace dive::cuda
