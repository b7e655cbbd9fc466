// CPU index_select / index_add / gather / scatter_add (contiguous inputs). Indices are validated before
// any parallel work (out of range -> dive::Error naming the op, the index and the range); the
// accumulating kernels parallelise over destination lines that no two threads share, so no races.
#include <cstring>
#include <vector>

#include "lib/backend/axis_split.h"
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"

namespace dive::cpu {

namespace {

template <class I>
void check_indices(const char* op, const I* idx, int64_t m, int64_t n) {
  for (int64_t j = 0; j < m; ++j)
    DIVE_CHECK(idx[j] >= 0 && int64_t(idx[j]) < n, op, ": index ", int64_t(idx[j]), " out of range [0, ", n, ")");
}

template <class T>
void copy_contiguous(T* dst, const T* src, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kGrain)
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

template <class T, class I>
void index_select_t(KernelArgs& a) {
  const Tensor &X = a.in[0], &Idx = a.in[1];
  AxisSplit s = split_at(X.shape(), a.attrs.i[0]);
  const int64_t m = Idx.numel();
  const T* x = ptr<const T>(X);
  const I* idx = ptr<const I>(Idx);
  T* o = ptr<T>(a.out[0]);
  check_indices("index_select", idx, m, s.n);
#pragma omp parallel for collapse(2) schedule(static) if (s.outer * m * s.inner > kGrain)
  for (int64_t p = 0; p < s.outer; ++p)
    for (int64_t j = 0; j < m; ++j)
      std::memcpy(o + (p * m + j) * s.inner, x + (p * s.n + int64_t(idx[j])) * s.inner, size_t(s.inner) * sizeof(T));
}

template <class T, class I>
void index_add_t(KernelArgs& a) {
  const Tensor &B = a.in[0], &Idx = a.in[1], &S = a.in[2];
  AxisSplit s = split_at(B.shape(), a.attrs.i[0]);
  const int64_t m = Idx.numel();
  const I* idx = ptr<const I>(Idx);
  const T* src = ptr<const T>(S);
  T* o = ptr<T>(a.out[0]);
  check_indices("index_add", idx, m, s.n);
  copy_contiguous(o, ptr<const T>(B), B.numel());
  // each (p, i) owns the destination column o[p, :, i]
#pragma omp parallel for collapse(2) schedule(static) if (s.outer * m * s.inner > kGrain)
  for (int64_t p = 0; p < s.outer; ++p)
    for (int64_t i = 0; i < s.inner; ++i)
      for (int64_t j = 0; j < m; ++j) o[(p * s.n + int64_t(idx[j])) * s.inner + i] += src[(p * m + j) * s.inner + i];
}

// Lines of an index tensor along `ax`: for each (p, i) of idx's [outer, m, inner] split, the offset in a
// contiguous tensor of shape `full` of coordinate (p, 0, i).
std::vector<int64_t> line_bases(const Shape& idx_shape, const Shape& full, int64_t ax, const AxisSplit& s) {
  Shape fs = contiguous_strides(full);
  std::vector<int64_t> base(size_t(s.outer * s.inner));
  const int64_t nd = int64_t(idx_shape.size());
#pragma omp parallel for schedule(static) if (s.outer * s.inner > kGrain)
  for (int64_t l = 0; l < s.outer * s.inner; ++l) {
    int64_t p = l / s.inner, i = l % s.inner, off = 0;
    for (int64_t d = nd - 1; d > ax; --d) {
      off += (i % idx_shape[d]) * fs[d];
      i /= idx_shape[d];
    }
    for (int64_t d = ax - 1; d >= 0; --d) {
      off += (p % idx_shape[d]) * fs[d];
      p /= idx_shape[d];
    }
    base[size_t(l)] = off;
  }
  return base;
}

template <class T, class I>
void gather_t(KernelArgs& a) {
  const Tensor &X = a.in[0], &Idx = a.in[1];
  const int64_t ax = a.attrs.i[0];
  AxisSplit s = split_at(Idx.shape(), ax);
  const int64_t st = contiguous_strides(X.shape())[ax];
  const T* x = ptr<const T>(X);
  const I* idx = ptr<const I>(Idx);
  T* o = ptr<T>(a.out[0]);
  check_indices("gather", idx, Idx.numel(), X.size(ax));
  std::vector<int64_t> base = line_bases(Idx.shape(), X.shape(), ax, s);
#pragma omp parallel for schedule(static) if (Idx.numel() > kGrain)
  for (int64_t l = 0; l < s.outer * s.inner; ++l) {
    int64_t p = l / s.inner, i = l % s.inner;
    for (int64_t j = 0; j < s.n; ++j) {
      int64_t e = (p * s.n + j) * s.inner + i;
      o[e] = x[base[size_t(l)] + int64_t(idx[e]) * st];
    }
  }
}

template <class T, class I>
void scatter_add_t(KernelArgs& a) {
  const Tensor &B = a.in[0], &Idx = a.in[1], &S = a.in[2];
  const int64_t ax = a.attrs.i[0];
  AxisSplit s = split_at(Idx.shape(), ax);
  const int64_t st = contiguous_strides(B.shape())[ax];
  const I* idx = ptr<const I>(Idx);
  const T* src = ptr<const T>(S);
  T* o = ptr<T>(a.out[0]);
  check_indices("scatter_add", idx, Idx.numel(), B.size(ax));
  copy_contiguous(o, ptr<const T>(B), B.numel());
  std::vector<int64_t> base = line_bases(Idx.shape(), B.shape(), ax, s);
  // a line only ever writes to its own destination line: no two threads touch the same element
#pragma omp parallel for schedule(static) if (Idx.numel() > kGrain)
  for (int64_t l = 0; l < s.outer * s.inner; ++l) {
    int64_t p = l / s.inner, i = l % s.inner;
    for (int64_t j = 0; j < s.n; ++j) {
      int64_t e = (p * s.n + j) * s.inner + i;
      o[base[size_t(l)] + int64_t(idx[e]) * st] += src[e];
    }
  }
}

}  // namespace

void register_indexing(KernelTable& t) {
#define DIVE_CPU_IDX(op, fn)                                                           \
  t.kernels[int(OpId::op)] = [](KernelArgs& a) {                                        \
    DIVE_DISPATCH_ALL(a.out[0].dtype(), #op, [&] {                                      \
      DIVE_DISPATCH_INDEX(a.in[1].dtype(), #op, [&] { fn<scalar_t, index_t>(a); });     \
    });                                                                                 \
  }
  DIVE_CPU_IDX(index_select, index_select_t);
  DIVE_CPU_IDX(index_add, index_add_t);
  DIVE_CPU_IDX(gather, gather_t);
  DIVE_CPU_IDX(scatter_add, scatter_add_t);
#undef DIVE_CPU_IDX
}

}  // namespace dive::cpu
