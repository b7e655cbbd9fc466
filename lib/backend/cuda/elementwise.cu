// Elementwise kernels: binary, comparison, unary, where, masked_fill.
// Inputs arrive broadcast to the output shape (stride 0 on broadcast dims), any strides. f32 math is
// done in f32, f64 in f64, with the formulas of lib/backend/kernel_math.h.
#include <cmath>

#include "lib/backend/cuda/launch.cuh"
#include "lib/backend/kernel_math.h"
#include "lib/ops/attrs.h"

namespace dive::cuda {

namespace {

// ---- binary: out = op(a, b) -------------------------------------------------------------------
template <class T, class Op>
struct BinaryF {
  Op op;
  __device__ void operator()(char* const* p) const {
    *reinterpret_cast<T*>(p[0]) = op(*reinterpret_cast<const T*>(p[1]), *reinterpret_cast<const T*>(p[2]));
  }
};

struct AddOp { template <class T> __device__ T operator()(T a, T b) const { return a + b; } };
struct SubOp { template <class T> __device__ T operator()(T a, T b) const { return a - b; } };
struct MulOp { template <class T> __device__ T operator()(T a, T b) const { return a * b; } };
struct DivOp { template <class T> __device__ T operator()(T a, T b) const { return a / b; } };
struct MaxOp { template <class T> __device__ T operator()(T a, T b) const { return kmath::maxv(a, b); } };
struct MinOp { template <class T> __device__ T operator()(T a, T b) const { return kmath::minv(a, b); } };
struct ReluBwdOp { template <class T> __device__ T operator()(T g, T x) const { return x > T(0) ? g : T(0); } };
struct GeluBwdOp { template <class T> __device__ T operator()(T g, T x) const { return g * kmath::gelu_grad(x); } };

template <class Op>
void binary(KernelArgs& a, const char* name) {
  const Tensor &x = a.in.at(0), &y = a.in.at(1), &o = a.out.at(0);
  check_dtypes(name, {x, y}, o.dtype());
  const Tensor* ts[3] = {&o, &x, &y};
  DIVE_DISPATCH_FLOAT(o.dtype(), name, [&] { launch_elementwise(name, ts, BinaryF<scalar_t, Op>{Op{}}); });
}

// ---- comparisons: bool out, exact in the operands' own type ------------------------------------
template <class T, class Op>
struct CompareF {
  Op op;
  __device__ void operator()(char* const* p) const {
    *reinterpret_cast<uint8_t*>(p[0]) = op(*reinterpret_cast<const T*>(p[1]), *reinterpret_cast<const T*>(p[2]));
  }
};
template <class Op>
struct CompareStorageF {  // bf16 / f16: compare the widened values
  Op op;
  DType dt;
  __device__ void operator()(char* const* p) const {
    *reinterpret_cast<uint8_t*>(p[0]) = op(load_double(p[1], dt), load_double(p[2], dt));
  }
};

struct EqOp { template <class T> __device__ bool operator()(T a, T b) const { return a == b; } };
struct NeOp { template <class T> __device__ bool operator()(T a, T b) const { return a != b; } };
struct LtOp { template <class T> __device__ bool operator()(T a, T b) const { return a < b; } };
struct LeOp { template <class T> __device__ bool operator()(T a, T b) const { return a <= b; } };
struct GtOp { template <class T> __device__ bool operator()(T a, T b) const { return a > b; } };
struct GeOp { template <class T> __device__ bool operator()(T a, T b) const { return a >= b; } };

template <class Op>
void compare(KernelArgs& a, const char* name) {
  const Tensor &x = a.in.at(0), &y = a.in.at(1), &o = a.out.at(0);
  check_dtypes(name, {y}, x.dtype());
  DIVE_CHECK(o.dtype() == DType::boolean, name, ": output must be bool, got ", dtype_name(o.dtype()));
  const Tensor* ts[3] = {&o, &x, &y};
  if (x.dtype() == DType::bf16 || x.dtype() == DType::f16) {
    launch_elementwise(name, ts, CompareStorageF<Op>{Op{}, x.dtype()});
    return;
  }
  DIVE_DISPATCH_ALL(x.dtype(), name, [&] { launch_elementwise(name, ts, CompareF<scalar_t, Op>{Op{}}); });
}

// ---- unary: out = op(x) -------------------------------------------------------------------------
template <class T, class Op>
struct UnaryF {
  Op op;
  __device__ void operator()(char* const* p) const {
    *reinterpret_cast<T*>(p[0]) = op(*reinterpret_cast<const T*>(p[1]));
  }
};

struct NegOp { template <class T> __device__ T operator()(T x) const { return -x; } };
struct AbsOp { template <class T> __device__ T operator()(T x) const { return fabs(x); } };
struct SignOp { template <class T> __device__ T operator()(T x) const { return kmath::sign(x); } };
struct ExpOp { template <class T> __device__ T operator()(T x) const { return exp(x); } };
struct LogOp { template <class T> __device__ T operator()(T x) const { return log(x); } };
struct SqrtOp { template <class T> __device__ T operator()(T x) const { return sqrt(x); } };
struct RsqrtOp { template <class T> __device__ T operator()(T x) const { return T(1) / sqrt(x); } };
struct TanhOp { template <class T> __device__ T operator()(T x) const { return tanh(x); } };
struct SigmoidOp { template <class T> __device__ T operator()(T x) const { return kmath::sigmoid(x); } };
struct ReluOp { template <class T> __device__ T operator()(T x) const { return x > T(0) ? x : T(0); } };
struct GeluOp { template <class T> __device__ T operator()(T x) const { return kmath::gelu(x); } };
struct PowOp {
  double e;
  template <class T> __device__ T operator()(T x) const { return pow(x, T(e)); }
};
struct ScaleShiftOp {
  double s, b;
  template <class T> __device__ T operator()(T x) const { return x * T(s) + T(b); }
};
struct ClampOp {
  double lo, hi;
  template <class T> __device__ T operator()(T x) const { return x != x ? x : kmath::clampv(x, T(lo), T(hi)); }
};

template <class Op>
void unary(KernelArgs& a, const char* name, Op op = Op{}) {
  const Tensor &x = a.in.at(0), &o = a.out.at(0);
  check_dtypes(name, {x}, o.dtype());
  const Tensor* ts[2] = {&o, &x};
  DIVE_DISPATCH_FLOAT(o.dtype(), name, [&] { launch_elementwise(name, ts, UnaryF<scalar_t, Op>{op}); });
}

// ---- where, masked_fill ------------------------------------------------------------------------
template <class T>
struct WhereF {
  __device__ void operator()(char* const* p) const {
    *reinterpret_cast<T*>(p[0]) = *reinterpret_cast<const uint8_t*>(p[1]) ? *reinterpret_cast<const T*>(p[2])
                                                                          : *reinterpret_cast<const T*>(p[3]);
  }
};

void where(KernelArgs& a) {
  const Tensor &c = a.in.at(0), &x = a.in.at(1), &y = a.in.at(2), &o = a.out.at(0);
  DIVE_CHECK(c.dtype() == DType::boolean || c.dtype() == DType::u8, "where: condition must be bool, got ",
             dtype_name(c.dtype()));
  check_dtypes("where", {x, y}, o.dtype());
  const Tensor* ts[4] = {&o, &c, &x, &y};
  DIVE_DISPATCH_ALL(o.dtype(), "where", [&] { launch_elementwise("where", ts, WhereF<scalar_t>{}); });
}

template <class T>
struct MaskedFillF {
  T v;
  __device__ void operator()(char* const* p) const {
    *reinterpret_cast<T*>(p[0]) = *reinterpret_cast<const uint8_t*>(p[2]) ? v : *reinterpret_cast<const T*>(p[1]);
  }
};

void masked_fill(KernelArgs& a) {
  const Tensor &x = a.in.at(0), &m = a.in.at(1), &o = a.out.at(0);
  DIVE_CHECK(m.dtype() == DType::boolean || m.dtype() == DType::u8, "masked_fill: mask must be bool, got ",
             dtype_name(m.dtype()));
  check_dtypes("masked_fill", {x}, o.dtype());
  double v = a.attrs.f.at(0);
  const Tensor* ts[3] = {&o, &x, &m};
  DIVE_DISPATCH_ALL(o.dtype(), "masked_fill",
                    [&] { launch_elementwise("masked_fill", ts, MaskedFillF<scalar_t>{scalar_t(v)}); });
}

}  // namespace

void register_elementwise(KernelTable& t) {
  auto K = [&](OpId op, Kernel k) { t.kernels[int(op)] = k; };
  K(OpId::add, [](KernelArgs& a) { binary<AddOp>(a, "add"); });
  K(OpId::sub, [](KernelArgs& a) { binary<SubOp>(a, "sub"); });
  K(OpId::mul, [](KernelArgs& a) { binary<MulOp>(a, "mul"); });
  K(OpId::div, [](KernelArgs& a) { binary<DivOp>(a, "div"); });
  K(OpId::maximum, [](KernelArgs& a) { binary<MaxOp>(a, "maximum"); });
  K(OpId::minimum, [](KernelArgs& a) { binary<MinOp>(a, "minimum"); });
  K(OpId::relu_backward, [](KernelArgs& a) { binary<ReluBwdOp>(a, "relu_backward"); });
  K(OpId::gelu_backward, [](KernelArgs& a) { binary<GeluBwdOp>(a, "gelu_backward"); });
  K(OpId::eq, [](KernelArgs& a) { compare<EqOp>(a, "eq"); });
  K(OpId::ne, [](KernelArgs& a) { compare<NeOp>(a, "ne"); });
  K(OpId::lt, [](KernelArgs& a) { compare<LtOp>(a, "lt"); });
  K(OpId::le, [](KernelArgs& a) { compare<LeOp>(a, "le"); });
  K(OpId::gt, [](KernelArgs& a) { compare<GtOp>(a, "gt"); });
  K(OpId::ge, [](KernelArgs& a) { compare<GeOp>(a, "ge"); });
  K(OpId::neg, [](KernelArgs& a) { unary<NegOp>(a, "neg"); });
  K(OpId::abs, [](KernelArgs& a) { unary<AbsOp>(a, "abs"); });
  K(OpId::sign, [](KernelArgs& a) { unary<SignOp>(a, "sign"); });
  K(OpId::exp, [](KernelArgs& a) { unary<ExpOp>(a, "exp"); });
  K(OpId::log, [](KernelArgs& a) { unary<LogOp>(a, "log"); });
  K(OpId::sqrt, [](KernelArgs& a) { unary<SqrtOp>(a, "sqrt"); });
  K(OpId::rsqrt, [](KernelArgs& a) { unary<RsqrtOp>(a, "rsqrt"); });
  K(OpId::tanh, [](KernelArgs& a) { unary<TanhOp>(a, "tanh"); });
  K(OpId::sigmoid, [](KernelArgs& a) { unary<SigmoidOp>(a, "sigmoid"); });
  K(OpId::relu, [](KernelArgs& a) { unary<ReluOp>(a, "relu"); });
  K(OpId::gelu, [](KernelArgs& a) { unary<GeluOp>(a, "gelu"); });
  K(OpId::pow_scalar, [](KernelArgs& a) { unary(a, "pow_scalar", PowOp{a.attrs.f.at(0)}); });
  K(OpId::scale_shift, [](KernelArgs& a) {
    const ScaleShiftAttrs s = ScaleShiftAttrs::unpack(a.attrs);
    unary(a, "scale_shift", ScaleShiftOp{s.scale, s.shift});
  });
  K(OpId::clamp, [](KernelArgs& a) {
    const ClampAttrs c = ClampAttrs::unpack(a.attrs);
    unary(a, "clamp", ClampOp{c.lo, c.hi});
  });
  K(OpId::where, where);
  K(OpId::masked_fill, masked_fill);
}

}  // namespace dive::cuda
