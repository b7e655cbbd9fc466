#include "tools/run/search.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "lib/autograd/grad_mode.h"
#include "lib/ops/ops.h"
#include "model/retrieval.h"

namespace dive::tools {

std::vector<Hit> top_k(const Tensor& row, int64_t k) {
  std::vector<float> s = row.to(kCPU).to(DType::f32).contiguous().to_vector<float>();
  std::vector<int64_t> order(s.size());
  std::iota(order.begin(), order.end(), 0);
  k = std::min<int64_t>(k, int64_t(s.size()));
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
    return s[size_t(a)] > s[size_t(b)] || (s[size_t(a)] == s[size_t(b)] && a < b);
  });
  std::vector<Hit> hits;
  for (int64_t r = 0; r < k; ++r) hits.push_back({order[size_t(r)], s[size_t(order[size_t(r)])]});
  return hits;
}

std::vector<int64_t> query_ids(const data::Vocabulary& vocab, const std::string& text) {
  std::vector<std::string> words = data::tokenize(text);
  DIVE_CHECK(!words.empty(), "search: --text '", text, "' has no words");
  std::vector<std::string> unknown;
  for (const std::string& w : words)
    if (vocab.id(w) == data::Vocabulary::kUnk) unknown.push_back(w);
  std::string list;
  for (const std::string& w : unknown) list += (list.empty() ? "" : ", ") + w;
  if (unknown.size() == words.size())
    std::fprintf(stderr, "warning: no word of the query is in the vocabulary (all <unk>: %s); the ranking "
                         "carries no information about the text\n", list.c_str());
  else if (!unknown.empty())
    std::fprintf(stderr, "note: %zu of %zu query words are not in the vocabulary (<unk>): %s\n", unknown.size(),
                 words.size(), list.c_str());
  std::vector<int64_t> ids = vocab.encode(text);
  DIVE_CHECK(ids.size() >= 3, "search: --text '", text, "' has no words");
  return ids;
}

std::vector<Hit> search_text(model::DiveModel& m, const EmbeddingIndex& x, const data::Vocabulary& vocab,
                             const std::string& text, int64_t k, Device dev) {
  NoGradGuard ng;
  const model::ModelConfig& cfg = m.cfg;
  std::vector<int64_t> ids = query_ids(vocab, text);
  const int64_t T = int64_t(ids.size());
  Tensor caps = Tensor::from_vector(ids, {1, T}, dev), len = Tensor::from_vector<int64_t>({T}, {1}, dev);
  Tensor q = m.encode_captions(caps, len).emb;  // [1, Kt, D]
  Tensor s = model::similarity_matrix(x.img.to(dev), q, cfg.eval_similarity, cfg.temperature, cfg.denominator);
  return top_k(s.reshape({x.img.size(0)}), k);  // s: [N, 1]
}

std::vector<Hit> search_image(model::DiveModel& m, const EmbeddingIndex& x, const std::string& index_dir,
                              int64_t image_id, int64_t k, Device dev) {
  NoGradGuard ng;
  const model::ModelConfig& cfg = m.cfg;
  const int64_t N = x.img.size(0);
  DIVE_CHECK(image_id >= 0 && image_id < N, "search: --image_id ", image_id, " is out of range: the index '",
             index_dir, "' has ", N, " images (0..", N - 1, ")");
  Tensor s = model::similarity_matrix(x.img.slice(0, image_id, image_id + 1).to(dev), x.txt.to(dev),
                                      cfg.eval_similarity, cfg.temperature, cfg.denominator);  // [1, C]
  return top_k(s.reshape({x.txt.size(0)}), k);
}

}  // namespace dive::tools
