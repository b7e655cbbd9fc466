#include "model/retrieval.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "lib/ops/ops.h"
#include "lib/ops/similarity.h"
#include "model/loss.h"

namespace dive::model {

namespace {

// Automatic block sizes of the fused path: 256 images x 1024 captions, i.e. an element matrix of
// [1024, 4096] f32 = 16 MiB at K = 4 (GEMMs large enough for oneDNN's full rate, a block that the
// reduction reads back while it is still warm in the last-level cache).
constexpr int64_t kImageBlock = 256, kCaptionBlock = 1024;
// On a GPU: [4096, 32768] f32 element blocks (512 MiB) keep the GEMMs at full rate and launches few.
constexpr int64_t kGpuImageBlock = 1024, kGpuCaptionBlock = 8192;

}  // namespace

Tensor similarity_matrix(const Tensor& img, const Tensor& txt, const std::string& kind, double temperature,
                         double denominator, int64_t block, int64_t caption_block) {
  NoGradGuard ng;
  int64_t N = img.size(0), C = txt.size(0);
  const Device dev = img.device();
  bool fused = kind == "smooth_chamfer" && txt.device() == dev && img.dtype() == DType::f32 &&
               txt.dtype() == DType::f32;
  if (fused) {
    // GEMM per (image block, caption block) through the op layer, then the fused reduction written
    // straight into the block's window of the output rows: the element block is the only temporary.
    // On the host the rows are the output matrix itself; on a GPU a device row block [bi, C], copied
    // in one transfer into its contiguous rows of the host matrix.
    int64_t Ki = img.size(1), Kt = txt.size(1), D = img.size(2);
    DIVE_CHECK(txt.size(2) == D, "similarity_matrix: image and caption elements differ in size: ", img.str(), " vs ",
               txt.str());
    const bool on_host = dev.is_host();
    Tensor out = Tensor::empty({N, C}, DType::f32, on_host ? dev : kCPU);
    int64_t bi = block > 0 ? block : on_host ? kImageBlock : kGpuImageBlock;
    int64_t bt = caption_block > 0 ? caption_block : block > 0 ? block : on_host ? kCaptionBlock : kGpuCaptionBlock;
    Tensor I = img.contiguous().view({N * Ki, D}), T = txt.contiguous().view({C * Kt, D});
    for (int64_t i = 0; i < N; i += bi) {
      int64_t ie = std::min(N, i + bi);
      Tensor rows = on_host ? out.slice(0, i, ie) : Tensor::empty({ie - i, C}, DType::f32, dev);
      for (int64_t j = 0; j < C; j += bt) {
        int64_t je = std::min(C, j + bt);
        Tensor m = matmul(I.slice(0, i * Ki, ie * Ki), T.slice(0, j * Kt, je * Kt).t());  // [bi*Ki, bt*Kt]
        Tensor o = rows.slice(1, j, je);
        smooth_chamfer_out(m, Ki, Kt, temperature, denominator, o);
      }
      if (!on_host) out.slice(0, i, ie).copy_(rows);
    }
    return out.device() == kCPU ? out : out.to(kCPU);
  }
  Tensor out = Tensor::empty({N, C}, DType::f32, kCPU);
  if (block <= 0) block = 1000;
  if (caption_block <= 0) caption_block = block;
  for (int64_t i = 0; i < N; i += block) {
    Tensor ib = img.slice(0, i, std::min(N, i + block));
    for (int64_t j = 0; j < C; j += caption_block) {
      Tensor s = set_similarity(ib, txt.slice(0, j, std::min(C, j + caption_block)), kind, temperature, denominator);
      out.slice(0, i, i + ib.size(0)).slice(1, j, j + s.size(1)).copy_(s.to(kCPU).to(DType::f32));
    }
  }
  return out;
}

namespace {

struct Ranks {
  std::vector<int64_t> i2t, t2i;
};

Ranks ranks(const Tensor& scores) {
  Tensor s = scores.to(kCPU).to(DType::f64).contiguous();
  int64_t N = s.size(0), C = s.size(1);
  DIVE_CHECK(C == 5 * N, "recall: expected 5 captions per image, got a [", N, ", ", C, "] score matrix");
  const double* p = s.data<double>();
  Ranks r;
  r.i2t.resize(size_t(N));
  r.t2i.resize(size_t(C));
  // rank of x among a row = number of entries strictly greater (ties resolved in the item's favour,
  // as a stable descending argsort would for the official code up to tie order)
  for (int64_t i = 0; i < N; ++i) {
    const double* row = p + i * C;
    int64_t best = C;
    for (int64_t g = 5 * i; g < 5 * i + 5; ++g) {
      int64_t greater = 0;
      for (int64_t j = 0; j < C; ++j) greater += row[j] > row[g];
      best = std::min(best, greater);
    }
    r.i2t[size_t(i)] = best;
  }
  for (int64_t c = 0; c < C; ++c) {
    double mine = p[(c / 5) * C + c];
    int64_t greater = 0;
    for (int64_t i = 0; i < N; ++i) greater += p[i * C + c] > mine;
    r.t2i[size_t(c)] = greater;
  }
  return r;
}

void fill(const std::vector<int64_t>& rk, double& r1, double& r5, double& r10, double& medr, double& meanr) {
  double n = double(rk.size());
  auto pct = [&](int64_t k) { return 100.0 * double(std::count_if(rk.begin(), rk.end(), [k](int64_t x) { return x < k; })) / n; };
  r1 = pct(1);
  r5 = pct(5);
  r10 = pct(10);
  std::vector<int64_t> s = rk;
  std::sort(s.begin(), s.end());
  double median = s.size() % 2 ? double(s[s.size() / 2]) : 0.5 * double(s[s.size() / 2 - 1] + s[s.size() / 2]);
  medr = std::floor(median) + 1;
  meanr = std::accumulate(s.begin(), s.end(), 0.0) / n + 1;
}

}  // namespace

RecallMetrics recall_metrics(const Tensor& scores) {
  Ranks r = ranks(scores);
  RecallMetrics m;
  fill(r.i2t, m.i2t_r1, m.i2t_r5, m.i2t_r10, m.i2t_medr, m.i2t_meanr);
  fill(r.t2i, m.t2i_r1, m.t2i_r5, m.t2i_r10, m.t2i_medr, m.t2i_meanr);
  m.rsum = m.i2t_r1 + m.i2t_r5 + m.i2t_r10 + m.t2i_r1 + m.t2i_r5 + m.t2i_r10;
  return m;
}

RecallMetrics recall_metrics_folds(const Tensor& scores, int64_t fold) {
  int64_t N = scores.size(0);
  DIVE_CHECK(N % fold == 0 && N >= fold, "recall: ", N, " images do not split into folds of ", fold);
  RecallMetrics avg;
  int64_t folds = N / fold;
  for (int64_t f = 0; f < folds; ++f) {
    Tensor s = scores.slice(0, f * fold, (f + 1) * fold).slice(1, 5 * f * fold, 5 * (f + 1) * fold);
    RecallMetrics m = recall_metrics(s);
    double* a = &avg.i2t_r1;
    const double* b = &m.i2t_r1;
    for (int k = 0; k < 11; ++k) a[k] += b[k] / double(folds);
  }
  return avg;
}

std::string format_table(const std::vector<std::pair<std::string, RecallMetrics>>& rows) {
  std::ostringstream os;
  char line[256];
  std::snprintf(line, sizeof line, "%-12s | %6s %6s %6s %5s %7s | %6s %6s %6s %5s %7s | %6s\n", "", "i2t R@1", "R@5",
                "R@10", "medr", "meanr", "t2i R@1", "R@5", "R@10", "medr", "meanr", "rsum");
  os << line;
  for (const auto& [name, m] : rows) {
    std::snprintf(line, sizeof line, "%-12s | %7.1f %6.1f %6.1f %5.0f %7.1f | %7.1f %6.1f %6.1f %5.0f %7.1f | %6.1f\n",
                  name.c_str(), m.i2t_r1, m.i2t_r5, m.i2t_r10, m.i2t_medr, m.i2t_meanr, m.t2i_r1, m.t2i_r5, m.t2i_r10,
                  m.t2i_medr, m.t2i_meanr, m.rsum);
    os << line;
  }
  return os.str();
}

std::string to_json(const RecallMetrics& m) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"i2t_r1\": %.4f, \"i2t_r5\": %.4f, \"i2t_r10\": %.4f, \"i2t_medr\": %.1f, \"i2t_meanr\": %.4f, "
                "\"t2i_r1\": %.4f, \"t2i_r5\": %.4f, \"t2i_r10\": %.4f, \"t2i_medr\": %.1f, \"t2i_meanr\": %.4f, "
                "\"rsum\": %.4f}",
                m.i2t_r1, m.i2t_r5, m.i2t_r10, m.i2t_medr, m.i2t_meanr, m.t2i_r1, m.t2i_r5, m.t2i_r10, m.t2i_medr,
                m.t2i_meanr, m.rsum);
  return buf;
}

}  // namespace dive::model
