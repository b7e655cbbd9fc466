// CPU binary arithmetic (oneDNN binary where the broadcast can be described, OpenMP otherwise),
// maximum/minimum (NaN-propagating), comparisons, where and masked_fill; the unary ops are in
// elementwise_unary.cpp.
#include "lib/backend/cpu/engine.h"
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"
#include "lib/backend/kernel_math.h"

namespace dive::cpu {

namespace {

// Dims of a broadcast view with size 1 where the stride is 0; true when the result is row-major dense.
bool dense_broadcast(const Tensor& t, Shape& dims) {
  dims = t.shape();
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.strides()[d] == 0) dims[d] = 1;
  Shape cs = contiguous_strides(dims);
  for (int64_t d = 0; d < t.dim(); ++d)
    if (dims[d] > 1 && t.strides()[d] != cs[d]) return false;
  return true;
}

// oneDNN binary for f32 when both operands are dense without broadcasting, or src1 broadcasts along the
// leading dims only (a bias row): oneDNN 2.6 runs other broadcasts (e.g. [N, C, 1] against [N, C, D])
// in its reference implementation, ~10x slower than the OpenMP loop.
bool dnnl_binary(const char* name, dnnl::algorithm alg, bool commutative, Tensor a, Tensor b, const Tensor& o) {
  if (o.dtype() != DType::f32 || o.numel() == 0 || o.dim() > 12) return false;
  Shape da, db;
  if (!dense_broadcast(a, da) || !dense_broadcast(b, db)) return false;
  if (da != o.shape()) {
    if (!commutative || db != o.shape()) return false;
    std::swap(a, b);
    std::swap(da, db);
  }
  bool lead = true;  // db = [1, .., 1, o's trailing dims]
  for (size_t d = 0; d < db.size(); ++d) {
    if (db[d] != 1 || da[d] == 1) lead = false;
    if (!lead && db[d] != da[d]) return false;
  }
  Shape dims = o.shape();
  if (dims.empty()) dims = db = {1};
  DNNL_CHECK(name, {
    auto prim = cached_primitive(Key("binary") << int64_t(alg) << dims << db, [&] {
      dnnl::binary::desc d(alg, plain_md(dims), plain_md(db), plain_md(dims));
      return dnnl::primitive(dnnl::binary::primitive_desc(d, engine()));
    });
    execute(prim, {{DNNL_ARG_SRC_0, mem(plain_md(dims), a.raw_data())},
                   {DNNL_ARG_SRC_1, mem(plain_md(db), b.raw_data())},
                   {DNNL_ARG_DST, mem(plain_md(dims), o.raw_data())}});
  });
  return true;
}

template <class F>
void binary(KernelArgs& a, const char* name, F f) {
  DIVE_DISPATCH_FLOAT(a.out[0].dtype(), name, [&] {
    map2<scalar_t, scalar_t, scalar_t>(a.out[0], a.in[0], a.in[1], [f](scalar_t x, scalar_t y) { return f(x, y); });
  });
}

#define DIVE_CPU_BINARY(NAME, ALG, COMM, EXPR)                                                    \
  void NAME(KernelArgs& a) {                                                                    \
    if (dnnl_binary(#NAME, dnnl::algorithm::ALG, COMM, a.in[0], a.in[1], a.out[0])) return;      \
    binary(a, #NAME, [](auto x, auto y) { return EXPR; });                                      \
  }
DIVE_CPU_BINARY(add, binary_add, true, x + y)
DIVE_CPU_BINARY(sub, binary_sub, false, x - y)
DIVE_CPU_BINARY(mul, binary_mul, true, x * y)
DIVE_CPU_BINARY(div, binary_div, false, x / y)
#undef DIVE_CPU_BINARY

template <class F>
void compare(KernelArgs& a, F f) {
  DIVE_DISPATCH_ALL(a.in[0].dtype(), "compare", [&] {
    map2<uint8_t, scalar_t, scalar_t>(a.out[0], a.in[0], a.in[1],
                                      [f](scalar_t x, scalar_t y) { return uint8_t(f(x, y) ? 1 : 0); });
  });
}

void where(KernelArgs& a) {
  DIVE_DISPATCH_FLOAT(a.out[0].dtype(), "where", [&] {
    map3<scalar_t, uint8_t, scalar_t, scalar_t>(a.out[0], a.in[0], a.in[1], a.in[2],
                                                [](uint8_t c, scalar_t x, scalar_t y) { return c ? x : y; });
  });
}

void masked_fill(KernelArgs& a) {
  DIVE_DISPATCH_FLOAT(a.out[0].dtype(), "masked_fill", [&] {
    const scalar_t v = scalar_t(a.attrs.f[0]);
    map2<scalar_t, scalar_t, uint8_t>(a.out[0], a.in[0], a.in[1],
                                      [v](scalar_t x, uint8_t m) { return m ? v : x; });
  });
}

}  // namespace

void register_elementwise(KernelTable& t) {
  auto K = [&](OpId op, Kernel k) { t.kernels[int(op)] = k; };
  K(OpId::add, add);
  K(OpId::sub, sub);
  K(OpId::mul, mul);
  K(OpId::div, div);
  // maximum/minimum: oneDNN's binary_max/min do not propagate NaN, so these stay OpenMP loops.
  K(OpId::maximum, [](KernelArgs& a) { binary(a, "maximum", [](auto x, auto y) { return kmath::maxv(x, y); }); });
  K(OpId::minimum, [](KernelArgs& a) { binary(a, "minimum", [](auto x, auto y) { return kmath::minv(x, y); }); });
  K(OpId::eq, [](KernelArgs& a) { compare(a, [](auto x, auto y) { return x == y; }); });
  K(OpId::ne, [](KernelArgs& a) { compare(a, [](auto x, auto y) { return x != y; }); });
  K(OpId::lt, [](KernelArgs& a) { compare(a, [](auto x, auto y) { return x < y; }); });
  K(OpId::le, [](KernelArgs& a) { compare(a, [](auto x, auto y) { return x <= y; }); });
  K(OpId::gt, [](KernelArgs& a) { compare(a, [](auto x, auto y) { return x > y; }); });
  K(OpId::ge, [](KernelArgs& a) { compare(a, [](auto x, auto y) { return x >= y; }); });
  K(OpId::where, where);
  K(OpId::masked_fill, masked_fill);
  register_elementwise_unary(t);
}

}  // namespace dive::cpu
