// CPU reductions: sum / mean / L2 norm through the oneDNN reduction primitive for contiguous f32 input;
// OpenMP loops with double accumulation for everything else (f64, strided or broadcast input),
// logsumexp, var, and max/min with first-occurrence indices (NaN wins).
#include <cmath>
#include <limits>
#include <vector>

#include "lib/backend/cpu/engine.h"
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"
#include "lib/ops/attrs.h"

namespace dive::cpu {

namespace {

// x viewed as [outer rows (kept dims), n reduced elements], without copying.
struct Rows {
  int64_t outer = 1, n = 1;
  std::vector<int64_t> base;  // offset of each row's first element
  Plan<1> red;                // the reduced dims
};

Rows rows_of(const Tensor& x, const std::vector<int64_t>& axes) {
  std::vector<bool> is_red(size_t(x.dim()), false);
  for (auto a : axes) is_red[size_t(a)] = true;
  Shape ks, kst, rs, rst;
  for (int64_t d = 0; d < x.dim(); ++d) {
    (is_red[size_t(d)] ? rs : ks).push_back(x.shape()[d]);
    (is_red[size_t(d)] ? rst : kst).push_back(x.strides()[d]);
  }
  Rows r;
  r.outer = shape_numel(ks);
  r.n = shape_numel(rs);
  r.red = make_plan<1>(rs, {&rst});
  r.base.resize(size_t(r.outer));
  Plan<1> kept = make_plan<1>(ks, {&kst});
  if (r.outer > 0) walk<1>(kept, 0, r.outer, [&](int64_t i, const std::array<int64_t, 1>& off) { r.base[size_t(i)] = off[0]; });
  return r;
}

// out[r] = comb-fold of tr(r, x) over row r, in double; rows in parallel, or chunks of a long row.
template <class T, class Tr, class Comb>
std::vector<double> fold(const T* x, const Rows& p, double init, Tr tr, Comb comb) {
  std::vector<double> out(size_t(p.outer), init);
  if (p.n == 0) return out;
  auto run = [&](int64_t r, int64_t begin, int64_t end) {
    double acc = init;
    const T* xr = x + p.base[size_t(r)];
    walk<1>(p.red, begin, end, [&](int64_t, const std::array<int64_t, 1>& off) { acc = comb(acc, tr(r, double(xr[off[0]]))); });
    return acc;
  };
  if (p.outer >= omp_get_max_threads() || p.n <= kGrain) {
#pragma omp parallel for schedule(static) if (p.outer * p.n > kGrain)
    for (int64_t r = 0; r < p.outer; ++r) out[size_t(r)] = run(r, 0, p.n);
    return out;
  }
  const int64_t chunks = (p.n + kGrain - 1) / kGrain;
  std::vector<double> part(static_cast<size_t>(chunks));
  for (int64_t r = 0; r < p.outer; ++r) {
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; ++c) part[size_t(c)] = run(r, c * kGrain, std::min(p.n, (c + 1) * kGrain));
    double acc = init;
    for (auto v : part) acc = comb(acc, v);
    out[size_t(r)] = acc;
  }
  return out;
}

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();
const auto kPlus = [](double a, double b) { return a + b; };
const auto kMax = [](double a, double b) { return std::max(a, b); };

// oneDNN reduction for contiguous f32 input that reduces something, at most `max_n` values per output.
bool dnnl_reduce(const char* name, dnnl::algorithm alg, float p, const Tensor& x, const Tensor& o, int64_t max_n) {
  if (!describable(x) || !x.is_contiguous() || x.dim() == 0 || o.numel() == x.numel()) return false;
  if (x.numel() / o.numel() > max_n) return false;
  DNNL_CHECK(name, {
    auto prim = cached_primitive(Key("reduction") << int64_t(alg) << x.shape() << o.shape(), [&] {
      dnnl::reduction::desc d(alg, plain_md(x.shape()), plain_md(o.shape()), p, 0.f);
      return dnnl::primitive(dnnl::reduction::primitive_desc(d, engine()));
    });
    execute(prim, {{DNNL_ARG_SRC, mem(plain_md(x.shape()), x.raw_data())},
                   {DNNL_ARG_DST, mem(plain_md(o.shape()), o.raw_data())}});
  });
  return true;
}

// Runs f(const scalar_t* x, Rows) -> std::vector<double> and stores the result.
template <class F>
void reduce_loop(KernelArgs& a, const char* name, F f) {
  const Tensor &x = a.in[0], &o = a.out[0];
  Rows p = rows_of(x, a.attrs.i);
  DIVE_DISPATCH_FLOAT(o.dtype(), name, [&] {
    std::vector<double> v = f(ptr<const scalar_t>(x), p);
    scalar_t* out = ptr<scalar_t>(o);
    for (int64_t r = 0; r < p.outer; ++r) out[r] = scalar_t(v[size_t(r)]);
  });
}

void sum(KernelArgs& a) {
  if (dnnl_reduce("sum", dnnl::algorithm::reduction_sum, 0.f, a.in[0], a.out[0], kNoLimit)) return;
  reduce_loop(a, "sum", [](auto* x, const Rows& p) { return fold(x, p, 0.0, [](int64_t, double v) { return v; }, kPlus); });
}

void mean(KernelArgs& a) {
  if (dnnl_reduce("mean", dnnl::algorithm::reduction_mean, 0.f, a.in[0], a.out[0], kNoLimit)) return;
  reduce_loop(a, "mean", [](auto* x, const Rows& p) {
    auto s = fold(x, p, 0.0, [](int64_t, double v) { return v; }, kPlus);
    for (auto& v : s) v = p.n ? v / double(p.n) : std::nan("");
    return s;
  });
}

void norm(KernelArgs& a) {
  // oneDNN's lp-norm loses ~2e-5 relative over 2e5 values (f32 sum of squares); long ones use the loop.
  if (dnnl_reduce("norm", dnnl::algorithm::reduction_norm_lp_sum, 2.f, a.in[0], a.out[0], 4096)) return;
  reduce_loop(a, "norm", [](auto* x, const Rows& p) {
    auto s = fold(x, p, 0.0, [](int64_t, double v) { return v * v; }, kPlus);
    for (auto& v : s) v = std::sqrt(v);
    return s;
  });
}

void logsumexp(KernelArgs& a) {
  reduce_loop(a, "logsumexp", [](auto* x, const Rows& p) {
    auto m = fold(x, p, -std::numeric_limits<double>::infinity(), [](int64_t, double v) { return v; }, kMax);
    auto s = fold(x, p, 0.0, [&m](int64_t r, double v) { return std::exp(v - m[size_t(r)]); }, kPlus);
    for (size_t r = 0; r < s.size(); ++r) s[r] = std::isinf(m[r]) ? m[r] : m[r] + std::log(s[r]);
    return s;
  });
}

void var(KernelArgs& a) {
  const double corr = ReduceAttrs::unpack(a.attrs).correction;
  reduce_loop(a, "var", [corr](auto* x, const Rows& p) {
    auto mu = fold(x, p, 0.0, [](int64_t, double v) { return v; }, kPlus);
    for (auto& v : mu) v /= double(p.n);
    auto s = fold(x, p, 0.0, [&mu](int64_t r, double v) { return (v - mu[size_t(r)]) * (v - mu[size_t(r)]); }, kPlus);
    for (auto& v : s) v /= std::max(double(p.n) - corr, 0.0);
    return s;
  });
}

template <class T, bool IsMax>
void arg_extremum_t(KernelArgs& a) {
  const Tensor& x = a.in[0];
  const int64_t ax = a.attrs.i[0], n = x.size(ax), st = x.stride(ax);
  Rows p = rows_of(x, {ax});
  int64_t* ip = ptr<int64_t>(a.out[1]);
  const T* px = ptr<const T>(x);
  T* pv = ptr<T>(a.out[0]);
#pragma omp parallel for schedule(static) if (p.outer * n > kGrain)
  for (int64_t r = 0; r < p.outer; ++r) {
    const T* xr = px + p.base[size_t(r)];
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i) {
      const T b = xr[best * st], v = xr[i * st];
      if (b != b) break;  // NaN wins (first one)
      if (v != v || (IsMax ? v > b : v < b)) best = i;
    }
    pv[r] = xr[best * st];
    ip[r] = best;
  }
}

template <bool IsMax>
void arg_extremum(KernelArgs& a) {
  DIVE_DISPATCH_FLOAT(a.out[0].dtype(), IsMax ? "max" : "min", [&] { arg_extremum_t<scalar_t, IsMax>(a); });
}

}  // namespace

void register_reduce(KernelTable& t) {
  t.kernels[int(OpId::sum)] = sum;
  t.kernels[int(OpId::mean)] = mean;
  t.kernels[int(OpId::norm)] = norm;
  t.kernels[int(OpId::logsumexp)] = logsumexp;
  t.kernels[int(OpId::var)] = var;
  t.kernels[int(OpId::max)] = arg_extremum<true>;
  t.kernels[int(OpId::min)] = arg_extremum<false>;
}

}  // namespace dive::cpu
