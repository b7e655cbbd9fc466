// Reference reductions: everything through a [outer, reduced] double copy of the input.
#include <cmath>
#include <limits>

#include "lib/backend/ref/ref_util.h"
#include "lib/ops/attrs.h"

namespace dive::ref {

std::vector<double> to_outer_reduced(const Tensor& x, const std::vector<int64_t>& axes, int64_t& outer,
                                     int64_t& reduced) {
  std::vector<int64_t> order;
  std::vector<bool> red(size_t(x.dim()), false);
  for (auto a : axes) red[size_t(a)] = true;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (!red[size_t(d)]) order.push_back(d);
  for (auto a : axes) order.push_back(a);
  Shape s, st;
  outer = 1;
  reduced = 1;
  for (auto d : order) {
    s.push_back(x.shape()[d]);
    st.push_back(x.strides()[d]);
    (red[size_t(d)] ? reduced : outer) *= x.shape()[d];
  }
  Tensor v = make_view(x, s, st, x.offset());
  std::vector<double> out(size_t(outer * reduced));
  for (int64_t i = 0; i < outer * reduced; ++i) out[size_t(i)] = load_as_double(v, i);
  return out;
}

namespace {

template <class F>
void reduce(KernelArgs& a, F f) {
  int64_t outer, n;
  std::vector<double> v = to_outer_reduced(a.in[0], ReduceAttrs::unpack(a.attrs).axes, outer, n);
  const Tensor& o = a.out[0];
  DIVE_DISPATCH_FLOAT(o.dtype(), "reduce", [&] {
    scalar_t* p = o.data<scalar_t>();
    for (int64_t r = 0; r < outer; ++r) p[r] = scalar_t(f(&v[size_t(r * n)], n));
  });
}

double sum_of(const double* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}

template <bool IsMax>
void arg_extremum(KernelArgs& a) {
  int64_t outer, n;
  std::vector<double> v = to_outer_reduced(a.in[0], a.attrs.i, outer, n);
  const Tensor &vals = a.out[0], &idx = a.out[1];
  int64_t* ip = idx.data<int64_t>();
  DIVE_DISPATCH_FLOAT(vals.dtype(), "max/min", [&] {
    scalar_t* p = vals.data<scalar_t>();
    for (int64_t r = 0; r < outer; ++r) {
      const double* x = &v[size_t(r * n)];
      int64_t best = 0;
      for (int64_t i = 1; i < n; ++i) {
        if (std::isnan(x[best])) break;  // NaN wins (as PyTorch)
        if (std::isnan(x[i]) || (IsMax ? x[i] > x[best] : x[i] < x[best])) best = i;
      }
      p[r] = scalar_t(x[best]);
      ip[r] = best;
    }
  });
}

}  // namespace

void register_reduce(KernelTable& t) {
  t.kernels[int(OpId::sum)] = [](KernelArgs& a) { reduce(a, sum_of); };
  t.kernels[int(OpId::mean)] = [](KernelArgs& a) {
    reduce(a, [](const double* x, int64_t n) { return n ? sum_of(x, n) / double(n) : std::nan(""); });
  };
  t.kernels[int(OpId::logsumexp)] = [](KernelArgs& a) {
    reduce(a, [](const double* x, int64_t n) {
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
      if (std::isinf(m)) return m;
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
      return m + std::log(s);
    });
  };
  t.kernels[int(OpId::norm)] = [](KernelArgs& a) {
    reduce(a, [](const double* x, int64_t n) {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += x[i] * x[i];
      return std::sqrt(s);
    });
  };
  t.kernels[int(OpId::var)] = [](KernelArgs& a) {
    const double corr = ReduceAttrs::unpack(a.attrs).correction;
    reduce(a, [corr](const double* x, int64_t n) {
      double mu = sum_of(x, n) / double(n), s = 0;
      for (int64_t i = 0; i < n; ++i) s += (x[i] - mu) * (x[i] - mu);
      return s / std::max(double(n) - corr, 0.0);
    });
  };
  t.kernels[int(OpId::max)] = arg_extremum<true>;
  t.kernels[int(OpId::min)] = arg_extremum<false>;
}

}  // namespace dive::ref
