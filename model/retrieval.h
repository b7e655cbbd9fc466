// Retrieval evaluation (the official eval.py protocol): blocked image x caption similarity matrices and
// recall metrics. Image i owns captions 5i..5i+4.
#pragma once
#include <string>
#include <vector>

#include "lib/core/tensor.h"

namespace dive::model {

// img [N, Ki, D] x txt [C, Kt, D] -> f32 [N, C] on the host, computed in blocks of `block` images and
// `caption_block` captions (0: as many as `block`) so that the element matrix of a block bounds the memory.
// smooth_chamfer on a host device in f32: one GEMM per block and the fused smooth_chamfer op written
// into the output (block 0 = automatic: 256 images x 1024 captions, a 16 MiB element matrix at K = 4);
// otherwise set_similarity per block (block 0 = 1000).
Tensor similarity_matrix(const Tensor& img, const Tensor& txt, const std::string& kind, double temperature,
                         double denominator, int64_t block = 0, int64_t caption_block = 0);

struct RecallMetrics {
  double i2t_r1 = 0, i2t_r5 = 0, i2t_r10 = 0, i2t_medr = 0, i2t_meanr = 0;
  double t2i_r1 = 0, t2i_r5 = 0, t2i_r10 = 0, t2i_medr = 0, t2i_meanr = 0;
  double rsum = 0;
};

// scores f32/f64 [N, 5N]: i2t rank = best position among the 5 ground-truth captions; t2i rank = position
// of the caption's image. R@K = 100 * #(rank < K) / count, medr = floor(median) + 1, meanr = mean + 1.
RecallMetrics recall_metrics(const Tensor& scores);
// COCO 1K protocol: five disjoint folds of 1000 images, every metric averaged over the folds.
RecallMetrics recall_metrics_folds(const Tensor& scores, int64_t fold_images = 1000);

// A readable table ("i2t R@1 R@5 R@10 medr meanr | t2i ... | rsum") and a JSON object.
std::string format_table(const std::vector<std::pair<std::string, RecallMetrics>>& rows);
std::string to_json(const RecallMetrics& m);

}  // namespace dive::model
