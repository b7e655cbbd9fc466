// Reference smooth-Chamfer kernels: plain loops over the (a, b) blocks of M, LSE with the row/column
// maximum subtracted, double accumulation.
#include <algorithm>
#include <cmath>
#include <vector>

#include "lib/backend/ref/ref_util.h"
#include "lib/ops/attrs.h"

namespace dive::ref {

namespace {

struct Geo {
  int64_t bi, bt, ki, kt, ld;  // ld = row length of M
  double alpha, denom;
};

Geo geo(const KernelArgs& a, const Tensor& m) {
  const SmoothChamferAttrs sc = SmoothChamferAttrs::unpack(a.attrs);
  Geo g{0, 0, sc.ki, sc.kt, m.size(1), sc.alpha, sc.denominator};
  g.bi = m.size(0) / g.ki;
  g.bt = m.size(1) / g.kt;
  return g;
}

// LSE over l of alpha*M[a*ki+k, b*kt+l] (row k) and over k (column l) of one block.
template <class T>
void block_lse(const T* m, const Geo& g, int64_t a, int64_t b, std::vector<double>& row, std::vector<double>& col) {
  row.assign(size_t(g.ki), 0.0);
  col.assign(size_t(g.kt), 0.0);
  auto x = [&](int64_t k, int64_t l) { return g.alpha * double(m[(a * g.ki + k) * g.ld + b * g.kt + l]); };
  for (int64_t k = 0; k < g.ki; ++k) {
    double mx = -INFINITY, s = 0;
    for (int64_t l = 0; l < g.kt; ++l) mx = std::max(mx, x(k, l));
    for (int64_t l = 0; l < g.kt; ++l) s += std::exp(x(k, l) - mx);
    row[size_t(k)] = mx + std::log(s);
  }
  for (int64_t l = 0; l < g.kt; ++l) {
    double mx = -INFINITY, s = 0;
    for (int64_t k = 0; k < g.ki; ++k) mx = std::max(mx, x(k, l));
    for (int64_t k = 0; k < g.ki; ++k) s += std::exp(x(k, l) - mx);
    col[size_t(l)] = mx + std::log(s);
  }
}

template <class T>
void forward_t(KernelArgs& a) {
  const Tensor &M = a.in[0], &S = a.out[0];
  Geo g = geo(a, M);
  const T* m = M.data<T>();
  T* s = static_cast<T*>(S.raw_data());
  int64_t lds = g.bi > 1 ? S.stride(0) : g.bt;
  std::vector<double> row, col;
  for (int64_t i = 0; i < g.bi; ++i)
    for (int64_t j = 0; j < g.bt; ++j) {
      block_lse(m, g, i, j, row, col);
      double first = 0, second = 0;
      for (double v : row) first += v;
      for (double v : col) second += v;
      s[i * lds + j] = T((first / (double(g.ki) * g.alpha) + second / (double(g.kt) * g.alpha)) / g.denom);
    }
}

template <class T>
void backward_t(KernelArgs& a) {
  const Tensor &dS = a.in[0], &M = a.in[1], &dM = a.out[0];
  Geo g = geo(a, M);
  const T *ds = dS.data<T>(), *m = M.data<T>();
  T* dm = dM.data<T>();
  std::vector<double> row, col;
  for (int64_t i = 0; i < g.bi; ++i)
    for (int64_t j = 0; j < g.bt; ++j) {
      block_lse(m, g, i, j, row, col);
      double w = double(ds[i * g.bt + j]) / g.denom;
      for (int64_t k = 0; k < g.ki; ++k)
        for (int64_t l = 0; l < g.kt; ++l) {
          int64_t o = (i * g.ki + k) * g.ld + j * g.kt + l;
          double x = g.alpha * double(m[o]);
          dm[o] = T(w * (std::exp(x - row[size_t(k)]) / double(g.ki) + std::exp(x - col[size_t(l)]) / double(g.kt)));
        }
    }
}

}  // namespace

void register_similarity(KernelTable& t) {
  t.kernels[int(OpId::smooth_chamfer)] = [](KernelArgs& a) {
    DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "smooth_chamfer", [&] { forward_t<scalar_t>(a); });
  };
  t.kernels[int(OpId::smooth_chamfer_backward)] = [](KernelArgs& a) {
    DIVE_DISPATCH_FLOAT(a.in[0].dtype(), "smooth_chamfer_backward", [&] { backward_t<scalar_t>(a); });
  };
}

}  // namespace dive::ref
