// gru_cell (+ backward) on CUDA.
//
// GRU cell: elementwise over [C, H], one thread per (row, hidden unit), grid-stride, with the shared
// formulas kmath::gru_cell_forward / gru_cell_backward in the storage type (as the CPU backend); the row
// index comes from a 32-bit division when C * 4H < 2^31 (64-bit otherwise).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "lib/backend/cuda/launch.cuh"
#include "lib/backend/kernel_math.h"

namespace dive::cuda {

namespace {

constexpr int64_t kMaxGrid = int64_t(1) << 20;

unsigned grid_1d(int64_t n, int block) { return unsigned(std::min<int64_t>((n + block - 1) / block, kMaxGrid)); }


// =====================================================================================================
// GRU cell
// =====================================================================================================

// I: index type (uint32_t when C * 4H < 2^31, else int64_t), so the row division is cheap in the common case.
template <class T, class I>
__global__ void __launch_bounds__(kBlock)
    gru_fwd_kernel(const T* __restrict__ gi, const T* __restrict__ gh, const T* __restrict__ h,
                   const uint8_t* __restrict__ valid, T* __restrict__ out, T* __restrict__ ws, I C, I H) {
  const I n = C * H;
  for (I e = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); e < n; e += I(gridDim.x) * I(blockDim.x)) {
    const I c = e / H, j = e - c * H;
    const T* i3 = gi + c * 3 * H;
    const T* h3 = gh + c * 3 * H;
    T* w = ws + c * 4 * H;
    const T ghn = h3[2 * H + j];
    T ho, r, z, nn;
    kmath::gru_cell_forward<T>(i3[j], i3[H + j], i3[2 * H + j], h3[j], h3[H + j], ghn, h[e], valid[c] != 0, ho, r, z,
                               nn);
    out[e] = ho;
    w[j] = r;
    w[H + j] = z;
    w[2 * H + j] = nn;
    w[3 * H + j] = ghn;
  }
}

template <class T, class I>
__global__ void __launch_bounds__(kBlock)
    gru_bwd_kernel(const T* __restrict__ g, const T* __restrict__ ws, const T* __restrict__ h,
                   const uint8_t* __restrict__ valid, T* __restrict__ dgi, T* __restrict__ dgh, T* __restrict__ dh, I C,
                   I H) {
  const I n = C * H;
  for (I e = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); e < n; e += I(gridDim.x) * I(blockDim.x)) {
    const I c = e / H, j = e - c * H;
    const T* w = ws + c * 4 * H;
    T* di = dgi + c * 3 * H;
    T* dhh = dgh + c * 3 * H;
    kmath::gru_cell_backward<T>(g[e], w[j], w[H + j], w[2 * H + j], w[3 * H + j], h[e], valid[c] != 0, di[j], di[H + j],
                                di[2 * H + j], dhh[j], dhh[H + j], dhh[2 * H + j], dh[e]);
  }
}

void check_mat(const char* op, const Tensor& t, int64_t r, int64_t c, const char* what) {
  DIVE_CHECK(t.defined() && t.dim() == 2 && t.size(0) == r && t.size(1) == c && t.is_contiguous(), op, ": ", what,
             " must be contiguous [", r, ", ", c, "], got ", t.defined() ? t.str() : std::string("undefined"));
}

void check_valid(const char* op, const Tensor& v, int64_t C) {
  DIVE_CHECK(v.defined() && v.dtype() == DType::boolean && v.dim() == 1 && v.size(0) == C && v.is_contiguous(), op,
             ": valid must be a contiguous bool [", C, "], got ", v.defined() ? v.str() : std::string("undefined"));
}

void gru_cell(KernelArgs& a) {
  const char* op = "gru_cell";
  DIVE_CHECK(a.in.size() >= 4 && a.out.size() >= 2, op, ": expected inputs gi, gh, h, valid and outputs h_out, ws");
  const Tensor &gi = a.in[0], &gh = a.in[1], &h = a.in[2], &valid = a.in[3];
  const Tensor &out = a.out[0], &ws = a.out[1];
  DIVE_CHECK(h.dim() == 2, op, ": expected h [C, H], got ", h.str());
  const int64_t C = h.size(0), H = h.size(1);
  check_mat(op, gi, C, 3 * H, "gi");
  check_mat(op, gh, C, 3 * H, "gh");
  check_mat(op, h, C, H, "h");
  check_mat(op, out, C, H, "h_out");
  check_mat(op, ws, C, 4 * H, "ws");
  check_valid(op, valid, C);
  check_dtypes(op, {gi, gh, h, ws}, out.dtype());
  if (C * H == 0) return;
  const int dev = out.device().index;
  DeviceGuard guard(dev);
  cudaStream_t st = stream(dev);
  const unsigned grid = grid_1d(C * H, kBlock);
  const bool small = C * 4 * H < (int64_t(1) << 31);  // also leaves room for the grid-stride step
  DIVE_DISPATCH_FLOAT(out.dtype(), op, [&] {
    using T = scalar_t;
    const T *gip = static_cast<const T*>(gi.raw_data()), *ghp = static_cast<const T*>(gh.raw_data()),
            *hp = static_cast<const T*>(h.raw_data());
    const uint8_t* vp = static_cast<const uint8_t*>(valid.raw_data());
    T *op_ = static_cast<T*>(out.raw_data()), *wp = static_cast<T*>(ws.raw_data());
    if (small)
      gru_fwd_kernel<T, uint32_t><<<grid, kBlock, 0, st>>>(gip, ghp, hp, vp, op_, wp, uint32_t(C), uint32_t(H));
    else
      gru_fwd_kernel<T, int64_t><<<grid, kBlock, 0, st>>>(gip, ghp, hp, vp, op_, wp, C, H);
  });
  CUDA_CHECK_LAUNCH();
}

void gru_cell_backward(KernelArgs& a) {
  const char* op = "gru_cell_backward";
  DIVE_CHECK(a.in.size() >= 4 && a.out.size() >= 3, op, ": expected inputs g, ws, h, valid and outputs dgi, dgh, dh");
  const Tensor &g = a.in[0], &ws = a.in[1], &h = a.in[2], &valid = a.in[3];
  const Tensor &dgi = a.out[0], &dgh = a.out[1], &dh = a.out[2];
  DIVE_CHECK(h.dim() == 2, op, ": expected h [C, H], got ", h.str());
  const int64_t C = h.size(0), H = h.size(1);
  check_mat(op, g, C, H, "g");
  check_mat(op, ws, C, 4 * H, "ws");
  check_mat(op, h, C, H, "h");
  check_mat(op, dgi, C, 3 * H, "dgi");
  check_mat(op, dgh, C, 3 * H, "dgh");
  check_mat(op, dh, C, H, "dh");
  check_valid(op, valid, C);
  check_dtypes(op, {g, ws, h, dgi, dgh}, dh.dtype());
  if (C * H == 0) return;
  const int dev = dh.device().index;
  DeviceGuard guard(dev);
  cudaStream_t st = stream(dev);
  const unsigned grid = grid_1d(C * H, kBlock);
  const bool small = C * 4 * H < (int64_t(1) << 31);  // also leaves room for the grid-stride step
  DIVE_DISPATCH_FLOAT(dh.dtype(), op, [&] {
    using T = scalar_t;
    const T *gp = static_cast<const T*>(g.raw_data()), *wp = static_cast<const T*>(ws.raw_data()),
            *hp = static_cast<const T*>(h.raw_data());
    const uint8_t* vp = static_cast<const uint8_t*>(valid.raw_data());
    T *dip = static_cast<T*>(dgi.raw_data()), *dhp = static_cast<T*>(dgh.raw_data()),
      *dp = static_cast<T*>(dh.raw_data());
    if (small)
      gru_bwd_kernel<T, uint32_t><<<grid, kBlock, 0, st>>>(gp, wp, hp, vp, dip, dhp, dp, uint32_t(C), uint32_t(H));
    else
      gru_bwd_kernel<T, int64_t><<<grid, kBlock, 0, st>>>(gp, wp, hp, vp, dip, dhp, dp, C, H);
  });
  CUDA_CHECK_LAUNCH();
}


}  // namespace

void register_rnn(KernelTable& t) {
  t.kernels[int(OpId::gru_cell)] = gru_cell;
  t.kernels[int(OpId::gru_cell_backward)] = gru_cell_backward;
}

}  // namespace dive::cuda
