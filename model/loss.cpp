#include "model/loss.h"

#include "lib/ops/ops.h"
#include "lib/ops/similarity.h"

namespace dive::model {

Tensor set_similarity(const Tensor& img, const Tensor& txt, const std::string& kind, double alpha, double denom) {
  if (kind != "smooth_chamfer" || !smooth_chamfer_available(img.device()))
    return set_similarity_composite(img, txt, kind, alpha, denom);
  int64_t B = img.size(0), Ki = img.size(1), C = txt.size(0), Kt = txt.size(1), D = img.size(2);
  Tensor m = matmul(img.reshape({B * Ki, D}), txt.reshape({C * Kt, D}).t());  // [B*Ki, C*Kt]
  return smooth_chamfer(m, Ki, Kt, alpha, denom);
}

Tensor set_similarity_composite(const Tensor& img, const Tensor& txt, const std::string& kind, double alpha,
                                double denom) {
  int64_t B = img.size(0), Ki = img.size(1), C = txt.size(0), Kt = txt.size(1), D = img.size(2);
  Tensor m = matmul(img.reshape({B * Ki, D}), txt.reshape({C * Kt, D}).t()).view({B, Ki, C, Kt});
  if (kind == "max") return max(max(m, 3).first, 1).first;
  Tensor first, second;  // sum over image elements of (smooth) max over caption elements, and vice versa
  if (kind == "smooth_chamfer") {
    Tensor am = scale_shift(m, alpha);
    first = scale_shift(sum(logsumexp(am, {3}), {1}), 1.0 / (double(Ki) * alpha));
    second = scale_shift(sum(logsumexp(am, {1}), {2}), 1.0 / (double(Kt) * alpha));
  } else if (kind == "chamfer") {
    first = scale_shift(sum(max(m, 3).first, {1}), 1.0 / double(Ki));
    second = scale_shift(sum(max(m, 1).first, {2}), 1.0 / double(Kt));
  } else {
    DIVE_FAIL("set similarity '", kind, "': expected smooth_chamfer, chamfer or max");
  }
  return scale_shift(add(first, second), 1.0 / denom);
}

namespace {

// Laplacian kernel matrix exp(-gamma ||x_i - y_j||) from one GEMM; `self` sets the diagonal distance
// to exactly 0 (cancellation in |x|^2 + |y|^2 - 2xy would leave ~1e-4 there).
Tensor laplacian_kernel(const Tensor& x, const Tensor& y, double gamma, bool self) {
  Tensor x2 = sum(mul(x, x), {1}, true);             // [P, 1]
  Tensor y2 = sum(mul(y, y), {1}, true).t();         // [1, R]
  Tensor d2 = add(add(x2, y2), scale_shift(matmul(x, y.t()), -2.0));
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
  return exp(scale_shift(d, -gamma));
}

Tensor diversity(const Tensor& r) {  // r [B, K, D], L2-normalised elements
  int64_t K = r.size(1);
  if (K == 1) return Tensor::scalar(0.0, r.dtype(), r.device());
  Tensor diff = sub(r.unsqueeze(2), r.unsqueeze(1));  // [B, K, K, D]
  Tensor d2 = sum(mul(diff, diff), {3});              // [B, K, K]
  std::vector<uint8_t> upper(size_t(K * K), 0);
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = i + 1; j < K; ++j) upper[size_t(i * K + j)] = 1;
  Tensor mask = Tensor::from_raw(upper.data(), {K, K}, DType::boolean, r.device());
  Tensor k = where(mask, exp(scale_shift(d2, -2.0)), scalar_like(d2, 0.0));
  return mean(scale_shift(sum(k, {1, 2}), 1.0 / (double(K) * double(K - 1) * 0.5)));
}

}  // namespace

LossTerms dive_loss(const ModelConfig& c, const Tensor& img_emb, const Tensor& txt_emb, const Tensor& img_r,
                    const Tensor& txt_r) {
  int64_t B = img_emb.size(0), C = txt_emb.size(0);
  DIVE_CHECK(C == 5 * B, "loss: expected 5 captions per image, got ", B, " images and ", C, " captions");
  Tensor S = set_similarity(img_emb, txt_emb, c.loss, c.temperature, c.denominator);  // [B, 5B]
  // positives: caption j belongs to image j / 5
  std::vector<uint8_t> pos(size_t(B * C), 0);
  for (int64_t j = 0; j < C; ++j) pos[size_t((j / 5) * C + j)] = 1;
  Tensor P = Tensor::from_raw(pos.data(), {B, C}, DType::boolean, S.device());
  double lowest = -1e30;  // masks the positives out of the negative maxima (|S| <= 1 + log K / alpha)
  Tensor m = scalar_like(S, c.margin);
  Tensor S_pos_row = sum(where(P, S, scalar_like(S, 0.0)), {0});  // [C]: S[img(j), j]
  LossTerms t;
  if (c.max_violation) {
    // i2t: the hardest negative caption of image i is shared by its 5 positives
    Tensor neg_i = max(masked_fill(S, P, lowest), 1).first;             // [B]
    Tensor pos_i = S_pos_row.view({B, 5});                              // [B, 5]
    t.i2t = mean(relu(add(sub(neg_i.unsqueeze(1), pos_i), m)));
    Tensor neg_c = max(masked_fill(S, P, lowest), 0).first;             // [C]
    t.t2i = mean(relu(add(sub(neg_c, S_pos_row), m)));
  } else {
    // mean over every (anchor, positive, negative) triple, zeros included (the official other branch)
    Tensor negmask = scale_shift(P.to(S.dtype()), -1.0, 1.0);           // [B, C] 1 on negatives
    Tensor pos_i = S_pos_row.view({B, 5, 1});                           // [B, 5, 1]
    Tensor hinge_i = mul(relu(add(sub(S.unsqueeze(1), pos_i), m)), negmask.unsqueeze(1));  // [B, 5, C]
    t.i2t = scale_shift(sum(hinge_i), 1.0 / double(B * 5 * (C - 5)));
    Tensor hinge_c = mul(relu(add(sub(S, S_pos_row.unsqueeze(0)), m)), negmask);            // [B, C]
    t.t2i = scale_shift(sum(hinge_c), 1.0 / double(C * (B - 1)));
  }
  t.total = add(t.i2t, t.t2i);
  int64_t D = img_emb.size(2);
  if (c.mmd_weight > 0) {
    Tensor x = img_emb.reshape({-1, D}), y = txt_emb.reshape({-1, D});
    t.mmd = add(sub(mean(laplacian_kernel(x, x, 0.5, true)), scale_shift(mean(laplacian_kernel(x, y, 0.5, false)), 2.0)),
                mean(laplacian_kernel(y, y, 0.5, true)));
    t.total = add(t.total, scale_shift(t.mmd, c.mmd_weight));
  }
  if (c.unif_weight > 0) {
    Tensor ui = c.unif_residual ? l2_normalize(img_r, -1) : img_emb;
    Tensor ut = c.unif_residual ? l2_normalize(txt_r, -1) : txt_emb;
    t.unif = add(diversity(ui), diversity(ut));
    t.total = add(t.total, scale_shift(t.unif, c.unif_weight));
  }
  if (!t.mmd.defined()) t.mmd = Tensor::scalar(0.0, S.dtype(), S.device());
  if (!t.unif.defined()) t.unif = Tensor::scalar(0.0, S.dtype(), S.device());
  return t;
}

}  // namespace dive::model
