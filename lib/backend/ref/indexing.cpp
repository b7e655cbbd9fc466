// Reference index_select/index_add, gather/scatter_add.
#include "lib/backend/axis_split.h"
#include "lib/backend/ref/ref_util.h"

namespace dive::ref {

namespace {

template <class I>
int64_t checked(const char* op, I v, int64_t n) {
  DIVE_CHECK(v >= 0 && int64_t(v) < n, op, ": index ", int64_t(v), " out of range [0, ", n, ")");
  return int64_t(v);
}

template <class T, class I>
void index_select_t(KernelArgs& a) {
  const Tensor &X = a.in[0], &Idx = a.in[1], &O = a.out[0];
  int64_t ax = a.attrs.i[0];
  AxisSplit s = split_at(X.shape(), ax);
  int64_t m = Idx.numel();
  const T* x = X.data<T>();
  const I* idx = Idx.data<I>();
  T* o = O.data<T>();
  for (int64_t j = 0; j < m; ++j) {
    int64_t src = checked("index_select", idx[j], s.n);
    for (int64_t p = 0; p < s.outer; ++p)
      for (int64_t i = 0; i < s.inner; ++i) o[(p * m + j) * s.inner + i] = x[(p * s.n + src) * s.inner + i];
  }
}

template <class T, class I>
void index_add_t(KernelArgs& a) {
  const Tensor &B = a.in[0], &Idx = a.in[1], &S = a.in[2], &O = a.out[0];
  int64_t ax = a.attrs.i[0];
  AxisSplit s = split_at(B.shape(), ax);
  int64_t m = Idx.numel();
  const I* idx = Idx.data<I>();
  const T* src = S.data<T>();
  T* o = O.data<T>();
  const T* b = B.data<T>();
  std::vector<double> acc(b, b + B.numel());
  for (int64_t j = 0; j < m; ++j) {
    int64_t dst = checked("index_add", idx[j], s.n);
    for (int64_t p = 0; p < s.outer; ++p)
      for (int64_t i = 0; i < s.inner; ++i)
        acc[size_t((p * s.n + dst) * s.inner + i)] += double(src[(p * m + j) * s.inner + i]);
  }
  for (int64_t k = 0; k < O.numel(); ++k) o[k] = T(acc[size_t(k)]);
}

// Offset in a contiguous tensor of shape `full` of the element at `idx_shape` linear index e, with the
// coordinate along `ax` replaced by `c`.
int64_t remap(const Shape& idx_shape, const Shape& full, int64_t ax, int64_t e, int64_t c) {
  int64_t off = 0, mul = 1;
  for (int64_t d = int64_t(idx_shape.size()) - 1; d >= 0; --d) {
    int64_t coord = e % idx_shape[d];
    e /= idx_shape[d];
    off += (d == ax ? c : coord) * mul;
    mul *= full[d];
  }
  return off;
}

template <class T, class I>
void gather_t(KernelArgs& a) {
  const Tensor &X = a.in[0], &Idx = a.in[1], &O = a.out[0];
  int64_t ax = a.attrs.i[0];
  const T* x = X.data<T>();
  const I* idx = Idx.data<I>();
  T* o = O.data<T>();
  for (int64_t e = 0; e < Idx.numel(); ++e)
    o[e] = x[remap(Idx.shape(), X.shape(), ax, e, checked("gather", idx[e], X.size(ax)))];
}

template <class T, class I>
void scatter_add_t(KernelArgs& a) {
  const Tensor &B = a.in[0], &Idx = a.in[1], &S = a.in[2], &O = a.out[0];
  int64_t ax = a.attrs.i[0];
  const T* b = B.data<T>();
  const I* idx = Idx.data<I>();
  const T* src = S.data<T>();
  std::vector<double> acc(b, b + B.numel());
  for (int64_t e = 0; e < Idx.numel(); ++e)
    acc[size_t(remap(Idx.shape(), B.shape(), ax, e, checked("scatter_add", idx[e], B.size(ax))))] += double(src[e]);
  T* o = O.data<T>();
  for (int64_t k = 0; k < O.numel(); ++k) o[k] = T(acc[size_t(k)]);
}

}  // namespace

void register_indexing(KernelTable& t) {
#define DIVE_REF_IDX(op, fn)                                                           \
  t.kernels[int(OpId::op)] = [](KernelArgs& a) {                                        \
    DIVE_DISPATCH_ALL(a.out[0].dtype(), #op, [&] {                                      \
      DIVE_DISPATCH_INDEX(a.in[1].dtype(), #op, [&] { fn<scalar_t, index_t>(a); });     \
    });                                                                                 \
  }
  DIVE_REF_IDX(index_select, index_select_t);
  DIVE_REF_IDX(index_add, index_add_t);
  DIVE_REF_IDX(gather, gather_t);
  DIVE_REF_IDX(scatter_add, scatter_add_t);
#undef DIVE_REF_IDX
}

}  // namespace dive::ref
