// Deterministic reductions: sum, mean, logsumexp, norm, var, and max/min with first-occurrence indices.
// The input (any strides) is addressed as [outer, reduced] (kept axes in order, then the reduced axes),
// as the reference backend does. One block per output row (grid-stride over rows); each thread
// accumulates a fixed strided subset in double, then a fixed-shape tree combines the partials in shared
// memory. No atomics, so results are bitwise reproducible run to run.
// Later (performance): warp-per-row for short rows, split rows for outer == 1 with huge reductions.
#include <cmath>
#include <limits>

#include "lib/backend/cuda/launch.cuh"

namespace dive::cuda {

namespace {

constexpr int kRBlock = 256;

// A group of dims of one tensor (element strides), row-major linear index -> element offset.
struct Geom {
  int ndim = 1;
  int64_t size[kMaxDims];
  int64_t stride[kMaxDims];
  __device__ __forceinline__ int64_t offset(int64_t i) const {
    if (ndim == 1) return i * stride[0];
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      off += (i % size[d]) * stride[d];
      i /= size[d];
    }
    return off;
  }
};

// Coalesces the dims `dims` (outermost first) of x into a Geom; returns their element count in `count`.
Geom make_geom(const char* op, const Tensor& x, const std::vector<int64_t>& dims, int64_t& count) {
  int64_t sz[64], st[64];
  int nd = 0;
  count = 1;
  for (int64_t d : dims) {
    count *= x.shape()[size_t(d)];
    if (x.shape()[size_t(d)] == 1) continue;
    DIVE_CHECK(nd < 64, op, ": too many dims");
    int64_t s = x.shape()[size_t(d)], t = x.strides()[size_t(d)];
    if (nd > 0 && st[nd - 1] == t * s) {
      sz[nd - 1] *= s;
      st[nd - 1] = t;
    } else {
      sz[nd] = s;
      st[nd] = t;
      ++nd;
    }
  }
  DIVE_CHECK(nd <= kMaxDims, op, ": input ", x.str(), " has ", nd, " non-mergeable dims in one group; the CUDA ",
             "backend supports at most ", kMaxDims, " (make it contiguous first)");
  Geom g;
  g.ndim = nd == 0 ? 1 : nd;
  if (nd == 0) {
    g.size[0] = 1;
    g.stride[0] = 0;
  }
  for (int d = 0; d < nd; ++d) {
    g.size[d] = sz[d];
    g.stride[d] = st[d];
  }
  return g;
}

// Tree reduction over the block in a fixed order; every thread gets the result.
template <class V, class C>
__device__ V block_reduce(V v, C combine, V* sh) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = kRBlock / 2; s > 0; s >>= 1) {
    if (int(threadIdx.x) < s) sh[threadIdx.x] = combine(sh[threadIdx.x], sh[threadIdx.x + s]);
    __syncthreads();
  }
  V r = sh[0];
  __syncthreads();  // sh may be reused by the next call
  return r;
}

struct Plus { __device__ double operator()(double a, double b) const { return a + b; } };
struct MaxNoNan { __device__ double operator()(double a, double b) const { return a < b ? b : a; } };  // std::max

enum class RKind { sum, mean, norm, logsumexp, var };

template <class T, RKind K>
__global__ void reduce_rows(const T* x, Geom og, Geom rg, int64_t rows, int64_t n, T* out, double corr) {
  __shared__ double sh[kRBlock];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + og.offset(r);
    double acc = 0;
    if constexpr (K == RKind::sum || K == RKind::mean) {
      for (int64_t j = threadIdx.x; j < n; j += kRBlock) acc += double(row[rg.offset(j)]);
      acc = block_reduce(acc, Plus{}, sh);
      if constexpr (K == RKind::mean) acc = n ? acc / double(n) : nan("");
    } else if constexpr (K == RKind::norm) {
      for (int64_t j = threadIdx.x; j < n; j += kRBlock) {
        double v = double(row[rg.offset(j)]);
        acc += v * v;
      }
      acc = sqrt(block_reduce(acc, Plus{}, sh));
    } else if constexpr (K == RKind::logsumexp) {
      double m = -INFINITY;
      for (int64_t j = threadIdx.x; j < n; j += kRBlock) m = MaxNoNan{}(m, double(row[rg.offset(j)]));
      m = block_reduce(m, MaxNoNan{}, sh);
      if (isinf(m)) {
        acc = m;
      } else {
        for (int64_t j = threadIdx.x; j < n; j += kRBlock) acc += exp(double(row[rg.offset(j)]) - m);
        acc = m + log(block_reduce(acc, Plus{}, sh));
      }
    } else {  // var: two passes (mean, then squared deviations)
      for (int64_t j = threadIdx.x; j < n; j += kRBlock) acc += double(row[rg.offset(j)]);
      double mu = block_reduce(acc, Plus{}, sh) / double(n);
      acc = 0;
      for (int64_t j = threadIdx.x; j < n; j += kRBlock) {
        double d = double(row[rg.offset(j)]) - mu;
        acc += d * d;
      }
      acc = block_reduce(acc, Plus{}, sh) / fmax(double(n) - corr, 0.0);
    }
    if (threadIdx.x == 0) out[r] = T(acc);
  }
}

// (value, index) with index -1 for "no candidate"; NaN wins; ties and NaNs go to the lower index.
struct Cand {
  double v;
  int64_t i;
};

template <bool IsMax>
struct BetterOf {
  __device__ Cand operator()(Cand a, Cand b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    bool an = isnan(a.v), bn = isnan(b.v);
    if (an || bn) {
      if (an && bn) return a.i < b.i ? a : b;
      return an ? a : b;
    }
    if (IsMax ? a.v > b.v : a.v < b.v) return a;
    if (IsMax ? b.v > a.v : b.v < a.v) return b;
    return a.i < b.i ? a : b;
  }
};

template <class T, bool IsMax>
__global__ void arg_rows(const T* x, Geom og, Geom rg, int64_t rows, int64_t n, T* vals, int64_t* idx) {
  __shared__ Cand sh[kRBlock];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + og.offset(r);
    Cand best{0, -1};
    for (int64_t j = threadIdx.x; j < n; j += kRBlock) best = BetterOf<IsMax>{}(best, Cand{double(row[rg.offset(j)]), j});
    best = block_reduce(best, BetterOf<IsMax>{}, sh);
    if (threadIdx.x == 0) {
      vals[r] = T(best.v);
      idx[r] = best.i;
    }
  }
}

struct Plan {
  Geom outer, red;
  int64_t rows = 0, n = 0;
};

Plan plan(const char* op, const Tensor& x, const std::vector<int64_t>& axes) {
  std::vector<bool> is_red(size_t(x.dim()), false);
  for (int64_t ax : axes) {
    DIVE_CHECK(ax >= 0 && ax < x.dim(), op, ": axis ", ax, " out of range for ", x.str());
    is_red[size_t(ax)] = true;
  }
  std::vector<int64_t> kept;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (!is_red[size_t(d)]) kept.push_back(d);
  Plan p;
  p.outer = make_geom(op, x, kept, p.rows);
  p.red = make_geom(op, x, axes, p.n);
  return p;
}

unsigned grid_rows(int64_t rows) { return unsigned(std::min<int64_t>(rows, int64_t(1) << 20)); }

template <RKind K>
void reduce(KernelArgs& a, const char* op) {
  const Tensor &x = a.in.at(0), &o = a.out.at(0);
  check_dtypes(op, {x}, o.dtype());
  Plan p = plan(op, x, a.attrs.i);
  DIVE_CHECK(o.numel() == p.rows && o.is_contiguous(), op, ": output ", o.str(), " does not match ", p.rows,
             " rows");
  if (p.rows == 0) return;
  double corr = a.attrs.f.empty() ? 0.0 : a.attrs.f[0];
  int dev = o.device().index;
  DeviceGuard g(dev);
  DIVE_DISPATCH_FLOAT(o.dtype(), op, [&] {
    reduce_rows<scalar_t, K><<<grid_rows(p.rows), kRBlock, 0, stream(dev)>>>(
        static_cast<const scalar_t*>(x.raw_data()), p.outer, p.red, p.rows, p.n,
        static_cast<scalar_t*>(o.raw_data()), corr);
  });
  CUDA_CHECK_LAUNCH();
}

template <bool IsMax>
void arg_extremum(KernelArgs& a) {
  const char* op = IsMax ? "max" : "min";
  const Tensor &x = a.in.at(0), &vals = a.out.at(0), &idx = a.out.at(1);
  check_dtypes(op, {x}, vals.dtype());
  DIVE_CHECK(idx.dtype() == DType::i64, op, ": indices must be i64, got ", dtype_name(idx.dtype()));
  Plan p = plan(op, x, {a.attrs.i.at(0)});
  DIVE_CHECK(p.n > 0, op, ": empty reduction over ", x.str());
  if (p.rows == 0) return;
  int dev = vals.device().index;
  DeviceGuard g(dev);
  DIVE_DISPATCH_FLOAT(vals.dtype(), op, [&] {
    arg_rows<scalar_t, IsMax><<<grid_rows(p.rows), kRBlock, 0, stream(dev)>>>(
        static_cast<const scalar_t*>(x.raw_data()), p.outer, p.red, p.rows, p.n,
        static_cast<scalar_t*>(vals.raw_data()), static_cast<int64_t*>(idx.raw_data()));
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void register_reduce(KernelTable& t) {
  t.kernels[int(OpId::sum)] = [](KernelArgs& a) { reduce<RKind::sum>(a, "sum"); };
  t.kernels[int(OpId::mean)] = [](KernelArgs& a) { reduce<RKind::mean>(a, "mean"); };
  t.kernels[int(OpId::logsumexp)] = [](KernelArgs& a) { reduce<RKind::logsumexp>(a, "logsumexp"); };
  t.kernels[int(OpId::norm)] = [](KernelArgs& a) { reduce<RKind::norm>(a, "norm"); };
  t.kernels[int(OpId::var)] = [](KernelArgs& a) { reduce<RKind::var>(a, "var"); };
  t.kernels[int(OpId::max)] = arg_extremum<true>;
  t.kernels[int(OpId::min)] = arg_extremum<false>;
}

}  // namespace dive::cuda
