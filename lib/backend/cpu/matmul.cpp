// CPU matmul (batched, transposes as memory-descriptor strides, batch broadcast) and linear:
// oneDNN matmul for f32 (cached per shape), OpenMP loops for f64.
#include <vector>

#include "lib/backend/cpu/engine.h"
#include "lib/backend/cpu/kernels.h"
#include "lib/backend/cpu/loops.h"
#include "lib/ops/attrs.h"

namespace dive::cpu {

namespace {

struct Geometry {
  int64_t B, M, N, K, Ba, Bb;
  bool ta, tb;
  // element strides of the logical [Bx, M, K] and [Bx, K, N] operands
  Shape sa() const { return ta ? Shape{K * M, 1, M} : Shape{M * K, K, 1}; }
  Shape sb() const { return tb ? Shape{N * K, 1, K} : Shape{K * N, N, 1}; }
};

Geometry geometry(const KernelArgs& a) {
  const Tensor &A = a.in[0], &B = a.in[1], &O = a.out[0];
  Geometry g;
  const MatmulAttrs t = MatmulAttrs::unpack(a.attrs);
  g.ta = t.trans_a;
  g.tb = t.trans_b;
  g.B = O.size(0);
  g.M = O.size(1);
  g.N = O.size(2);
  g.K = g.ta ? A.size(1) : A.size(2);
  g.Ba = A.size(0);
  g.Bb = B.size(0);
  return g;
}

void matmul_f32(const KernelArgs& a, const Geometry& g) {
  Shape da{g.Ba, g.M, g.K}, db{g.Bb, g.K, g.N}, dc{g.B, g.M, g.N};
  DNNL_CHECK("matmul", {
    auto prim = cached_primitive(Key("matmul") << dc << g.K << g.Ba << g.Bb << int64_t(g.ta) << int64_t(g.tb), [&] {
      dnnl::matmul::desc d(md(da, g.sa()), md(db, g.sb()), plain_md(dc));
      return dnnl::primitive(dnnl::matmul::primitive_desc(d, engine()));
    });
    execute(prim, {{DNNL_ARG_SRC, mem(md(da, g.sa()), a.in[0].raw_data())},
                   {DNNL_ARG_WEIGHTS, mem(md(db, g.sb()), a.in[1].raw_data())},
                   {DNNL_ARG_DST, mem(plain_md(dc), a.out[0].raw_data())}});
  });
}

void matmul_f64(const KernelArgs& a, const Geometry& g) {
  const double* pa = ptr<const double>(a.in[0]);
  const double* pb = ptr<const double>(a.in[1]);
  double* po = ptr<double>(a.out[0]);
  Shape sa = g.sa(), sb = g.sb();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < g.B; ++b)
    for (int64_t m = 0; m < g.M; ++m) {
      const double* a0 = pa + (g.Ba == 1 ? 0 : b) * sa[0] + m * sa[1];
      const double* b0 = pb + (g.Bb == 1 ? 0 : b) * sb[0];
      double* o = po + (b * g.M + m) * g.N;
      for (int64_t n = 0; n < g.N; ++n) o[n] = 0;
      for (int64_t k = 0; k < g.K; ++k) {
        const double x = a0[k * sa[2]];
        const double* br = b0 + k * sb[1];
        for (int64_t n = 0; n < g.N; ++n) o[n] += x * br[n * sb[2]];
      }
    }
}

void matmul(KernelArgs& a) {
  Geometry g = geometry(a);
  const Tensor& O = a.out[0];
  if (O.numel() == 0) return;
  if (g.K == 0) {
    KernelArgs f{{}, {O}, {{}, {0.0}}};
    return fill(f);
  }
  DIVE_DISPATCH_FLOAT(O.dtype(), "matmul", [&] {
    if constexpr (std::is_same_v<scalar_t, float>) matmul_f32(a, g);
    else matmul_f64(a, g);
  });
}

void linear_f32(const KernelArgs& a, int64_t M, int64_t N, int64_t K, bool bias) {
  Shape dx{M, K}, dw{K, N}, sw{1, K}, dbias{1, N}, dout{M, N};
  DNNL_CHECK("linear", {
    auto prim = cached_primitive(Key("linear") << dout << K << int64_t(bias), [&] {
      auto d = bias ? dnnl::matmul::desc(plain_md(dx), md(dw, sw), plain_md(dbias), plain_md(dout))
                    : dnnl::matmul::desc(plain_md(dx), md(dw, sw), plain_md(dout));
      return dnnl::primitive(dnnl::matmul::primitive_desc(d, engine()));
    });
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, mem(plain_md(dx), a.in[0].raw_data())},
                                               {DNNL_ARG_WEIGHTS, mem(md(dw, sw), a.in[1].raw_data())},
                                               {DNNL_ARG_DST, mem(plain_md(dout), a.out[0].raw_data())}};
    if (bias) args.emplace(DNNL_ARG_BIAS, mem(plain_md(dbias), a.in[2].raw_data()));
    execute(prim, args);
  });
}

void linear_f64(const KernelArgs& a, int64_t M, int64_t N, int64_t K, bool has_bias) {
  const double* x = ptr<const double>(a.in[0]);
  const double* w = ptr<const double>(a.in[1]);
  const double* bias = has_bias ? ptr<const double>(a.in[2]) : nullptr;
  double* o = ptr<double>(a.out[0]);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = bias ? bias[n] : 0.0;
      for (int64_t k = 0; k < K; ++k) s += x[m * K + k] * w[n * K + k];
      o[m * N + n] = s;
    }
}

void linear(KernelArgs& a) {
  const Tensor &X = a.in[0], &W = a.in[1], &O = a.out[0];
  int64_t M = X.size(0), K = X.size(1), N = W.size(0);
  bool bias = a.in.size() > 2 && a.in[2].defined();
  if (O.numel() == 0) return;
  DIVE_DISPATCH_FLOAT(O.dtype(), "linear", [&] {
    if constexpr (std::is_same_v<scalar_t, double>) {
      linear_f64(a, M, N, K, bias);
    } else if (K > 0) {
      linear_f32(a, M, N, K, bias);
    } else {  // K == 0: out = bias (or 0)
      const float* b = bias ? ptr<const float>(a.in[2]) : nullptr;
      float* o = ptr<float>(O);
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) o[m * N + n] = b ? b[n] : 0.f;
    }
  });
}

}  // namespace

void register_matmul(KernelTable& t) {
  t.kernels[int(OpId::matmul)] = matmul;
  t.kernels[int(OpId::linear)] = linear;
}

}  // namespace dive::cpu
