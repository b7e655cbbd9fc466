// Convolutions as cuBLAS GEMMs, deterministic (a fixed sequence of GEMMs and fixed-order sums, no
// atomics), where cuDNN is slow on sm_90 in strict f32 (FMA math, deterministic algorithms). Measured on
// an H200: cuDNN ran 1x1 convolutions at 6-7 TFLOP/s (x [32, 1024, 14, 14] -> 256: 0.5 ms per direction;
// the stride-2 1x1 backward-data of ResNet's downsampling: 4 ms), its deterministic weight gradients at
// 2 TFLOP/s (x [32, 512, 7, 7] 3x3 -> 512: 3.7 ms); cuBLAS's f32 GEMMs run at ~45 TFLOP/s.
//  * 1x1 unpadded, any stride: y_n[O, P'] = w[O, C] xs_n[C, P'] and dxs_n[C, P'] = w^T g_n, one strided-
//    batched GEMM over the images (w shared with batch stride 0); xs is x at the strided positions
//    (gathered first when the stride is > 1; dx gets dxs scattered there and zeros elsewhere).
//  * Weight gradient, stride-1 unpadded 1x1: dw[O, C] = sum_n g_n[O, P] x_n[C, P]^T (P = H W): one strided-
//    batched GEMM per chunk of images writes the per-image products, a kernel sums them in image order.
//  * Weight gradient, any other kernel (deterministic mode only; otherwise cuDNN's non-deterministic
//    algorithms are used): im2col. For a chunk of nb images, col[C KH KW, nb P'] holds the input patch of
//    every output pixel (P' = OH OW; zeros in the padding) and gt[O, nb P'] the chunk of g with images moved
//    inside the rows, so dw[O, C KH KW] (+)= gt col^T is one GEMM with k = nb P'; chunks accumulate with
//    beta = 1.
// cuBLAS follows set_allow_tf32 (its handle's math mode); f32 without TF32 stays FMA-exact.
#include "lib/backend/cuda/conv_geometry.h"
#include "lib/backend/cuda/device.h"
#include "lib/backend/cuda/index_math.cuh"
#include "lib/backend/cuda/launch.cuh"

namespace dive::cuda {

namespace {

int64_t g_scratch_bytes = int64_t(256) << 20;  // per chunk: partials (1x1) or col + gt (im2col)

// column-major C[m, n] (batched) = op(A) op(B)
cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                    const float* alpha, const float* A, int lda, long long sa, const float* B, int ldb, long long sb,
                    const float* beta, float* C, int ldc, long long sc, int batch) {
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}
cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                    const double* alpha, const double* A, int lda, long long sa, const double* B, int ldb,
                    long long sb, const double* beta, double* C, int ldc, long long sc, int batch) {
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}
constexpr cublasOperation_t kN = CUBLAS_OP_N, kT = CUBLAS_OP_T;

bool is_1x1_unpadded(const ConvGeometry& g) { return g.KH == 1 && g.KW == 1 && g.ph == 0 && g.pw == 0; }

// ---- 1x1 forward and backward-data ---------------------------------------------------------------------

// Between x [N, C, H, W] and its strided samples xs [N, C, OH, OW] (xs = x[:, :, ::sh, ::sw]):
// Scatter = false: xs <- x; true: x <- xs at the sampled positions, 0 elsewhere (one thread per x element).
template <class T, bool Scatter>
__global__ void strided_samples(T* __restrict__ x, T* __restrict__ xs, ConvGeometry g, Div<int32_t> by_w,
                                Div<int32_t> by_ow, int32_t total) {
  for (int32_t i = int32_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int32_t(blockDim.x * gridDim.x)) {
    if (Scatter) {  // i over x
      const int32_t r = by_w(i);
      const int32_t w = i - r * int32_t(g.W);
      const int32_t plane = r / int32_t(g.H), h = r - plane * int32_t(g.H);
      const bool hit = h % g.sh == 0 && w % g.sw == 0 && h / g.sh < g.OH && w / g.sw < g.OW;
      x[i] = hit ? xs[(int64_t(plane) * g.OH + h / g.sh) * g.OW + w / g.sw] : T(0);
    } else {  // i over xs
      const int32_t r = by_ow(i);
      const int32_t ow = i - r * int32_t(g.OW);
      const int32_t plane = r / int32_t(g.OH), oh = r - plane * int32_t(g.OH);
      xs[i] = x[(int64_t(plane) * g.H + oh * g.sh) * g.W + ow * g.sw];
    }
  }
}

template <class T>
void samples(const Tensor& X, const Tensor& XS, const ConvGeometry& g, bool scatter, int dev) {
  const int32_t total = int32_t(scatter ? X.numel() : XS.numel());
  auto* x = static_cast<T*>(const_cast<void*>(X.raw_data()));
  auto* xs = static_cast<T*>(const_cast<void*>(XS.raw_data()));
  if (scatter)
    strided_samples<T, true><<<grid_for(total), kBlock, 0, stream(dev)>>>(x, xs, g, Div<int32_t>(g.W),
                                                                          Div<int32_t>(g.OW), total);
  else
    strided_samples<T, false><<<grid_for(total), kBlock, 0, stream(dev)>>>(x, xs, g, Div<int32_t>(g.W),
                                                                           Div<int32_t>(g.OW), total);
  CUDA_CHECK_LAUNCH();
}

// y [N, O, P'] = w [O, C] xs [N, C, P']: column-major y_n^T [P', O] = xs_n^T [P', C] w^T [C, O]
template <class T>
void forward_1x1(const Tensor& X, const Tensor& Wt, const Tensor& Y, const ConvGeometry& g, int dev) {
  const int64_t P = g.OH * g.OW;
  Tensor xs = X;
  if (g.sh != 1 || g.sw != 1 || g.OH != g.H || g.OW != g.W) {
    xs = Tensor::empty({g.N, g.C, g.OH, g.OW}, X.dtype(), X.device());
    samples<T>(X, xs, g, false, dev);
  }
  const T one = 1, zero = 0;
  CUBLAS_CHECK(gemm(cublas_handle(dev), kN, kN, int(P), int(g.O), int(g.C), &one,
                    static_cast<const T*>(xs.raw_data()), int(P), (long long)(g.C * P),
                    static_cast<const T*>(Wt.raw_data()), int(g.C), 0, &zero, static_cast<T*>(Y.raw_data()), int(P),
                    (long long)(g.O * P), int(g.N)));
}

// dxs [N, C, P'] = w^T [C, O] g [N, O, P']: column-major dxs_n^T [P', C] = g_n^T [P', O] w [O, C]
template <class T>
void backward_data_1x1(const Tensor& G, const Tensor& Wt, const Tensor& DX, const ConvGeometry& g, int dev) {
  const int64_t P = g.OH * g.OW;
  const bool strided = g.sh != 1 || g.sw != 1 || g.OH != g.H || g.OW != g.W;
  Tensor dxs = strided ? Tensor::empty({g.N, g.C, g.OH, g.OW}, DX.dtype(), DX.device()) : DX;
  const T one = 1, zero = 0;
  CUBLAS_CHECK(gemm(cublas_handle(dev), kN, kT, int(P), int(g.C), int(g.O), &one,
                    static_cast<const T*>(G.raw_data()), int(P), (long long)(g.O * P),
                    static_cast<const T*>(Wt.raw_data()), int(g.C), 0, &zero, static_cast<T*>(dxs.raw_data()), int(P),
                    (long long)(g.C * P), int(g.N)));
  if (strided) samples<T>(DX, dxs, g, true, dev);
}

// ---- 1x1 -----------------------------------------------------------------------------------------------

// out[i] (+)= sum over k < parts of ws[k * count + i], in k order, in double.
template <class T>
__global__ void sum_partials(const T* __restrict__ ws, T* __restrict__ out, int64_t count, int64_t parts,
                             bool accumulate) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += int64_t(blockDim.x) * gridDim.x) {
    double acc = accumulate ? double(out[i]) : 0.0;
    for (int64_t k = 0; k < parts; ++k) acc += double(ws[k * count + i]);
    out[i] = T(acc);
  }
}

template <class T>
void weights_1x1(const Tensor& G, const Tensor& X, const Tensor& DW, const ConvGeometry& g, int dev) {
  const int64_t P = g.H * g.W, OC = g.O * g.C;
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(g.N, g_scratch_bytes / (OC * int64_t(sizeof(T)))));
  Tensor ws = Tensor::empty({chunk * OC}, DW.dtype(), DW.device());
  const T one = 1, zero = 0;
  cublasHandle_t h = cublas_handle(dev);
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.N - n0);
    // column-major: ws_n [C, O] = x_n^T' (x_n stored as P x C, transposed) * g_n (stored as P x O)
    CUBLAS_CHECK(gemm(h, kT, kN, int(g.C), int(g.O), int(P), &one,
                      static_cast<const T*>(X.raw_data()) + n0 * g.C * P, int(P), (long long)(g.C * P),
                      static_cast<const T*>(G.raw_data()) + n0 * g.O * P, int(P), (long long)(g.O * P), &zero,
                      static_cast<T*>(ws.raw_data()), int(g.C), (long long)OC, int(nb)));
    sum_partials<T><<<grid_for(OC), kBlock, 0, stream(dev)>>>(static_cast<const T*>(ws.raw_data()),
                                                              static_cast<T*>(DW.raw_data()), OC, nb, n0 > 0);
    CUDA_CHECK_LAUNCH();
  }
}

// ---- im2col --------------------------------------------------------------------------------------------

struct ColIndex {  // i over [C KH KW][nb][P'] -> (c, kh, kw, n, oh, ow); every count < 2^30
  Div<int32_t> by_p, by_nb, by_kw, by_kh, by_ow;
  int32_t P, nb, KW, KH, OW;
};

// col[(c KH + kh) KW + kw][n P' + oh OW + ow] = x[n0 + n, c, oh sh - ph + kh dh, ow sw - pw + kw dw] (0 outside)
template <class T>
__global__ void im2col(const T* __restrict__ x, T* __restrict__ col, ConvGeometry g, ColIndex ix, int64_t n0,
                       int32_t total) {
  for (int32_t i = int32_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int32_t(blockDim.x * gridDim.x)) {
    int32_t q = ix.by_p(i);
    const int32_t p = i - q * ix.P;
    int32_t r = ix.by_nb(q);
    const int32_t n = q - r * ix.nb;
    q = ix.by_kw(r);
    const int32_t kw = r - q * ix.KW;
    const int32_t c = ix.by_kh(q);
    const int32_t kh = q - c * ix.KH;
    const int32_t oh = ix.by_ow(p);
    const int32_t ow = p - oh * ix.OW;
    const int64_t ih = int64_t(oh) * g.sh - g.ph + int64_t(kh) * g.dh;
    const int64_t iw = int64_t(ow) * g.sw - g.pw + int64_t(kw) * g.dw;
    T v = T(0);
    if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) v = x[(((n0 + n) * g.C + c) * g.H + ih) * g.W + iw];
    col[i] = v;
  }
}

// gt[o][n P' + p] = G[n0 + n][o][p]
template <class T>
__global__ void images_into_rows(const T* __restrict__ G, T* __restrict__ gt, Div<int32_t> by_p, Div<int32_t> by_nb,
                                 int32_t P, int32_t nb, int64_t O, int64_t n0, int32_t total) {
  for (int32_t i = int32_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int32_t(blockDim.x * gridDim.x)) {
    const int32_t q = by_p(i);
    const int32_t p = i - q * P;
    const int32_t o = by_nb(q);
    const int32_t n = q - o * nb;
    gt[i] = G[((n0 + n) * O + o) * int64_t(P) + p];
  }
}

template <class T>
void weights_im2col(const Tensor& G, const Tensor& X, const Tensor& DW, const ConvGeometry& g, int dev) {
  const int64_t P = g.OH * g.OW, CKK = g.C * g.KH * g.KW;
  const int64_t per_image = (CKK + g.O) * P * int64_t(sizeof(T));
  // images per chunk: within the scratch limit, and every index of col / gt below 2^30 (32-bit kernels)
  const int64_t fits = std::min(g_scratch_bytes / per_image, (kSmall - 1) / (std::max(CKK, g.O) * P));
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(g.N, fits));
  Tensor col = Tensor::empty({CKK * chunk * P}, DW.dtype(), DW.device());
  Tensor gt = Tensor::empty({g.O * chunk * P}, DW.dtype(), DW.device());
  const T one = 1, zero = 0;
  cublasHandle_t h = cublas_handle(dev);
  cudaStream_t st = stream(dev);
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.N - n0);
    ColIndex ix{Div<int32_t>(P), Div<int32_t>(nb), Div<int32_t>(g.KW), Div<int32_t>(g.KH), Div<int32_t>(g.OW),
                int32_t(P),      int32_t(nb),      int32_t(g.KW),      int32_t(g.KH),      int32_t(g.OW)};
    const int32_t ncol = int32_t(CKK * nb * P), ng = int32_t(g.O * nb * P);
    im2col<T><<<grid_for(ncol), kBlock, 0, st>>>(static_cast<const T*>(X.raw_data()), static_cast<T*>(col.raw_data()),
                                                 g, ix, n0, ncol);
    CUDA_CHECK_LAUNCH();
    images_into_rows<T><<<grid_for(ng), kBlock, 0, st>>>(static_cast<const T*>(G.raw_data()),
                                                         static_cast<T*>(gt.raw_data()), ix.by_p, ix.by_nb, int32_t(P),
                                                         int32_t(nb), g.O, n0, ng);
    CUDA_CHECK_LAUNCH();
    // row-major dw [O, CKK] = gt [O, K] col^T, i.e. column-major dw^T [CKK, O] = col^T' gt with K = nb P'
    const int K = int(nb * P);
    CUBLAS_CHECK(gemm(h, kT, kN, int(CKK), int(g.O), K, &one, static_cast<const T*>(col.raw_data()), K, 0,
                      static_cast<const T*>(gt.raw_data()), K, 0, n0 > 0 ? &one : &zero,
                      static_cast<T*>(DW.raw_data()), int(CKK), 0, 1));
  }
}

}  // namespace

int64_t set_conv_gemm_scratch_bytes(int64_t bytes) {
  DIVE_CHECK(bytes > 0, "set_conv_gemm_scratch_bytes: need a positive size, got ", bytes);
  std::swap(bytes, g_scratch_bytes);
  return bytes;
}

// Every tensor of a 1x1 GEMM path must have fewer than 2^30 elements (32-bit sampling kernels, cuBLAS ints).
bool small_1x1(const ConvGeometry& g) {
  return is_1x1_unpadded(g) && g.N * g.C * g.H * g.W < kSmall && g.N * g.O * g.OH * g.OW < kSmall &&
         g.O * g.C < kSmall;
}

bool conv_forward_by_gemm(const Tensor& X, const Tensor& Wt, const Tensor& Y, const ConvGeometry& g, int dev) {
  if ((Y.dtype() != DType::f32 && Y.dtype() != DType::f64) || !small_1x1(g)) return false;
  if (Y.dtype() == DType::f64) forward_1x1<double>(X, Wt, Y, g, dev);
  else forward_1x1<float>(X, Wt, Y, g, dev);
  return true;
}

bool conv_backward_data_by_gemm(const Tensor& G, const Tensor& Wt, const Tensor& DX, const ConvGeometry& g, int dev) {
  if ((DX.dtype() != DType::f32 && DX.dtype() != DType::f64) || !small_1x1(g)) return false;
  if (DX.dtype() == DType::f64) backward_data_1x1<double>(G, Wt, DX, g, dev);
  else backward_data_1x1<float>(G, Wt, DX, g, dev);
  return true;
}

bool conv_weights_by_gemm(const Tensor& G, const Tensor& X, const Tensor& DW, const ConvGeometry& g, int dev) {
  if (DW.dtype() != DType::f32 && DW.dtype() != DType::f64) return false;
  const bool f64 = DW.dtype() == DType::f64;
  if (is_1x1_unpadded(g) && g.sh == 1 && g.sw == 1 && g.OH == g.H && g.OW == g.W) {
    if (f64) weights_1x1<double>(G, X, DW, g, dev);
    else weights_1x1<float>(G, X, DW, g, dev);
    return true;
  }
  // im2col in deterministic mode, when one image's columns fit the scratch limit and 32-bit indexing
  // (else cuDNN)
  const int64_t per_image_values = std::max(g.C * g.KH * g.KW, g.O) * g.OH * g.OW;
  const int64_t per_image = (g.C * g.KH * g.KW + g.O) * g.OH * g.OW * int64_t(dtype_size(DW.dtype()));
  if (!deterministic() || per_image > g_scratch_bytes || per_image_values >= kSmall) return false;
  if (f64) weights_im2col<double>(G, X, DW, g, dev);
  else weights_im2col<float>(G, X, DW, g, dev);
  return true;
}

}  // namespace dive::cuda
