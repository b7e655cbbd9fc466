// Deterministic reductions: sum, mean, logsumexp, norm, var, and max/min with first-occurrence indices.
// The input (any strides) is addressed as [rows, n] (kept axes in order, then the reduced axes), as the
// reference backend does. Two kernel shapes, picked from the geometry so that reads are coalesced:
//  * row kernel, when the reduced elements are contiguous and n >= 32 (sum over the last axis): one warp
//    per (row, split), lanes striding the row;
//  * column kernel, otherwise (reductions over leading or middle axes: bias gradients, broadcast
//    backward, short rows): 32 consecutive rows per block across threadIdx.x, so a warp reads 32
//    neighbouring elements, and threadIdx.y lanes splitting the reduced range.
// Long reductions with few rows (a norm over a whole weight, a mean of a matrix) are cut into S splits
// of a fixed length; each (row, split) writes a partial state and a finishing kernel combines the S
// partials of a row in a fixed tree. Every partition depends on the shape only, partial states are
// double precision, combined in a fixed order, and no atomics are used: results are bitwise
// reproducible run to run (not bitwise equal to the reference, whose order is sequential).
#include <cmath>
#include <limits>

#include "lib/backend/cuda/launch.cuh"
#include "lib/ops/attrs.h"

namespace dive::cuda {

namespace {

constexpr int kWarpSize = 32;
constexpr int kRowWarps = 8;            // warps per block of the row kernel
constexpr int kColX = 32;               // rows per block of the column kernel
constexpr int kColMaxY = 8;             // lanes along the reduced range per row (column kernel)
constexpr int64_t kMaxSplits = 4096;    // partial states per row at most
constexpr int64_t kTargetWarps = 4096;  // enough warps in flight to fill an H100/H200 (132 SMs)

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

// ---- reduction policies: State, init, add (one element at index j), combine, store ------------------

template <int Kind>  // 0 sum, 1 mean, 2 norm (sum of squares, then sqrt)
struct SumOp {
  using State = double;
  __device__ State init() const { return 0.0; }
  __device__ void add(State& s, double v, int64_t) const { s += Kind == 2 ? v * v : v; }
  __device__ State combine(State a, State b) const { return a + b; }
  template <class T>
  __device__ void store(T* out, int64_t*, int64_t r, State s, int64_t n) const {
    out[r] = T(Kind == 1 ? (n ? s / double(n) : nan("")) : Kind == 2 ? sqrt(s) : s);
  }
};

// logsumexp as (max ignoring NaN, sum of exp(v - max)): the reference's max pass and exp-sum pass, online.
// A NaN element leaves the max alone and turns the sum into NaN; an infinite max is the result.
struct LseState {
  double m, s;
};
struct LseOp {
  using State = LseState;
  __device__ State init() const { return {-INFINITY, 0.0}; }
  __device__ static double scaled(State a, double m) { return a.m == m ? a.s : a.s * exp(a.m - m); }
  __device__ State combine(State a, State b) const {
    double m = fmax(a.m, b.m);
    return {m, scaled(a, m) + scaled(b, m)};
  }
  __device__ void add(State& s, double v, int64_t) const {
    if (isnan(v)) s.s = nan("");
    else if (v != -INFINITY) s = combine(s, State{v, 1.0});
  }
  template <class T>
  __device__ void store(T* out, int64_t*, int64_t r, State s, int64_t) const {
    out[r] = T(isinf(s.m) ? s.m : s.m + log(s.s));
  }
};

// variance: Welford per thread, Chan's formula to combine; divided by max(n - correction, 0) at the end
struct VarState {
  double n, mean, m2;
};
struct VarOp {
  using State = VarState;
  double corr;
  __device__ State init() const { return {0.0, 0.0, 0.0}; }
  __device__ void add(State& s, double v, int64_t) const {
    s.n += 1.0;
    double d = v - s.mean;
    s.mean += d / s.n;
    s.m2 += d * (v - s.mean);
  }
  __device__ State combine(State a, State b) const {
    if (a.n == 0) return b;
    if (b.n == 0) return a;
    double n = a.n + b.n, d = b.mean - a.mean;
    return {n, a.mean + d * (b.n / n), a.m2 + b.m2 + d * d * (a.n * b.n / n)};
  }
  template <class T>
  __device__ void store(T* out, int64_t*, int64_t r, State s, int64_t n) const {
    out[r] = T(n ? s.m2 / fmax(double(n) - corr, 0.0) : nan(""));
  }
};

// max / min with the first index: NaN wins (the first NaN), ties go to the lower index. Lanes hold
// interleaved indices, so combine compares indices rather than relying on the operand order.
struct Cand {
  double v;
  int64_t i;  // -1: no candidate yet
};
template <bool IsMax>
struct ArgOp {
  using State = Cand;
  __device__ State init() const { return {0.0, -1}; }
  __device__ State combine(State a, State b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    const bool an = isnan(a.v), bn = isnan(b.v);
    if (an != bn) return an ? a : b;
    if (!an && (IsMax ? a.v > b.v : a.v < b.v)) return a;
    if (!an && (IsMax ? b.v > a.v : b.v < a.v)) return b;
    return a.i < b.i ? a : b;  // equal values, or both NaN
  }
  __device__ void add(State& s, double v, int64_t j) const { s = combine(s, State{v, j}); }
  template <class T>
  __device__ void store(T* out, int64_t* idx, int64_t r, State s, int64_t) const {
    out[r] = T(s.v);
    idx[r] = s.i;
  }
};

// ---- kernels ----------------------------------------------------------------------------------------
// Each writes the state of (row r, split s) to partial[s * rows + r] when there are several splits, else
// the final value.

template <class T, class Op>
__global__ void reduce_columns(const T* x, Geom og, Geom rg, int64_t rows, int64_t n, int64_t chunk, Op op,
                               typename Op::State* partial, T* out, int64_t* idx) {
  using State = typename Op::State;
  __shared__ State sh[kColMaxY][kColX + 1];
  const int tx = threadIdx.x, ty = threadIdx.y, ly = blockDim.y;
  const int64_t r = int64_t(blockIdx.x) * kColX + tx;
  const int64_t j0 = int64_t(blockIdx.y) * chunk, j1 = min(n, j0 + chunk);
  State s = op.init();
  if (r < rows) {
    const T* row = x + og.offset(r);
#pragma unroll 4
    for (int64_t j = j0 + ty; j < j1; j += ly) op.add(s, double(row[rg.offset(j)]), j);
  }
  sh[ty][tx] = s;
  __syncthreads();
  for (int h = ly / 2; h > 0; h >>= 1) {
    if (ty < h) sh[ty][tx] = op.combine(sh[ty][tx], sh[ty + h][tx]);
    __syncthreads();
  }
  if (ty == 0 && r < rows) {
    if (gridDim.y > 1) partial[int64_t(blockIdx.y) * rows + r] = sh[0][tx];
    else op.store(out, idx, r, sh[0][tx], n);
  }
}

// One warp's states combined in a fixed tree through shared memory; lane 0 gets the result.
template <class Op>
__device__ typename Op::State warp_combine(const Op& op, typename Op::State s, typename Op::State* sh) {
  const int lane = threadIdx.x % kWarpSize;
  sh[lane] = s;
  __syncwarp();
  for (int h = kWarpSize / 2; h > 0; h >>= 1) {
    if (lane < h) sh[lane] = op.combine(sh[lane], sh[lane + h]);
    __syncwarp();
  }
  return sh[0];
}

// Contiguous reduced elements: warp task t = (row t / splits, split t % splits).
template <class T, class Op>
__global__ void reduce_rows(const T* x, Geom og, int64_t rows, int64_t n, int64_t splits, int64_t chunk, Op op,
                            typename Op::State* partial, T* out, int64_t* idx) {
  using State = typename Op::State;
  __shared__ State sh[kRowWarps][kWarpSize];
  const int w = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int64_t t = int64_t(blockIdx.x) * kRowWarps + w;
  if (t >= rows * splits) return;  // whole warps only: the warp tree below stays intact
  const int64_t r = t / splits, sp = t % splits;
  const int64_t j0 = sp * chunk, j1 = min(n, j0 + chunk);
  const T* row = x + og.offset(r);
  State s = op.init();
#pragma unroll 4
  for (int64_t j = j0 + lane; j < j1; j += kWarpSize) op.add(s, double(row[j]), j);
  s = warp_combine(op, s, sh[w]);
  if (lane == 0) {
    if (splits > 1) partial[sp * rows + r] = s;
    else op.store(out, idx, r, s, n);
  }
}

// The S partial states of each row (partial[s * rows + r]) combined by one warp per row.
template <class T, class Op>
__global__ void finish_splits(const typename Op::State* partial, int64_t rows, int64_t n, int64_t splits, Op op,
                              T* out, int64_t* idx) {
  using State = typename Op::State;
  __shared__ State sh[kRowWarps][kWarpSize];
  const int w = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int64_t r = int64_t(blockIdx.x) * kRowWarps + w;
  if (r >= rows) return;
  // lane l combines splits l*per .. (l+1)*per - 1 in order, so the tree keeps index order
  const int64_t per = (splits + kWarpSize - 1) / kWarpSize;
  State s = op.init();
  for (int64_t k = lane * per; k < min(splits, (lane + 1) * per); ++k) s = op.combine(s, partial[k * rows + r]);
  s = warp_combine(op, s, sh[w]);
  if (lane == 0) op.store(out, idx, r, s, n);
}

// ---- host side -----------------------------------------------------------------------------------

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

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Splits of the reduced range: enough parallel work, at least `min_per_split` elements in each, a chunk
// length that is a multiple of `align`. Returns the chunk; `splits` = ceil(n / chunk).
int64_t choose_chunk(int64_t n, int64_t want_splits, int64_t min_per_split, int64_t align, int64_t& splits) {
  int64_t s = std::max<int64_t>(1, std::min({want_splits, kMaxSplits, n / min_per_split}));
  int64_t chunk = std::max<int64_t>(align, ceil_div(ceil_div(n, s), align) * align);
  splits = std::max<int64_t>(1, ceil_div(n, chunk));
  return chunk;
}

template <class T, class Op>
void run(const char* op_name, const Tensor& x, const Plan& p, Op op, T* out, int64_t* idx, int dev) {
  using State = typename Op::State;
  cudaStream_t st = stream(dev);
  const T* xp = static_cast<const T*>(x.raw_data());
  const bool rowwise = p.red.ndim == 1 && p.red.stride[0] == 1 && p.n >= kWarpSize;
  int ly = 1;  // column kernel: lanes per row along the reduced range, 1 for short rows, up to 8
  while (ly < kColMaxY && int64_t(ly) * 16 <= p.n) ly *= 2;
  int64_t splits = 1, chunk = 1;
  if (rowwise) {
    chunk = choose_chunk(p.n, ceil_div(kTargetWarps, p.rows), 16 * kWarpSize, kWarpSize, splits);
  } else {
    chunk = choose_chunk(p.n, ceil_div(kTargetWarps / 4, ceil_div(p.rows, kColX)), 16 * ly, ly, splits);
    DIVE_CHECK(ceil_div(p.rows, kColX) < (int64_t(1) << 31), op_name, ": too many rows");
  }
  Tensor scratch;
  State* partial = nullptr;
  if (splits > 1) {
    scratch = Tensor::empty({splits * p.rows * int64_t(sizeof(State))}, DType::u8, x.device());
    partial = static_cast<State*>(scratch.raw_data());
  }
  if (rowwise) {
    const int64_t blocks = ceil_div(p.rows * splits, kRowWarps);
    DIVE_CHECK(blocks < (int64_t(1) << 31), op_name, ": too many rows");
    reduce_rows<T, Op><<<unsigned(blocks), kRowWarps * kWarpSize, 0, st>>>(xp, p.outer, p.rows, p.n, splits, chunk,
                                                                           op, partial, out, idx);
  } else {
    dim3 grid(unsigned(ceil_div(p.rows, kColX)), unsigned(splits));
    reduce_columns<T, Op><<<grid, dim3(kColX, ly), 0, st>>>(xp, p.outer, p.red, p.rows, p.n, chunk, op, partial,
                                                           out, idx);
  }
  CUDA_CHECK_LAUNCH();
  if (splits > 1) {
    finish_splits<T, Op><<<unsigned(ceil_div(p.rows, kRowWarps)), kRowWarps * kWarpSize, 0, st>>>(
        partial, p.rows, p.n, splits, op, out, idx);
    CUDA_CHECK_LAUNCH();
  }
}

template <class OpFor>
void reduce(KernelArgs& a, const char* op, OpFor make_op) {
  const Tensor &x = a.in.at(0), &o = a.out.at(0);
  check_dtypes(op, {x}, o.dtype());
  const ReduceAttrs r = ReduceAttrs::unpack(a.attrs);
  Plan p = plan(op, x, r.axes);
  DIVE_CHECK(o.numel() == p.rows && o.is_contiguous(), op, ": output ", o.str(), " does not match ", p.rows,
             " rows");
  if (p.rows == 0) return;
  int dev = o.device().index;
  DeviceGuard g(dev);
  DIVE_DISPATCH_FLOAT(o.dtype(), op, [&] {
    run<scalar_t>(op, x, p, make_op(r), static_cast<scalar_t*>(o.raw_data()), nullptr, dev);
  });
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
    run<scalar_t>(op, x, p, ArgOp<IsMax>{}, static_cast<scalar_t*>(vals.raw_data()),
                  static_cast<int64_t*>(idx.raw_data()), dev);
  });
}

}  // namespace

void register_reduce(KernelTable& t) {
  t.kernels[int(OpId::sum)] = [](KernelArgs& a) { reduce(a, "sum", [](const ReduceAttrs&) { return SumOp<0>{}; }); };
  t.kernels[int(OpId::mean)] = [](KernelArgs& a) { reduce(a, "mean", [](const ReduceAttrs&) { return SumOp<1>{}; }); };
  t.kernels[int(OpId::norm)] = [](KernelArgs& a) { reduce(a, "norm", [](const ReduceAttrs&) { return SumOp<2>{}; }); };
  t.kernels[int(OpId::logsumexp)] = [](KernelArgs& a) { reduce(a, "logsumexp", [](const ReduceAttrs&) { return LseOp{}; }); };
  t.kernels[int(OpId::var)] = [](KernelArgs& a) {
    reduce(a, "var", [](const ReduceAttrs& r) { return VarOp{r.correction}; });
  };
  t.kernels[int(OpId::max)] = arg_extremum<true>;
  t.kernels[int(OpId::min)] = arg_extremum<false>;
}

}  // namespace dive::cuda
