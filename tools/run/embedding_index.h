// The embedding index written by `dive encode` and read by `dive search`: a folder holding
//   img_emb.npy   f32 [N, Ki, D]   eval-mode image embeddings, row i = image i of the split
//   txt_emb.npy   f32 [5N, Kt, D]  caption embeddings, row j = caption j (image j / 5)
//   captions.txt  the split's captions, line j = row j
//   meta.json     checkpoint, data_path, split, counts, Ki, Kt, D, img_dim, vocab_size and the
//                 similarity options (eval_similarity, temperature, denominator)
#pragma once
#include <string>
#include <vector>

#include "lib/core/tensor.h"

namespace dive::tools {

struct IndexMeta {
  std::string checkpoint, data_path, vocab_path, split, eval_similarity;
  int64_t num_images = 0, num_captions = 0, img_num_embeds = 0, txt_num_embeds = 0, embed_size = 0;
  int64_t img_dim = 0, vocab_size = 0;
  double temperature = 0, denominator = 0;
};

struct EmbeddingIndex {
  Tensor img, txt;                    // host f32 [N, Ki, D], [5N, Kt, D]
  std::vector<std::string> captions;  // 5N
  IndexMeta meta;
};

// Writes the four files atomically (creating `dir`); checks the shapes agree with each other and `meta`.
void save_index(const std::string& dir, const EmbeddingIndex& index);
// Reads and cross-checks them; a missing file, a malformed meta.json or disagreeing shapes/counts are
// errors naming the file.
EmbeddingIndex load_index(const std::string& dir);

}  // namespace dive::tools
