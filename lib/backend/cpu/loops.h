// OpenMP loop helpers of the CPU backend: elementwise maps over any number of strided operands
// (dims coalesced, contiguous fast path, generic odometer path) and typed element access.
#pragma once
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "lib/ops/dispatch.h"

namespace dive::cpu {

inline constexpr int64_t kGrain = 16384;  // elements per parallel chunk

// Geometry shared by N operands of the same logical shape, with mergeable dims coalesced.
template <int N>
struct Plan {
  int64_t n = 0;
  std::vector<int64_t> shape;                 // coalesced, innermost last
  std::array<std::vector<int64_t>, N> strides;
  bool contiguous() const {
    if (shape.size() != 1) return false;
    for (int k = 0; k < N; ++k)
      if (strides[k][0] != 1) return false;
    return true;
  }
};

template <int N>
Plan<N> make_plan(const Shape& shape, const std::array<const Shape*, N>& strides) {
  Plan<N> p;
  p.n = shape_numel(shape);
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    if (shape[d] == 1) continue;
    bool merge = !p.shape.empty();
    for (int k = 0; k < N && merge; ++k)
      merge = (*strides[k])[d] == p.strides[k].front() * p.shape.front();
    if (merge) {
      p.shape.front() *= shape[d];
      continue;
    }
    p.shape.insert(p.shape.begin(), shape[d]);
    for (int k = 0; k < N; ++k) p.strides[k].insert(p.strides[k].begin(), (*strides[k])[d]);
  }
  if (p.shape.empty()) {
    p.shape.push_back(1);
    for (int k = 0; k < N; ++k) p.strides[k].push_back(1);
  }
  return p;
}

// Serially visits elements [begin, end) of the plan in row-major order: f(linear index, offsets).
template <int N, class F>
void walk(const Plan<N>& p, int64_t begin, int64_t end, F&& f) {
  const int nd = int(p.shape.size());
  std::vector<int64_t> coord(size_t(nd), 0);
  std::array<int64_t, N> off{};
  int64_t rem = begin;
  for (int d = nd - 1; d >= 0; --d) {
    coord[size_t(d)] = rem % p.shape[size_t(d)];
    rem /= p.shape[size_t(d)];
    for (int k = 0; k < N; ++k) off[k] += coord[size_t(d)] * p.strides[k][size_t(d)];
  }
  const int last = nd - 1;
  std::array<int64_t, N> sl;
  for (int k = 0; k < N; ++k) sl[k] = p.strides[k][size_t(last)];
  int64_t i = begin;
  while (i < end) {
    int64_t len = std::min(end - i, p.shape[size_t(last)] - coord[size_t(last)]);
    std::array<int64_t, N> o = off;
    for (int64_t t = 0; t < len; ++t) {
      f(i + t, o);
      for (int k = 0; k < N; ++k) o[k] += sl[k];
    }
    i += len;
    coord[size_t(last)] += len;
    for (int k = 0; k < N; ++k) off[k] += len * sl[k];
    for (int d = last; d > 0 && coord[size_t(d)] == p.shape[size_t(d)]; --d) {
      coord[size_t(d)] = 0;
      ++coord[size_t(d - 1)];
      for (int k = 0; k < N; ++k)
        off[k] += p.strides[k][size_t(d - 1)] - p.shape[size_t(d)] * p.strides[k][size_t(d)];
    }
  }
}

// Parallel walk over the whole plan.
template <int N, class F>
void parallel_walk(const Plan<N>& p, F&& f) {
  int64_t chunks = (p.n + kGrain - 1) / kGrain;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) walk<N>(p, c * kGrain, std::min(p.n, (c + 1) * kGrain), f);
}

template <class T>
T* ptr(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}

// out = f(a) elementwise; out and a any strides.
template <class TO, class TA, class F>
void map1(const Tensor& out, const Tensor& a, F f) {
  Plan<2> p = make_plan<2>(out.shape(), {&out.strides(), &a.strides()});
  TO* o = ptr<TO>(out);
  const TA* x = ptr<const TA>(a);
  if (p.contiguous()) {
#pragma omp parallel for schedule(static) if (p.n > kGrain)
    for (int64_t i = 0; i < p.n; ++i) o[i] = f(x[i]);
    return;
  }
  parallel_walk<2>(p, [&](int64_t, const std::array<int64_t, 2>& off) { o[off[0]] = f(x[off[1]]); });
}

// out = f(a, b) elementwise.
template <class TO, class TA, class TB, class F>
void map2(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  Plan<3> p = make_plan<3>(out.shape(), {&out.strides(), &a.strides(), &b.strides()});
  TO* o = ptr<TO>(out);
  const TA* x = ptr<const TA>(a);
  const TB* y = ptr<const TB>(b);
  if (p.contiguous()) {
#pragma omp parallel for schedule(static) if (p.n > kGrain)
    for (int64_t i = 0; i < p.n; ++i) o[i] = f(x[i], y[i]);
    return;
  }
  parallel_walk<3>(p, [&](int64_t, const std::array<int64_t, 3>& off) { o[off[0]] = f(x[off[1]], y[off[2]]); });
}

// out = f(a, b, c) elementwise.
template <class TO, class TA, class TB, class TC, class F>
void map3(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  Plan<4> p = make_plan<4>(out.shape(), {&out.strides(), &a.strides(), &b.strides(), &c.strides()});
  TO* o = ptr<TO>(out);
  const TA* x = ptr<const TA>(a);
  const TB* y = ptr<const TB>(b);
  const TC* z = ptr<const TC>(c);
  if (p.contiguous()) {
#pragma omp parallel for schedule(static) if (p.n > kGrain)
    for (int64_t i = 0; i < p.n; ++i) o[i] = f(x[i], y[i], z[i]);
    return;
  }
  parallel_walk<4>(p, [&](int64_t, const std::array<int64_t, 4>& off) {
    o[off[0]] = f(x[off[1]], y[off[2]], z[off[3]]);
  });
}

}  // namespace dive::cpu
