// COCO-5K evaluation matrix benchmark: N images x 5N captions, K = 4 elements each, D = 1024, random
// unit embeddings, smooth-Chamfer (temperature 16, denominator 2). Times, median of REPS runs each:
//   gemm: the bare GEMM the evaluation contains, [N*K, D] x [D, 5N*K] f32, computed in the same
//         blocks as model::similarity_matrix (matmul through the op layer; each block discarded),
//   sim:  model::similarity_matrix (GEMM per block + the fused smooth_chamfer op into the output).
// Runs alternate (gemm, sim, gemm, sim, ...) so that machine noise hits both. A spot check compares
// a corner of the matrix with the logsumexp composite. Prints one JSON line.
// Usage: bench_eval_matrix [images=1000] [reps=3] [block_images=256] [block_captions=1024] [device=cpu]
// (On a GPU the embeddings live on the device and the finished matrix is copied to the host, block by
// block, as the evaluation does.)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "lib/ops/dispatch.h"
#include "lib/ops/ops.h"
#include "model/loss.h"
#include "model/retrieval.h"

using namespace dive;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string list(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    char b[32];
    std::snprintf(b, sizeof b, "%s%.4f", i ? ", " : "", v[i]);
    s += b;
  }
  return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t N = argc > 1 ? std::atoll(argv[1]) : 1000, C = 5 * N, K = 4, D = 1024;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 3;
  const int64_t bi = argc > 3 ? std::atoll(argv[3]) : 256, bt = argc > 4 ? std::atoll(argv[4]) : 1024;
  const Device dev = Device::parse(argc > 5 ? argv[5] : "cpu");
  const double alpha = 16, denom = 2;
  NoGradGuard ng;
  manual_seed(0);
  Tensor img = l2_normalize(Tensor::randn({N, K, D}), -1).to(dev), txt = l2_normalize(Tensor::randn({C, K, D}), -1).to(dev);
  Tensor I = img.view({N * K, D}), T = txt.view({C * K, D});

  auto gemm = [&] {
    for (int64_t j = 0; j < C; j += bt) {
      Tensor tb = T.slice(0, j * K, std::min(C, j + bt) * K).t();
      for (int64_t i = 0; i < N; i += bi) Tensor m = matmul(I.slice(0, i * K, std::min(N, i + bi) * K), tb);
    }
    synchronize(dev);
  };
  std::vector<double> t_gemm, t_sim;
  Tensor S;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    gemm();
    t_gemm.push_back(seconds_since(t0));
    S = Tensor();
    t0 = std::chrono::steady_clock::now();
    S = model::similarity_matrix(img, txt, "smooth_chamfer", alpha, denom, bi, bt);
    t_sim.push_back(seconds_since(t0));
    std::fprintf(stderr, "rep %d: gemm %.3f s, similarity_matrix %.3f s\n", r, t_gemm.back(), t_sim.back());
  }
  // spot check against the logsumexp composite on a corner of the matrix
  int64_t ni = std::min<int64_t>(N, 16), nc = std::min<int64_t>(C, 80);
  Tensor ref =
      model::set_similarity_composite(img.slice(0, 0, ni), txt.slice(0, 0, nc), "smooth_chamfer", alpha, denom).to(kCPU);
  double err = max(abs(sub(S.slice(0, 0, ni).slice(1, 0, nc), ref)).reshape({-1}), 0).first.item<double>();
  const double gflop = 2.0 * double(N * K) * double(D) * double(C * K) * 1e-9;
  std::printf("{\"impl\": \"dive\", \"device\": \"%s\", \"images\": %lld, \"captions\": %lld, \"block\": [%lld, %lld], \"gflop\": %.1f, "
              "\"gemm_s\": %s, \"sim_s\": %s, \"gemm_median_s\": %.4f, \"sim_median_s\": %.4f, "
              "\"gemm_gflops\": %.1f, \"spot_check_max_abs_err\": %.2e}\n",
              dev.str().c_str(), (long long)N, (long long)C, (long long)bi, (long long)bt, gflop, list(t_gemm).c_str(), list(t_sim).c_str(),
              median(t_gemm), median(t_sim), gflop / median(t_gemm), err);
  return err < 1e-5 ? 0 : 1;
}
