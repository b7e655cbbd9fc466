// Typed attributes of the ops whose attributes have more than one field. The op layer builds the struct
// and packs it into KernelArgs::attrs; every kernel unpacks it once (unpack / the geometry structs), so the
// positional layout of Attrs{i, f} is known only to this file. Ops with a single attribute (an axis, a
// fill value, an exponent) read attrs.i[0] / attrs.f[0] as lib/ops/op_list.def says.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "lib/ops/dispatch.h"

namespace dive {

// conv2d and its two backward kernels: stride, zero padding, dilation (groups = 1).
struct ConvAttrs {
  std::array<int64_t, 2> stride{1, 1}, padding{0, 0}, dilation{1, 1};
  Attrs pack() const { return {{stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]}, {}}; }
  static ConvAttrs unpack(const Attrs& a) {
    const auto& i = a.i;
    return {{i.at(0), i.at(1)}, {i.at(2), i.at(3)}, {i.at(4), i.at(5)}};
  }
};

// max_pool2d / avg_pool2d and their backward kernels: window, stride, padding (dilation 1, floor mode).
// Adaptive pooling has no attributes (its windows follow from the shapes).
struct PoolAttrs {
  std::array<int64_t, 2> kernel{}, stride{}, padding{};
  Attrs pack() const { return {{kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1]}, {}}; }
  static PoolAttrs unpack(const Attrs& a) {
    const auto& i = a.i;
    return {{i.at(0), i.at(1)}, {i.at(2), i.at(3)}, {i.at(4), i.at(5)}};
  }
};

// Sizes of one conv2d call, x [N, C, H, W], w [O, C, KH, KW], y [N, O, OH, OW] (any direction: the
// backward kernels pass their gradient tensors in those roles), decoded once per kernel call.
struct ConvGeometry {
  int64_t N, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw;
  static ConvGeometry of(const Shape& x, const Shape& w, const Shape& y, const Attrs& attrs) {
    const ConvAttrs c = ConvAttrs::unpack(attrs);
    return {x[0],        x[1],        x[2],       x[3],       w[0],          w[2],         w[3],         y[2],
            y[3],        c.stride[0], c.stride[1], c.padding[0], c.padding[1], c.dilation[0], c.dilation[1]};
  }
};

// Sizes of one 2-D pooling call, x [N, C, H, W] and y [N, C, OH, OW], P = N * C planes. Window fields are
// zero for adaptive pooling (no attributes).
struct PoolGeometry {
  int64_t P, H, W, OH, OW, KH, KW, sh, sw, ph, pw;
  static PoolGeometry of(const Shape& x, const Shape& y, const Attrs& attrs) {
    PoolGeometry g{x[0] * x[1], x[2], x[3], y[2], y[3], 0, 0, 0, 0, 0, 0};
    if (attrs.i.empty()) return g;
    const PoolAttrs p = PoolAttrs::unpack(attrs);
    g.KH = p.kernel[0], g.KW = p.kernel[1], g.sh = p.stride[0], g.sw = p.stride[1];
    g.ph = p.padding[0], g.pw = p.padding[1];
    return g;
  }
};

// matmul: whether each operand arrives as the transpose of a contiguous tensor.
struct MatmulAttrs {
  bool trans_a = false, trans_b = false;
  Attrs pack() const { return {{int64_t(trans_a), int64_t(trans_b)}, {}}; }
  static MatmulAttrs unpack(const Attrs& a) { return {a.i.at(0) != 0, a.i.at(1) != 0}; }
};

// batch_norm and its backward (which reads only `training`).
struct BatchNormAttrs {
  bool training = false;
  double momentum = 0.1, eps = 1e-5;
  Attrs pack() const { return {{int64_t(training)}, {momentum, eps}}; }
  static BatchNormAttrs unpack(const Attrs& a) {
    return {a.i.at(0) != 0, a.f.size() > 0 ? a.f[0] : 0.1, a.f.size() > 1 ? a.f[1] : 1e-5};
  }
};

// The counter-based random stream of one kernel call: element e draws from philox(seed, offset + e).
struct RandomStream {
  uint64_t seed = 0, offset = 0;
};

// dropout: element e is kept when philox_uniform(seed, offset + e) >= p.
struct DropoutAttrs {
  double p = 0;
  RandomStream stream;
  Attrs pack() const { return {{int64_t(stream.seed), int64_t(stream.offset)}, {p}}; }
  static DropoutAttrs unpack(const Attrs& a) { return {a.f.at(0), {uint64_t(a.i.at(0)), uint64_t(a.i.at(1))}}; }
};

// rand_uniform: U[a, b);  rand_normal: N(a, b^2) (a = mean, b = standard deviation).
struct RandomAttrs {
  RandomStream stream;
  double a = 0, b = 1;
  Attrs pack() const { return {{int64_t(stream.seed), int64_t(stream.offset)}, {a, b}}; }
  static RandomAttrs unpack(const Attrs& x) {
    return {{uint64_t(x.i.at(0)), uint64_t(x.i.at(1))}, x.f.at(0), x.f.at(1)};
  }
};

// scale_shift: out = x * scale + shift.
struct ScaleShiftAttrs {
  double scale = 1, shift = 0;
  Attrs pack() const { return {{}, {scale, shift}}; }
  static ScaleShiftAttrs unpack(const Attrs& a) { return {a.f.at(0), a.f.at(1)}; }
};

// clamp: out = min(max(x, lo), hi), NaN kept; an absent bound is -inf / +inf.
struct ClampAttrs {
  double lo, hi;
  Attrs pack() const { return {{}, {lo, hi}}; }
  static ClampAttrs unpack(const Attrs& a) { return {a.f.at(0), a.f.at(1)}; }
};

// Reductions: the sorted reduced axes; var also its correction (0 biased, 1 unbiased).
struct ReduceAttrs {
  std::vector<int64_t> axes;
  double correction = 0;
  Attrs pack() const { return {axes, {correction}}; }
  static ReduceAttrs unpack(const Attrs& a) { return {a.i, a.f.empty() ? 0.0 : a.f[0]}; }
};

// pad: (before, after) per dim, in dim order; the fill value.
struct PadAttrs {
  std::vector<int64_t> pads;
  double value = 0;
  Attrs pack() const { return {pads, {value}}; }
  static PadAttrs unpack(const Attrs& a) { return {a.i, a.f.at(0)}; }
  int64_t before(int64_t dim) const { return pads.at(size_t(2 * dim)); }
};

// adam_: one Adam/AdamW step (the formula of torch.optim.AdamW / Adam, kmath::adam_update);
// bias_correction1/2 = 1 - beta1^t / 1 - beta2^t; decoupled = AdamW's weight decay, else L2 in the gradient.
struct AdamAttrs {
  double lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2;
  bool decoupled;
  Attrs pack() const {
    return {{int64_t(decoupled)}, {lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2}};
  }
  static AdamAttrs unpack(const Attrs& a) {
    const auto& f = a.f;
    return {f.at(0), f.at(1), f.at(2), f.at(3), f.at(4), f.at(5), f.at(6), a.i.at(0) != 0};
  }
};

// smooth_chamfer and its backward: set sizes of the rows (ki) and columns (kt), temperature, denominator.
struct SmoothChamferAttrs {
  int64_t ki, kt;
  double alpha, denominator;
  Attrs pack() const { return {{ki, kt}, {alpha, denominator}}; }
  static SmoothChamferAttrs unpack(const Attrs& a) { return {a.i.at(0), a.i.at(1), a.f.at(0), a.f.at(1)}; }
};

}  // namespace dive
