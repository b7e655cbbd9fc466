// The DivE loss of the official loss.py, term by term: the triplet ranking loss on the smooth-Chamfer
// similarity (TripletLoss, hardest or mean negatives), mmd_rbf_loss (a Laplacian kernel despite the
// name) and batchwise_uniformity_loss (the diversity term). docs/MODEL.md §1 has the formulas.
#include "model/loss.h"

#include "lib/ops/ops.h"
#include "lib/ops/similarity.h"

namespace dive::model {

namespace {

// Element similarity matrix M = I T^T of the flattened sets: [B * Ki, C * Kt].
Tensor element_similarity(const Tensor& img, const Tensor& txt) {
  int64_t B = img.size(0), Ki = img.size(1), C = txt.size(0), Kt = txt.size(1), D = img.size(2);
  return matmul(img.reshape({B * Ki, D}), txt.reshape({C * Kt, D}).t());
}

}  // namespace

Tensor set_similarity(const Tensor& img, const Tensor& txt, const std::string& kind, double alpha, double denom) {
  if (kind != "smooth_chamfer") return set_similarity_composite(img, txt, kind, alpha, denom);
  return smooth_chamfer(element_similarity(img, txt), img.size(1), txt.size(1), alpha, denom);
}

Tensor set_similarity_composite(const Tensor& img, const Tensor& txt, const std::string& kind, double alpha,
                                double denom) {
  int64_t B = img.size(0), Ki = img.size(1), C = txt.size(0), Kt = txt.size(1);
  Tensor m = element_similarity(img, txt).view({B, Ki, C, Kt});
  if (kind == "max") return max(max(m, 3).first, 1).first;
  Tensor first, second;  // sum over image elements of the (smooth) max over caption elements, and vice versa
  if (kind == "smooth_chamfer") {
    Tensor am = m * alpha;
    first = sum(logsumexp(am, {3}), {1}) * (1.0 / (double(Ki) * alpha));
    second = sum(logsumexp(am, {1}), {2}) * (1.0 / (double(Kt) * alpha));
  } else if (kind == "chamfer") {
    first = sum(max(m, 3).first, {1}) * (1.0 / double(Ki));
    second = sum(max(m, 1).first, {2}) * (1.0 / double(Kt));
  } else {
    DIVE_FAIL("set similarity '", kind, "': expected smooth_chamfer, chamfer or max");
  }
  return (first + second) * (1.0 / denom);
}

namespace {

// Kernel matrix exp(-gamma ||x_i - y_j||) from one GEMM (the official torch.cdist, then exp); `self` sets
// the diagonal distance to exactly 0 (cancellation in |x|^2 + |y|^2 - 2xy would leave ~1e-4 there).
Tensor laplacian_kernel(const Tensor& x, const Tensor& y, double gamma, bool self) {
  Tensor x2 = sum(x * x, {1}, true);      // [P, 1]
  Tensor y2 = sum(y * y, {1}, true).t();  // [1, R]
  Tensor d2 = x2 + y2 - matmul(x, y.t()) * 2.0;
  if (self) {
    int64_t n = x.size(0);
    std::vector<uint8_t> eye(size_t(n * n), 0);
    for (int64_t i = 0; i < n; ++i) eye[size_t(i * n + i)] = 1;
    d2 = masked_fill(d2, Tensor::from_raw(eye.data(), {n, n}, DType::boolean, x.device()), 0.0);
  }
  Tensor zero = scalar_like(d2, 0.0);
  Tensor positive = gt(d2, zero);
  // sqrt only where positive (its gradient is infinite at 0; torch.cdist gives 0 there)
  Tensor d = where(positive, sqrt(where(positive, d2, scalar_like(d2, 1.0))), zero);
  return exp(d * -gamma);
}

// The official mmd_rbf_loss (gamma 0.5): the biased MMD estimate over all elements of the batch.
Tensor mmd_rbf_loss(const Tensor& x, const Tensor& y) {  // x [P, D], y [R, D]
  const double gamma = 0.5;
  return mean(laplacian_kernel(x, x, gamma, true)) - mean(laplacian_kernel(x, y, gamma, false)) * 2.0 +
         mean(laplacian_kernel(y, y, gamma, true));
}

// The official batchwise_uniformity_loss (t = 2, no log): the mean over samples of the mean over element
// pairs k < l of exp(-2 ||r_k - r_l||^2).
Tensor batchwise_uniformity_loss(const Tensor& r) {  // r [B, K, D], L2-normalised elements
  int64_t K = r.size(1);
  if (K == 1) return Tensor::scalar(0.0, r.dtype(), r.device());
  Tensor diff = r.unsqueeze(2) - r.unsqueeze(1);  // [B, K, K, D]
  Tensor d2 = sum(diff * diff, {3});              // [B, K, K]
  std::vector<uint8_t> upper(size_t(K * K), 0);
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = i + 1; j < K; ++j) upper[size_t(i * K + j)] = 1;
  Tensor mask = Tensor::from_raw(upper.data(), {K, K}, DType::boolean, r.device());
  Tensor k = where(mask, exp(d2 * -2.0), scalar_like(d2, 0.0));
  return mean(sum(k, {1, 2}) * (1.0 / (double(K) * double(K - 1) * 0.5)));
}

struct Triplet {
  Tensor i2t, t2i;
};

// The official TripletLoss on S [B, C] with positives P (caption j belongs to image j / 5).
// max_violation: the hardest negative per anchor (an image's hardest caption is shared by its 5
// positives); otherwise the mean over every (anchor, positive, negative) triple, zeros included.
Triplet triplet_loss(const Tensor& S, const Tensor& P, double margin, bool max_violation) {
  int64_t B = S.size(0), C = S.size(1);
  Tensor m = scalar_like(S, margin);
  Tensor pos = sum(where(P, S, scalar_like(S, 0.0)), {0});  // [C]: S[img(j), j]
  if (max_violation) {
    const double lowest = -1e30;  // masks the positives out of the maxima (|S| <= 1 + log K / alpha)
    Tensor hardest_caption = max(masked_fill(S, P, lowest), 1).first;  // [B]
    Tensor hardest_image = max(masked_fill(S, P, lowest), 0).first;    // [C]
    return {mean(relu(hardest_caption.unsqueeze(1) - pos.view({B, 5}) + m)), mean(relu(hardest_image - pos + m))};
  }
  Tensor negative = 1.0 - P.to(S.dtype());                                                    // [B, C]
  Tensor hinge_i2t = relu(S.unsqueeze(1) - pos.view({B, 5, 1}) + m) * negative.unsqueeze(1);  // [B, 5, C]
  Tensor hinge_t2i = relu(S - pos.unsqueeze(0) + m) * negative;                               // [B, C]
  return {sum(hinge_i2t) * (1.0 / double(B * 5 * (C - 5))), sum(hinge_t2i) * (1.0 / double(C * (B - 1)))};
}

}  // namespace

LossTerms dive_loss(const ModelConfig& c, const Tensor& img_emb, const Tensor& txt_emb, const Tensor& img_r,
                    const Tensor& txt_r) {
  int64_t B = img_emb.size(0), C = txt_emb.size(0), D = img_emb.size(2);
  DIVE_CHECK(C == 5 * B, "loss: expected 5 captions per image, got ", B, " images and ", C, " captions");
  Tensor S = set_similarity(img_emb, txt_emb, c.loss, c.temperature, c.denominator);  // [B, 5B]
  std::vector<uint8_t> pos(size_t(B * C), 0);
  for (int64_t j = 0; j < C; ++j) pos[size_t((j / 5) * C + j)] = 1;
  Tensor P = Tensor::from_raw(pos.data(), {B, C}, DType::boolean, S.device());
  Triplet tri = triplet_loss(S, P, c.margin, c.max_violation);
  LossTerms t;
  t.i2t = tri.i2t;
  t.t2i = tri.t2i;
  t.total = t.i2t + t.t2i;
  t.mmd = Tensor::scalar(0.0, S.dtype(), S.device());
  t.unif = Tensor::scalar(0.0, S.dtype(), S.device());
  if (c.mmd_weight > 0) {
    t.mmd = mmd_rbf_loss(img_emb.reshape({-1, D}), txt_emb.reshape({-1, D}));
    t.total = t.total + t.mmd * c.mmd_weight;
  }
  if (c.unif_weight > 0) {
    // --unif_residual: on the normalised set prediction before the global feature is added
    Tensor ui = c.unif_residual ? l2_normalize(img_r, -1) : img_emb;
    Tensor ut = c.unif_residual ? l2_normalize(txt_r, -1) : txt_emb;
    t.unif = batchwise_uniformity_loss(ui) + batchwise_uniformity_loss(ut);
    t.total = t.total + t.unif * c.unif_weight;
  }
  return t;
}

}  // namespace dive::model
