// CPU smooth-Chamfer kernels (forward and backward). OpenMP over (set a, tile of caption groups);
// inside a tile every loop is a flat SIMD loop over the tile's columns:
//   g[b]     = max of the (a, b) block of M (one shift per block serves the row and the column LSEs),
//   e[k][c]  = exp(alpha (M[aKi+k, c] - g[c / Kt]))          (Ki * Kt exps per block, f32 polynomial),
//   rs[k][b] = sum_l e[k][bKt+l],   cs[c] = sum_k e[k][c],
//   S[a,b]   = (2 g[b] + sum_k log rs / (Ki alpha) + sum_l log cs / (Kt alpha)) / denominator.
// Every row and column sum is >= exp(alpha (its max - g)); when one of them falls below kTiny the shift
// was too coarse (|M| >> 1), and that block is recomputed exactly (per-row/column maxima, double).
// The f32 loops are compiled for AVX-512, AVX2 and the baseline (target_clones, chosen at load time).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"
#include "lib/ops/attrs.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__)
#define DIVE_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DIVE_SIMD_CLONES
#endif
#define DIVE_INLINE inline __attribute__((always_inline))

namespace dive::cpu {

namespace {

constexpr int64_t kTileGroups = 128;  // caption groups per tile: 512 columns at Kt = 4 (2 KiB a row)

// The selects below compare integers, not floats: GCC (without -fno-trapping-math) will not if-convert
// a floating compare, and the loops would stay scalar.

// exp(x) for x <= 0 in f32 (Cephes expf: Cody-Waite reduction, degree-6 polynomial, ~1 ulp); x below
// -87.3 (as unsigned bits: a larger negative magnitude) is clamped there, giving ~1e-38 (the kTiny
// check keeps such values out of results).
DIVE_INLINE float vexp(float x) {
  constexpr uint32_t kMinBits = 0xc2ae999au;  // -87.3f
  const uint32_t u = std::bit_cast<uint32_t>(x);
  x = std::bit_cast<float>(u > kMinBits ? kMinBits : u);
  const float t = x * 1.44269504088896341f + 12582912.0f;  // round to nearest via 1.5 * 2^23
  const float n = t - 12582912.0f;
  const float r = x - n * 0.693359375f - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  return y * std::bit_cast<float>((int32_t(n) + 127) << 23);
}

// log(x) for normal x > 0 in f32 (Cephes logf, ~1 ulp); finite garbage for 0 and subnormals (callers
// recompute those blocks).
DIVE_INLINE float vlog(float x) {
  const int32_t i = std::bit_cast<int32_t>(x), frac = i & 0x007fffff;
  const int32_t lo = frac < 0x003504f3 ? 1 : 0;  // mantissa below sqrt(1/2)
  const int32_t e = (i >> 23) - 126 - lo;
  float m = std::bit_cast<float>(frac | 0x3f000000);  // [0.5, 1)
  m = m + std::bit_cast<float>(-lo & std::bit_cast<int32_t>(m)) - 1.0f;  // 2m - 1 or m - 1
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  const float fe = float(e);
  y += -2.12194440e-4f * fe - 0.5f * z;
  return m + y + 0.693359375f * fe;
}

DIVE_INLINE double vexp(double x) { return std::exp(x); }
DIVE_INLINE double vlog(double x) { return std::log(x); }

template <class T> constexpr T kTiny = T(1e-30);
template <> constexpr double kTiny<double> = 1e-280;

struct Geo {
  int64_t bi, bt, ki, kt, ld;
  double alpha, denom;
};

// Per-thread scratch of one tile.
template <class T>
struct Scratch {
  std::vector<T> g, gc, e, rs, cs;
  Scratch(int64_t ki, int64_t kt)
      : g(size_t(kTileGroups)), gc(size_t(kTileGroups * kt)), e(size_t(ki * kTileGroups * kt)),
        rs(size_t(ki * kTileGroups)), cs(size_t(kTileGroups * kt)) {}
};

// The block shifts g, the exponentials e and the sums rs, cs of one tile; m points at M[a*Ki, b0*Kt].
// Returns the smallest sum (compare with kTiny). KT > 0 fixes Kt at compile time.
template <class T, int KT>
DIVE_INLINE T tile_stats(const T* m, int64_t ld, int64_t ki, int64_t kt_rt, int64_t nb, T alpha, T* g, T* gc, T* e,
                         T* rs, T* cs) {
  const int64_t kt = KT > 0 ? KT : kt_rt, nc = nb * kt;
#pragma omp simd
  for (int64_t c = 0; c < nc; ++c) cs[c] = m[c];
  for (int64_t k = 1; k < ki; ++k) {
    const T* row = m + k * ld;
#pragma omp simd
    for (int64_t c = 0; c < nc; ++c) cs[c] = row[c] > cs[c] ? row[c] : cs[c];
  }
  for (int64_t b = 0; b < nb; ++b) {
    T v = cs[b * kt];
    for (int64_t l = 1; l < kt; ++l) v = cs[b * kt + l] > v ? cs[b * kt + l] : v;
    g[b] = v;
    for (int64_t l = 0; l < kt; ++l) gc[b * kt + l] = v;
  }
  T mn = T(1);
#pragma omp simd
  for (int64_t c = 0; c < nc; ++c) cs[c] = T(0);
  for (int64_t k = 0; k < ki; ++k) {
    const T* row = m + k * ld;
    T* ek = e + k * nc;
#pragma omp simd
    for (int64_t c = 0; c < nc; ++c) {
      const T v = vexp(alpha * (row[c] - gc[c]));
      ek[c] = v;
      cs[c] += v;
    }
    T* rk = rs + k * nb;
    for (int64_t b = 0; b < nb; ++b) {
      T s = T(0);
      for (int64_t l = 0; l < kt; ++l) s += ek[b * kt + l];
      rk[b] = s;
    }
#pragma omp simd reduction(min : mn)
    for (int64_t b = 0; b < nb; ++b) mn = rk[b] < mn ? rk[b] : mn;
  }
#pragma omp simd reduction(min : mn)
  for (int64_t c = 0; c < nc; ++c) mn = cs[c] < mn ? cs[c] : mn;
  return mn;
}

// Exact (a, b) block in double: the row and column LSEs with their own maxima.
template <class T>
void block_lse_exact(const T* m, int64_t ld, int64_t ki, int64_t kt, double alpha, std::vector<double>& row,
                     std::vector<double>& col) {
  row.assign(size_t(ki), -INFINITY);
  col.assign(size_t(kt), -INFINITY);
  for (int64_t k = 0; k < ki; ++k)
    for (int64_t l = 0; l < kt; ++l) {
      double x = alpha * double(m[k * ld + l]);
      row[size_t(k)] = std::max(row[size_t(k)], x);
      col[size_t(l)] = std::max(col[size_t(l)], x);
    }
  std::vector<double> rsum(size_t(ki), 0.0), csum(size_t(kt), 0.0);
  for (int64_t k = 0; k < ki; ++k)
    for (int64_t l = 0; l < kt; ++l) {
      double x = alpha * double(m[k * ld + l]);
      rsum[size_t(k)] += std::exp(x - row[size_t(k)]);
      csum[size_t(l)] += std::exp(x - col[size_t(l)]);
    }
  for (int64_t k = 0; k < ki; ++k) row[size_t(k)] += std::log(rsum[size_t(k)]);
  for (int64_t l = 0; l < kt; ++l) col[size_t(l)] += std::log(csum[size_t(l)]);
}

// S[a, b0 .. b0+nb) of one tile into out.
template <class T, int KT>
DIVE_INLINE void forward_tile(const T* m, const Geo& geo, int64_t nb, T* out, Scratch<T>& s) {
  const int64_t ki = geo.ki, kt = KT > 0 ? KT : geo.kt, nc = nb * kt;
  const T alpha = T(geo.alpha);
  T *g = s.g.data(), *rs = s.rs.data(), *cs = s.cs.data();
  T mn = tile_stats<T, KT>(m, geo.ld, ki, kt, nb, alpha, g, s.gc.data(), s.e.data(), rs, cs);
  const int64_t nr = ki * nb;
#pragma omp simd
  for (int64_t i = 0; i < nr; ++i) rs[i] = vlog(rs[i]);  // finite even where a sum underflowed (mn < kTiny)
#pragma omp simd
  for (int64_t c = 0; c < nc; ++c) cs[c] = vlog(cs[c]);
  const T cfi = T(1.0 / (double(ki) * geo.alpha)), cft = T(1.0 / (double(kt) * geo.alpha)), inv_den = T(1.0 / geo.denom);
  for (int64_t b = 0; b < nb; ++b) {
    T f = T(0), sc = T(0);
    for (int64_t k = 0; k < ki; ++k) f += rs[k * nb + b];
    for (int64_t l = 0; l < kt; ++l) sc += cs[b * kt + l];
    out[b] = (T(2) * g[b] + f * cfi + sc * cft) * inv_den;
  }
  if (mn >= kTiny<T>) return;
  std::vector<double> row, col;  // rare: recompute the blocks whose shift was too coarse, exactly
  for (int64_t b = 0; b < nb; ++b) {
    block_lse_exact(m + b * kt, geo.ld, ki, kt, geo.alpha, row, col);
    double f = 0, sc = 0;
    for (double v : row) f += v;
    for (double v : col) sc += v;
    out[b] = T((f / (double(ki) * geo.alpha) + sc / (double(kt) * geo.alpha)) / geo.denom);
  }
}

// dM of one tile: dm points at dM[a*Ki, b0*Kt], ds at dS[a, b0].
template <class T, int KT>
DIVE_INLINE void backward_tile(const T* m, const T* ds, T* dm, const Geo& geo, int64_t nb, Scratch<T>& s) {
  const int64_t ki = geo.ki, kt = KT > 0 ? KT : geo.kt, nc = nb * kt, ld = geo.ld;
  T *g = s.g.data(), *gc = s.gc.data(), *e = s.e.data(), *rs = s.rs.data(), *cs = s.cs.data();
  T mn = tile_stats<T, KT>(m, ld, ki, kt, nb, T(geo.alpha), g, gc, e, rs, cs);
  const T inv_den = T(1.0 / geo.denom);
  // cs <- w_b / (Kt cs), reusing gc for w per column
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t l = 0; l < kt; ++l) gc[b * kt + l] = ds[b] * inv_den;
#pragma omp simd
  for (int64_t c = 0; c < nc; ++c) cs[c] = gc[c] / (T(kt) * cs[c]);
  for (int64_t k = 0; k < ki; ++k) {
    const T* ek = e + k * nc;
    const T* rk = rs + k * nb;
    T* out = dm + k * ld;
    for (int64_t b = 0; b < nb; ++b) {  // gc <- w_b / (Ki rs[k][b]) per column
      const T v = ds[b] * inv_den / (T(ki) * rk[b]);
      for (int64_t l = 0; l < kt; ++l) gc[b * kt + l] = v;
    }
#pragma omp simd
    for (int64_t c = 0; c < nc; ++c) out[c] = ek[c] * (gc[c] + cs[c]);
  }
  if (mn >= kTiny<T>) return;
  std::vector<double> row, col;
  for (int64_t b = 0; b < nb; ++b) {
    block_lse_exact(m + b * kt, ld, ki, kt, geo.alpha, row, col);
    const double w = double(ds[b]) / geo.denom;
    for (int64_t k = 0; k < ki; ++k)
      for (int64_t l = 0; l < kt; ++l) {
        const double x = geo.alpha * double(m[k * ld + b * kt + l]);
        dm[k * ld + b * kt + l] = T(w * (std::exp(x - row[size_t(k)]) / double(ki) +
                                         std::exp(x - col[size_t(l)]) / double(kt)));
      }
  }
}

// The f32 tiles in their SIMD clones (Kt = 4, the model's set size, and any Kt).
DIVE_SIMD_CLONES void fwd_f32_k4(const float* m, const Geo& geo, int64_t nb, float* out, Scratch<float>& s) {
  forward_tile<float, 4>(m, geo, nb, out, s);
}
DIVE_SIMD_CLONES void fwd_f32_kn(const float* m, const Geo& geo, int64_t nb, float* out, Scratch<float>& s) {
  forward_tile<float, 0>(m, geo, nb, out, s);
}
DIVE_SIMD_CLONES void bwd_f32_k4(const float* m, const float* ds, float* dm, const Geo& geo, int64_t nb,
                                 Scratch<float>& s) {
  backward_tile<float, 4>(m, ds, dm, geo, nb, s);
}
DIVE_SIMD_CLONES void bwd_f32_kn(const float* m, const float* ds, float* dm, const Geo& geo, int64_t nb,
                                 Scratch<float>& s) {
  backward_tile<float, 0>(m, ds, dm, geo, nb, s);
}

void fwd_tile(const float* m, const Geo& geo, int64_t nb, float* out, Scratch<float>& s) {
  geo.kt == 4 ? fwd_f32_k4(m, geo, nb, out, s) : fwd_f32_kn(m, geo, nb, out, s);
}
void fwd_tile(const double* m, const Geo& geo, int64_t nb, double* out, Scratch<double>& s) {
  forward_tile<double, 0>(m, geo, nb, out, s);
}
void bwd_tile(const float* m, const float* ds, float* dm, const Geo& geo, int64_t nb, Scratch<float>& s) {
  geo.kt == 4 ? bwd_f32_k4(m, ds, dm, geo, nb, s) : bwd_f32_kn(m, ds, dm, geo, nb, s);
}
void bwd_tile(const double* m, const double* ds, double* dm, const Geo& geo, int64_t nb, Scratch<double>& s) {
  backward_tile<double, 0>(m, ds, dm, geo, nb, s);
}

Geo geometry(const KernelArgs& a, const Tensor& m) {
  const SmoothChamferAttrs sc = SmoothChamferAttrs::unpack(a.attrs);
  Geo g{0, 0, sc.ki, sc.kt, m.size(1), sc.alpha, sc.denominator};
  g.bi = m.size(0) / g.ki;
  g.bt = m.size(1) / g.kt;
  return g;
}

// Runs f(a, b0, nb, scratch) over every (set a, tile of groups) in parallel.
template <class T, class F>
void for_tiles(const Geo& geo, F f) {
  const int64_t tiles = (geo.bt + kTileGroups - 1) / kTileGroups, n = geo.bi * tiles;
  const double work = double(geo.bi) * double(geo.bt) * double(geo.ki * geo.kt);
#pragma omp parallel if (n > 1 && work > 32768)
  {
    Scratch<T> s(geo.ki, geo.kt);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t a = i / tiles, b0 = (i % tiles) * kTileGroups;
      f(a, b0, std::min(kTileGroups, geo.bt - b0), s);
    }
  }
}

template <class T>
void forward_t(KernelArgs& a) {
  const Tensor &M = a.in[0], &S = a.out[0];
  const Geo geo = geometry(a, M);
  if (geo.bi * geo.bt == 0) return;
  const T* m = ptr<const T>(M);
  T* s = ptr<T>(S);
  const int64_t lds = geo.bi > 1 ? S.stride(0) : geo.bt;
  for_tiles<T>(geo, [&](int64_t i, int64_t b0, int64_t nb, Scratch<T>& sc) {
    fwd_tile(m + i * geo.ki * geo.ld + b0 * geo.kt, geo, nb, s + i * lds + b0, sc);
  });
}

template <class T>
void backward_t(KernelArgs& a) {
  const Tensor &dS = a.in[0], &M = a.in[1], &dM = a.out[0];
  const Geo geo = geometry(a, M);
  if (geo.bi * geo.bt == 0) return;
  const T *ds = ptr<const T>(dS), *m = ptr<const T>(M);
  T* dm = ptr<T>(dM);
  for_tiles<T>(geo, [&](int64_t i, int64_t b0, int64_t nb, Scratch<T>& sc) {
    const int64_t off = i * geo.ki * geo.ld + b0 * geo.kt;
    bwd_tile(m + off, ds + i * geo.bt + b0, dm + off, geo, nb, sc);
  });
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

}  // namespace dive::cpu
