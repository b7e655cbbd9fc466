// index_select, index_add, gather and scatter_add on CUDA (semantics of
// lib/backend/ref/indexing.cpp).
//
// Design:
//  * Copies are byte-generic (any dtype, bf16/f16 included): index_select and gather move
//    words of the element size, or, where rows are contiguous and aligned, of up to 16 bytes.
//  * index_add and scatter_add accumulate in double starting from the base value and add the sources
//    in increasing source position, exactly as the reference, and never with atomics, so the result is
//    bitwise reproducible (deterministic() on or off):
//      - index_add (embedding backward: many repeated rows) stable-radix-sorts the (index, position)
//        pairs with CUB, finds for every destination row d the run [starts[d], starts[d+1]) of the
//        sorted positions by binary search, and then one thread per output element adds its run.
//      - scatter_add walks, for every output element, the K index entries of its line along the axis
//        when K * n is small (max/min backward: K = 1); otherwise it sorts (target offset, position)
//        pairs and one thread per run of equal targets sums the run.
//  * Indices are NOT range-checked on CUDA (that would need a host sync): an out-of-range or negative
//    index reads zeros (index_select, gather) or its contribution is dropped (index_add, scatter_add).
//    The reference and cpu backends raise an error instead.
//  * Index arithmetic is 32-bit, with divisions by multiply-shift (Div below), when every count involved
#include <cub/device/device_radix_sort.cuh>

#include <cstring>

#include "lib/backend/axis_split.h"
#include "lib/backend/cuda/byte_copy.cuh"
#include "lib/backend/cuda/index_math.cuh"
#include "lib/backend/cuda/launch.cuh"

namespace dive::cuda {

namespace {

// ---- index_select ----------------------------------------------------------------------------------
// x [outer, n, row_w words], out [outer, m, row_w words]
template <class W, class I, class IT>
__global__ void index_select_kernel(const W* __restrict__ x, const I* __restrict__ idx, W* __restrict__ out,
                                    IT total, IT m, IT n, IT row_w, Div<IT> div_row_w, Div<IT> div_m) {
  for (IT t = thread_start<IT>(); t < total; t += thread_step<IT>()) {
    IT r = div_row_w(t);
    IT w = t - r * row_w;
    IT p = div_m(r);
    IT j = r - p * m;
    int64_t s = int64_t(idx[j]);
    W v{};
    if (s >= 0 && s < int64_t(n)) v = x[(p * n + IT(s)) * row_w + w];
    out[t] = v;
  }
}

void index_select(KernelArgs& a) {
  const Tensor &X = a.in.at(0), &Idx = a.in.at(1), &O = a.out.at(0);
  const int64_t ax = a.attrs.i.at(0);
  check_device_of("index_select", O, {X, Idx});
  DIVE_CHECK(X.dtype() == O.dtype(), "index_select: input ", X.str(), " and output ", O.str(), " differ in dtype");
  DIVE_CHECK(X.is_contiguous() && Idx.is_contiguous() && Idx.dim() == 1 && ax >= 0 && ax < X.dim(),
             "index_select: expected contiguous x and 1-D indices, got ", X.str(), ", ", Idx.str(), ", axis ", ax);
  AxisSplit s = split_at(X.shape(), ax);
  const int64_t m = Idx.numel();
  DIVE_CHECK(O.numel() == s.outer * m * s.inner, "index_select: output ", O.str(), " does not match x ", X.str(),
             " with ", m, " indices along axis ", ax);
  if (O.numel() == 0) return;
  const int64_t es = int64_t(dtype_size(X.dtype()));
  const int64_t row_bytes = s.inner * es;
  const int wb = common_word({uint64_t(row_bytes), addr(X.raw_data()), addr(O.raw_data())});
  const int64_t row_w = row_bytes / wb;
  const int64_t total = s.outer * m * row_w;
  const bool small = total < kSmall && X.numel() * es / wb < kSmall;
  int dev = O.device().index;
  DeviceGuard g(dev);
  with_word(wb, "index_select", [&](auto w) {
    using W = decltype(w);
    DIVE_DISPATCH_INDEX(Idx.dtype(), "index_select", [&] {
      with_index_type(small, [&](auto it) {
        using IT = decltype(it);
        index_select_kernel<W, index_t, IT><<<grid_for(total), kBlock, 0, stream(dev)>>>(
            static_cast<const W*>(X.raw_data()), static_cast<const index_t*>(Idx.raw_data()),
            static_cast<W*>(O.raw_data()), IT(total), IT(m), IT(s.n), IT(row_w), Div<IT>(row_w), Div<IT>(m));
        CUDA_CHECK_LAUNCH();
      });
    });
  });
}

// ---- index_add -------------------------------------------------------------------------------------
// keys[j] = idx[j] (n for an out-of-range index: sorted last, never summed), vals[j] = j
template <class I>
__global__ void index_keys_kernel(const I* __restrict__ idx, int64_t m, int64_t n, uint32_t* __restrict__ keys,
                                  int32_t* __restrict__ vals) {
  for (int64_t j = thread_start<int64_t>(); j < m; j += thread_step<int64_t>()) {
    int64_t v = int64_t(idx[j]);
    keys[j] = (v >= 0 && v < n) ? uint32_t(v) : uint32_t(n);
    vals[j] = int32_t(j);
  }
}

// starts[d] = first sorted position with key >= d, for d in [0, n]
__global__ void run_starts_kernel(const uint32_t* __restrict__ keys, int64_t m, int64_t n,
                                  int32_t* __restrict__ starts) {
  for (int64_t d = thread_start<int64_t>(); d <= n; d += thread_step<int64_t>()) {
    int64_t lo = 0, hi = m;
    while (lo < hi) {
      int64_t mid = (lo + hi) / 2;
      if (int64_t(keys[mid]) < d) lo = mid + 1;
      else hi = mid;
    }
    starts[d] = int32_t(lo);
  }
}

// out [outer, n, inner] = base + sum over the run of row d of src [outer, m, inner] rows, in position order
template <class T, class IT>
__global__ void index_add_kernel(const T* __restrict__ base, const T* __restrict__ src,
                                 const int32_t* __restrict__ order, const int32_t* __restrict__ starts,
                                 T* __restrict__ out, IT total, IT n, IT inner, IT m, Div<IT> div_inner,
                                 Div<IT> div_n) {
  for (IT t = thread_start<IT>(); t < total; t += thread_step<IT>()) {
    IT r = div_inner(t);
    IT i = t - r * inner;
    IT p = div_n(r);
    IT d = r - p * n;
    double acc = double(base[t]);
    const int32_t lo = starts[d], hi = starts[d + 1];
    for (int32_t k = lo; k < hi; ++k) acc += double(src[(p * m + IT(order[k])) * inner + i]);
    out[t] = T(acc);
  }
}

void copy_bytes(const Tensor& dst, const Tensor& src, int dev) {
  if (src.nbytes() == 0) return;
  CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), src.nbytes(), cudaMemcpyDeviceToDevice, stream(dev)));
}

int bits_for(uint64_t v) {  // bits needed to represent v (>= 1)
  int b = 1;
  while (b < 64 && (v >> b) != 0) ++b;
  return b;
}

// Stable radix sort of (keys, vals) pairs of `count` items on dev's stream; returns the sorted copies.
template <class K>
void sort_pairs(const Tensor& keys, const Tensor& vals, Tensor& keys_out, Tensor& vals_out,
                int64_t count, int end_bit, int dev) {
  Device d = keys.device();
  keys_out = Tensor::empty(keys.shape(), keys.dtype(), d);
  vals_out = Tensor::empty(vals.shape(), vals.dtype(), d);
  const K* kin = static_cast<const K*>(keys.raw_data());
  K* kout = static_cast<K*>(keys_out.raw_data());
  const int32_t* vin = static_cast<const int32_t*>(vals.raw_data());
  int32_t* vout = static_cast<int32_t*>(vals_out.raw_data());
  size_t temp_bytes = 0;
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, kin, kout, vin, vout, int(count), 0, end_bit,
                                             stream(dev)));
  Tensor temp = Tensor::empty({int64_t(std::max<size_t>(temp_bytes, 1))}, DType::u8, d);
  CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.raw_data(), temp_bytes, kin, kout, vin, vout, int(count), 0,
                                             end_bit, stream(dev)));
}

void index_add(KernelArgs& a) {
  const Tensor &B = a.in.at(0), &Idx = a.in.at(1), &S = a.in.at(2), &O = a.out.at(0);
  const int64_t ax = a.attrs.i.at(0);
  check_device_of("index_add", O, {B, Idx, S});
  check_dtypes("index_add", {B, S}, O.dtype());
  DIVE_CHECK(B.is_contiguous() && S.is_contiguous() && Idx.is_contiguous() && Idx.dim() == 1 && ax >= 0 &&
                 ax < B.dim() && O.shape() == B.shape(),
             "index_add: expected contiguous base, source and 1-D indices, got ", B.str(), ", ", Idx.str(), ", ",
             S.str(), " -> ", O.str(), ", axis ", ax);
  AxisSplit s = split_at(B.shape(), ax);
  const int64_t m = Idx.numel();
  DIVE_CHECK(S.numel() == s.outer * m * s.inner, "index_add: source ", S.str(), " does not match base ", B.str(),
             " with ", m, " indices along axis ", ax);
  const int64_t total = O.numel();
  if (total == 0) return;
  int dev = O.device().index;
  DeviceGuard g(dev);
  if (m == 0) return copy_bytes(O, B, dev);
  DIVE_CHECK(m < INT32_MAX && s.n < int64_t(UINT32_MAX), "index_add: ", m, " indices into an axis of ", s.n,
             " exceed the CUDA kernel's 32-bit sort keys");
  Device d = O.device();
  Tensor keys = Tensor::empty({m}, DType::i32, d), vals = Tensor::empty({m}, DType::i32, d);
  DIVE_DISPATCH_INDEX(Idx.dtype(), "index_add", [&] {
    index_keys_kernel<index_t><<<grid_for(m), kBlock, 0, stream(dev)>>>(
        static_cast<const index_t*>(Idx.raw_data()), m, s.n, static_cast<uint32_t*>(keys.raw_data()),
        static_cast<int32_t*>(vals.raw_data()));
    CUDA_CHECK_LAUNCH();
  });
  Tensor skeys, svals;
  sort_pairs<uint32_t>(keys, vals, skeys, svals, m, bits_for(uint64_t(s.n)), dev);
  Tensor starts = Tensor::empty({s.n + 1}, DType::i32, d);
  run_starts_kernel<<<grid_for(s.n + 1), kBlock, 0, stream(dev)>>>(static_cast<const uint32_t*>(skeys.raw_data()),
                                                                     m, s.n, static_cast<int32_t*>(starts.raw_data()));
  CUDA_CHECK_LAUNCH();
  const bool small = total < kSmall && S.numel() < kSmall;
  DIVE_DISPATCH_ALL(O.dtype(), "index_add", [&] {
    with_index_type(small, [&](auto it) {
      using IT = decltype(it);
      index_add_kernel<scalar_t, IT><<<grid_for(total), kBlock, 0, stream(dev)>>>(
          static_cast<const scalar_t*>(B.raw_data()), static_cast<const scalar_t*>(S.raw_data()),
          static_cast<const int32_t*>(svals.raw_data()), static_cast<const int32_t*>(starts.raw_data()),
          static_cast<scalar_t*>(O.raw_data()), IT(total), IT(s.n), IT(s.inner), IT(m), Div<IT>(s.inner),
          Div<IT>(s.n));
      CUDA_CHECK_LAUNCH();
    });
  });
}

// ---- gather / scatter_add geometry -----------------------------------------------------------------
// Walks the elements of an index tensor (row-major, contiguous) and addresses a contiguous `big` tensor
// of the same rank: offset = sum over non-axis dims of coord * big stride + idx value * ax_stride.
// Dims where idx has size 1 (other than the axis) are dropped; a dim whose idx size equals the big size
// is merged into the previous non-axis dim when the big strides allow it.
struct IdxGeom {
  int nd = 1;
  int64_t size[kMaxDims];    // idx sizes of the kept dims
  int64_t stride[kMaxDims];  // big's element strides (0 on the axis dim)
  int64_t ax_stride = 0;     // big's stride along the axis
  int64_t ax_n = 0;          // big's size along the axis

  __device__ __forceinline__ int64_t offset(int64_t e) const {
    int64_t off = 0;
    for (int d = nd - 1; d >= 0; --d) {
      int64_t q = e / size[d];
      off += (e - q * size[d]) * stride[d];
      e = q;
    }
    return off;
  }
};

IdxGeom idx_geom(const char* op, const Shape& big, const Shape& ish, int64_t ax) {
  DIVE_CHECK(big.size() == ish.size() && ax >= 0 && ax < int64_t(big.size()), op, ": indices ", shape_str(ish),
             " and tensor ", shape_str(big), " with axis ", ax, " do not match");
  Shape bst = contiguous_strides(big);
  int64_t sz[64], st[64];
  bool is_ax[64];
  int nd = 0;
  for (int64_t d = 0; d < int64_t(big.size()); ++d) {
    if (d != ax && ish[size_t(d)] == 1) continue;
    const bool merge = d != ax && nd > 0 && !is_ax[nd - 1] && ish[size_t(d)] == big[size_t(d)] &&
                       st[nd - 1] == bst[size_t(d)] * big[size_t(d)];
    if (merge) {
      sz[nd - 1] *= ish[size_t(d)];
      st[nd - 1] = bst[size_t(d)];
    } else {
      DIVE_CHECK(nd < 64, op, ": too many dims");
      sz[nd] = ish[size_t(d)];
      st[nd] = d == ax ? 0 : bst[size_t(d)];
      is_ax[nd] = d == ax;
      ++nd;
    }
  }
  DIVE_CHECK(nd <= kMaxDims, op, ": indices ", shape_str(ish), " leave ", nd,
             " non-mergeable dims; the CUDA kernel supports at most ", kMaxDims);
  IdxGeom g;
  g.nd = nd;
  for (int d = 0; d < nd; ++d) {
    g.size[d] = sz[d];
    g.stride[d] = st[d];
  }
  g.ax_stride = bst[size_t(ax)];
  g.ax_n = big[size_t(ax)];
  return g;
}

// ---- gather ----------------------------------------------------------------------------------------
template <class W, class I>
__global__ void gather_kernel(const W* __restrict__ x, const I* __restrict__ idx, W* __restrict__ out, int64_t total,
                              IdxGeom g) {
  for (int64_t e = thread_start<int64_t>(); e < total; e += thread_step<int64_t>()) {
    int64_t v = int64_t(idx[e]);
    W r{};
    if (v >= 0 && v < g.ax_n) r = x[g.offset(e) + v * g.ax_stride];
    out[e] = r;
  }
}

void gather(KernelArgs& a) {
  const Tensor &X = a.in.at(0), &Idx = a.in.at(1), &O = a.out.at(0);
  const int64_t ax = a.attrs.i.at(0);
  check_device_of("gather", O, {X, Idx});
  DIVE_CHECK(X.dtype() == O.dtype(), "gather: input ", X.str(), " and output ", O.str(), " differ in dtype");
  DIVE_CHECK(X.is_contiguous() && Idx.is_contiguous() && O.shape() == Idx.shape(),
             "gather: expected contiguous x and indices and an output of the indices' shape, got ", X.str(), ", ",
             Idx.str(), " -> ", O.str());
  const int64_t total = O.numel();
  if (total == 0) return;
  IdxGeom geo = idx_geom("gather", X.shape(), Idx.shape(), ax);
  int dev = O.device().index;
  DeviceGuard g(dev);
  with_word(int64_t(dtype_size(X.dtype())), "gather", [&](auto w) {
    using W = decltype(w);
    DIVE_DISPATCH_INDEX(Idx.dtype(), "gather", [&] {
      gather_kernel<W, index_t><<<grid_for(total), kBlock, 0, stream(dev)>>>(
          static_cast<const W*>(X.raw_data()), static_cast<const index_t*>(Idx.raw_data()),
          static_cast<W*>(O.raw_data()), total, geo);
      CUDA_CHECK_LAUNCH();
    });
  });
}

// ---- scatter_add -----------------------------------------------------------------------------------
// Gather form: one thread per output element walks the K index entries of its line along the axis.
// Dims of size 1 in base (other than the axis) are dropped; a dim where idx and base agree is merged
// into the previous non-axis dim (bounds and strides then behave as one dim).
struct ScatGeom {
  int nd = 1;
  int axd = 0;                // position of the axis among the kept dims
  int64_t bsize[kMaxDims];    // base sizes
  int64_t isize[kMaxDims];    // idx sizes (bound of the coordinate for non-axis dims)
  int64_t istride[kMaxDims];  // idx element strides
};

ScatGeom scat_geom(const Shape& base, const Shape& ish, int64_t ax) {
  Shape bst = contiguous_strides(base), ist = contiguous_strides(ish);
  int64_t bs[64], is[64], it[64], bt[64];
  bool is_ax[64];
  int nd = 0, axd = 0;
  for (int64_t d = 0; d < int64_t(base.size()); ++d) {
    const size_t u = size_t(d);
    if (d != ax && base[u] == 1) continue;
    const bool merge = d != ax && nd > 0 && !is_ax[nd - 1] && ish[u] == base[u] && bt[nd - 1] == bst[u] * base[u] &&
                       it[nd - 1] == ist[u] * ish[u];
    if (merge) {
      bs[nd - 1] *= base[u];
      is[nd - 1] *= ish[u];
      bt[nd - 1] = bst[u];
      it[nd - 1] = ist[u];
    } else {
      DIVE_CHECK(nd < 64, "scatter_add: too many dims");
      if (d == ax) axd = nd;
      bs[nd] = base[u];
      is[nd] = ish[u];
      bt[nd] = bst[u];
      it[nd] = ist[u];
      is_ax[nd] = d == ax;
      ++nd;
    }
  }
  DIVE_CHECK(nd <= kMaxDims, "scatter_add: base ", shape_str(base), " leaves ", nd,
             " non-mergeable dims; the CUDA kernel supports at most ", kMaxDims);
  ScatGeom g;
  g.nd = nd;
  g.axd = axd;
  for (int d = 0; d < nd; ++d) {
    g.bsize[d] = bs[d];
    g.isize[d] = is[d];
    g.istride[d] = it[d];
  }
  return g;
}

template <class T, class I>
__global__ void scatter_add_lines_kernel(const T* __restrict__ base, const I* __restrict__ idx,
                                         const T* __restrict__ src, T* __restrict__ out, int64_t total, ScatGeom g) {
  const int64_t K = g.isize[g.axd], kstride = g.istride[g.axd];
  for (int64_t o = thread_start<int64_t>(); o < total; o += thread_step<int64_t>()) {
    int64_t rem = o, e0 = 0, cax = 0;
    bool inside = true;
    for (int d = g.nd - 1; d >= 0; --d) {
      int64_t q = rem / g.bsize[d];
      int64_t c = rem - q * g.bsize[d];
      rem = q;
      if (d == g.axd) {
        cax = c;
      } else {
        inside = inside && c < g.isize[d];
        e0 += c * g.istride[d];
      }
    }
    double acc = double(base[o]);
    if (inside)
      for (int64_t j = 0; j < K; ++j) {
        const int64_t e = e0 + j * kstride;
        if (int64_t(idx[e]) == cax) acc += double(src[e]);
      }
    out[o] = T(acc);
  }
}

// Sort form: keys = target offset in base (sentinel for out-of-range indices), vals = source position.
template <class I, class K>
__global__ void scatter_keys_kernel(const I* __restrict__ idx, int64_t total, IdxGeom g, K sentinel,
                                    K* __restrict__ keys, int32_t* __restrict__ vals) {
  for (int64_t e = thread_start<int64_t>(); e < total; e += thread_step<int64_t>()) {
    int64_t v = int64_t(idx[e]);
    keys[e] = (v >= 0 && v < g.ax_n) ? K(g.offset(e) + v * g.ax_stride) : sentinel;
    vals[e] = int32_t(e);
  }
}

// One thread per run of equal sorted keys: out[key] = base[key] + the run's sources in position order.
template <class T, class K>
__global__ void scatter_runs_kernel(const K* __restrict__ keys, const int32_t* __restrict__ vals, int64_t count,
                                    K sentinel, const T* __restrict__ base, const T* __restrict__ src,
                                    T* __restrict__ out) {
  for (int64_t i = thread_start<int64_t>(); i < count; i += thread_step<int64_t>()) {
    const K k = keys[i];
    if (k == sentinel || (i > 0 && keys[i - 1] == k)) continue;
    double acc = double(base[k]);
    for (int64_t t = i; t < count && keys[t] == k; ++t) acc += double(src[vals[t]]);
    out[k] = T(acc);
  }
}

template <class K>
void scatter_add_sorted(const Tensor& B, const Tensor& Idx, const Tensor& S, const Tensor& O, int64_t ax, int dev) {
  const int64_t count = Idx.numel();
  IdxGeom geo = idx_geom("scatter_add", B.shape(), Idx.shape(), ax);
  const K sentinel = K(B.numel());
  Device d = O.device();
  Tensor keys = Tensor::empty({count}, sizeof(K) == 4 ? DType::i32 : DType::i64, d);
  Tensor vals = Tensor::empty({count}, DType::i32, d);
  DIVE_DISPATCH_INDEX(Idx.dtype(), "scatter_add", [&] {
    scatter_keys_kernel<index_t, K><<<grid_for(count), kBlock, 0, stream(dev)>>>(
        static_cast<const index_t*>(Idx.raw_data()), count, geo, sentinel, static_cast<K*>(keys.raw_data()),
        static_cast<int32_t*>(vals.raw_data()));
    CUDA_CHECK_LAUNCH();
  });
  Tensor skeys, svals;
  sort_pairs<K>(keys, vals, skeys, svals, count, bits_for(uint64_t(sentinel)), dev);
  copy_bytes(O, B, dev);
  DIVE_DISPATCH_ALL(O.dtype(), "scatter_add", [&] {
    scatter_runs_kernel<scalar_t, K><<<grid_for(count), kBlock, 0, stream(dev)>>>(
        static_cast<const K*>(skeys.raw_data()), static_cast<const int32_t*>(svals.raw_data()), count, sentinel,
        static_cast<const scalar_t*>(B.raw_data()), static_cast<const scalar_t*>(S.raw_data()),
        static_cast<scalar_t*>(O.raw_data()));
    CUDA_CHECK_LAUNCH();
  });
}

void scatter_add(KernelArgs& a) {
  const Tensor &B = a.in.at(0), &Idx = a.in.at(1), &S = a.in.at(2), &O = a.out.at(0);
  const int64_t ax = a.attrs.i.at(0);
  check_device_of("scatter_add", O, {B, Idx, S});
  check_dtypes("scatter_add", {B, S}, O.dtype());
  DIVE_CHECK(B.is_contiguous() && S.is_contiguous() && Idx.is_contiguous() && O.shape() == B.shape() &&
                 S.shape() == Idx.shape() && Idx.dim() == B.dim() && ax >= 0 && ax < B.dim(),
             "scatter_add: expected contiguous base, indices and source (indices' shape), got ", B.str(), ", ",
             Idx.str(), ", ", S.str(), " -> ", O.str(), ", axis ", ax);
  for (int64_t d = 0; d < B.dim(); ++d)
    DIVE_CHECK(d == ax || Idx.size(d) <= B.size(d), "scatter_add: indices ", Idx.str(), " larger than base ",
               B.str(), " in dim ", d);
  const int64_t total = O.numel();
  if (total == 0) return;
  int dev = O.device().index;
  DeviceGuard g(dev);
  if (Idx.numel() == 0) return copy_bytes(O, B, dev);
  const int64_t K = Idx.size(ax), n = B.size(ax);
  if (K * n <= 32 * (K + n)) {  // walking each line's K entries per output is cheaper than sorting
    ScatGeom geo = scat_geom(B.shape(), Idx.shape(), ax);
    DIVE_DISPATCH_INDEX(Idx.dtype(), "scatter_add", [&] {
      DIVE_DISPATCH_ALL(O.dtype(), "scatter_add", [&] {
        scatter_add_lines_kernel<scalar_t, index_t><<<grid_for(total), kBlock, 0, stream(dev)>>>(
            static_cast<const scalar_t*>(B.raw_data()), static_cast<const index_t*>(Idx.raw_data()),
            static_cast<const scalar_t*>(S.raw_data()), static_cast<scalar_t*>(O.raw_data()), total, geo);
        CUDA_CHECK_LAUNCH();
      });
    });
    return;
  }
  DIVE_CHECK(Idx.numel() < INT32_MAX, "scatter_add: ", Idx.numel(),
             " indices exceed the CUDA kernel's 32-bit sort values");
  if (B.numel() < int64_t(UINT32_MAX)) scatter_add_sorted<uint32_t>(B, Idx, S, O, ax, dev);
  else scatter_add_sorted<uint64_t>(B, Idx, S, O, ax, dev);
}

}  // namespace

void register_indexing(KernelTable& t) {
  t.kernels[int(OpId::index_select)] = index_select;
  t.kernels[int(OpId::index_add)] = index_add;
  t.kernels[int(OpId::gather)] = gather;
  t.kernels[int(OpId::scatter_add)] = scatter_add;
}

}  // namespace dive::cuda
