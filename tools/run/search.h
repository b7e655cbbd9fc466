// Queries against an embedding index (tools/run/embedding_index.h): a caption ranks the index's images,
// an image of the index ranks its captions, scored with the model's eval similarity.
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"
#include "model/vse.h"
#include "tools/run/embedding_index.h"

namespace dive::tools {

struct Hit {
  int64_t id = 0;  // image row (text query) or caption row (image query)
  float score = 0;
};

// The k best entries of a score row, best first; equal scores keep the lower id first.
std::vector<Hit> top_k(const Tensor& row, int64_t k);

// Caption ids <start> w.. <end> of a text query; warns on stderr about words missing from the vocabulary.
// A query without words is an error.
std::vector<int64_t> query_ids(const data::Vocabulary& vocab, const std::string& text);

// The top-k images for a caption, encoded alone (a batch of one caption, so without padding).
std::vector<Hit> search_text(model::DiveModel& m, const EmbeddingIndex& x, const data::Vocabulary& vocab,
                             const std::string& text, int64_t k, Device dev);
// The top-k captions for image row `image_id` of the index (checked against its size).
std::vector<Hit> search_image(model::DiveModel& m, const EmbeddingIndex& x, const std::string& index_dir,
                              int64_t image_id, int64_t k, Device dev);

}  // namespace dive::tools
