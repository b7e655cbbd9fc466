// Convolution and pooling loops shared by the reference backend (serial) and the CPU backend (f64
// convolution and all pooling, parallel over the outer index). Double accumulation; deterministic:
// every output element is written by exactly one call, scatters accumulate in a local buffer.
#pragma once
#include <cmath>
#include <limits>
#include <vector>

#include "lib/ops/attrs.h"

namespace dive::ref {

using ConvGeom = ConvGeometry;  // lib/ops/attrs.h

// y[n] = conv(x[n], w) + b
template <class T>
void conv_fwd_n(const ConvGeom& g, const T* x, const T* w, const T* b, T* y, int64_t n) {
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        double s = b ? double(b[o]) : 0.0;
        for (int64_t c = 0; c < g.C; ++c) {
          const T* xp = x + (n * g.C + c) * g.H * g.W;
          const T* wp = w + (o * g.C + c) * g.KH * g.KW;
          for (int64_t kh = 0; kh < g.KH; ++kh) {
            int64_t ih = oh * g.sh - g.ph + kh * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              int64_t iw = ow * g.sw - g.pw + kw * g.dw;
              if (iw < 0 || iw >= g.W) continue;
              s += double(xp[ih * g.W + iw]) * double(wp[kh * g.KW + kw]);
            }
          }
        }
        y[((n * g.O + o) * g.OH + oh) * g.OW + ow] = T(s);
      }
}

// dx[n] = conv_transpose(gy[n], w)
template <class T>
void conv_bwd_data_n(const ConvGeom& g, const T* gy, const T* w, T* dx, int64_t n) {
  std::vector<double> acc(size_t(g.C * g.H * g.W), 0.0);
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        double gv = gy[((n * g.O + o) * g.OH + oh) * g.OW + ow];
        for (int64_t c = 0; c < g.C; ++c) {
          const T* wp = w + (o * g.C + c) * g.KH * g.KW;
          for (int64_t kh = 0; kh < g.KH; ++kh) {
            int64_t ih = oh * g.sh - g.ph + kh * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              int64_t iw = ow * g.sw - g.pw + kw * g.dw;
              if (iw < 0 || iw >= g.W) continue;
              acc[size_t((c * g.H + ih) * g.W + iw)] += gv * double(wp[kh * g.KW + kw]);
            }
          }
        }
      }
  T* d = dx + n * g.C * g.H * g.W;
  for (size_t i = 0; i < acc.size(); ++i) d[i] = T(acc[i]);
}

// dw[o] = sum over n, oh, ow of gy[n, o, oh, ow] * x[n, :, window]
template <class T>
void conv_bwd_weights_o(const ConvGeom& g, const T* gy, const T* x, T* dw, int64_t o) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        double s = 0;
        for (int64_t n = 0; n < g.N; ++n) {
          const T* xp = x + (n * g.C + c) * g.H * g.W;
          const T* gp = gy + (n * g.O + o) * g.OH * g.OW;
          for (int64_t oh = 0; oh < g.OH; ++oh) {
            int64_t ih = oh * g.sh - g.ph + kh * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            for (int64_t ow = 0; ow < g.OW; ++ow) {
              int64_t iw = ow * g.sw - g.pw + kw * g.dw;
              if (iw < 0 || iw >= g.W) continue;
              s += double(gp[oh * g.OW + ow]) * double(xp[ih * g.W + iw]);
            }
          }
        }
        dw[((o * g.C + c) * g.KH + kh) * g.KW + kw] = T(s);
      }
}

// ---- pooling: one (n, c) plane per call; x planes H x W, y planes OH x OW --------------------------
using PoolGeom = PoolGeometry;  // lib/ops/attrs.h

template <class T>
void max_pool_plane(const PoolGeom& g, const T* x, T* y, int64_t* idx, int64_t p) {
  const T* xp = x + p * g.H * g.W;
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      double m = -std::numeric_limits<double>::infinity();
      int64_t mi = -1;
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        int64_t ih = oh * g.sh - g.ph + kh;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          int64_t iw = ow * g.sw - g.pw + kw;
          if (iw < 0 || iw >= g.W) continue;
          double v = xp[ih * g.W + iw];
          if (mi < 0 || v > m || std::isnan(v)) m = v, mi = ih * g.W + iw;
        }
      }
      int64_t o = (p * g.OH + oh) * g.OW + ow;
      y[o] = T(m);
      idx[o] = mi;
    }
}

template <class T>
void max_pool_bwd_plane(const PoolGeom& g, const T* gy, const int64_t* idx, T* dx, int64_t p) {
  std::vector<double> acc(size_t(g.H * g.W), 0.0);
  for (int64_t o = p * g.OH * g.OW; o < (p + 1) * g.OH * g.OW; ++o)
    if (idx[o] >= 0) acc[size_t(idx[o])] += double(gy[o]);
  T* d = dx + p * g.H * g.W;
  for (size_t i = 0; i < acc.size(); ++i) d[i] = T(acc[i]);
}

template <class T>
void avg_pool_plane(const PoolGeom& g, const T* x, T* y, int64_t p) {
  const T* xp = x + p * g.H * g.W;
  const double inv = 1.0 / double(g.KH * g.KW);
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      double s = 0;
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        int64_t ih = oh * g.sh - g.ph + kh;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          int64_t iw = ow * g.sw - g.pw + kw;
          if (iw >= 0 && iw < g.W) s += double(xp[ih * g.W + iw]);
        }
      }
      y[(p * g.OH + oh) * g.OW + ow] = T(s * inv);
    }
}

template <class T>
void avg_pool_bwd_plane(const PoolGeom& g, const T* gy, T* dx, int64_t p) {
  std::vector<double> acc(size_t(g.H * g.W), 0.0);
  const double inv = 1.0 / double(g.KH * g.KW);
  for (int64_t oh = 0; oh < g.OH; ++oh)
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      double gv = double(gy[(p * g.OH + oh) * g.OW + ow]) * inv;
      for (int64_t kh = 0; kh < g.KH; ++kh) {
        int64_t ih = oh * g.sh - g.ph + kh;
        if (ih < 0 || ih >= g.H) continue;
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          int64_t iw = ow * g.sw - g.pw + kw;
          if (iw >= 0 && iw < g.W) acc[size_t(ih * g.W + iw)] += gv;
        }
      }
    }
  T* d = dx + p * g.H * g.W;
  for (size_t i = 0; i < acc.size(); ++i) d[i] = T(acc[i]);
}

// PyTorch's adaptive window [floor(i * in / out), ceil((i + 1) * in / out))
inline int64_t adaptive_start(int64_t i, int64_t out, int64_t in) { return (i * in) / out; }
inline int64_t adaptive_end(int64_t i, int64_t out, int64_t in) { return ((i + 1) * in + out - 1) / out; }

template <class T>
void adaptive_avg_plane(const PoolGeom& g, const T* x, T* y, int64_t p) {
  const T* xp = x + p * g.H * g.W;
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    int64_t h0 = adaptive_start(oh, g.OH, g.H), h1 = adaptive_end(oh, g.OH, g.H);
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      int64_t w0 = adaptive_start(ow, g.OW, g.W), w1 = adaptive_end(ow, g.OW, g.W);
      double s = 0;
      for (int64_t ih = h0; ih < h1; ++ih)
        for (int64_t iw = w0; iw < w1; ++iw) s += double(xp[ih * g.W + iw]);
      y[(p * g.OH + oh) * g.OW + ow] = T(s / double((h1 - h0) * (w1 - w0)));
    }
  }
}

template <class T>
void adaptive_avg_bwd_plane(const PoolGeom& g, const T* gy, T* dx, int64_t p) {
  std::vector<double> acc(size_t(g.H * g.W), 0.0);
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    int64_t h0 = adaptive_start(oh, g.OH, g.H), h1 = adaptive_end(oh, g.OH, g.H);
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      int64_t w0 = adaptive_start(ow, g.OW, g.W), w1 = adaptive_end(ow, g.OW, g.W);
      double gv = double(gy[(p * g.OH + oh) * g.OW + ow]) / double((h1 - h0) * (w1 - w0));
      for (int64_t ih = h0; ih < h1; ++ih)
        for (int64_t iw = w0; iw < w1; ++iw) acc[size_t(ih * g.W + iw)] += gv;
    }
  }
  T* d = dx + p * g.H * g.W;
  for (size_t i = 0; i < acc.size(); ++i) d[i] = T(acc[i]);
}

}  // namespace dive::ref
