// GloVe text-format reader (data/glove.h). The file is streamed (glove.840B.300d is 5.6 GB); only the
// vectors of vocabulary words and their fallback forms are kept, every line is validated.
#include "data/glove.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lib/core/error.h"

namespace dive::data {

std::string word_vector_fallback(const std::string& word) {
  std::string w;
  for (char c : word)
    if (c != '-' && c != '.' && c != '\'') w += c;
  size_t slash = w.find('/');
  return slash == std::string::npos ? w : w.substr(0, slash);
}

namespace {

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Python float() on an ASCII field: from_chars plus a leading '+'.
bool parse_float(std::string_view s, float& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  if (r.ec == std::errc::result_out_of_range) {  // Python gives inf / 0 here
    double d = 0;
    auto r2 = std::from_chars(s.data(), s.data() + s.size(), d);
    if (r2.ptr != s.data() + s.size()) return false;
    out = float(d);
    return true;
  }
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

Tensor load_word_vectors(const std::string& glove_txt, const Vocabulary& vocab, int64_t dim, int64_t& found) {
  DIVE_CHECK(dim > 0, "word vectors: dim must be positive, got ", dim);
  std::ifstream f(glove_txt, std::ios::binary);
  DIVE_CHECK(f.good(), "word vectors '", glove_txt, "': cannot open file");
  const int64_t V = vocab.size();
  // Words whose vectors we keep: every vocabulary word and its fallback form.
  std::unordered_map<std::string, std::vector<float>> keep;
  for (int64_t i = 0; i < V; ++i) {
    keep.emplace(vocab.word(i), std::vector<float>());
    keep.emplace(word_vector_fallback(vocab.word(i)), std::vector<float>());
  }
  std::vector<float> row(static_cast<size_t>(dim));
  std::string line;
  int64_t lineno = 0;
  while (std::getline(f, line)) {
    ++lineno;
    size_t end = line.size();
    while (end > 0 && is_ascii_space(line[end - 1])) --end;  // Python bytes.rstrip()
    std::string_view l(line.data(), end);
    const std::string at = "word vectors '" + glove_txt + "' line " + std::to_string(lineno);
    DIVE_CHECK(!l.empty(), at, ": empty line");
    size_t sp = l.find(' ');
    std::string_view word = l.substr(0, sp);
    int64_t n = 0;
    size_t pos = sp == std::string_view::npos ? l.size() : sp + 1;
    bool bad = false;
    std::string_view bad_field;
    while (sp != std::string_view::npos) {
      size_t next = l.find(' ', pos);
      std::string_view fld = l.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
      float v = 0;
      if (!parse_float(fld, v)) {
        if (!bad) bad_field = fld;
        bad = true;
      } else if (n < dim) {
        row[size_t(n)] = v;
      }
      ++n;
      if (next == std::string_view::npos) break;
      pos = next + 1;
    }
    if (n == 1) continue;  // a header line ("2196017 300"), skipped as torchtext does
    DIVE_CHECK(n == dim, at, ": word '", std::string(word), "' has ", n, " values, expected ", dim);
    DIVE_CHECK(!bad, at, ": word '", std::string(word), "': '", std::string(bad_field), "' is not a number");
    auto it = keep.find(std::string(word));
    if (it != keep.end()) it->second = row;  // a repeated word takes its last vector
  }
  DIVE_CHECK(!f.bad(), "word vectors '", glove_txt, "': read error after line ", lineno);
  Tensor out = Tensor::full({V, dim}, std::numeric_limits<double>::quiet_NaN(), DType::f32);
  float* p = out.data<float>();
  found = 0;
  for (int64_t i = 0; i < V; ++i) {
    const std::vector<float>* v = &keep.at(vocab.word(i));
    if (v->empty()) v = &keep.at(word_vector_fallback(vocab.word(i)));
    if (v->empty()) continue;
    std::copy(v->begin(), v->end(), p + i * dim);
    ++found;
  }
  return out;
}

}  // namespace dive::data
