// CPU copy/cast (any strides, every dtype incl. bf16/f16 storage) and fill (strided out).
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"

namespace dive::cpu {

namespace {

// Storage type and conversions through double for each dtype (the reference's rules).
template <DType D> struct Elem;
template <> struct Elem<DType::f32> {
  using S = float;
  static double load(S v) { return v; }
  static S store(double v) { return float(v); }
};
template <> struct Elem<DType::f64> {
  using S = double;
  static double load(S v) { return v; }
  static S store(double v) { return v; }
};
template <> struct Elem<DType::i64> {
  using S = int64_t;
  static double load(S v) { return double(v); }
  static S store(double v) { return int64_t(v); }
};
template <> struct Elem<DType::i32> {
  using S = int32_t;
  static double load(S v) { return v; }
  static S store(double v) { return int32_t(v); }
};
template <> struct Elem<DType::u8> {
  using S = uint8_t;
  static double load(S v) { return v; }
  static S store(double v) { return uint8_t(v); }
};
template <> struct Elem<DType::boolean> {
  using S = uint8_t;
  static double load(S v) { return v; }
  static S store(double v) { return v != 0; }
};
template <> struct Elem<DType::bf16> {
  using S = uint16_t;
  static double load(S v) { return bf16_to_float(v); }
  static S store(double v) { return float_to_bf16(float(v)); }
};
template <> struct Elem<DType::f16> {
  using S = uint16_t;
  static double load(S v) { return f16_to_float(v); }
  static S store(double v) { return float_to_f16(float(v)); }
};

template <class F>
void with_dtype(DType dt, F&& f) {
  switch (dt) {
    case DType::f32: return f(Elem<DType::f32>{});
    case DType::f64: return f(Elem<DType::f64>{});
    case DType::i64: return f(Elem<DType::i64>{});
    case DType::i32: return f(Elem<DType::i32>{});
    case DType::u8: return f(Elem<DType::u8>{});
    case DType::boolean: return f(Elem<DType::boolean>{});
    case DType::bf16: return f(Elem<DType::bf16>{});
    case DType::f16: return f(Elem<DType::f16>{});
  }
}

// Same-dtype copy. A transpose of the two innermost (coalesced) dims is copied in cache-sized tiles.
template <class T>
void raw_copy(const Tensor& x, const Tensor& y) {
  Plan<2> p = make_plan<2>(y.shape(), {&y.strides(), &x.strides()});
  const size_t nd = p.shape.size();
  if (nd < 2 || p.strides[0][nd - 1] != 1 || p.strides[1][nd - 2] != 1 || p.n < 4096)
    return map1<T, T>(y, x, [](T v) { return v; });
  constexpr int64_t kTile = 16;
  const int64_t R = p.shape[nd - 2], C = p.shape[nd - 1];
  const int64_t ys = p.strides[0][nd - 2], xs = p.strides[1][nd - 1];
  Plan<2> outer;  // the dims above the transposed pair
  outer.shape.assign(p.shape.begin(), p.shape.end() - 2);
  for (int k = 0; k < 2; ++k) outer.strides[k].assign(p.strides[k].begin(), p.strides[k].end() - 2);
  if (outer.shape.empty()) {
    outer.shape = {1};
    outer.strides = {std::vector<int64_t>{0}, std::vector<int64_t>{0}};
  }
  outer.n = shape_numel(outer.shape);
  std::vector<std::array<int64_t, 2>> base(size_t(outer.n));
  walk<2>(outer, 0, outer.n, [&](int64_t i, const std::array<int64_t, 2>& off) { base[size_t(i)] = off; });
  const int64_t tr = (R + kTile - 1) / kTile, tc = (C + kTile - 1) / kTile;
  T* yp = ptr<T>(y);
  const T* xp = ptr<const T>(x);
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < outer.n * tr * tc; ++t) {
    const int64_t o = t / (tr * tc), r0 = (t / tc) % tr * kTile, c0 = t % tc * kTile;
    T* yo = yp + base[size_t(o)][0];
    const T* xo = xp + base[size_t(o)][1];
    const int64_t r1 = std::min(R, r0 + kTile), c1 = std::min(C, c0 + kTile);
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c) yo[r * ys + c] = xo[r + c * xs];
  }
}

void copy_into(const Tensor& x, const Tensor& y) {
  DIVE_CHECK(x.shape() == y.shape(), "copy: shape ", shape_str(x.shape()), " into ", shape_str(y.shape()));
  if (y.numel() == 0) return;
  if (x.dtype() == y.dtype()) {  // bit copy (exact for i64 too)
    switch (dtype_size(x.dtype())) {
      case 1: return raw_copy<uint8_t>(x, y);
      case 2: return raw_copy<uint16_t>(x, y);
      case 4: return raw_copy<uint32_t>(x, y);
      default: return raw_copy<uint64_t>(x, y);
    }
  }
  with_dtype(x.dtype(), [&](auto src) {
    using SE = decltype(src);
    with_dtype(y.dtype(), [&](auto dst) {
      using DE = decltype(dst);
      map1<typename DE::S, typename SE::S>(y, x, [](typename SE::S v) { return DE::store(SE::load(v)); });
    });
  });
}

}  // namespace

void copy(KernelArgs& a) { copy_into(a.in[0], a.out[0]); }

void fill(KernelArgs& a) {
  const Tensor& y = a.out[0];
  if (y.numel() == 0) return;
  with_dtype(y.dtype(), [&](auto e) {
    using E = decltype(e);
    using S = typename E::S;
    const S v = E::store(a.attrs.f[0]);
    Plan<1> p = make_plan<1>(y.shape(), {&y.strides()});
    S* o = ptr<S>(y);
    if (p.contiguous()) {
#pragma omp parallel for schedule(static) if (p.n > kGrain)
      for (int64_t i = 0; i < p.n; ++i) o[i] = v;
      return;
    }
    parallel_walk<1>(p, [&](int64_t, const std::array<int64_t, 1>& off) { o[off[0]] = v; });
  });
}

void register_copy(KernelTable& t) {
  t.kernels[int(OpId::copy)] = copy;
  t.kernels[int(OpId::fill)] = fill;
}

}  // namespace dive::cpu
