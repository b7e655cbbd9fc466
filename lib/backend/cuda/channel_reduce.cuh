// Per-channel two-stage reductions shared by layer_norm.cu (dgamma / dbeta) and batch_norm.cu.
// Per-channel reductions (batch norm's statistics and gradients over N and S of x [N, C, S]; the column
// sums of layer norm's dgamma / dbeta partials) run in two deterministic stages, never with atomics:
//  1. partial sums (two doubles) per (chunk of n, column): S < 32 treats x as an [N, C*S] matrix and a
//     block of 32 x 8 threads sums 32 adjacent columns over a chunk of rows (coalesced across channels,
//     the [N, C, 1] case of BatchNorm1d); S >= 32 gives a block one channel and a chunk of its N planes
//     (warps over planes, lanes along S). The chunk count depends only on the shape.
//  2. one warp per channel sums its partials in a fixed order and derives the outputs and per-channel
//     coefficients; batch norm then runs an elementwise pass over the stage-1 geometry.
//  Batch-norm statistics are sums of (x - x[0, c, 0]) and its square in double (shifted data: stable);
//  training updates running_mean/var in place with the unbiased variance, as the reference.
// All results are bitwise reproducible run to run (fixed reduction order, no atomics). Scratch (partials,
// per-channel coefficients) comes from Tensor::empty (the stream-ordered caching allocator).
#pragma once
#include "lib/backend/cuda/row_kernels.cuh"

namespace dive::cuda {
namespace {


// =====================================================================================================
// Per-channel two-stage reductions (shared by layer norm's dgamma/dbeta and batch norm)
// =====================================================================================================

constexpr int kColTile = 32;              // columns per block of the column layout (one warp wide)
constexpr int kColRows = 8;               // row lanes per block of the column layout
constexpr int64_t kTargetBlocks = 1024;   // stage-1 blocks aimed for (several waves of resident blocks)
constexpr int64_t kMinColRows = 64;       // column layout: rows per chunk at least (8 per thread)
constexpr int64_t kMinPlaneElems = 8192;  // plane layout: elements per block at least

// Geometry of x [N, C, S] for the channel reductions (trivially copyable: passed to kernels by value).
struct ChanGeo {
  bool planes = false;                 // S >= 32: blocks (channel, chunk of planes); else column tiles of [N, C*S]
  int64_t N = 0, C = 0, S = 1, W = 0;  // W = C * S
  int64_t rpc = 1, chunks = 0;         // n per chunk, chunk count (0 when there is nothing to reduce)
  int64_t pw = 0, ps = 1;              // partials: row width (C or W) and columns per channel (1 or S)
};

ChanGeo chan_geo(int64_t N, int64_t C, int64_t S) {
  ChanGeo g;
  g.N = N;
  g.C = C;
  g.S = S;
  g.W = C * S;
  g.planes = S >= 32;
  g.pw = g.planes ? C : g.W;
  g.ps = g.planes ? 1 : S;
  if (N == 0 || C == 0 || S == 0) return g;
  int64_t want, most;
  if (g.planes) {
    want = (kTargetBlocks + C - 1) / C;
    const int64_t min_rows = (kMinPlaneElems + S - 1) / S;
    most = (N + min_rows - 1) / min_rows;
  } else {
    const int64_t tiles = (g.W + kColTile - 1) / kColTile;
    want = (kTargetBlocks + tiles - 1) / tiles;
    most = (N + kMinColRows - 1) / kMinColRows;
  }
  const int64_t ch = std::max<int64_t>(1, std::min<int64_t>({want, most, 65535}));
  g.rpc = (N + ch - 1) / ch;
  g.chunks = (N + g.rpc - 1) / g.rpc;
  return g;
}

dim3 chan_grid(const ChanGeo& g) {
  return g.planes ? dim3(unsigned(g.C), unsigned(g.chunks))
                  : dim3(unsigned((g.W + kColTile - 1) / kColTile), unsigned(g.chunks));
}
dim3 chan_block(const ChanGeo& g) { return g.planes ? dim3(kRowBlock) : dim3(kColTile, kColRows); }

// Stage 1, column layout: block (32 columns, chunk of rows) -> part[chunk, column] = (sum a, sum b).
// F: Ctx prep(int64_t channel); void acc(const Ctx&, int64_t n, int64_t offset, double& a, double& b).
template <class F>
__global__ void __launch_bounds__(kColTile* kColRows) col_partials(F f, ChanGeo geo, double2* __restrict__ part) {
  __shared__ double sa[kColRows][kColTile], sb[kColRows][kColTile];
  const int tx = int(threadIdx.x), ty = int(threadIdx.y);
  const int64_t j = int64_t(blockIdx.x) * kColTile + tx;
  const int64_t n0 = int64_t(blockIdx.y) * geo.rpc, n1 = min64(geo.N, n0 + geo.rpc);
  double a = 0, b = 0;
  if (j < geo.W) {
    const auto ctx = f.prep(j / geo.S);
#pragma unroll 4
    for (int64_t n = n0 + ty; n < n1; n += kColRows) f.acc(ctx, n, n * geo.W + j, a, b);
  }
  sa[ty][tx] = a;
  sb[ty][tx] = b;
  __syncthreads();
  if (ty == 0 && j < geo.W) {
#pragma unroll
    for (int t = 1; t < kColRows; ++t) {
      a += sa[t][tx];
      b += sb[t][tx];
    }
    part[int64_t(blockIdx.y) * geo.W + j] = make_double2(a, b);
  }
}

// Stage 1, plane layout: block (channel c, chunk of n) -> part[chunk, c].
template <class F>
__global__ void __launch_bounds__(kRowBlock) plane_partials(F f, ChanGeo geo, double2* __restrict__ part) {
  __shared__ double sa[kRowWarps], sb[kRowWarps];
  const int64_t c = blockIdx.x;
  const int w = int(threadIdx.x) / kWarp, lane = int(threadIdx.x) % kWarp;
  const int64_t n0 = int64_t(blockIdx.y) * geo.rpc, n1 = min64(geo.N, n0 + geo.rpc);
  const auto ctx = f.prep(c);
  double a = 0, b = 0;
  for (int64_t n = n0 + w; n < n1; n += kRowWarps) {
    const int64_t base = (n * geo.C + c) * geo.S;
#pragma unroll 4
    for (int64_t s = lane; s < geo.S; s += kWarp) f.acc(ctx, n, base + s, a, b);
  }
  a = group_sum<kWarp>(a);
  b = group_sum<kWarp>(b);
  if (lane == 0) {
    sa[w] = a;
    sb[w] = b;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
#pragma unroll
    for (int t = 1; t < kRowWarps; ++t) {
      a += sa[t];
      b += sb[t];
    }
    part[int64_t(blockIdx.y) * geo.C + c] = make_double2(a, b);
  }
}

// Elementwise pass over the stage-1 geometry. F: Ctx prep(int64_t channel); void apply(const Ctx&, int64_t offset).
template <class F>
__global__ void __launch_bounds__(kColTile* kColRows) col_apply(F f, ChanGeo geo) {
  const int64_t j = int64_t(blockIdx.x) * kColTile + threadIdx.x;
  if (j >= geo.W) return;
  const int64_t n0 = int64_t(blockIdx.y) * geo.rpc, n1 = min64(geo.N, n0 + geo.rpc);
  const auto ctx = f.prep(j / geo.S);
#pragma unroll 4
  for (int64_t n = n0 + threadIdx.y; n < n1; n += kColRows) f.apply(ctx, n * geo.W + j);
}

template <class F>
__global__ void __launch_bounds__(kRowBlock) plane_apply(F f, ChanGeo geo) {
  const int64_t c = blockIdx.x;
  const int w = int(threadIdx.x) / kWarp, lane = int(threadIdx.x) % kWarp;
  const int64_t n0 = int64_t(blockIdx.y) * geo.rpc, n1 = min64(geo.N, n0 + geo.rpc);
  const auto ctx = f.prep(c);
  for (int64_t n = n0 + w; n < n1; n += kRowWarps) {
    const int64_t base = (n * geo.C + c) * geo.S;
#pragma unroll 4
    for (int64_t s = lane; s < geo.S; s += kWarp) f.apply(ctx, base + s);
  }
}

template <class F>
void launch_partials(const ChanGeo& geo, const F& f, double2* part, cudaStream_t st) {
  if (geo.chunks == 0) return;
  if (geo.planes)
    plane_partials<F><<<chan_grid(geo), chan_block(geo), 0, st>>>(f, geo, part);
  else
    col_partials<F><<<chan_grid(geo), chan_block(geo), 0, st>>>(f, geo, part);
  CUDA_CHECK_LAUNCH();
}

template <class F>
void launch_apply(const ChanGeo& geo, const F& f, cudaStream_t st) {
  if (geo.chunks == 0) return;
  if (geo.planes)
    plane_apply<F><<<chan_grid(geo), chan_block(geo), 0, st>>>(f, geo);
  else
    col_apply<F><<<chan_grid(geo), chan_block(geo), 0, st>>>(f, geo);
  CUDA_CHECK_LAUNCH();
}

// Scratch for the partials of `geo` (nullptr when there are none); keep the tensor alive over the launches
// (freeing it right after is fine: the caching allocator is stream-ordered).
double2* partial_scratch(const ChanGeo& geo, Device dev, Tensor& hold) {
  if (geo.chunks == 0) return nullptr;
  hold = Tensor::empty({geo.chunks * geo.pw * 2}, DType::f64, dev);
  return static_cast<double2*>(hold.raw_data());
}

// Stage 2 helper: channel c's total over every chunk (and its S columns in the column layout), summed by
// one warp in a fixed order; every lane gets it.
__device__ __forceinline__ double2 channel_total(const double2* __restrict__ part, ChanGeo geo, int64_t c, int lane) {
  const int items = int(geo.chunks * geo.ps), ps = int(geo.ps);  // chunks <= 65535, ps <= 31
  double a = 0, b = 0;
  for (int i = lane; i < items; i += kWarp) {
    const int k = i / ps, s = i - k * ps;
    const double2 v = part[int64_t(k) * geo.pw + c * geo.ps + s];
    a += v.x;
    b += v.y;
  }
  return make_double2(group_sum<kWarp>(a), group_sum<kWarp>(b));
}

unsigned chan_warp_grid(int64_t C) { return unsigned((C + kRowWarps - 1) / kRowWarps); }

}  // namespace
}  // namespace dive::cuda
