// CPU reductions, OpenMP loops with double accumulation: sum / mean / L2 norm over adjacent axes of a
// contiguous tensor as [P, R, Q] blocks, everything else (strided input, other axes, logsumexp, var) as
// rows folded in order; max/min with first-occurrence indices (NaN wins).
#include <cmath>
#include <limits>
#include <vector>

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

const auto kPlus = [](double a, double b) { return a + b; };
const auto kMax = [](double a, double b) { return std::max(a, b); };

// Contiguous input whose reduced axes are adjacent dims, viewed as [P, R, Q] (R reduced) -> out [P, Q].
// oneDNN 2.6's reduction primitive is its reference implementation on every layout we meet (bias
// gradients [R, Q] -> [Q], broadcast backward), ~10x slower than this loop, so sum/mean/norm use it.
struct Block {
  int64_t P = 1, R = 1, Q = 1;
};

bool as_block(const Tensor& x, const std::vector<int64_t>& axes, Block& b) {
  if (!x.is_contiguous() || axes.empty()) return false;
  for (size_t i = 1; i < axes.size(); ++i)
    if (axes[i] != axes[i - 1] + 1) return false;
  b = Block{};
  for (int64_t d = 0; d < x.dim(); ++d)
    (d < axes.front() ? b.P : d <= axes.back() ? b.R : b.Q) *= x.size(d);
  return true;
}

// out[p, q] = fin(sum_r tr(x[p, r, q])) accumulated in double in the order r = 0, 1, ... (as the
// reference backend, so results match it bit for bit when Q > 1). Q == 1 rows that are too few to keep
// every thread busy are summed in fixed chunks, combined in order (deterministic).
template <class T, class Tr, class Fin>
void block_reduce(const T* x, T* out, const Block& b, Tr tr, Fin fin) {
  if (b.Q == 1) {
    auto row = [&](int64_t p, int64_t r0, int64_t r1) {
      double acc = 0;
      const T* xr = x + p * b.R;
      for (int64_t r = r0; r < r1; ++r) acc += tr(double(xr[r]));
      return acc;
    };
    if (b.P >= omp_get_max_threads() || b.R <= kGrain) {
#pragma omp parallel for schedule(static) if (b.P * b.R > kGrain)
      for (int64_t p = 0; p < b.P; ++p) out[p] = T(fin(row(p, 0, b.R)));
      return;
    }
    const int64_t chunks = (b.R + kGrain - 1) / kGrain;
    std::vector<double> part(static_cast<size_t>(chunks));
    for (int64_t p = 0; p < b.P; ++p) {
#pragma omp parallel for schedule(static)
      for (int64_t c = 0; c < chunks; ++c) part[size_t(c)] = row(p, c * kGrain, std::min(b.R, (c + 1) * kGrain));
      double acc = 0;
      for (double v : part) acc += v;
      out[p] = T(fin(acc));
    }
    return;
  }
  constexpr int64_t kCols = 256;  // columns per task: a double accumulator row that stays in L1
  const int64_t col_chunks = (b.Q + kCols - 1) / kCols, tasks = b.P * col_chunks;
#pragma omp parallel for schedule(static) if (b.P * b.R * b.Q > kGrain && tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t p = t / col_chunks, q0 = (t % col_chunks) * kCols, nq = std::min(kCols, b.Q - q0);
    double acc[kCols] = {};
    for (int64_t r = 0; r < b.R; ++r) {
      const T* xr = x + (p * b.R + r) * b.Q + q0;
      for (int64_t q = 0; q < nq; ++q) acc[q] += tr(double(xr[q]));
    }
    for (int64_t q = 0; q < nq; ++q) out[p * b.Q + q0 + q] = T(fin(acc[q]));
  }
}

// Runs f(const scalar_t* x, Rows) -> std::vector<double> over `axes` and stores the result.
template <class F>
void reduce_loop(KernelArgs& a, const std::vector<int64_t>& axes, const char* name, F f) {
  const Tensor &x = a.in[0], &o = a.out[0];
  Rows p = rows_of(x, axes);
  DIVE_DISPATCH_FLOAT(o.dtype(), name, [&] {
    std::vector<double> v = f(ptr<const scalar_t>(x), p);
    scalar_t* out = ptr<scalar_t>(o);
    for (int64_t r = 0; r < p.outer; ++r) out[r] = scalar_t(v[size_t(r)]);
  });
}

// sum / mean / norm: the block loop for contiguous input with adjacent reduced axes, else the row fold.
template <class Tr, class Fin>
void sum_like(KernelArgs& a, const char* name, Tr tr, Fin fin) {
  const Tensor &x = a.in[0], &o = a.out[0];
  const std::vector<int64_t> axes = ReduceAttrs::unpack(a.attrs).axes;
  Block b;
  if (x.numel() > 0 && as_block(x, axes, b)) {
    DIVE_DISPATCH_FLOAT(o.dtype(), name, [&] { block_reduce(ptr<const scalar_t>(x), ptr<scalar_t>(o), b, tr, fin); });
    return;
  }
  reduce_loop(a, axes, name, [&](auto* xp, const Rows& p) {
    auto s = fold(xp, p, 0.0, [&](int64_t, double v) { return tr(v); }, kPlus);
    for (auto& v : s) v = fin(v);
    return s;
  });
}

void sum(KernelArgs& a) {
  sum_like(a, "sum", [](double v) { return v; }, [](double s) { return s; });
}

void mean(KernelArgs& a) {
  const Tensor& x = a.in[0];
  const int64_t n = a.out[0].numel() ? x.numel() / a.out[0].numel() : 0;
  sum_like(a, "mean", [](double v) { return v; }, [n](double s) { return n ? s / double(n) : std::nan(""); });
}

void norm(KernelArgs& a) {
  sum_like(a, "norm", [](double v) { return v * v; }, [](double s) { return std::sqrt(s); });
}

void logsumexp(KernelArgs& a) {
  reduce_loop(a, ReduceAttrs::unpack(a.attrs).axes, "logsumexp", [](auto* x, const Rows& p) {
    auto m = fold(x, p, -std::numeric_limits<double>::infinity(), [](int64_t, double v) { return v; }, kMax);
    auto s = fold(x, p, 0.0, [&m](int64_t r, double v) { return std::exp(v - m[size_t(r)]); }, kPlus);
    for (size_t r = 0; r < s.size(); ++r) s[r] = std::isinf(m[r]) ? m[r] : m[r] + std::log(s[r]);
    return s;
  });
}

void var(KernelArgs& a) {
  const ReduceAttrs r = ReduceAttrs::unpack(a.attrs);
  const double corr = r.correction;
  reduce_loop(a, r.axes, "var", [corr](auto* x, const Rows& p) {
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
