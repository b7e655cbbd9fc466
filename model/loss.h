// Set similarities (smooth-Chamfer, Chamfer, max) and the DivE training loss: triplet ranking with
// hardest negatives (means, as the official TripletLoss), MMD (Laplacian kernel exp(-0.5 ||x-y||),
// biased) and the pairwise diversity term exp(-2 d^2) on the pre-residual set elements.
#pragma once
#include <string>

#include "lib/core/tensor.h"
#include "model/config.h"

namespace dive::model {

// img [B, Ki, D], txt [C, Kt, D] (L2-normalised) -> [B, C]. smooth_chamfer: one GEMM and the fused
// smooth_chamfer op (every backend has it); chamfer and max: the composite.
Tensor set_similarity(const Tensor& img, const Tensor& txt, const std::string& kind, double temperature,
                      double denominator);
// The same from primitives (GEMM, logsumexp/max, sum); the fused path is tested against it.
Tensor set_similarity_composite(const Tensor& img, const Tensor& txt, const std::string& kind, double temperature,
                                double denominator);

struct LossTerms {
  Tensor total, i2t, t2i, mmd, unif;  // 0-d tensors
};

// img_emb [B, Ki, D], txt_emb [5B, Kt, D] (caption j belongs to image j / 5), img_r / txt_r the
// pre-residual set predictions.
LossTerms dive_loss(const ModelConfig& c, const Tensor& img_emb, const Tensor& txt_emb, const Tensor& img_r,
                    const Tensor& txt_r);

}  // namespace dive::model
