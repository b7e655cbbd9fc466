// conv2d (optional bias), conv2d_backward_data and conv2d_backward_weights through cuDNN's legacy
// convolution API (cudnnConvolutionForward / BackwardData / BackwardFilter): NCHW, cross-correlation,
// groups = 1, f32 and f64 (compute type = data type).
//
// Design:
//  * One cuDNN handle per device, created lazily and bound to stream(dev); never destroyed (as the
//    cuBLAS handles: they must outlive static tensors).
//  * Descriptors are created per call (microseconds). The algorithm is chosen once per (device,
//    direction, dtype, shapes, stride, padding, dilation, deterministic(), allow_tf32()) with the
//    cudnnGet*Algorithm_v7 heuristic ranking (no benchmarking, so no device synchronisation): the first
//    result that succeeded, is CUDNN_DETERMINISTIC when deterministic() is on, needs at most 1 GiB of
//    workspace and has an acceptable math type. If none qualifies, a deterministic fallback
//    (IMPLICIT_GEMM / BWD_DATA_ALGO_1 / BWD_FILTER_ALGO_1) is used.
//  * Math type: f32 without allow_tf32() requests CUDNN_FMA_MATH and accepts only FMA results.
//    (CUDNN_DEFAULT_MATH would NOT do: on sm_80+ it permits TF32 tensor cores for f32 data, whose
//    10-bit mantissa breaks agreement with the other backends.) f32 with allow_tf32() uses
//    CUDNN_DEFAULT_MATH (TF32 permitted) and refuses CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION (down-
//    conversion to half). f64 uses CUDNN_DEFAULT_MATH.
//  * Strict f32 (TF32 off) also refuses the FFT and Winograd algorithms (reduced_precision below): on an
//    H200 they gave up to 2e-3 relative error in gradients of a 64-channel 3x3 convolution. That costs
//    speed in some backward passes (e.g. x [32, 128, 28, 28], 3x3 -> 128: weight gradient 0.50 ms vs
//    0.12 ms with Winograd); drop the `strict &&` clause in acceptable() to trade precision for it.
//  * Workspace comes from a u8 Tensor, i.e. the stream-ordered caching allocator.
//  * Bias: cudnnAddTensor of the [1, O, 1, 1] bias onto the output (deterministic).
//  * Exceptions, GEMMs on cuBLAS (conv_gemm.cu): unpadded 1x1 convolutions in every direction, and the
//    weight gradients of all other convolutions in deterministic mode; cuDNN is up to 10x slower there.
#include <cudnn.h>

#include <climits>
#include <map>
#include <mutex>
#include <vector>

#include "lib/backend/cuda/conv_geometry.h"
#include "lib/backend/cuda/launch.cuh"

// CUDNN_CHECK(cudnnXxx(...)): throws dive::Error "cuDNN error <string> in <expr> [file:line]".
#define CUDNN_CHECK(expr)                                                                                   \
  do {                                                                                                      \
    cudnnStatus_t dive_cudnn_st_ = (expr);                                                                  \
    if (dive_cudnn_st_ != CUDNN_STATUS_SUCCESS)                                                             \
      ::dive::detail::throw_error(__FILE__, __LINE__,                                                       \
                                  ::dive::detail::cat("cuDNN error ", cudnnGetErrorString(dive_cudnn_st_), \
                                                      " in ", #expr));                                      \
  } while (0)

namespace dive::cuda {

namespace {

constexpr size_t kMaxWorkspace = size_t(1) << 30;

cudnnHandle_t cudnn_handle(int dev) {
  static std::mutex mu;
  static std::vector<cudnnHandle_t>* handles = new std::vector<cudnnHandle_t>();  // never destroyed
  std::lock_guard<std::mutex> lock(mu);
  if (handles->empty()) handles->assign(size_t(std::max(device_count(), 1)), nullptr);
  DIVE_CHECK(dev >= 0 && dev < int(handles->size()), "cuda:", dev, ": no such CUDA device");
  cudnnHandle_t& h = (*handles)[size_t(dev)];
  if (!h) {
    DeviceGuard g(dev);
    CUDNN_CHECK(cudnnCreate(&h));
    CUDNN_CHECK(cudnnSetStream(h, stream(dev)));
  }
  return h;
}

// ---- RAII descriptors --------------------------------------------------------------------------------
template <class D, cudnnStatus_t (*Create)(D*), cudnnStatus_t (*Destroy)(D)>
struct Desc {
  D d{};
  Desc() { CUDNN_CHECK(Create(&d)); }
  ~Desc() { (void)Destroy(d); }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
};
using TensorDesc = Desc<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc = Desc<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc =
    Desc<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;

// ---- geometry ------------------------------------------------------------------------------------------
using Geo = ConvGeometry;

// Kernel limit only: the op layer checked the shapes against the attributes.
Geo make_geo(const char* op, const Tensor& x, const Tensor& w, const Tensor& y, const Attrs& attrs) {
  for (const Tensor* t : {&x, &w, &y})
    DIVE_CHECK(t->numel() <= INT_MAX, op, ": ", t->str(), " has more than 2^31 - 1 elements (cuDNN's legacy API ",
               "limit; split the batch)");
  return ConvGeometry::of(x.shape(), w.shape(), y.shape(), attrs);
}

cudnnDataType_t cudnn_type(const char* op, DType dt) {
  switch (dt) {
    case DType::f32: return CUDNN_DATA_FLOAT;
    case DType::f64: return CUDNN_DATA_DOUBLE;
    default: DIVE_FAIL(op, ": expected dtype f32 or f64, got ", dtype_name(dt));
  }
}

struct Setup {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
};

void describe(const char* op, Setup& s, const Geo& g, cudnnDataType_t dt) {
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(s.x.d, CUDNN_TENSOR_NCHW, dt, int(g.N), int(g.C), int(g.H), int(g.W)));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(s.y.d, CUDNN_TENSOR_NCHW, dt, int(g.N), int(g.O), int(g.OH), int(g.OW)));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(s.w.d, dt, CUDNN_TENSOR_NCHW, int(g.O), int(g.C), int(g.KH), int(g.KW)));
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(s.conv.d, int(g.ph), int(g.pw), int(g.sh), int(g.sw), int(g.dh),
                                              int(g.dw), CUDNN_CROSS_CORRELATION, dt));
  int n = 0, c = 0, h = 0, w = 0;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(s.conv.d, s.x.d, s.w.d, &n, &c, &h, &w));
  DIVE_CHECK(n == g.N && c == g.O && h == g.OH && w == g.OW, op, ": cuDNN computes output [", n, ", ", c, ", ", h,
             ", ", w, "], expected [", g.N, ", ", g.O, ", ", g.OH, ", ", g.OW, "]");
}

// ---- algorithm choice ----------------------------------------------------------------------------------
enum Dir : int { kFwd = 0, kBwdData = 1, kBwdFilter = 2 };

struct AlgoKey {
  int dev, dir, dtype;
  bool det, tf32;
  int64_t N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw;
  auto operator<=>(const AlgoKey&) const = default;
};

struct Choice {
  int algo = -1;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t ws = 0;
};

cudnnMathType_t requested_math(DType dt, bool tf32) {
  return dt == DType::f32 && !tf32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

bool math_ok(cudnnMathType_t m, DType dt, bool tf32) {
  if (dt != DType::f32) return true;
  if (!tf32) return m == CUDNN_FMA_MATH;
  return m != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// FFT and Winograd algorithms transform the operands and lose precision in f32 (measured on an H200: up
// to ~2e-3 relative error in weight gradients of a 64-channel 3x3 convolution, vs ~3e-5 for the GEMM
// algorithms); they are refused in strict f32 mode (TF32 off), whose point is agreement with the other
// backends.
bool reduced_precision(cudnnConvolutionFwdAlgo_t a) {
  return a == CUDNN_CONVOLUTION_FWD_ALGO_FFT || a == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD || a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
}
bool reduced_precision(cudnnConvolutionBwdDataAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT || a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD || a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
}
bool reduced_precision(cudnnConvolutionBwdFilterAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT || a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD ||
         a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED;
}

template <class Perf>
bool acceptable(const Perf& p, DType dt, bool det, bool tf32) {
  const bool strict = dt == DType::f32 && !tf32;
  return p.status == CUDNN_STATUS_SUCCESS && (!det || p.determinism == CUDNN_DETERMINISTIC) &&
         p.memory <= kMaxWorkspace && math_ok(p.mathType, dt, tf32) && !(strict && reduced_precision(p.algo));
}

// First acceptable result of the heuristic ranking (perf results are ordered best first).
template <class Perf>
void pick(const std::vector<Perf>& perf, int got, DType dt, bool det, bool tf32, Choice& c) {
  for (int i = 0; i < got; ++i)
    if (acceptable(perf[size_t(i)], dt, det, tf32)) {
      c.algo = int(perf[size_t(i)].algo);
      c.math = perf[size_t(i)].mathType;
      return;
    }
}

// Queries the ranking, picks, and sizes the workspace (the conv descriptor's math type is left at the
// choice's).
Choice query(cudnnHandle_t h, Setup& s, Dir dir, DType dt, bool det, bool tf32) {
  Choice c;
  c.math = requested_math(dt, tf32);
  CUDNN_CHECK(cudnnSetConvolutionMathType(s.conv.d, c.math));
  int max = 0, got = 0;
  switch (dir) {
    case kFwd: {
      CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max));
      std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(size_t(std::max(max, 1)));
      CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, s.x.d, s.w.d, s.conv.d, s.y.d, max, &got, perf.data()));
      pick(perf, got, dt, det, tf32, c);
      if (c.algo < 0) c.algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, c.math = requested_math(dt, tf32);
      CUDNN_CHECK(cudnnSetConvolutionMathType(s.conv.d, c.math));
      CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, s.x.d, s.w.d, s.conv.d, s.y.d,
                                                          cudnnConvolutionFwdAlgo_t(c.algo), &c.ws));
      break;
    }
    case kBwdData: {
      CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max));
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(size_t(std::max(max, 1)));
      CUDNN_CHECK(
          cudnnGetConvolutionBackwardDataAlgorithm_v7(h, s.w.d, s.y.d, s.conv.d, s.x.d, max, &got, perf.data()));
      pick(perf, got, dt, det, tf32, c);
      if (c.algo < 0) c.algo = CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, c.math = requested_math(dt, tf32);
      CUDNN_CHECK(cudnnSetConvolutionMathType(s.conv.d, c.math));
      CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, s.w.d, s.y.d, s.conv.d, s.x.d,
                                                               cudnnConvolutionBwdDataAlgo_t(c.algo), &c.ws));
      break;
    }
    case kBwdFilter: {
      CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max));
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(size_t(std::max(max, 1)));
      CUDNN_CHECK(
          cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, s.x.d, s.y.d, s.conv.d, s.w.d, max, &got, perf.data()));
      pick(perf, got, dt, det, tf32, c);
      if (c.algo < 0) c.algo = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, c.math = requested_math(dt, tf32);
      CUDNN_CHECK(cudnnSetConvolutionMathType(s.conv.d, c.math));
      CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, s.x.d, s.y.d, s.conv.d, s.w.d,
                                                                 cudnnConvolutionBwdFilterAlgo_t(c.algo), &c.ws));
      break;
    }
  }
  return c;
}

// Cached choice for this problem; sets the conv descriptor's math type to the choice's.
Choice choose(cudnnHandle_t h, Setup& s, Dir dir, const Geo& g, DType dt, int dev) {
  static std::mutex mu;
  static std::map<AlgoKey, Choice>* cache = new std::map<AlgoKey, Choice>();  // never destroyed
  const bool det = deterministic(), tf32 = allow_tf32();
  const AlgoKey key{dev,  int(dir), int(dt), det,  tf32, g.N,  g.C,  g.H, g.W,
                    g.O,  g.KH,     g.KW,    g.sh, g.sw, g.ph, g.pw, g.dh, g.dw};
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(key);
    if (it != cache->end()) {
      CUDNN_CHECK(cudnnSetConvolutionMathType(s.conv.d, it->second.math));
      return it->second;
    }
  }
  Choice c = query(h, s, dir, dt, det, tf32);
  std::lock_guard<std::mutex> lock(mu);
  cache->emplace(key, c);
  return c;
}

// ---- execution -----------------------------------------------------------------------------------------
struct Scalars {
  float f1 = 1, f0 = 0;
  double d1 = 1, d0 = 0;
  const void* one(DType dt) const { return dt == DType::f64 ? static_cast<const void*>(&d1) : &f1; }
  const void* zero(DType dt) const { return dt == DType::f64 ? static_cast<const void*>(&d0) : &f0; }
};

void zero_fill(const Tensor& t, int dev) {
  CUDA_CHECK(cudaMemsetAsync(t.raw_data(), 0, t.nbytes(), stream(dev)));
}

void check_operands(const char* op, const std::vector<Tensor>& ins, const Tensor& out) {
  for (const Tensor& t : ins) {
    DIVE_CHECK(t.is_contiguous(), op, ": operand ", t.str(), " is not contiguous");
    DIVE_CHECK(t.device() == out.device(), op, ": operand ", t.str(), " is not on ", out.device().str());
  }
  DIVE_CHECK(out.is_contiguous(), op, ": output ", out.str(), " is not contiguous");
  check_dtypes(op, ins, out.dtype());
}

// Workspace of `bytes` from the caching allocator (an empty Tensor and nullptr for 0).
void* workspace(Tensor& ws, size_t bytes, Device d) {
  if (bytes == 0) return nullptr;
  ws = Tensor::empty({int64_t(bytes)}, DType::u8, d);
  return ws.raw_data();
}

void conv2d(KernelArgs& a) {
  const Tensor &X = a.in.at(0), &Wt = a.in.at(1), &Y = a.out.at(0);
  const bool has_bias = a.in.size() > 2 && a.in[2].defined();
  std::vector<Tensor> ins{X, Wt};
  if (has_bias) ins.push_back(a.in[2]);
  check_operands("conv2d", ins, Y);
  const cudnnDataType_t dt = cudnn_type("conv2d", Y.dtype());
  Geo g = make_geo("conv2d", X, Wt, Y, a.attrs);
  if (Y.numel() == 0) return;
  const int dev = Y.device().index;
  DeviceGuard guard(dev);
  cudnnHandle_t h = cudnn_handle(dev);
  const Scalars sc;
  if (X.numel() == 0) {  // C == 0: the convolution sums nothing
    zero_fill(Y, dev);
  } else if (conv_forward_by_gemm(X, Wt, Y, g, dev)) {
  } else {
    Setup s;
    describe("conv2d", s, g, dt);
    const Choice c = choose(h, s, kFwd, g, Y.dtype(), dev);
    Tensor ws;
    void* wp = workspace(ws, c.ws, Y.device());
    CUDNN_CHECK(cudnnConvolutionForward(h, sc.one(Y.dtype()), s.x.d, X.raw_data(), s.w.d, Wt.raw_data(), s.conv.d,
                                        cudnnConvolutionFwdAlgo_t(c.algo), wp, c.ws, sc.zero(Y.dtype()), s.y.d,
                                        Y.raw_data()));
  }
  if (has_bias) {
    TensorDesc bd, yd;
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(bd.d, CUDNN_TENSOR_NCHW, dt, 1, int(g.O), 1, 1));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(yd.d, CUDNN_TENSOR_NCHW, dt, int(g.N), int(g.O), int(g.OH), int(g.OW)));
    CUDNN_CHECK(cudnnAddTensor(h, sc.one(Y.dtype()), bd.d, a.in[2].raw_data(), sc.one(Y.dtype()), yd.d, Y.raw_data()));
  }
}

// in g [N, O, OH, OW], w [O, C, KH, KW] -> out dx [N, C, H, W]
void conv2d_backward_data(KernelArgs& a) {
  const Tensor &G = a.in.at(0), &Wt = a.in.at(1), &DX = a.out.at(0);
  check_operands("conv2d_backward_data", {G, Wt}, DX);
  const cudnnDataType_t dt = cudnn_type("conv2d_backward_data", DX.dtype());
  Geo g = make_geo("conv2d_backward_data", DX, Wt, G, a.attrs);
  if (DX.numel() == 0) return;
  const int dev = DX.device().index;
  DeviceGuard guard(dev);
  if (G.numel() == 0 || Wt.numel() == 0) return zero_fill(DX, dev);
  if (conv_backward_data_by_gemm(G, Wt, DX, g, dev)) return;
  cudnnHandle_t h = cudnn_handle(dev);
  const Scalars sc;
  Setup s;
  describe("conv2d_backward_data", s, g, dt);
  const Choice c = choose(h, s, kBwdData, g, DX.dtype(), dev);
  Tensor ws;
  void* wp = workspace(ws, c.ws, DX.device());
  CUDNN_CHECK(cudnnConvolutionBackwardData(h, sc.one(DX.dtype()), s.w.d, Wt.raw_data(), s.y.d, G.raw_data(),
                                           s.conv.d, cudnnConvolutionBwdDataAlgo_t(c.algo), wp, c.ws,
                                           sc.zero(DX.dtype()), s.x.d, DX.raw_data()));
}

// in g [N, O, OH, OW], x [N, C, H, W] -> out dw [O, C, KH, KW]
void conv2d_backward_weights(KernelArgs& a) {
  const Tensor &G = a.in.at(0), &X = a.in.at(1), &DW = a.out.at(0);
  check_operands("conv2d_backward_weights", {G, X}, DW);
  const cudnnDataType_t dt = cudnn_type("conv2d_backward_weights", DW.dtype());
  Geo g = make_geo("conv2d_backward_weights", X, DW, G, a.attrs);
  if (DW.numel() == 0) return;
  const int dev = DW.device().index;
  DeviceGuard guard(dev);
  if (G.numel() == 0 || X.numel() == 0) return zero_fill(DW, dev);
  if (conv_weights_by_gemm(G, X, DW, g, dev)) return;
  cudnnHandle_t h = cudnn_handle(dev);
  const Scalars sc;
  Setup s;
  describe("conv2d_backward_weights", s, g, dt);
  const Choice c = choose(h, s, kBwdFilter, g, DW.dtype(), dev);
  Tensor ws;
  void* wp = workspace(ws, c.ws, DW.device());
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, sc.one(DW.dtype()), s.x.d, X.raw_data(), s.y.d, G.raw_data(),
                                             s.conv.d, cudnnConvolutionBwdFilterAlgo_t(c.algo), wp, c.ws,
                                             sc.zero(DW.dtype()), s.w.d, DW.raw_data()));
}

}  // namespace

void register_conv(KernelTable& t) {
  t.kernels[int(OpId::conv2d)] = conv2d;
  t.kernels[int(OpId::conv2d_backward_data)] = conv2d_backward_data;
  t.kernels[int(OpId::conv2d_backward_weights)] = conv2d_backward_weights;
}

}  // namespace dive::cuda
