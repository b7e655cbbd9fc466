// matmul (cuBLAS strided-batched GEMM, transposes from the attrs, batch broadcast by stride 0) and
// linear (bias broadcast into the output, then GEMM with beta = 1). f32 and f64; TF32 off by default
// (see set_allow_tf32 in device.h).
//
// Row-major trick: a row-major [R, C] matrix is a column-major [C, R] one, so the row-major product
// C = op(A) op(B) is computed as the column-major product C^T = op(B)^T op(A)^T, i.e. cuBLAS gets B
// first, A second, and the same transpose flags.
#include <climits>

#include "lib/backend/cuda/launch.cuh"
#include "lib/ops/attrs.h"

namespace dive::cuda {

namespace {

void check_int(const char* op, int64_t v, const char* what) {
  DIVE_CHECK(v >= 0 && v <= INT_MAX, op, ": ", what, " = ", v, " exceeds cuBLAS's 32-bit int range");
}

template <class T>
cublasStatus_t gemm_strided_batched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                    int k, const T* alpha, const T* A, int lda, long long sa, const T* B, int ldb,
                                    long long sb, const T* beta, T* C, int ldc, long long sc, int batch);
template <>
cublasStatus_t gemm_strided_batched<float>(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                           int n, int k, const float* alpha, const float* A, int lda, long long sa,
                                           const float* B, int ldb, long long sb, const float* beta, float* C,
                                           int ldc, long long sc, int batch) {
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}
template <>
cublasStatus_t gemm_strided_batched<double>(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                            int n, int k, const double* alpha, const double* A, int lda,
                                            long long sa, const double* B, int ldb, long long sb,
                                            const double* beta, double* C, int ldc, long long sc, int batch) {
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}

void zero_output(const Tensor& o) {
  int dev = o.device().index;
  DeviceGuard g(dev);
  CUDA_CHECK(cudaMemsetAsync(o.raw_data(), 0, o.nbytes(), stream(dev)));
}

// a [Ba, M, K] (or [Ba, K, M] if i[0]), b [Bb, K, N] (or [Bb, N, K] if i[1]) -> out [B, M, N]; contiguous.
template <class T>
void matmul_t(KernelArgs& a) {
  const Tensor &A = a.in.at(0), &B = a.in.at(1), &O = a.out.at(0);
  DIVE_CHECK(A.dim() == 3 && B.dim() == 3 && O.dim() == 3 && A.is_contiguous() && B.is_contiguous() &&
                 O.is_contiguous(),
             "matmul: cuda kernel expects contiguous 3-D operands, got ", A.str(), ", ", B.str(), " -> ", O.str());
  const MatmulAttrs t = MatmulAttrs::unpack(a.attrs);
  const bool ta = t.trans_a, tb = t.trans_b;
  int64_t batch = O.size(0), M = O.size(1), N = O.size(2);
  int64_t K = ta ? A.size(1) : A.size(2);
  int64_t Ba = A.size(0), Bb = B.size(0);
  DIVE_CHECK((ta ? A.size(2) : A.size(1)) == M && (tb ? B.size(2) : B.size(1)) == K &&
                 (tb ? B.size(1) : B.size(2)) == N && (Ba == 1 || Ba == batch) && (Bb == 1 || Bb == batch),
             "matmul: shapes ", A.str(), " x ", B.str(), " -> ", O.str(), " do not match");
  if (O.numel() == 0) return;
  if (K == 0) return zero_output(O);
  check_int("matmul", M, "M");
  check_int("matmul", N, "N");
  check_int("matmul", K, "K");
  check_int("matmul", batch, "batch");
  int dev = O.device().index;
  DeviceGuard g(dev);
  const T one = 1, zero = 0;
  // column-major: C^T [N, M] = op(B)^T [N, K] * op(A)^T [K, M]
  cublasOperation_t opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  int ldb = int(tb ? K : N), lda = int(ta ? M : K);
  long long sb = Bb == 1 ? 0 : K * N, sa = Ba == 1 ? 0 : M * K, sc = M * N;
  CUBLAS_CHECK(gemm_strided_batched<T>(cublas_handle(dev), opb, opa, int(N), int(M), int(K), &one,
                                       static_cast<const T*>(B.raw_data()), ldb, sb,
                                       static_cast<const T*>(A.raw_data()), lda, sa, &zero,
                                       static_cast<T*>(O.raw_data()), int(N), sc, int(batch)));
}

template <class T>
__global__ void broadcast_rows(T* out, const T* bias, int64_t rows, int64_t cols) {
  int64_t n = rows * cols;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(blockDim.x) * gridDim.x)
    out[i] = bias[i % cols];
}

// x [M, K], w [N, K], optional bias [N] -> out [M, N] = x w^T + bias; contiguous.
template <class T>
void linear_t(KernelArgs& a) {
  const Tensor &X = a.in.at(0), &W = a.in.at(1), &O = a.out.at(0);
  bool has_bias = a.in.size() > 2 && a.in[2].defined();
  DIVE_CHECK(X.dim() == 2 && W.dim() == 2 && O.dim() == 2 && X.size(1) == W.size(1) && O.size(0) == X.size(0) &&
                 O.size(1) == W.size(0) && X.is_contiguous() && W.is_contiguous() && O.is_contiguous(),
             "linear: cuda kernel expects contiguous x [M, K], w [N, K] -> out [M, N], got ", X.str(), ", ",
             W.str(), " -> ", O.str());
  int64_t M = X.size(0), K = X.size(1), N = W.size(0);
  if (has_bias)
    DIVE_CHECK(a.in[2].numel() == N && a.in[2].is_contiguous() && a.in[2].dtype() == O.dtype(),
               "linear: bias ", a.in[2].str(), " does not match ", N, " outputs");
  if (O.numel() == 0) return;
  int dev = O.device().index;
  DeviceGuard g(dev);
  if (has_bias) {
    broadcast_rows<T><<<grid_for(M * N), kBlock, 0, stream(dev)>>>(
        static_cast<T*>(O.raw_data()), static_cast<const T*>(a.in[2].raw_data()), M, N);
    CUDA_CHECK_LAUNCH();
  }
  if (K == 0) {
    if (!has_bias) zero_output(O);
    return;
  }
  check_int("linear", M, "M");
  check_int("linear", N, "N");
  check_int("linear", K, "K");
  const T one = 1, beta = has_bias ? T(1) : T(0);
  // column-major: C^T [N, M] = W [N, K] (stored as col-major [K, N], so op T) * X^T [K, M]
  CUBLAS_CHECK(gemm_strided_batched<T>(cublas_handle(dev), CUBLAS_OP_T, CUBLAS_OP_N, int(N), int(M), int(K), &one,
                                       static_cast<const T*>(W.raw_data()), int(K), 0,
                                       static_cast<const T*>(X.raw_data()), int(K), 0, &beta,
                                       static_cast<T*>(O.raw_data()), int(N), 0, 1));
}

}  // namespace

void register_matmul(KernelTable& t) {
  t.kernels[int(OpId::matmul)] = [](KernelArgs& a) {
    check_dtypes("matmul", {a.in.at(0), a.in.at(1)}, a.out.at(0).dtype());
    DIVE_DISPATCH_FLOAT(a.out[0].dtype(), "matmul", [&] { matmul_t<scalar_t>(a); });
  };
  t.kernels[int(OpId::linear)] = [](KernelArgs& a) {
    check_dtypes("linear", {a.in.at(0), a.in.at(1)}, a.out.at(0).dtype());
    DIVE_DISPATCH_FLOAT(a.out[0].dtype(), "linear", [&] { linear_t<scalar_t>(a); });
  };
}

}  // namespace dive::cuda
